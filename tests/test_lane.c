/* The lane (lane.h) over a real memfd: between two processes, as with a
 * plugin, and against a peer that writes impossible indices. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lane.h"
#include "wire.h"
#include "test_util.h"

static struct lane_slot *slot_new(void) {
        int fd = memfd_create("test-lane", MFD_CLOEXEC);
        void *p;

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, LANE_SLOT_BYTES), 0);
        p = mmap(NULL, LANE_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ck_assert_ptr_ne(p, MAP_FAILED);
        close(fd);
        return p;
}

/* A message of `len` bytes with its varint32 length in front. */
static size_t frame(uint8_t *out, const uint8_t *msg, size_t len) {
        size_t k = wire_varint32_encode((uint32_t)len, out);

        memcpy(out + k, msg, len);
        return k + len;
}

static void fill(uint8_t *buf, size_t len, unsigned seed) {
        for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)(seed * 31u + i * 7u);
}

/* Sizes that wrap the ring at every offset and stream messages larger
 * than the ring through it. */
static size_t size_of(unsigned i) {
        return i % 50 == 49 ? 3 * LANE_RING_BYTES + 17 : (i * 37u) % 300u + 1;
}

#define ROUNDS 2000u

/* The plugin's side in a child process: echoes every message with its
 * first byte incremented. */
static void echo_child(struct lane_slot *s, uint32_t window_ns) {
        static uint8_t buf[WIRE_PIPE_MAX + WIRE_VARINT32_MAX], out[WIRE_PIPE_MAX + WIRE_VARINT32_MAX];
        struct wire_poller p;
        struct lane l;

        wire_poller_init(&p, window_ns);
        lane_init(&l, s, false, &p, NULL);
        for (unsigned i = 0; i < ROUNDS; i++) {
                size_t len = 0;

                if (lane_read_message(&l, buf, WIRE_PIPE_MAX, false, &len) < 0)
                        _exit(10);
                buf[0]++;
                if (lane_write(&l, out, frame(out, buf, len)) < 0)
                        _exit(11);
        }
        _exit(0);
}

static void round_trips(uint32_t window_ns) {
        static uint8_t msg[WIRE_PIPE_MAX], framed[WIRE_PIPE_MAX + WIRE_VARINT32_MAX], back[WIRE_PIPE_MAX];
        struct lane_slot *s = slot_new();
        atomic_bool stop = false;
        struct wire_poller p;
        struct lane l;
        int status;
        pid_t pid;

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
                echo_child(s, window_ns);
        wire_poller_init(&p, window_ns);
        lane_init(&l, s, true, &p, &stop);
        for (unsigned i = 0; i < ROUNDS; i++) {
                size_t len = size_of(i), got = 0;

                fill(msg, len, i);
                ck_assert_int_eq(lane_write(&l, framed, frame(framed, msg, len)), 0);
                ck_assert_int_eq(lane_read_message(&l, back, sizeof(back), false, &got), 0);
                ck_assert_uint_eq(got, len);
                msg[0]++;
                ck_assert_msg(memcmp(back, msg, len) == 0, "round %u: %zu bytes came back changed", i, len);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "echo child: status %#x", status);
        /* Every byte went both ways and was taken. */
        ck_assert_uint_eq(atomic_load(&s->to_plugin.head), atomic_load(&s->to_plugin.tail));
        ck_assert_uint_eq(atomic_load(&s->to_host.head), atomic_load(&s->to_host.tail));
        munmap(s, LANE_SLOT_BYTES);
}

/* Both ends look for 200 us before sleeping. */
START_TEST(test_round_trips_polling) { round_trips(200000); }
END_TEST

/* Both ends sleep on the futex at once: every message is a wake-up. */
START_TEST(test_round_trips_sleeping) { round_trips(0); }
END_TEST

START_TEST(test_hostile_indices) {
        static uint8_t buf[LANE_RING_BYTES * 2];
        struct lane_slot *s = slot_new();
        atomic_bool stop = false;
        struct lane l;
        size_t len;

        /* A head further ahead than the ring is long. */
        lane_init(&l, s, true, NULL, &stop);
        atomic_store(&s->to_host.head, LANE_RING_BYTES + 1);
        ck_assert_int_eq(lane_read_message(&l, buf, sizeof(buf), false, &len), -EPROTO);

        /* A head behind what we already read. */
        memset(s, 0, LANE_SLOT_BYTES);
        lane_init(&l, s, true, NULL, &stop);
        atomic_store(&s->to_host.head, UINT32_MAX);
        ck_assert_int_eq(lane_read_message(&l, buf, sizeof(buf), false, &len), -EPROTO);

        /* A tail ahead of what we wrote. */
        memset(s, 0, LANE_SLOT_BYTES);
        lane_init(&l, s, true, NULL, &stop);
        atomic_store(&s->to_plugin.tail, 5);
        ck_assert_int_eq(lane_write(&l, "abc", 3), -EPROTO);

        /* A prefix longer than a varint32 may be. */
        memset(s, 0, LANE_SLOT_BYTES);
        lane_init(&l, s, true, NULL, &stop);
        memset(s->to_host.data, 0x80, 6);
        atomic_store(&s->to_host.head, 6);
        ck_assert_int_eq(lane_read_message(&l, buf, sizeof(buf), false, &len), -EPROTO);

        /* A length beyond the reader's buffer. */
        memset(s, 0, LANE_SLOT_BYTES);
        lane_init(&l, s, true, NULL, &stop);
        atomic_store(&s->to_host.head, (uint32_t)wire_varint32_encode(100, s->to_host.data));
        ck_assert_int_eq(lane_read_message(&l, buf, 99, false, &len), -EPROTO);
        munmap(s, LANE_SLOT_BYTES);
}
END_TEST

struct blocked {
        struct lane l;
        bool write;             /* blocked writing (ring full), else reading */
        bool interruptible;
        pid_t tid;
        int r;
};

static void *blocked_thread(void *arg) {
        static uint8_t buf[64];
        struct blocked *b = arg;
        size_t len;

        b->tid = (pid_t)syscall(SYS_gettid);
        if (b->write)
                b->r = lane_write(&b->l, buf, sizeof(buf));
        else
                b->r = lane_read_message(&b->l, buf, sizeof(buf), b->interruptible, &len);
        return NULL;
}

static void stop_wakes(bool write) {
        struct lane_slot *s = slot_new();
        atomic_bool stop = false;
        struct blocked b = { .write = write };
        pthread_t t;

        lane_init(&b.l, s, true, NULL, &stop);
        if (write) {
                /* A full ring: the plugin never reads. */
                b.l.tx_head = LANE_RING_BYTES;
                atomic_store(&s->to_plugin.head, LANE_RING_BYTES);
        }
        ck_assert_int_eq(pthread_create(&t, NULL, blocked_thread, &b), 0);
        while (__atomic_load_n(&b.tid, __ATOMIC_SEQ_CST) == 0)
                usleep(100);
        test_wait_asleep(b.tid);
        atomic_store(&stop, true);
        lane_kick(s);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(b.r, -EPIPE);
        munmap(s, LANE_SLOT_BYTES);
}

START_TEST(test_stop_wakes_reader) { stop_wakes(false); }
END_TEST

START_TEST(test_stop_wakes_writer) { stop_wakes(true); }
END_TEST

static void on_signal(int sig) { (void)sig; }

/* The SDK's wait: a signal ends it before any byte is taken (-EINTR), and
 * a message that comes after is still read whole. */
START_TEST(test_signal_interrupts) {
        struct lane_slot *s = slot_new();
        struct blocked b = { .interruptible = true };
        struct sigaction sa = { .sa_handler = on_signal };
        static const uint8_t msg[] = { 3, 'a', 'b', 'c' };
        uint8_t buf[8];
        struct lane host;
        atomic_bool stop = false;
        size_t len = 0;
        pthread_t t;

        ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
        lane_init(&b.l, s, false, NULL, NULL);
        ck_assert_int_eq(pthread_create(&t, NULL, blocked_thread, &b), 0);
        while (__atomic_load_n(&b.tid, __ATOMIC_SEQ_CST) == 0)
                usleep(100);
        test_wait_asleep(b.tid);
        ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        ck_assert_int_eq(b.r, -EINTR);

        lane_init(&host, s, true, NULL, &stop);
        ck_assert_int_eq(lane_write(&host, msg, sizeof(msg)), 0);
        ck_assert_int_eq(lane_read_message(&b.l, buf, sizeof(buf), true, &len), 0);
        ck_assert_uint_eq(len, 3);
        ck_assert_mem_eq(buf, "abc", 3);
        munmap(s, LANE_SLOT_BYTES);
}
END_TEST

START_TEST(test_ready_mark) {
        struct lane_slot *s = slot_new();

        ck_assert(!lane_is_ready(s));
        atomic_store(&s->plugin_ready, LANE_READY + 1);
        ck_assert(!lane_is_ready(s));
        lane_mark_ready(s);
        ck_assert(lane_is_ready(s));
        munmap(s, LANE_SLOT_BYTES);
}
END_TEST

int main(void) {
        Suite *s = suite_create("lane");
        TCase *tc = tcase_create("lane");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_round_trips_polling);
        tcase_add_test(tc, test_round_trips_sleeping);
        tcase_add_test(tc, test_hostile_indices);
        tcase_add_test(tc, test_stop_wakes_reader);
        tcase_add_test(tc, test_stop_wakes_writer);
        tcase_add_test(tc, test_signal_interrupts);
        tcase_add_test(tc, test_ready_mark);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
