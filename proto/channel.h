/* The per-vCPU channel: one vCPU's conversation between vmlaunch (the
 * host end) and the plugin's SDK (the plugin end), over the vCPU's pipe
 * pair or, once both ends switched, its lane (lane.h), behind one
 * interface.
 *
 * Framing (PROTOCOL.md §1; wire.h): on the pipes the host sends varint32
 * length + VcpuResponse and the plugin a bare VcpuRequest per write(); on
 * the lane both directions carry the length.  The switch happens once, at
 * the Resume that answers Init: the plugin end marks the slot before it
 * sends that Resume (channel_lane_arm) and uses the lane after it
 * (channel_lane_enter); the host end looks at the slot once, after reading
 * it (channel_lane_take).
 *
 * The hot path is channel_send and channel_recv: inline here, one branch
 * on the transport, and exactly the syscalls (or none, on a polling lane)
 * that the transport itself costs.  A channel is used by one thread at a
 * time, except channel_wake, channel_inject_shutdown and channel_drain,
 * which the host's main thread calls to stop a vCPU thread. */
#pragma once

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "lane.h"
#include "wire.h"

struct channel {
        bool host;
        int rd, wr;             /* this end's: host req_rd, resp_wr; plugin resp_rd, req_wr */
        int peer_rd, peer_wr;   /* host only, kept for GetVcpus: the plugin's resp_rd, req_wr; else -1 */
        /* Whether the messages moved to the lane.  Set once by the thread
         * that uses the channel; read relaxed by it on every message and by
         * the host's main thread when it stops the vCPU. */
        atomic_bool lane_on;
        struct lane_slot *slot;         /* offered lane, or NULL */
        struct lane lane;
        struct wire_poller poller;      /* the look-before-blocking window of the reads */
        struct wire_reader reader;      /* plugin end: several replies may share one read */
        uint8_t *rx;                    /* WIRE_PIPE_MAX bytes: the message received last */
        uint8_t *tx;                    /* WIRE_VARINT32_MAX + WIRE_PIPE_MAX: room for a prefix, then the body */
};

/* The most bytes a packed message may take at channel_body(): a host's
 * response leaves room for its prefix within the plugin's WIRE_PIPE_MAX;
 * a plugin's request goes bare on the pipe. */
#define CHANNEL_HOST_BODY_MAX (WIRE_PIPE_MAX - WIRE_VARINT32_MAX)
#define CHANNEL_PLUGIN_BODY_MAX WIRE_PIPE_MAX

/* The host end: makes both pipes (CLOEXEC, asked for WIRE_PIPE_MAX) and
 * the buffers, and attaches a poller of window ceiling `poll_ns` to the
 * request pipe (0: reads block).  On failure nothing is left allocated or
 * open and *c is unusable except by channel_destroy.  0 or -errno. */
int channel_init_host(struct channel *c, uint32_t poll_ns);

/* The plugin end over the two fds GetVcpus gave (owned from now on, even
 * on failure).  Polling as `poll_ns` says; if the reply pipe cannot be
 * made non-blocking, replies are waited for blocking.  0 or -ENOMEM. */
int channel_init_plugin(struct channel *c, int req_wr, int resp_rd, uint32_t poll_ns);

/* Closes every fd and frees the buffers.  Fine on a zeroed or half-built
 * channel (fds -1 or 0 are treated the same: set them -1 first). */
void channel_destroy(struct channel *c);

/* Offers the lane slot s.  `stop`, on the host, is the flag that ends a
 * wait on the lane (the VM dying); NULL on the plugin end. */
void channel_offer_lane(struct channel *c, struct lane_slot *s, const atomic_bool *stop);

/* The lane switch (see above).  channel_lane_arm returns whether the
 * switch is on (a slot was offered and not yet taken); only then call
 * channel_lane_enter after the Resume went out.  channel_lane_take returns
 * whether the host end moved to the lane. */
bool channel_lane_arm(struct channel *c);
void channel_lane_enter(struct channel *c);
bool channel_lane_take(struct channel *c);

static inline bool channel_on_lane(const struct channel *c) {
        return atomic_load_explicit(&c->lane_on, memory_order_relaxed);
}

/* Where to pack the next message: WIRE_VARINT32_MAX bytes into tx, so its
 * prefix can go right before it without a copy of the body. */
static inline uint8_t *channel_body(struct channel *c) {
        return c->tx + WIRE_VARINT32_MAX;
}

/* Sends the `len` bytes packed at channel_body(c), framed as the end and
 * the transport want.  0, or -errno: -EPIPE when the lane's stop flag is
 * set, -EPROTO when the peer broke the lane (an impossible index). */
static inline int channel_send(struct channel *c, size_t len) {
        uint8_t *body = channel_body(c);
        uint8_t prefix[WIRE_VARINT32_MAX];
        bool lane = channel_on_lane(c);
        size_t k;

        if (!lane && !c->host)
                return wire_write_all(c->wr, body, len);
        k = wire_varint32_encode((uint32_t)len, prefix);
        memcpy(body - k, prefix, k);
        if (lane)
                return lane_write(&c->lane, body - k, k + len);
        return wire_write_all(c->wr, body - k, k + len);
}

/* Receives the next message into *ret_msg and *ret_len, valid until the
 * next call.  Waits with the poller's adaptive window.  -EINTR only when
 * `interruptible` and a signal came before any byte of the message
 * (nothing is lost: call again); -EPIPE when the peer hung up or the
 * lane's stop flag is set; -EPROTO when the peer broke the lane;
 * -EMSGSIZE or -EBADMSG for a bad prefix on the plugin's pipe; or another
 * -errno. */
static inline int channel_recv(struct channel *c, bool interruptible, const uint8_t **ret_msg, size_t *ret_len) {
        int r;

        if (channel_on_lane(c)) {
                r = lane_read_message(&c->lane, c->rx, WIRE_PIPE_MAX, interruptible, ret_len);
                *ret_msg = c->rx;
                return r;
        }
        if (c->host) {
                /* The plugin writes one bare request per write(), and the
                 * host reads one per read(). */
                for (;;) {
                        ssize_t n = wire_poller_read(&c->poller, c->rd, c->rx, WIRE_PIPE_MAX);

                        if (n == -EINTR && !interruptible)
                                continue;
                        if (n < 0)
                                return (int)n;
                        if (n == 0)
                                return -EPIPE;
                        *ret_msg = c->rx;
                        *ret_len = (size_t)n;
                        return 0;
                }
        }
        do
                r = wire_reader_next(&c->reader, c->rd, &c->poller, ret_msg, ret_len);
        while (r == -EINTR && !interruptible);
        return r;
}

/* Host, from another thread, to stop the vCPU thread using c: on the
 * pipe, a Shutdown request goes into the request pipe (through a second,
 * non-blocking open of it: a hostile plugin that filled the pipe must not
 * block the caller, and the plugin's own description stays as it is); on
 * the lane, its bells ring so a sleeping reader looks at its stop flag,
 * which the caller set first. */
void channel_inject_shutdown(struct channel *c);

/* Host, from another thread: rings the lane's bells if c is on it (a
 * sleeping reader looks at its stop flag); nothing on the pipe, where a
 * signal interrupts the read. */
void channel_wake(struct channel *c);

/* Host: empties the response pipe, so a vCPU thread blocked writing to it
 * when the plugin is gone can finish. */
void channel_drain(struct channel *c);
