/* sd_notify through a socket nobody reads: no notify_* call blocks, and
 * notify_close() returns in its bound, saying messages were lost.  Before
 * the sending thread, the eleventh message blocked the caller for good
 * (a unix datagram queue holds ten), and with it vmlaunch's main loop. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify.h"

static char dir[64], path[96];
static int sock = -1;

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void setup(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        snprintf(dir, sizeof(dir), "/tmp/test_notify_socket.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/notify", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(sock, 0);
        ck_assert_int_eq(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
}

static void teardown(void) {
        close(sock);
        unlink(path);
        rmdir(dir);
}

/* The next message on the socket, or "" when none is waiting. */
static const char *next_message(char *buf, size_t size) {
        ssize_t n = recv(sock, buf, size - 1, MSG_DONTWAIT);

        buf[n > 0 ? n : 0] = '\0';
        return buf;
}

START_TEST(test_unread_socket) {
        char buf[256];
        double t;
        int r;

        t = now_s();
        for (int i = 0; i < 40; i++) {
                snprintf(buf, sizeof(buf), "%d", i);
                notify_status(buf);
                notify_watchdog();
        }
        notify_exited(0, "the end");
        ck_assert_msg(now_s() - t < 2.0, "40 messages took %.3f s: a call blocked", now_s() - t);
        t = now_s();
        r = notify_close(200);
        ck_assert_msg(now_s() - t < 2.0, "notify_close(200) took %.3f s", now_s() - t);
        ck_assert_int_eq(r, -EAGAIN);
        /* What went through went in order, from the first. */
        ck_assert_str_eq(next_message(buf, sizeof(buf)), "STATUS=0");
        while (*next_message(buf, sizeof(buf)))
                ck_assert_msg(strcmp(buf, "WATCHDOG=1") == 0 || strncmp(buf, "STATUS=", 7) == 0, "%s", buf);
}
END_TEST

/* A reader that keeps up gets every message, the last included, and a
 * closed sender starts again on the next call. */
START_TEST(test_everything_delivered) {
        char buf[256];

        for (int round = 0; round < 2; round++) {
                notify_ready("unit", 2);
                notify_stopping("SIGTERM received", 1000);
                notify_exited(0, "stopped on request");
                ck_assert_int_eq(notify_close(2000), 0);
                ck_assert_str_eq(next_message(buf, sizeof(buf)), "READY=1\nSTATUS=running unit with 2 vCPUs");
                ck_assert_str_eq(next_message(buf, sizeof(buf)),
                                 "STOPPING=1\nEXTEND_TIMEOUT_USEC=2000000\nSTATUS=stopping: SIGTERM received");
                ck_assert_str_eq(next_message(buf, sizeof(buf)), "STOPPING=1\nSTATUS=exited 0: stopped on request");
                ck_assert_str_eq(next_message(buf, sizeof(buf)), "");
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("notify_socket");
        TCase *tc = tcase_create("notify_socket");
        SRunner *sr;
        int failed;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_unread_socket);
        tcase_add_test(tc, test_everything_delivered);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
