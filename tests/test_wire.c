/* The framing layer over real sockets and pipes. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

START_TEST(test_varint) {
        static const uint32_t values[] = { 0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX };
        uint8_t buf[WIRE_VARINT32_MAX];
        static const uint8_t overlong[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
        static const uint8_t too_big[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
        uint32_t v;

        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
                size_t n = wire_varint32_encode(values[i], buf);

                ck_assert_int_eq(wire_varint32_decode(buf, n, &v), (int)n);
                ck_assert_uint_eq(v, values[i]);
                if (n > 1)
                        ck_assert_int_eq(wire_varint32_decode(buf, n - 1, &v), 0);     /* a prefix */
        }
        ck_assert_uint_eq(wire_varint32_encode(127, buf), 1);
        ck_assert_uint_eq(wire_varint32_encode(128, buf), 2);
        ck_assert_int_eq(wire_varint32_decode(overlong, sizeof(overlong), &v), -EBADMSG);
        ck_assert_int_eq(wire_varint32_decode(too_big, sizeof(too_big), &v), -EBADMSG);
}
END_TEST

static int count_fds(void) {
        int n = 0;

        for (int fd = 0; fd < 1024; fd++)
                n += fcntl(fd, F_GETFD) >= 0;
        return n;
}

START_TEST(test_seqpacket_fds) {
        int sv[2], p[2], fds[WIRE_MAX_FDS];
        char buf[64];
        size_t n_fds = 99;
        struct stat a, b;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(pipe(p), 0);   /* not CLOEXEC: what arrives must be */

        ck_assert_int_eq(wire_send(sv[0], "abc", 3, NULL, 0), 0);
        ck_assert_int_eq(wire_recv(sv[1], buf, sizeof(buf), fds, WIRE_MAX_FDS, &n_fds), 3);
        ck_assert_uint_eq(n_fds, 0);

        ck_assert_int_eq(wire_send(sv[0], "x", 1, (int[]){ p[0], p[1], p[0] }, 3), 0);
        ck_assert_int_eq(wire_recv(sv[1], buf, sizeof(buf), fds, WIRE_MAX_FDS, &n_fds), 1);
        ck_assert_uint_eq(n_fds, 3);
        for (int i = 0; i < 3; i++)
                ck_assert_int_eq(fcntl(fds[i], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_eq(fstat(fds[0], &a), 0);
        ck_assert_int_eq(fstat(p[0], &b), 0);
        ck_assert_uint_eq(a.st_ino, b.st_ino);
        for (int i = 0; i < 3; i++)
                close(fds[i]);

        /* Too many fds for the receiver: malformed, and none leak. */
        {
                int before = count_fds();

                ck_assert_int_eq(wire_send(sv[0], "y", 1, (int[]){ p[0], p[1] }, 2), 0);
                ck_assert_int_eq(wire_recv(sv[1], buf, sizeof(buf), fds, 1, &n_fds), -EMSGSIZE);
                ck_assert_int_eq(count_fds(), before);
        }
        /* Longer than the buffer: malformed, and its fd does not leak. */
        {
                char big[200] = { 0 };
                int before = count_fds();

                ck_assert_int_eq(wire_send(sv[0], big, sizeof(big), &p[0], 1), 0);
                ck_assert_int_eq(wire_recv(sv[1], buf, sizeof(buf), fds, WIRE_MAX_FDS, &n_fds), -EMSGSIZE);
                ck_assert_int_eq(count_fds(), before);
        }
        /* Hang-up. */
        close(sv[0]);
        ck_assert_int_eq(wire_recv(sv[1], buf, sizeof(buf), fds, WIRE_MAX_FDS, &n_fds), 0);
        close(sv[1]);
        close(p[0]);
        close(p[1]);
}
END_TEST

START_TEST(test_reader_reassembles) {
        int p[2];
        uint8_t buf[64];
        struct wire_reader r;
        const uint8_t *msg;
        size_t len;

        ck_assert_int_eq(pipe(p), 0);
        wire_reader_init(&r, buf, sizeof(buf));
        /* One message in two writes, split inside its body. */
        ck_assert_int_eq(write(p[1], "\x05he", 3), 3);
        ck_assert(!wire_reader_has_message(&r));
        ck_assert_int_eq(write(p[1], "llo", 3), 3);
        ck_assert_int_eq(wire_reader_next(&r, p[0], &msg, &len), 0);
        ck_assert_uint_eq(len, 5);
        ck_assert(memcmp(msg, "hello", 5) == 0);
        /* Two messages and an empty one in one write. */
        ck_assert_int_eq(write(p[1], "\x02hi\x00\x03you", 8), 8);
        ck_assert_int_eq(wire_reader_next(&r, p[0], &msg, &len), 0);
        ck_assert(len == 2 && memcmp(msg, "hi", 2) == 0);
        ck_assert(wire_reader_has_message(&r));
        ck_assert_int_eq(wire_reader_next(&r, p[0], &msg, &len), 0);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(wire_reader_next(&r, p[0], &msg, &len), 0);
        ck_assert(len == 3 && memcmp(msg, "you", 3) == 0);
        /* A length beyond the buffer. */
        ck_assert_int_eq(write(p[1], "\x7f", 1), 1);
        ck_assert_int_eq(wire_reader_next(&r, p[0], &msg, &len), -EMSGSIZE);
        close(p[1]);
        close(p[0]);

        ck_assert_int_eq(pipe(p), 0);
        wire_reader_init(&r, buf, sizeof(buf));
        close(p[1]);
        ck_assert_int_eq(wire_reader_next(&r, p[0], &msg, &len), -EPIPE);
        close(p[0]);
}
END_TEST

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The poller: data already there is seen at once; none is looked for a
 * whole window and no longer; waits longer than the ceiling halve the
 * window down to off; quick ones grow it back from the start value;
 * a ceiling of 0 never polls. */
START_TEST(test_poller_adapts) {
        struct wire_poller p;
        int fds[2];
        uint64_t t0, took;
        char c;

        ck_assert_int_eq(pipe(fds), 0);
        wire_poller_init(&p, 100000);           /* 100 us */
        ck_assert_uint_eq(p.ns, 100000);

        ck_assert_int_eq(write(fds[1], "x", 1), 1);
        ck_assert(wire_poller_wait(&p, fds[0]));
        ck_assert_int_eq(read(fds[0], &c, 1), 1);
        wire_poller_done(&p, true);
        ck_assert_uint_eq(p.ns, 100000);

        t0 = mono_ns();
        ck_assert(!wire_poller_wait(&p, fds[0]));
        took = mono_ns() - t0;
        ck_assert_msg(took >= 100000, "gave up after %llu ns, inside its window", (unsigned long long)took);

        /* Replies slower than the ceiling: 100 -> 50 -> 25 -> 12.5 -> 6.25
         * -> 3.125 us, then below the start value: off. */
        for (int i = 0; i < 6; i++) {
                wire_poller_wait(&p, fds[0]);
                usleep(1000);
                wire_poller_done(&p, false);
        }
        ck_assert_uint_eq(p.ns, 0);
        /* Off still times the wait; a quick reply restarts polling. */
        ck_assert(!wire_poller_wait(&p, fds[0]));
        wire_poller_done(&p, false);
        ck_assert_uint_eq(p.ns, WIRE_POLL_START_NS);
        ck_assert_int_eq(write(fds[1], "x", 1), 1);
        ck_assert(wire_poller_wait(&p, fds[0]));
        ck_assert_int_eq(read(fds[0], &c, 1), 1);
        wire_poller_done(&p, true);
        ck_assert_uint_eq(p.ns, 2 * WIRE_POLL_START_NS);

        wire_poller_init(&p, 0);
        ck_assert_int_eq(write(fds[1], "x", 1), 1);
        ck_assert(!wire_poller_wait(&p, fds[0]));       /* off: the caller just reads */
        close(fds[0]);
        close(fds[1]);
}
END_TEST

/* VMLAUNCH_POLL_US: microseconds, anything malformed is off. */
START_TEST(test_poll_env) {
        setenv("VMLAUNCH_POLL_US", "200", 1);
        ck_assert_uint_eq(wire_poll_ns_from_env(), 200000);
        setenv("VMLAUNCH_POLL_US", "20x", 1);
        ck_assert_uint_eq(wire_poll_ns_from_env(), 0);
        setenv("VMLAUNCH_POLL_US", "99999999", 1);
        ck_assert_uint_eq(wire_poll_ns_from_env(), 0);
        unsetenv("VMLAUNCH_POLL_US");
        ck_assert_uint_eq(wire_poll_ns_from_env(), 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("wire");
        TCase *tc = tcase_create("wire");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_varint);
        tcase_add_test(tc, test_seqpacket_fds);
        tcase_add_test(tc, test_reader_reassembles);
        tcase_add_test(tc, test_poller_adapts);
        tcase_add_test(tc, test_poll_env);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
