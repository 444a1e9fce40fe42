/* The lane (lane.h).  Single producer, single consumer per ring; the peer
 * may be hostile, so every index it owns is checked before use. */
#include "lane.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define MASK (LANE_RING_BYTES - 1u)

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Shared futexes: the two processes map the same memfd. */
static int futex_wait(_Atomic uint32_t *word, uint32_t expected) {
        if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, NULL, NULL, 0) < 0)
                return -errno;
        return 0;
}

static void futex_wake(_Atomic uint32_t *word) {
        (void)syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void ring_bell(_Atomic uint32_t *bell) {
        atomic_fetch_add(bell, 1);
        futex_wake(bell);
}

void lane_init(struct lane *l, struct lane_slot *s, bool host, struct wire_poller *poller, const atomic_bool *stop) {
        l->tx = host ? &s->to_plugin : &s->to_host;
        l->rx = host ? &s->to_host : &s->to_plugin;
        l->tx_head = atomic_load_explicit(&l->tx->head, memory_order_relaxed);
        l->rx_tail = atomic_load_explicit(&l->rx->tail, memory_order_relaxed);
        l->poller = poller;
        l->stop = stop;
}

static bool stopping(const struct lane *l) {
        return l->stop && atomic_load_explicit(l->stop, memory_order_relaxed);
}

/* Bytes readable, or more than the ring's size when the peer's head is
 * impossible. */
static uint32_t readable(const struct lane *l) {
        return atomic_load_explicit(&l->rx->head, memory_order_acquire) - l->rx_tail;
}

/* Bytes in flight from us, or more than the size when the peer's tail is
 * impossible. */
static uint32_t in_flight(const struct lane *l) {
        return l->tx_head - atomic_load_explicit(&l->tx->tail, memory_order_acquire);
}

static bool can_go(const struct lane *l, bool for_data) {
        return for_data ? readable(l) != 0 : in_flight(l) != LANE_RING_BYTES;
}

/* Waits until data (for_data) or room can be had: looks for the poller's
 * window, then sleeps on the bell.  0, -EPIPE (stop), -EINTR (a signal,
 * only when `interruptible`). */
static int lane_wait(struct lane *l, bool for_data, bool interruptible) {
        struct lane_ring *ring = for_data ? l->rx : l->tx;
        _Atomic uint32_t *bell = for_data ? &ring->data_bell : &ring->room_bell;
        _Atomic uint32_t *sleeping = for_data ? &ring->consumer_sleeping : &ring->producer_sleeping;
        uint32_t window = l->poller && l->poller->max_ns ? l->poller->ns : 0;
        uint64_t start = mono_ns(), now;
        int r = 0;

        for (;;) {
                if (can_go(l, for_data)) {
                        if (l->poller)
                                wire_poller_adapt(l->poller, true, 0);
                        return 0;
                }
                if (stopping(l))
                        return -EPIPE;
                now = mono_ns();
                if (now - start >= window)
                        break;
                /* As wire_poller_read: spin, then give the CPU away between
                 * looks, in case the peer waits for this one. */
                if (now - start < WIRE_POLL_SPIN_NS)
                        __builtin_ia32_pause();
                else
                        sched_yield();
        }
        for (;;) {
                /* The bell's value before the last look: a ring after the
                 * look makes the futex return at once. */
                uint32_t b = atomic_load(bell);

                atomic_store(sleeping, 1);
                atomic_thread_fence(memory_order_seq_cst);
                if (can_go(l, for_data))
                        break;
                if (stopping(l)) {
                        r = -EPIPE;
                        break;
                }
                if (futex_wait(bell, b) == -EINTR && interruptible) {
                        r = -EINTR;
                        break;
                }
        }
        atomic_store_explicit(sleeping, 0, memory_order_relaxed);
        if (r == 0 && l->poller)
                wire_poller_adapt(l->poller, false, mono_ns() - start);
        return r;
}

int lane_write(struct lane *l, const void *buf, size_t len) {
        const uint8_t *p = buf;

        while (len > 0) {
                uint32_t used = in_flight(l), off, n, first;
                int r;

                if (used > LANE_RING_BYTES)
                        return -EPROTO;
                if (used == LANE_RING_BYTES) {
                        r = lane_wait(l, false, false);
                        if (r < 0)
                                return r;
                        continue;
                }
                n = LANE_RING_BYTES - used;
                if (n > len)
                        n = (uint32_t)len;
                off = l->tx_head & MASK;
                first = LANE_RING_BYTES - off < n ? LANE_RING_BYTES - off : n;
                memcpy(l->tx->data + off, p, first);
                memcpy(l->tx->data, p + first, n - first);
                l->tx_head += n;
                p += n;
                len -= n;
                atomic_store_explicit(&l->tx->head, l->tx_head, memory_order_release);
                /* Pairs with the fence in lane_wait: either the consumer
                 * sees the new head, or we see it asleep. */
                atomic_thread_fence(memory_order_seq_cst);
                if (atomic_load_explicit(&l->tx->consumer_sleeping, memory_order_relaxed))
                        ring_bell(&l->tx->data_bell);
        }
        return 0;
}

/* Reads exactly len bytes.  -EINTR only when `interruptible` and nothing
 * of them was taken. */
static int lane_read(struct lane *l, uint8_t *buf, size_t len, bool interruptible) {
        while (len > 0) {
                uint32_t avail = readable(l), off, n, first;
                int r;

                if (avail > LANE_RING_BYTES)
                        return -EPROTO;
                if (avail == 0) {
                        r = lane_wait(l, true, interruptible);
                        if (r < 0)
                                return r;
                        continue;
                }
                n = avail < len ? avail : (uint32_t)len;
                off = l->rx_tail & MASK;
                first = LANE_RING_BYTES - off < n ? LANE_RING_BYTES - off : n;
                memcpy(buf, l->rx->data + off, first);
                memcpy(buf + first, l->rx->data, n - first);
                l->rx_tail += n;
                buf += n;
                len -= n;
                interruptible = false;
                atomic_store_explicit(&l->rx->tail, l->rx_tail, memory_order_release);
                atomic_thread_fence(memory_order_seq_cst);
                if (atomic_load_explicit(&l->rx->producer_sleeping, memory_order_relaxed))
                        ring_bell(&l->rx->room_bell);
        }
        return 0;
}

/* The common case in one pass: a whole message already in the ring.
 * 1 taken, 0 not whole yet (nothing taken), or -EPROTO. */
static int read_whole(struct lane *l, uint8_t *buf, size_t cap, size_t *ret_len) {
        uint32_t avail = readable(l), len, off, first;
        uint8_t prefix[WIRE_VARINT32_MAX];
        size_t k;
        int r;

        if (avail > LANE_RING_BYTES)
                return -EPROTO;
        k = avail < WIRE_VARINT32_MAX ? avail : WIRE_VARINT32_MAX;
        for (size_t i = 0; i < k; i++)
                prefix[i] = l->rx->data[(l->rx_tail + i) & MASK];
        r = wire_varint32_decode(prefix, k, &len);
        if (r < 0 || (r > 0 && len > cap))
                return -EPROTO;
        if (r == 0 || avail - (uint32_t)r < len)
                return 0;
        off = (l->rx_tail + (uint32_t)r) & MASK;
        first = LANE_RING_BYTES - off < len ? LANE_RING_BYTES - off : len;
        memcpy(buf, l->rx->data + off, first);
        memcpy(buf + first, l->rx->data, len - first);
        l->rx_tail += (uint32_t)r + len;
        atomic_store_explicit(&l->rx->tail, l->rx_tail, memory_order_release);
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&l->rx->producer_sleeping, memory_order_relaxed))
                ring_bell(&l->rx->room_bell);
        *ret_len = len;
        return 1;
}

int lane_read_message(struct lane *l, uint8_t *buf, size_t cap, bool interruptible, size_t *ret_len) {
        uint8_t prefix[WIRE_VARINT32_MAX];
        uint32_t len;
        int r;

        /* Wait for the first byte, then take the message at once if it is
         * all there; else byte by byte, as it streams. */
        if (readable(l) == 0) {
                r = lane_wait(l, true, interruptible);
                if (r < 0)
                        return r;
        }
        r = read_whole(l, buf, cap, ret_len);
        if (r != 0)
                return r < 0 ? r : 0;
        for (size_t k = 0; k < WIRE_VARINT32_MAX; k++) {
                r = lane_read(l, &prefix[k], 1, false);

                if (r < 0)
                        return r;
                r = wire_varint32_decode(prefix, k + 1, &len);
                if (r < 0)
                        return -EPROTO;
                if (r == 0)
                        continue;
                if (len > cap)
                        return -EPROTO;
                r = lane_read(l, buf, len, false);
                if (r < 0)
                        return r;
                *ret_len = len;
                return 0;
        }
        return -EPROTO;
}

void lane_kick(struct lane_slot *s) {
        ring_bell(&s->to_host.data_bell);
        ring_bell(&s->to_plugin.room_bell);
}

void lane_mark_ready(struct lane_slot *s) {
        atomic_store_explicit(&s->plugin_ready, LANE_READY, memory_order_release);
}

bool lane_is_ready(const struct lane_slot *s) {
        return atomic_load_explicit(&s->plugin_ready, memory_order_acquire) == LANE_READY;
}
