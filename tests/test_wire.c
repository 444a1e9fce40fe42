/* The framing layer over real sockets and pipes. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "pb.h"
#include "wire.h"
#include "test_util.h"

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
        int avail = -1;

        ck_assert_int_eq(pipe(p), 0);
        wire_reader_init(&r, buf, sizeof(buf));
        /* One message in two writes, split inside its body. */
        ck_assert_int_eq(write(p[1], "\x05he", 3), 3);
        ck_assert_int_eq(write(p[1], "llo", 3), 3);
        ck_assert_int_eq(wire_reader_next(&r, p[0], NULL, &msg, &len), 0);
        ck_assert_uint_eq(len, 5);
        ck_assert(memcmp(msg, "hello", 5) == 0);
        /* Two messages and an empty one in one write. */
        ck_assert_int_eq(write(p[1], "\x02hi\x00\x03you", 8), 8);
        ck_assert_int_eq(wire_reader_next(&r, p[0], NULL, &msg, &len), 0);
        ck_assert(len == 2 && memcmp(msg, "hi", 2) == 0);
        /* The pipe is empty now: the next two come from the buffer (a
         * read would block). */
        ck_assert_int_eq(ioctl(p[0], FIONREAD, &avail), 0);
        ck_assert_int_eq(avail, 0);
        ck_assert_int_eq(wire_reader_next(&r, p[0], NULL, &msg, &len), 0);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(wire_reader_next(&r, p[0], NULL, &msg, &len), 0);
        ck_assert(len == 3 && memcmp(msg, "you", 3) == 0);
        /* A length beyond the buffer. */
        ck_assert_int_eq(write(p[1], "\x7f", 1), 1);
        ck_assert_int_eq(wire_reader_next(&r, p[0], NULL, &msg, &len), -EMSGSIZE);
        close(p[1]);
        close(p[0]);

        ck_assert_int_eq(pipe(p), 0);
        wire_reader_init(&r, buf, sizeof(buf));
        close(p[1]);
        ck_assert_int_eq(wire_reader_next(&r, p[0], NULL, &msg, &len), -EPIPE);
        close(p[0]);
}
END_TEST

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The window: waits longer than the ceiling halve it down to off; a wait
 * inside the ceiling grows it back from the start value, and data caught
 * by polling doubles it up to the ceiling; a ceiling of 0 never moves. */
START_TEST(test_poller_adapts) {
        struct wire_poller p;

        wire_poller_init(&p, 100000);           /* 100 us */
        ck_assert_uint_eq(p.ns, 100000);
        wire_poller_adapt(&p, true, 0);
        ck_assert_uint_eq(p.ns, 100000);
        /* 100 -> 50 -> 25 -> 12.5 -> 6.25 -> 3.125 us, then below the
         * start value: off. */
        for (int i = 0; i < 5; i++)
                wire_poller_adapt(&p, false, 1000000);
        ck_assert_uint_eq(p.ns, 3125);
        wire_poller_adapt(&p, false, 1000000);
        ck_assert_uint_eq(p.ns, 0);
        wire_poller_adapt(&p, false, 1000000);
        ck_assert_uint_eq(p.ns, 0);
        /* A reply inside the ceiling that a closed window missed. */
        wire_poller_adapt(&p, false, 50000);
        ck_assert_uint_eq(p.ns, WIRE_POLL_START_NS);
        wire_poller_adapt(&p, true, 0);
        ck_assert_uint_eq(p.ns, 2 * WIRE_POLL_START_NS);
        for (int i = 0; i < 10; i++)
                wire_poller_adapt(&p, true, 0);
        ck_assert_uint_eq(p.ns, 100000);

        wire_poller_init(&p, 0);
        wire_poller_adapt(&p, false, 50000);
        wire_poller_adapt(&p, true, 0);
        ck_assert_uint_eq(p.ns, 0);
}
END_TEST

/* Once thread `tid` sleeps (the poller blocks only in poll(); it spins
 * runnable before that), writes a byte "L" to `fd`, or, with fd < 0,
 * signals `target`: whatever the machine's load, the poller is then
 * past its window and blocked. */
struct late {
        int fd;
        pid_t tid;
        pthread_t target;
};

static void *late_thread(void *arg) {
        struct late *l = arg;

        test_wait_asleep(l->tid);
        if (l->fd >= 0)
                ck_assert_int_eq(write(l->fd, "L", 1), 1);
        else
                pthread_kill(l->target, SIGUSR1);
        return NULL;
}

static void on_usr1(int sig) {
        (void)sig;
}

/* Reading through the poller, on a real pipe: the end is made
 * non-blocking only when polling is on; data already there comes at
 * once; data that comes after the window is waited for blocking and
 * shrinks the window; a signal in the blocking part is -EINTR with
 * nothing lost; end of file is 0; and the framing reader reassembles a
 * message whose second half comes after a blocking wait. */
START_TEST(test_poller_read) {
        struct sigaction sa = { .sa_handler = on_usr1 };        /* no SA_RESTART */
        struct wire_poller p;
        struct wire_reader r;
        struct late l;
        pthread_t t;
        int fds[2];
        uint8_t buf[64];
        const uint8_t *msg;
        size_t len;
        uint64_t t0;

        ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
        ck_assert_int_eq(pipe(fds), 0);
        wire_poller_init(&p, 0);
        ck_assert_int_eq(wire_poller_attach(&p, fds[0]), 0);
        ck_assert_int_eq(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
        ck_assert_int_eq(write(fds[1], "ab", 2), 2);
        ck_assert_int_eq(wire_poller_read(&p, fds[0], buf, sizeof(buf)), 2);

        wire_poller_init(&p, 100000);
        ck_assert_int_eq(wire_poller_attach(&p, fds[0]), 0);
        ck_assert_int_ne(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
        ck_assert_int_eq(write(fds[1], "cd", 2), 2);
        ck_assert_int_eq(wire_poller_read(&p, fds[0], buf, sizeof(buf)), 2);
        ck_assert(memcmp(buf, "cd", 2) == 0);
        ck_assert_uint_eq(p.ns, 100000);

        /* Late: past the 100 us window, so it blocked for it. */
        l = (struct late){ .fd = fds[1], .tid = gettid() };
        t0 = mono_ns();
        ck_assert_int_eq(pthread_create(&t, NULL, late_thread, &l), 0);
        ck_assert_int_eq(wire_poller_read(&p, fds[0], buf, sizeof(buf)), 1);
        ck_assert_int_eq(buf[0], 'L');
        ck_assert_uint_ge(mono_ns() - t0, 100000);
        ck_assert_uint_eq(p.ns, 50000);
        pthread_join(t, NULL);

        /* A signal while blocked. */
        l = (struct late){ .fd = -1, .tid = gettid(), .target = pthread_self() };
        ck_assert_int_eq(pthread_create(&t, NULL, late_thread, &l), 0);
        ck_assert_int_eq(wire_poller_read(&p, fds[0], buf, sizeof(buf)), -EINTR);
        pthread_join(t, NULL);
        ck_assert_uint_eq(p.ns, 50000);

        /* One message split across a blocking wait. */
        wire_reader_init(&r, buf, sizeof(buf));
        ck_assert_int_eq(write(fds[1], "\x03x", 2), 2);
        ck_assert_int_eq(write(fds[1], "y", 1), 1);
        l = (struct late){ .fd = fds[1], .tid = gettid() };
        ck_assert_int_eq(pthread_create(&t, NULL, late_thread, &l), 0);
        ck_assert_int_eq(wire_reader_next(&r, fds[0], &p, &msg, &len), 0);
        ck_assert(len == 3 && memcmp(msg, "xyL", 3) == 0);
        pthread_join(t, NULL);

        close(fds[1]);
        ck_assert_int_eq(wire_poller_read(&p, fds[0], buf, sizeof(buf)), 0);
        close(fds[0]);
}
END_TEST

/* pb_small_bound holds for every message the hot paths pack without
 * sizing, at its largest: every scalar at the value with the longest
 * encoding, every bytes field as long as it can be (an Io's data up to a
 * page, KVM's limit for string I/O; the register sets at their sizes). */
START_TEST(test_small_bound) {
        static uint8_t page[4096], regs[sizeof(struct kvm_regs)], sregs[sizeof(struct kvm_sregs)],
                dregs[sizeof(struct kvm_debugregs)];
        const size_t all = sizeof(page) + sizeof(regs) + sizeof(sregs) + sizeof(dregs);
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuResponse__Wait__Io io = VCPU_RESPONSE__WAIT__IO__INIT;
        VcpuResponse__Wait__User user = VCPU_RESPONSE__WAIT__USER__INIT;
        VcpuResponse__Wait__HypervCall hc = VCPU_RESPONSE__WAIT__HYPERV_CALL__INIT;
        VcpuResponse__Wait__HypervSynic sy = VCPU_RESPONSE__WAIT__HYPERV_SYNIC__INIT;
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__Resume res = VCPU_REQUEST__RESUME__INIT;

        pb_vcpu_response_set_errno(&resp, INT32_MIN);   /* negative: 10 bytes */
        resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
        resp.wait = &w;
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_IO;
        w.io = &io;
        io.space = (AddressSpace)-1;
        io.address = UINT64_MAX;
        io.is_write = io.no_resume = true;
        io.data = (ProtobufCBinaryData){ sizeof(page), page };
        io.regs = (ProtobufCBinaryData){ sizeof(regs), regs };
        io.sregs = (ProtobufCBinaryData){ sizeof(sregs), sregs };
        io.debugregs = (ProtobufCBinaryData){ sizeof(dregs), dregs };
        ck_assert_uint_le(vcpu_response__get_packed_size(&resp), pb_small_bound(all));

        user.user = UINT64_MAX;
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_USER;
        w.user = &user;
        ck_assert_uint_le(vcpu_response__get_packed_size(&resp), pb_small_bound(0));
        hc.input = hc.params0 = hc.params1 = UINT64_MAX;
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_HYPERV_CALL;
        w.hyperv_call = &hc;
        ck_assert_uint_le(vcpu_response__get_packed_size(&resp), pb_small_bound(0));
        sy.msr = UINT32_MAX;
        sy.control = sy.evt_page = sy.msg_page = UINT64_MAX;
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_HYPERV_SYNIC;
        w.hyperv_synic = &sy;
        ck_assert_uint_le(vcpu_response__get_packed_size(&resp), pb_small_bound(0));

        req.message_case = VCPU_REQUEST__MESSAGE_RESUME;
        req.resume = &res;
        res.data = (ProtobufCBinaryData){ sizeof(page), page };
        res.regs = (ProtobufCBinaryData){ sizeof(regs), regs };
        res.sregs = (ProtobufCBinaryData){ sizeof(sregs), sregs };
        res.debugregs = (ProtobufCBinaryData){ sizeof(dregs), dregs };
        ck_assert_uint_le(vcpu_request__get_packed_size(&req), pb_small_bound(all));
        /* And it is a bound, not a guess far above: within 256 bytes. */
        ck_assert_uint_le(pb_small_bound(all) - vcpu_request__get_packed_size(&req), 256);
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

        tcase_add_test(tc, test_varint);
        tcase_add_test(tc, test_seqpacket_fds);
        tcase_add_test(tc, test_reader_reassembles);
        tcase_add_test(tc, test_poller_adapts);
        tcase_add_test(tc, test_poller_read);
        tcase_add_test(tc, test_small_bound);
        tcase_add_test(tc, test_poll_env);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
