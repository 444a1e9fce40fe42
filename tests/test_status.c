/* Headless status lines: every line parses as JSON whatever bytes the
 * plugin wrote, and carries the fields the schema promises. */
#include <check.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "status.h"
#include "test_util.h"

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
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct status *s = NULL;
        struct monitor *m;
        struct monitor_info info = { .name = "t\"est", .vcpus = 2, .plugin_pid = 42 };
        static const char nasty[] = "bad \xff\xfe utf8, esc \x1b[31m red, tab\t, quote \" backslash \\ nul";
        char *line, *save = NULL;
        int n = 0;

        ck_assert_int_eq(status_new(f, 0, &s), 0);
        m = status_monitor(s);
        m->started(m, &info);
        m->running(m);
        m->plugin_output(m, MONITOR_STDERR, nasty, sizeof(nasty) - 1);
        m->plugin_output(m, MONITOR_STDOUT, "hello", 5);
        m->stopping(m, "SIGTERM received", monitor_now_usec() + 1000000);
        m->exited(m, 0, "shutdown: stopped on request", "exited 0");
        fclose(f);

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
                        ck_assert_int_ge(atoi(field(o, "deadline_ms")), 900);
                        break;
                case 5:
                        ck_assert_str_eq(ev, "exited");
                        ck_assert_str_eq(field(o, "exit_code"), "0");
                        ck_assert_str_eq(field(o, "plugin"), "exited 0");
                        break;
                default:
                        ck_abort_msg("extra line %s", line);
                }
                json_object_put(o);
        }
        ck_assert_int_eq(n, 6);
        status_free(s);
        free(buf);
}
END_TEST

START_TEST(test_closed_stream_does_not_stop) {
        int p[2];
        FILE *f;
        struct status *s = NULL;
        struct monitor *m;

        ck_assert_int_eq(pipe(p), 0);
        close(p[0]);
        f = fdopen(p[1], "w");
        signal(SIGPIPE, SIG_IGN);
        ck_assert_int_eq(status_new(f, 0, &s), 0);
        m = status_monitor(s);
        /* Writes fail with EPIPE; the calls return and nothing crashes. */
        for (int i = 0; i < 3; i++)
                m->plugin_output(m, MONITOR_STDERR, "x", 1);
        m->exited(m, 1, "error", "exited 1");
        status_free(s);
        fclose(f);
}
END_TEST

int main(void) {
        Suite *s = suite_create("status");
        TCase *tc = tcase_create("status");

        tcase_add_test(tc, test_sanitize);
        tcase_add_test(tc, test_events_parse);
        tcase_add_test(tc, test_closed_stream_does_not_stop);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
