/* The event loop and vmlaunch's own output under attack: a plugin that
 * floods its stdout or stderr, readers of vmlaunch's stdout or stderr
 * that stop reading, and plugin lines built to fool a terminal.  In every
 * case SIGTERM ends the run within the countdown + 1 s, nothing is
 * buffered without bound, and what does not fit is dropped, counted and
 * reported. */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"

/* vmlaunch's peak RSS under a flood: its own tables and queues, well
 * under this (the plugin's memory is not in it). */
#define FLOOD_RSS_MAX_KIB (64 * 1024)

static void require(void) {
        test_require(test_have_kvm(), "/dev/kvm");
        test_require(test_is_root(), "root");
}

/* Every stdout line is JSON and the last is exited. */
static void assert_envelope(const struct vmrun *r) {
        if (!r->all_json || r->n_events == 0)
                hostile_dump(r);
        ck_assert_msg(r->all_json, "a stdout line is not JSON");
        ck_assert_uint_gt(r->n_events, 0);
        ck_assert_str_eq(vmrun_str(r->events[r->n_events - 1], "event"), "exited");
}

/* The plugin_output_dropped events for `stream`: their count, and the
 * lines and bytes they report. */
static size_t dropped(const struct vmrun *r, const char *stream, unsigned long long *lines,
                      unsigned long long *bytes) {
        size_t n = 0;
        json_object *ev;

        *lines = *bytes = 0;
        for (size_t i = 0; (ev = vmrun_event(r, "plugin_output_dropped", i)); i++) {
                if (strcmp(vmrun_str(ev, "stream"), stream) != 0)
                        continue;
                n++;
                *lines += strtoull(vmrun_str(ev, "lines"), NULL, 10);
                *bytes += strtoull(vmrun_str(ev, "bytes"), NULL, 10);
        }
        return n;
}

static size_t count_lines(const char *s, const char *prefix) {
        size_t n = 0, k = strlen(prefix);

        for (const char *p = s; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
                n += strncmp(p, prefix, k) == 0;
        return n;
}

/* A plugin writes 64 KiB of newlines at a time, as fast as vmlaunch reads,
 * to `stream`, and ignores the stop: SIGTERM still ends the run in time,
 * the flood is dropped with counted notes, and each note stays cheap. */
static void flood(const char *stream) {
        char args[64];
        struct vmrun r;
        struct vmrun_opts o = { .signal = SIGTERM, .signal_delay_ms = 1500, .timeout_s = 40, .sample_rss = true };
        unsigned long long lines, bytes;
        size_t notes, logged;

        require();
        snprintf(args, sizeof(args), "\"%s\", \"0\"", stream);
        o.config = hostile_config(hostile_plugin("flood"), args, "");
        /* The echo to stderr is the heavier path, and the one that logs. */
        o.extra_args = (const char *const[]){ "--echo-plugin-output", NULL };
        vmrun(&o, &r);
        hostile_assert_stopped_in_time(&r);
        assert_envelope(&r);
        notes = dropped(&r, stream, &lines, &bytes);
        logged = count_lines(r.err, strcmp(stream, "stdout") == 0 ? "vmlaunch: plugin stdout: "
                                                                   : "vmlaunch: plugin stderr: ");
        fprintf(stderr, "flood %s: SIGTERM to exit %.3f s (stopping to exited %.3f s); peak RSS %ld KiB; "
                        "%zu notes, %llu lines (%llu bytes) dropped; %zu lines passed; %zu bytes of stdout, "
                        "%zu of stderr\n",
                stream, r.seconds - r.signal_seconds,
                vmrun_time(vmrun_event(&r, "exited", 0)) - vmrun_time(vmrun_event(&r, "stopping", 0)),
                r.vm_hwm_kib, notes, lines, bytes, logged, strlen(r.out), strlen(r.err));
        ck_assert_uint_gt(notes, 0);
        ck_assert_uint_gt(lines, 0);
        ck_assert_uint_ge(bytes, lines);
        /* What passed is the burst and the rate, not the flood. */
        ck_assert_uint_le(logged, 5000 + 1000 * (size_t)(r.seconds + 1));
        ck_assert_uint_gt(r.vm_hwm_kib, 0);
        ck_assert_msg(r.vm_hwm_kib < FLOOD_RSS_MAX_KIB, "vmlaunch's peak RSS: %ld KiB", r.vm_hwm_kib);
        /* The log says so too. */
        ck_assert_ptr_nonnull(strstr(r.err, "dropped: over the output budget"));
        vmrun_free(&r);
}

START_TEST(test_flood_stdout) {
        flood("stdout");
}
END_TEST

START_TEST(test_flood_stderr) {
        flood("stderr");
}
END_TEST

/* If the exited line made it, it is the last line, and every line before
 * it is whole JSON. */
static void assert_exited_last_if_there(const struct vmrun *r) {
        json_object *ex = vmrun_event(r, "exited", 0);

        if (!r->all_json)
                hostile_dump(r);
        ck_assert_msg(r->all_json, "a stdout line is not JSON (a line cut in half?)");
        if (ex)
                ck_assert_ptr_eq(ex, r->events[r->n_events - 1]);
}

/* vmlaunch's stdout goes to a pipe that stays open but is never read
 * until it exits, while the plugin fills it with 4 KiB lines. */
static void stdout_unread(const char *mode) {
        char args[64];
        struct vmrun r;
        struct vmrun_opts o = { .signal = SIGTERM, .signal_when = "flood: flooding", .signal_delay_ms = 1500,
                                .timeout_s = 40, .stall_stdout_until_exit = true, .sample_rss = true };

        require();
        snprintf(args, sizeof(args), "\"stdout\", \"4000\", \"%s\"", mode);
        o.config = hostile_config(hostile_plugin("flood"), args, "");
        /* The plugin's "flooding" must reach the test while stdout is
         * never read: through stderr. */
        o.extra_args = (const char *const[]){ "--echo-plugin-output", NULL };
        vmrun(&o, &r);
        fprintf(stderr, "stdout unread (%s): SIGTERM to exit %.3f s; peak RSS %ld KiB; %zu bytes of stdout, "
                        "%zu events, exited %s\n",
                mode, r.seconds - r.signal_seconds, r.vm_hwm_kib, strlen(r.out), r.n_events,
                vmrun_event(&r, "exited", 0) ? "there" : "lost");
        hostile_assert_stopped_in_time(&r);
        assert_exited_last_if_there(&r);
        ck_assert_msg(r.vm_hwm_kib < FLOOD_RSS_MAX_KIB, "vmlaunch's peak RSS: %ld KiB", r.vm_hwm_kib);
        ck_assert_ptr_nonnull(strstr(r.err, "exit 1: hung plugin killed") ?: strstr(r.err, "vmlaunch: exit 0: "));
        vmrun_free(&r);
}

START_TEST(test_stdout_unread) {
        stdout_unread("polite");
}
END_TEST

START_TEST(test_stdout_unread_plugin_ignores_stop) {
        stdout_unread("hostile");
}
END_TEST

/* The same for stderr: the plugin's 4 KiB lines become log lines there. */
START_TEST(test_stderr_unread) {
        struct vmrun r;
        struct vmrun_opts o = { .signal = SIGTERM, .signal_delay_ms = 1500, .timeout_s = 40,
                                .stall_stderr_until_exit = true, .sample_rss = true };
        const char *last;

        require();
        o.config = hostile_config(hostile_plugin("flood"), "\"stderr\", \"4000\", \"polite\"", "");
        vmrun(&o, &r);
        fprintf(stderr, "stderr unread: SIGTERM to exit %.3f s; peak RSS %ld KiB; %zu bytes of stderr\n",
                r.seconds - r.signal_seconds, r.vm_hwm_kib, strlen(r.err));
        hostile_assert_stopped_in_time(&r);
        assert_envelope(&r);
        ck_assert_msg(r.vm_hwm_kib < FLOOD_RSS_MAX_KIB, "vmlaunch's peak RSS: %ld KiB", r.vm_hwm_kib);
        /* Whole lines only, each vmlaunch's; the final one last if it fit. */
        ck_assert(r.err[0] == '\0' || r.err[strlen(r.err) - 1] == '\n');
        ck_assert_uint_eq(count_lines(r.err, "vmlaunch: "), count_lines(r.err, ""));
        last = strrchr(r.err, '\n');
        while (last && last > r.err && last[-1] != '\n')
                last--;
        if (strstr(r.err, "vmlaunch: exit 0: "))
                ck_assert_msg(last && strncmp(last, "vmlaunch: exit 0: ", 18) == 0, "not last: %.200s", last);
        vmrun_free(&r);
}
END_TEST

/* Plugin bytes built to fool a terminal: on vmlaunch's stderr every line
 * with plugin bytes starts with the prefix and holds no control byte, and
 * the only "vmlaunch: exit" line is vmlaunch's own, last. */
START_TEST(test_forged_lines) {
        struct vmrun r;
        struct vmrun_opts o = { .signal = SIGTERM, .signal_when = "forge: done", .timeout_s = 30 };
        size_t plugin_lines = 0;

        require();
        o.config = hostile_config(hostile_plugin("forge"), "", "");
        /* Headless, plugin lines reach stderr only when asked for. */
        o.extra_args = (const char *const[]){ "--echo-plugin-output", NULL };
        vmrun(&o, &r);
        hostile_assert_stopped_in_time(&r);
        assert_envelope(&r);
        for (const unsigned char *c = (const unsigned char *)r.err; *c; c++)
                ck_assert_msg((*c >= 0x20 || *c == '\t' || *c == '\n') && *c != 0x7f &&
                                      !(c[0] == 0xc2 && c[1] >= 0x80 && c[1] < 0xa0),
                              "control byte 0x%02x on stderr at %zu", *c, (size_t)(c - (const unsigned char *)r.err));
        for (const char *p = r.err; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                ck_assert_msg(strncmp(p, "vmlaunch: ", 10) == 0, "a line without the prefix: %.120s", p);
                if (strstr(p, "forged") && strstr(p, "forged") < strchr(p, '\n')) {
                        plugin_lines++;
                        ck_assert_msg(strncmp(p, "vmlaunch: plugin stderr: ", 25) == 0 ||
                                              strncmp(p, "vmlaunch: plugin stdout: ", 25) == 0,
                                      "forged text without the plugin prefix: %.120s", p);
                }
        }
        ck_assert_uint_eq(plugin_lines, 6);     /* three forged lines on each stream */
        ck_assert_uint_eq(count_lines(r.err, "vmlaunch: exit "), 1);
        ck_assert_ptr_nonnull(strstr(r.err, "vmlaunch: plugin stderr: \\x1b[2K\\x0dvmlaunch: exit 0: shutdown: forged\n"));
        ck_assert_ptr_nonnull(strstr(r.err, "only text"));
        ck_assert_ptr_nonnull(strstr(r.err, "vmlaunch: plugin stderr: invalid \xef\xbf\xbd\xef\xbf\xbd utf-8 and a "
                                            "\\\\x1b that is only text\n"));
        vmrun_free(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hostile_loop");
        TCase *tc = tcase_create("loop");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_flood_stdout);
        tcase_add_test(tc, test_flood_stderr);
        tcase_add_test(tc, test_stdout_unread);
        tcase_add_test(tc, test_stdout_unread_plugin_ignores_stop);
        tcase_add_test(tc, test_stderr_unread);
        tcase_add_test(tc, test_forged_lines);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
