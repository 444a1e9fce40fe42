/* Headless status lines: every line parses as JSON whatever bytes the
 * plugin wrote, and carries the fields the schema promises.  The writers
 * under them never block; plugin output has a budget; plugin bytes reach
 * stderr escaped and prefixed. */
#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "output.h"
#include "sink.h"
#include "status.h"
#include "test_util.h"

/* Everything readable from a non-blocking fd, NUL-terminated. */
static char *slurp(int fd, size_t *ret_len) {
        size_t len = 0, cap = 65536;
        char *buf = malloc(cap + 1);
        ssize_t n;

        ck_assert_ptr_nonnull(buf);
        ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        while ((n = read(fd, buf + len, cap - len)) > 0) {
                len += (size_t)n;
                if (len == cap) {
                        cap *= 2;
                        buf = realloc(buf, cap + 1);
                        ck_assert_ptr_nonnull(buf);
                }
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return buf;
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_object *parse_line(const char *line) {
        json_object *o = json_tokener_parse(line);

        ck_assert_msg(o != NULL, "not JSON: %s", line);
        return o;
}

static const char *field(json_object *o, const char *key) {
        json_object *v;

        ck_assert_msg(json_object_object_get_ex(o, key, &v), "no %s", key);
        return json_object_get_string(v);
}

START_TEST(test_sanitize) {
        char out[64];

        ck_assert_uint_eq(status_utf8_sanitize("abc", 3, out), 3);
        ck_assert_str_eq(out, "abc");
        /* é (2 bytes), € (3), 😀 (4) stay. */
        ck_assert_str_eq((status_utf8_sanitize("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, out), out),
                         "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
        /* A stray continuation byte, a truncated sequence, an overlong
         * slash, a surrogate: each bad byte becomes U+FFFD. */
        status_utf8_sanitize("\x80", 1, out);
        ck_assert_str_eq(out, "\xef\xbf\xbd");
        status_utf8_sanitize("a\xe2\x82", 3, out);
        ck_assert_str_eq(out, "a\xef\xbf\xbd\xef\xbf\xbd");
        status_utf8_sanitize("\xc0\xaf", 2, out);
        ck_assert_str_eq(out, "\xef\xbf\xbd\xef\xbf\xbd");
        status_utf8_sanitize("\xed\xa0\x80", 3, out);
        ck_assert_str_eq(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
        /* NUL is kept (JSON escapes it). */
        ck_assert_uint_eq(status_utf8_sanitize("a\0b", 3, out), 3);
}
END_TEST

START_TEST(test_events_parse) {
        char *buf;
        int p[2];
        struct sink *out = NULL;
        struct status *s = NULL;
        struct monitor *m;
        struct monitor_info info = { .name = "t\"est", .vcpus = 2, .plugin_pid = 42 };
        static const char nasty[] = "bad \xff\xfe utf8, esc \x1b[31m red, tab\t, quote \" backslash \\ nul";
        char *line, *save = NULL;
        int n = 0;

        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(sink_open(p[1], STATUS_QUEUE_MAX, &out), 0);
        ck_assert_int_eq(status_new(out, 0, false, &s), 0);
        m = status_monitor(s);
        m->started(m, &info);
        m->running(m);
        m->plugin_output(m, MONITOR_STDERR, nasty, sizeof(nasty) - 1);
        m->plugin_output(m, MONITOR_STDOUT, "hello", 5);
        m->stop_cause = "signal";
        m->stopping(m, "SIGTERM received", monitor_now_usec() + 1000000);
        m->plugin_output_dropped(m, MONITOR_STDOUT, 7, 99);
        m->stop_cause = "plugin_exit";
        m->exited(m, 0, "shutdown: stopped on request", "exited 0");
        sink_free(out);
        close(p[1]);
        buf = slurp(p[0], NULL);
        close(p[0]);

        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
                json_object *o = parse_line(line);
                const char *ev = field(o, "event");
                json_object *t;

                ck_assert(json_object_object_get_ex(o, "time", &t));
                ck_assert(json_object_get_double(t) > 1e9);
                switch (n) {
                case 0:
                        ck_assert_str_eq(ev, "started");
                        ck_assert_str_eq(field(o, "name"), "t\"est");
                        ck_assert_str_eq(field(o, "pid"), "42");
                        ck_assert_str_eq(field(o, "vcpus"), "2");
                        break;
                case 1:
                        ck_assert_str_eq(ev, "running");
                        break;
                case 2:
                        ck_assert_str_eq(ev, "plugin_output");
                        ck_assert_str_eq(field(o, "stream"), "stderr");
                        ck_assert_str_eq(field(o, "line"),
                                         "bad \xef\xbf\xbd\xef\xbf\xbd utf8, esc \x1b[31m red, tab\t, quote \" "
                                         "backslash \\ nul");
                        break;
                case 3:
                        ck_assert_str_eq(field(o, "stream"), "stdout");
                        ck_assert_str_eq(field(o, "line"), "hello");
                        break;
                case 4:
                        ck_assert_str_eq(ev, "stopping");
                        ck_assert_str_eq(field(o, "reason"), "SIGTERM received");
                        ck_assert_str_eq(field(o, "cause"), "signal");
                        ck_assert_int_ge(atoi(field(o, "deadline_ms")), 900);
                        break;
                case 5:
                        ck_assert_str_eq(ev, "plugin_output_dropped");
                        ck_assert_str_eq(field(o, "stream"), "stdout");
                        ck_assert_str_eq(field(o, "lines"), "7");
                        ck_assert_str_eq(field(o, "bytes"), "99");
                        break;
                case 6:
                        ck_assert_str_eq(ev, "exited");
                        ck_assert_str_eq(field(o, "exit_code"), "0");
                        ck_assert_str_eq(field(o, "plugin"), "exited 0");
                        ck_assert_str_eq(field(o, "cause"), "plugin_exit");
                        ck_assert(!json_object_object_get_ex(o, "status_dropped", NULL));
                        break;
                default:
                        ck_abort_msg("extra line %s", line);
                }
                json_object_put(o);
        }
        ck_assert_int_eq(n, 7);
        status_free(s);
        free(buf);
}
END_TEST

START_TEST(test_closed_stream_does_not_stop) {
        int p[2];
        struct sink *out = NULL;
        struct status *s = NULL;
        struct monitor *m;

        ck_assert_int_eq(pipe(p), 0);
        close(p[0]);
        signal(SIGPIPE, SIG_IGN);
        ck_assert_int_eq(sink_open(p[1], STATUS_QUEUE_MAX, &out), 0);
        ck_assert_int_eq(status_new(out, 0, false, &s), 0);
        m = status_monitor(s);
        /* Writes fail with EPIPE; the calls return and nothing crashes. */
        for (int i = 0; i < 3; i++)
                m->plugin_output(m, MONITOR_STDERR, "x", 1);
        m->exited(m, 1, "error", "exited 1");
        status_free(s);
        sink_free(out);
        close(p[1]);
}
END_TEST

/* A reader that stops reading: every status call returns at once, the
 * pipe's own description stays blocking (it is shared with the parent),
 * what does not fit is dropped, counted and reported, and every line that
 * was written is whole JSON. */
START_TEST(test_unread_pipe_never_blocks) {
        int p[2];
        struct sink *out = NULL;
        struct status *s = NULL;
        struct monitor *m;
        char *buf, *line, *save = NULL;
        double t0;
        json_object *o, *last = NULL;
        unsigned long dropped_seen = 0;
        size_t lines = 0;

        ck_assert_int_eq(pipe(p), 0);
        signal(SIGPIPE, SIG_IGN);
        ck_assert_int_eq(sink_open(p[1], 64 * 1024, &out), 0);
        ck_assert_int_eq(status_new(out, 0, false, &s), 0);
        m = status_monitor(s);
        t0 = now_s();
        /* ~100 bytes each: 2 MiB, far more than the pipe and the queue. */
        for (int i = 0; i < 20000; i++)
                m->plugin_output(m, MONITOR_STDOUT, "", 0);
        ck_assert_msg(now_s() - t0 < 2.0, "status blocked: %.3f s", now_s() - t0);
        ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
        ck_assert_uint_le(sink_pending(out), 64 * 1024);

        /* The reader comes back: the next event brings the count. */
        buf = slurp(p[0], NULL);
        free(buf);
        m->plugin_output(m, MONITOR_STDOUT, "after", 5);
        m->exited(m, 0, "done", "exited 0");
        buf = slurp(p[0], NULL);
        for (int i = 0; sink_pending(out) > 0; i++) {
                size_t had = strlen(buf), more_len;
                char *more;

                ck_assert_int_lt(i, 100);
                sink_drain_all(monitor_now_usec() + 10000);
                more = slurp(p[0], &more_len);
                buf = realloc(buf, had + more_len + 1);
                memcpy(buf + had, more, more_len + 1);
                free(more);
        }
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
                o = parse_line(line);
                if (strcmp(field(o, "event"), "status_dropped") == 0)
                        dropped_seen += strtoul(field(o, "events"), NULL, 10);
                if (last)
                        json_object_put(last);
                last = o;
        }
        ck_assert_uint_gt(lines, 2);
        ck_assert_uint_gt(dropped_seen, 10000);
        ck_assert_str_eq(field(last, "event"), "exited");
        ck_assert_uint_ge(strtoul(field(last, "status_dropped"), NULL, 10), dropped_seen);
        json_object_put(last);
        free(buf);
        status_free(s);
        sink_free(out);
        close(p[0]);
        close(p[1]);
}
END_TEST

/* Fills a sink whose reader never reads: every write returns at once,
 * the shared description keeps its flags, and the queue keeps its bound. */
static void assert_never_blocks(int fd) {
        struct sink *out = NULL;
        char line[200];
        int flags = fcntl(fd, F_GETFL), refused = 0;
        double t0 = now_s();

        memset(line, 'x', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\n';
        ck_assert_int_eq(sink_open(fd, 32 * 1024, &out), 0);
        for (int i = 0; i < 20000; i++) {
                int r = sink_write(out, line, sizeof(line), false);

                ck_assert_msg(r == 0 || r == -ENOBUFS, "sink_write: %d", r);
                refused += r == -ENOBUFS;
        }
        ck_assert_msg(now_s() - t0 < 2.0, "the sink blocked: %.3f s", now_s() - t0);
        ck_assert_int_gt(refused, 0);
        ck_assert_uint_le(sink_pending(out), 32 * 1024);
        ck_assert_int_eq(fcntl(fd, F_GETFL), flags);
        sink_free(out);
}

/* The journal's stream socket: MSG_DONTWAIT, never the description. */
START_TEST(test_unread_socket_never_blocks) {
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_never_blocks(sv[0]);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

/* A terminal nobody drains (a paused terminal: ^S): our own description
 * of it is the non-blocking one. */
START_TEST(test_unread_terminal_never_blocks) {
        int master = posix_openpt(O_RDWR | O_NOCTTY), slave;

        ck_assert_int_ge(master, 0);
        ck_assert_int_eq(grantpt(master), 0);
        ck_assert_int_eq(unlockpt(master), 0);
        slave = open(ptsname(master), O_RDWR | O_NOCTTY);
        ck_assert_int_ge(slave, 0);
        assert_never_blocks(slave);
        close(slave);
        close(master);
}
END_TEST

/* The final drain waits for a reader that never comes only until its
 * deadline. */
START_TEST(test_drain_is_bounded) {
        int p[2];
        struct sink *out = NULL;
        char line[100];
        double t0;

        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(sink_open(p[1], 1024 * 1024, &out), 0);
        memset(line, 'x', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\n';
        for (int i = 0; i < 2000; i++)
                ck_assert_int_eq(sink_write(out, line, sizeof(line), false), 0);
        ck_assert_uint_gt(sink_pending(out), 0);
        t0 = now_s();
        sink_drain_all(monitor_now_usec() + 300000);
        ck_assert_double_ge(now_s() - t0, 0.25);
        ck_assert_double_lt(now_s() - t0, 1.0);
        sink_free(out);
        close(p[0]);
        close(p[1]);
}
END_TEST

START_TEST(test_escape) {
        char out[256];
        size_t n;

        ck_assert_uint_eq(log_escape("plain \\ text\t", 13, false, out, sizeof(out), &n), 13);
        ck_assert_str_eq(out, "plain \\ text\t");
        log_escape("a\\b", 3, true, out, sizeof(out), &n);
        ck_assert_str_eq(out, "a\\\\b");
        log_escape("\x1b[2J\rvmlaunch: exit 0\x7f\x08", 23, true, out, sizeof(out), &n);
        ck_assert_str_eq(out, "\\x1b[2J\\x0dvmlaunch: exit 0\\x7f\\x08");
        /* C1 CSI (U+009B) and NEL; é stays; a bad byte is U+FFFD. */
        log_escape("\xc2\x9b" "1m \xc2\x85 \xc3\xa9 \xff", 12, true, out, sizeof(out), &n);
        ck_assert_str_eq(out, "\\u009b1m \\u0085 \xc3\xa9 \xef\xbf\xbd");
        /* Never cut inside an escape. */
        ck_assert_uint_eq(log_escape("ab\x1b", 3, true, out, 5, &n), 2);
        ck_assert_str_eq(out, "ab");
}
END_TEST

struct fake {
        struct monitor mon;
        unsigned long lines, notes, noted_lines, noted_bytes;
};

static void fake_output(struct monitor *m, enum monitor_stream stream, const char *line, size_t len) {
        (void)stream, (void)line, (void)len;
        ((struct fake *)m->userdata)->lines++;
}

static void fake_dropped(struct monitor *m, enum monitor_stream stream, uint64_t lines, uint64_t bytes) {
        struct fake *f = m->userdata;

        (void)stream;
        f->notes++;
        f->noted_lines += lines;
        f->noted_bytes += bytes;
}

static void fill(int fd, size_t n) {
        static char nl[65536];

        memset(nl, '\n', sizeof(nl));
        while (n > 0) {
                ssize_t w = write(fd, nl, n < sizeof(nl) ? n : sizeof(nl));

                ck_assert_int_gt(w, 0);
                n -= (size_t)w;
        }
}

/* A flood of newlines: one turn reads at most its budget, the bucket lets
 * its burst through and then its rate, the rest is counted and noted at
 * most once a second, and the last note comes when the stream ends. */
START_TEST(test_output_budget) {
        struct fake f = { .mon = { .userdata = &f, .shows_plugin_output = true, .input_fd = -1,
                                   .plugin_output = fake_output, .plugin_output_dropped = fake_dropped } };
        struct output o;
        uint64_t t = 1000000000u;
        int p[2];

        ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
        output_init(&o, MONITOR_STDERR, &f.mon, t);
        o.fd = p[0];
        fill(p[1], 65536);
        ck_assert_int_eq(output_read(&o, 16384, t), 0);
        /* One turn: its budget and no more; the rest stays in the pipe. */
        ck_assert_uint_eq(f.lines + o.total_dropped_lines, 16384);
        ck_assert_uint_eq(f.lines, OUTPUT_LINES_BURST);
        ck_assert_uint_eq(f.notes, 1);
        ck_assert_uint_eq(f.noted_lines, 16384 - OUTPUT_LINES_BURST);
        ck_assert_int_eq(output_read(&o, 65536, t + 1000), 0);
        ck_assert_uint_eq(f.notes, 1);          /* the next is not due yet */
        ck_assert_uint_eq(output_note_due(&o), t + 1000000);
        output_tick(&o, t + 999999);
        ck_assert_uint_eq(f.notes, 1);
        output_tick(&o, t + 1000000);
        ck_assert_uint_eq(f.notes, 2);
        ck_assert_uint_eq(f.noted_lines, 65536 - OUTPUT_LINES_BURST - 1);      /* t + 1 ms refilled one */
        /* A second later a second's worth passes. */
        fill(p[1], 65536);
        ck_assert_int_eq(output_read(&o, 65536, t + 2000000), 0);
        ck_assert_uint_eq(f.lines, OUTPUT_LINES_BURST + 2 * OUTPUT_LINES_PER_S);
        close(p[1]);
        ck_assert_int_eq(output_read(&o, 65536, t + 2000001), 1);
        output_end(&o, t + 2000001);
        ck_assert_uint_eq(f.lines + f.noted_lines, 2 * 65536);
        ck_assert_uint_eq(f.noted_bytes, f.noted_lines);
        ck_assert_uint_eq(output_note_due(&o), UINT64_MAX);
        close(p[0]);
}
END_TEST

static char captured[64][512];
static size_t n_captured;

static void capture(enum log_level level, const char *line, void *userdata) {
        (void)level, (void)userdata;
        if (n_captured < 64)
                snprintf(captured[n_captured++], sizeof(captured[0]), "vmlaunch: %s", line);
}

/* Plugin lines logged to stderr: every one starts with the prefix and
 * holds no control byte, whatever the plugin wrote. */
START_TEST(test_output_logged_escaped) {
        static const char evil[] = "\x1b[2K\rvmlaunch: exit 0\n\rvmlaunch: exit 0\n\x1b]0;title\x07\xc2\x9b" "31m\n"
                                   "plain line\n";
        struct monitor mon = { .input_fd = -1 };
        struct output o;
        int p[2];

        n_captured = 0;
        log_set_sink(capture, NULL);
        ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
        output_init(&o, MONITOR_STDERR, &mon, 1);
        o.fd = p[0];
        ck_assert_int_eq(write(p[1], evil, sizeof(evil) - 1), (ssize_t)sizeof(evil) - 1);
        close(p[1]);
        ck_assert_int_eq(output_read(&o, 65536, 1), 1);
        output_end(&o, 1);
        log_set_sink(NULL, NULL);
        ck_assert_uint_eq(n_captured, 4);
        for (size_t i = 0; i < n_captured; i++) {
                ck_assert_msg(strncmp(captured[i], "vmlaunch: plugin stderr: ", 25) == 0, "%s", captured[i]);
                for (const unsigned char *c = (const unsigned char *)captured[i]; *c; c++)
                        ck_assert_msg(*c >= 0x20 && *c != 0x7f && !(c[0] == 0xc2 && c[1] < 0xa0),
                                      "control byte 0x%02x in %s", *c, captured[i]);
        }
        ck_assert_str_eq(captured[0], "vmlaunch: plugin stderr: \\x1b[2K\\x0dvmlaunch: exit 0");
        ck_assert_str_eq(captured[3], "vmlaunch: plugin stderr: plain line");
        close(p[0]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("status");
        TCase *tc = tcase_create("status");

        tcase_add_test(tc, test_sanitize);
        tcase_add_test(tc, test_events_parse);
        tcase_add_test(tc, test_closed_stream_does_not_stop);
        tcase_add_test(tc, test_unread_pipe_never_blocks);
        tcase_add_test(tc, test_unread_socket_never_blocks);
        tcase_add_test(tc, test_unread_terminal_never_blocks);
        tcase_add_test(tc, test_drain_is_bounded);
        tcase_add_test(tc, test_escape);
        tcase_add_test(tc, test_output_budget);
        tcase_add_test(tc, test_output_logged_escaped);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
