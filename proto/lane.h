/* The lane: a per-vCPU shared-memory path for the vCPU messages, between
 * vmlaunch and the SDK shipped with it.
 *
 * On this machine a pipe round trip costs ~2 us even with both ends
 * polling, because every look and every transfer is a syscall; that alone
 * put the plugin I/O round trip above its target.  The lane carries the
 * very same bytes (varint32 length + VcpuRequest or VcpuResponse, in both
 * directions) through two byte rings in memory both processes map, so a
 * polling reader sees a message without entering the kernel.
 *
 * The wire protocol does not change.  The launcher offers the lane through
 * VMLAUNCH_LANE_FD (an inherited, sealed memfd of one struct lane_slot per
 * vCPU); a plugin built against another SDK ignores it and keeps the
 * pipes.  Per vCPU the switch is made at one point of the conversation both
 * sides can see: the SDK stores LANE_READY in the slot before it writes the
 * Resume that answers the Init event, and the host looks at the slot once,
 * after reading that Resume.  Before it, both use the pipes; after it, both
 * use the lane only.  The pipes are empty in both directions at that point.
 *
 * The host trusts nothing in the slot: it keeps its own copy of the
 * indices it owns, checks the peer's against them (a ring claiming more
 * than its size is corruption, and ends the vCPU), and copies every
 * message out of the ring before decoding it.
 *
 * Waiting: a reader (or a writer facing a full ring) looks for the
 * wire_poller's window, then sleeps on a futex "bell" after raising its
 * `sleeping` flag; the other side rings the bell only when it sees the
 * flag (a seq_cst fence on both sides closes the race).  The host's stop
 * rings the host's bells itself (lane_kick), so a vCPU thread never waits
 * on the plugin to be told to stop. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wire_poller;

#define LANE_RING_BYTES 4096u           /* a power of two */
#define LANE_SLOT_BYTES 12288u          /* one vCPU's slot, page-aligned */
#define LANE_READY 0x656e616cu          /* "lane", the SDK's switch */
#define LANE_ENV "VMLAUNCH_LANE_FD"

/* One direction.  Indices count bytes ever moved, modulo 2^32; the ring
 * holds head - tail of them. */
struct lane_ring {
        _Alignas(64) _Atomic uint32_t head;     /* the producer's */
        _Atomic uint32_t data_bell;             /* futex: rung when head moves for a sleeping consumer */
        _Atomic uint32_t consumer_sleeping;
        _Alignas(64) _Atomic uint32_t tail;     /* the consumer's */
        _Atomic uint32_t room_bell;             /* futex: rung when tail moves for a sleeping producer */
        _Atomic uint32_t producer_sleeping;
        _Alignas(64) uint8_t data[LANE_RING_BYTES];
};

struct lane_slot {
        _Alignas(64) _Atomic uint32_t plugin_ready;     /* LANE_READY once the SDK switched */
        struct lane_ring to_plugin;
        struct lane_ring to_host;
};

_Static_assert(sizeof(struct lane_slot) <= LANE_SLOT_BYTES, "a lane slot outgrew its pages");

/* Slot i of a mapping of n slots. */
static inline struct lane_slot *lane_slot_at(void *base, unsigned i) {
        return (struct lane_slot *)((uint8_t *)base + (size_t)i * LANE_SLOT_BYTES);
}

/* One side's end of a slot: its private copies of the indices it owns. */
struct lane {
        struct lane_ring *tx, *rx;
        uint32_t tx_head;       /* what we have written */
        uint32_t rx_tail;       /* what we have read */
        struct wire_poller *poller;     /* the look-before-sleeping window; NULL: sleep at once */
        const atomic_bool *stop;        /* host: vm->dying; NULL in the SDK */
};

/* `host` picks the directions.  The slot must be fresh (all zero), as the
 * memfd gives it. */
void lane_init(struct lane *l, struct lane_slot *s, bool host, struct wire_poller *poller, const atomic_bool *stop);

/* Writes all of buf, waiting for room when the ring is full.  0, -EPIPE
 * when *stop was set, -EPROTO when the peer's index is impossible. */
int lane_write(struct lane *l, const void *buf, size_t len);

/* Reads one varint32-prefixed message into buf (cap bytes); its length in
 * *ret_len.  0, -EPIPE (stop), -EPROTO (impossible index, bad prefix, or a
 * message longer than cap: the stream cannot be resynchronised), or
 * -EINTR when `interruptible` and a signal came before any byte of the
 * message was taken (nothing is lost). */
int lane_read_message(struct lane *l, uint8_t *buf, size_t cap, bool interruptible, size_t *ret_len);

/* From another thread of the host: rings the bells the host's side waits
 * on, after the caller set *stop. */
void lane_kick(struct lane_slot *s);

/* The SDK's switch, and the host's one look at it. */
void lane_mark_ready(struct lane_slot *s);
bool lane_is_ready(const struct lane_slot *s);
