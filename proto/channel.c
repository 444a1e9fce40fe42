/* The per-vCPU channel (channel.h): set-up, the lane switch and the
 * host's stop; the hot path is inline in the header. */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* A Shutdown VcpuRequest: field 8, an empty message. */
static const uint8_t shutdown_request[] = { 0x42, 0x00 };

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static int pipe_pair(int *ret_rd, int *ret_wr) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        /* crosvm asks for 256 KiB pipes; a smaller one only costs speed,
         * so a refusal (the pipe-max-size sysctl) is not an error. */
        (void)fcntl(p[0], F_SETPIPE_SZ, (int)WIRE_PIPE_MAX);
        *ret_rd = p[0];
        *ret_wr = p[1];
        return 0;
}

static int buffers_new(struct channel *c) {
        c->rx = malloc(WIRE_PIPE_MAX);
        c->tx = malloc(WIRE_VARINT32_MAX + WIRE_PIPE_MAX);
        return c->rx && c->tx ? 0 : -ENOMEM;
}

int channel_init_host(struct channel *c, uint32_t poll_ns) {
        int r;

        memset(c, 0, sizeof(*c));
        c->host = true;
        c->rd = c->wr = c->peer_rd = c->peer_wr = -1;
        wire_poller_init(&c->poller, poll_ns);
        r = buffers_new(c);
        if (r >= 0)
                r = pipe_pair(&c->rd, &c->peer_wr);
        if (r >= 0)
                r = pipe_pair(&c->peer_rd, &c->wr);
        /* Only the vCPU thread reads the requests: the flag is ours to set. */
        if (r >= 0)
                r = wire_poller_attach(&c->poller, c->rd);
        if (r < 0)
                channel_destroy(c);
        return r;
}

int channel_init_plugin(struct channel *c, int req_wr, int resp_rd, uint32_t poll_ns) {
        memset(c, 0, sizeof(*c));
        c->rd = resp_rd;
        c->wr = req_wr;
        c->peer_rd = c->peer_wr = -1;
        if (buffers_new(c) < 0) {
                channel_destroy(c);
                return -ENOMEM;
        }
        wire_reader_init(&c->reader, c->rx, WIRE_PIPE_MAX);
        wire_poller_init(&c->poller, poll_ns);
        /* The launcher reads this end only to drain it once we are gone;
         * if the flag cannot be set, the replies are waited for blocking. */
        if (wire_poller_attach(&c->poller, resp_rd) < 0)
                wire_poller_init(&c->poller, 0);
        return 0;
}

void channel_destroy(struct channel *c) {
        close_fd(&c->rd);
        close_fd(&c->wr);
        close_fd(&c->peer_rd);
        close_fd(&c->peer_wr);
        free(c->rx);
        free(c->tx);
        c->rx = c->tx = NULL;
}

void channel_offer_lane(struct channel *c, struct lane_slot *s, const atomic_bool *stop) {
        c->slot = s;
        lane_init(&c->lane, s, c->host, &c->poller, stop);
}

bool channel_lane_arm(struct channel *c) {
        if (!c->slot || channel_on_lane(c))
                return false;
        lane_mark_ready(c->slot);
        return true;
}

void channel_lane_enter(struct channel *c) {
        atomic_store_explicit(&c->lane_on, true, memory_order_relaxed);
}

bool channel_lane_take(struct channel *c) {
        /* The SDK marked the slot before it wrote the Resume just read,
         * and uses nothing else from then on. */
        if (!c->slot || !lane_is_ready(c->slot))
                return false;
        /* Seen by the main thread's stop (channel_inject_shutdown) with no
         * ordering it relies on: on either transport the kick that follows
         * reaches the thread. */
        atomic_store(&c->lane_on, true);
        return true;
}

void channel_inject_shutdown(struct channel *c) {
        char path[64];
        int fd;

        if (channel_on_lane(c)) {
                lane_kick(c->slot);
                return;
        }
        if (c->peer_wr < 0)
                return;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", c->peer_wr);
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return;
        /* A full pipe refuses it: then the thread is not blocked reading,
         * and the caller's kick reaches it. */
        (void)!write(fd, shutdown_request, sizeof(shutdown_request));
        close(fd);
}

void channel_wake(struct channel *c) {
        if (channel_on_lane(c))
                lane_kick(c->slot);
}

void channel_drain(struct channel *c) {
        uint8_t buf[4096];
        int avail = 0;

        if (c->peer_rd < 0)
                return;
        while (ioctl(c->peer_rd, FIONREAD, &avail) == 0 && avail > 0) {
                if (read(c->peer_rd, buf, (size_t)avail < sizeof(buf) ? (size_t)avail : sizeof(buf)) <= 0)
                        break;
        }
}
