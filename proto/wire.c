#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int wire_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
                struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (n_fds > WIRE_MAX_FDS)
                return -E2BIG;
        if (n_fds > 0) {
                struct cmsghdr *c;

                memset(&control, 0, sizeof(control));
                msg.msg_control = control.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        do
                n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EMSGSIZE;
        return 0;
}

static void close_fds(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

ssize_t wire_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds, size_t *ret_n_fds) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
                struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = cap };
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        size_t n_fds = 0;
        int bad = 0;
        ssize_t n;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;

        /* Collect every fd first so that each one is either handed out or
         * closed, whatever else is wrong with the message. */
        int got[WIRE_MAX_FDS];
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
                        bad = 1;
                        continue;
                }
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (n_fds < WIRE_MAX_FDS)
                                got[n_fds++] = fd;
                        else
                                close(fd);
                }
        }
        if (bad || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n_fds > max_fds) {
                close_fds(got, n_fds);
                return -EMSGSIZE;
        }
        if (n == 0) {
                close_fds(got, n_fds);
                n_fds = 0;
        }
        if (n_fds)
                memcpy(fds, got, n_fds * sizeof(int));
        if (ret_n_fds)
                *ret_n_fds = n_fds;
        else
                close_fds(got, n_fds);
        return n;
}

int wire_write_all(int fd, const void *buf, size_t len) {
        const uint8_t *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

size_t wire_varint32_encode(uint32_t v, uint8_t out[WIRE_VARINT32_MAX]) {
        size_t i = 0;

        while (v >= 0x80) {
                out[i++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        out[i++] = (uint8_t)v;
        return i;
}

int wire_varint32_decode(const uint8_t *buf, size_t len, uint32_t *ret_v) {
        uint64_t v = 0;

        for (size_t i = 0; i < WIRE_VARINT32_MAX; i++) {
                if (i >= len)
                        return 0;
                v |= (uint64_t)(buf[i] & 0x7f) << (7 * i);
                if (!(buf[i] & 0x80)) {
                        if (v > UINT32_MAX)
                                return -EBADMSG;
                        *ret_v = (uint32_t)v;
                        return (int)i + 1;
                }
        }
        return -EBADMSG;
}

void wire_reader_init(struct wire_reader *r, uint8_t *buf, size_t cap) {
        *r = (struct wire_reader){ .buf = buf, .cap = cap };
}

/* 1 and the message bounds if one is complete, 0 if more bytes are needed,
 * or -errno for a prefix that can never become valid. */
static int reader_peek(const struct wire_reader *r, size_t *ret_off, uint32_t *ret_len) {
        uint32_t len;
        int k = wire_varint32_decode(r->buf + r->start, r->end - r->start, &len);

        if (k <= 0)
                return k;
        if ((size_t)k + len > r->cap)
                return -EMSGSIZE;
        if (r->end - r->start < (size_t)k + len)
                return 0;
        *ret_off = r->start + (size_t)k;
        *ret_len = len;
        return 1;
}

int wire_reader_next(struct wire_reader *r, int fd, struct wire_poller *poller, const uint8_t **ret_msg,
                     size_t *ret_len) {
        for (;;) {
                size_t off;
                uint32_t len;
                int k = reader_peek(r, &off, &len);
                ssize_t n;

                if (k < 0)
                        return k;
                if (k > 0) {
                        r->start = off + len;
                        if (r->start == r->end)
                                r->start = r->end = 0;
                        *ret_msg = r->buf + off;
                        *ret_len = len;
                        return 0;
                }
                /* Make room: move the partial message to the front. */
                if (r->start > 0) {
                        memmove(r->buf, r->buf + r->start, r->end - r->start);
                        r->end -= r->start;
                        r->start = 0;
                }
                if (r->end == r->cap)
                        return -EMSGSIZE;
                /* EINTR goes back to the caller, who may be asked to stop. */
                if (poller)
                        n = wire_poller_read(poller, fd, r->buf + r->end, r->cap - r->end);
                else if ((n = read(fd, r->buf + r->end, r->cap - r->end)) < 0)
                        n = -errno;
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return -EPIPE;
                r->end += (size_t)n;
        }
}

static uint64_t mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void wire_poller_init(struct wire_poller *p, uint32_t max_ns) {
        p->ns = p->max_ns = max_ns;
}

int wire_poller_attach(const struct wire_poller *p, int fd) {
        int fl;

        if (p->max_ns == 0)
                return 0;
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
                return -errno;
        return 0;
}

void wire_poller_adapt(struct wire_poller *p, bool polled, uint64_t waited_ns) {
        if (p->max_ns == 0)
                return;
        if (polled) {
                /* Caught by polling: the window was right, or may widen
                 * again after a shrink. */
                if (p->ns < p->max_ns)
                        p->ns = p->ns * 2 > p->max_ns ? p->max_ns : p->ns * 2;
                return;
        }
        if (waited_ns > p->max_ns) {
                /* Slower than any window: polling only burnt CPU. */
                p->ns /= 2;
                if (p->ns < WIRE_POLL_START_NS)
                        p->ns = 0;
        } else if (p->ns < p->max_ns) {
                /* A quick reply the window just missed. */
                p->ns = p->ns ? (p->ns * 2 > p->max_ns ? p->max_ns : p->ns * 2)
                              : (WIRE_POLL_START_NS < p->max_ns ? WIRE_POLL_START_NS : p->max_ns);
        }
}

ssize_t wire_poller_read(struct wire_poller *p, int fd, void *buf, size_t cap) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        uint64_t start = 0, now;
        bool polling = p->ns > 0;
        ssize_t n;

        if (p->max_ns == 0) {
                n = read(fd, buf, cap);
                return n < 0 ? -errno : n;
        }
        for (;;) {
                n = read(fd, buf, cap);
                if (n >= 0 || errno != EAGAIN)
                        break;
                now = mono_ns();
                if (start == 0)
                        start = now;
                if (polling && now - start < p->ns) {
                        /* Spin for a quick reply, then yield between
                         * looks: if the peer waits for this CPU (more busy
                         * threads than CPUs), it gets it, instead of
                         * waiting out the window. */
                        if (now - start < WIRE_POLL_SPIN_NS)
                                __builtin_ia32_pause();
                        else
                                sched_yield();
                        continue;
                }
                polling = false;
                /* EINTR goes back to the caller, who may be asked to stop;
                 * the wait is not over, so the window stays as it is. */
                if (poll(&pfd, 1, -1) < 0)
                        return -errno;
        }
        if (n < 0)
                return -errno;
        /* Data at the first look, or caught by a later one, or after
         * blocking: only the last says how long the peer took. */
        if (start == 0 || polling)
                wire_poller_adapt(p, true, 0);
        else
                wire_poller_adapt(p, false, mono_ns() - start);
        return n;
}

uint32_t wire_poll_ns_from_env(void) {
        const char *e = getenv("VMLAUNCH_POLL_US");
        char *end;
        unsigned long v;

        if (!e || !*e)
                return 0;
        errno = 0;
        v = strtoul(e, &end, 10);
        if (*end || errno || v > 1000000)
                return 0;
        return (uint32_t)(v * 1000);
}
