#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"
#include "util.h"

/* What one sink_flush writes at most: a reader that keeps up must not keep
 * the event loop writing either. */
#define SINK_FLUSH_BUDGET (256 * 1024)
/* What sink_write writes at most: it runs on any thread. */
#define SINK_WRITE_BUDGET (64 * 1024)
#define SINK_MAX 4

enum sink_mode {
        SINK_PRIVATE,   /* our own non-blocking description of the stream */
        SINK_SOCKET,    /* the shared fd, written with MSG_DONTWAIT */
        SINK_FILE,      /* the shared fd: a regular file never waits */
        SINK_POLL,      /* the shared fd, written only when poll says so */
};

struct sink {
        struct loop_source source;      /* LOOP_SINK: first, for epoll's data */
        enum sink_mode mode;
        int fd;                 /* what we write to; ours in SINK_PRIVATE */
        int error;              /* 0, or the stream's -errno: nothing more is written */
        bool armed;             /* in the event loop's epoll set for EPOLLOUT */
        size_t max;
        char *buf;              /* bytes [start, end) wait */
        size_t start, end, cap;
};

/* One lock for every sink and the registry: writes are short and never
 * block, so there is nothing to gain from finer locks. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sink *sinks[SINK_MAX];
static int watch_epoll = -1;

static void disarm(struct sink *s) {
        if (s->armed && watch_epoll >= 0)
                epoll_ctl(watch_epoll, EPOLL_CTL_DEL, s->fd, NULL);
        s->armed = false;
}

static void arm(struct sink *s) {
        struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &s->source };

        /* A regular file cannot be watched, and never needs to be. */
        if (s->armed || watch_epoll < 0 || s->mode == SINK_FILE)
                return;
        if (epoll_ctl(watch_epoll, EPOLL_CTL_ADD, s->fd, &ev) == 0)
                s->armed = true;
}

static void fail(struct sink *s, int err) {
        disarm(s);
        s->error = err;
        free(s->buf);
        s->buf = NULL;
        s->start = s->end = s->cap = 0;
}

/* The next write: whole lines up to PIPE_BUF bytes (atomic on a pipe), or
 * the first PIPE_BUF bytes of a longer line. */
static size_t next_chunk(const struct sink *s) {
        size_t n = s->end - s->start;
        const char *p = s->buf + s->start;

        if (s->mode == SINK_FILE || n <= PIPE_BUF)
                return n;
        for (size_t i = PIPE_BUF; i > 0; i--)
                if (p[i - 1] == '\n')
                        return i;
        return PIPE_BUF;
}

static ssize_t write_once(struct sink *s, const char *p, size_t n) {
        switch (s->mode) {
        case SINK_SOCKET:
                return send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        case SINK_POLL: {
                struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };

                if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
                        errno = EAGAIN;
                        return -1;
                }
                return write(s->fd, p, n);
        }
        case SINK_PRIVATE:
        case SINK_FILE:
                return write(s->fd, p, n);
        }
        errno = EINVAL;
        return -1;
}

/* Writes until the stream is full, the queue empty or `budget` spent.
 * Called with the lock held. */
static void push(struct sink *s, size_t budget) {
        while (!s->error && s->end > s->start && budget > 0) {
                size_t n = next_chunk(s);
                ssize_t w;

                if (n > budget && budget < PIPE_BUF)
                        break;
                w = write_once(s, s->buf + s->start, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        break;
                if (w <= 0) {
                        fail(s, w < 0 ? negative_errno() : -EIO);
                        return;
                }
                s->start += (size_t)w;
                budget -= (size_t)w < budget ? (size_t)w : budget;
        }
        if (s->error)
                return;
        if (s->start == s->end) {
                disarm(s);
                /* Give a flood's memory back once it is written. */
                if (s->cap > 64 * 1024) {
                        free(s->buf);
                        s->buf = NULL;
                        s->cap = 0;
                }
                s->start = s->end = 0;
        } else
                arm(s);
}

static enum sink_mode open_private(int fd, int *ret_fd, int *ret_err) {
        struct stat st;
        char path[64];
        int nfd;

        *ret_fd = fd;
        *ret_err = 0;
        if (fstat(fd, &st) < 0) {
                *ret_err = negative_errno();
                return SINK_FILE;
        }
        if (S_ISSOCK(st.st_mode))
                return SINK_SOCKET;
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
                return SINK_FILE;
        /* A pipe or a terminal: a description of our own.  O_NOCTTY: a
         * terminal must not become our controlling terminal by this. */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (nfd >= 0) {
                *ret_fd = nfd;
                return SINK_PRIVATE;
        }
        /* A pipe whose reader is gone: every write would fail anyway. */
        if (errno == ENXIO && S_ISFIFO(st.st_mode)) {
                *ret_err = -EPIPE;
                return SINK_FILE;
        }
        return SINK_POLL;
}

int sink_open(int fd, size_t max_queued, struct sink **ret) {
        struct sink *s = calloc(1, sizeof(*s));
        size_t i;

        if (!s)
                return -ENOMEM;
        s->source.kind = LOOP_SINK;
        s->max = max_queued;
        s->mode = open_private(fd, &s->fd, &s->error);
        pthread_mutex_lock(&lock);
        for (i = 0; i < SINK_MAX && sinks[i]; i++)
                ;
        if (i == SINK_MAX) {
                pthread_mutex_unlock(&lock);
                if (s->mode == SINK_PRIVATE)
                        safe_close(s->fd);
                free(s);
                return -ENOMEM;
        }
        sinks[i] = s;
        pthread_mutex_unlock(&lock);
        *ret = s;
        return 0;
}

void sink_free(struct sink *s) {
        if (!s)
                return;
        pthread_mutex_lock(&lock);
        disarm(s);
        for (size_t i = 0; i < SINK_MAX; i++)
                if (sinks[i] == s)
                        sinks[i] = NULL;
        pthread_mutex_unlock(&lock);
        if (s->mode == SINK_PRIVATE)
                safe_close(s->fd);
        free(s->buf);
        free(s);
}

static int reserve(struct sink *s, size_t len) {
        size_t used = s->end - s->start, cap;
        char *p;

        if (s->start > 0 && s->end + len > s->cap) {
                memmove(s->buf, s->buf + s->start, used);
                s->start = 0;
                s->end = used;
        }
        if (s->end + len <= s->cap)
                return 0;
        for (cap = s->cap ? s->cap : 4096; cap < used + len; cap *= 2)
                ;
        p = realloc(s->buf, cap);
        if (!p)
                return -ENOBUFS;
        s->buf = p;
        s->cap = cap;
        return 0;
}

int sink_write(struct sink *s, const char *data, size_t len, bool force) {
        int r;

        pthread_mutex_lock(&lock);
        if (s->error) {
                r = s->error;
                goto out;
        }
        if (!force && s->end - s->start + len > s->max) {
                /* The reader may have made room since the last try. */
                push(s, SINK_WRITE_BUDGET);
                if (s->error || s->end - s->start + len > s->max) {
                        r = s->error ? s->error : -ENOBUFS;
                        goto out;
                }
        }
        r = reserve(s, len);
        if (r < 0)
                goto out;
        memcpy(s->buf + s->end, data, len);
        s->end += len;
        push(s, SINK_WRITE_BUDGET);
        r = 0;
out:
        pthread_mutex_unlock(&lock);
        return r;
}

size_t sink_pending(struct sink *s) {
        size_t n;

        pthread_mutex_lock(&lock);
        n = s->end - s->start;
        pthread_mutex_unlock(&lock);
        return n;
}

void sink_watch_all(int epoll_fd) {
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < SINK_MAX; i++)
                if (sinks[i])
                        disarm(sinks[i]);
        watch_epoll = epoll_fd;
        for (size_t i = 0; i < SINK_MAX; i++)
                if (sinks[i] && !sinks[i]->error && sinks[i]->end > sinks[i]->start)
                        arm(sinks[i]);
        pthread_mutex_unlock(&lock);
}

void sink_flush(struct sink *s) {
        pthread_mutex_lock(&lock);
        push(s, SINK_FLUSH_BUDGET);
        pthread_mutex_unlock(&lock);
}

void sink_drain_all(uint64_t deadline_usec) {
        for (;;) {
                struct pollfd pfds[SINK_MAX];
                nfds_t n = 0;
                bool waiting = false;
                uint64_t now;

                pthread_mutex_lock(&lock);
                for (size_t i = 0; i < SINK_MAX; i++) {
                        struct sink *s = sinks[i];

                        if (!s)
                                continue;
                        push(s, SIZE_MAX);
                        if (s->error || s->end == s->start)
                                continue;
                        waiting = true;
                        if (s->mode != SINK_FILE)
                                pfds[n++] = (struct pollfd){ .fd = s->fd, .events = POLLOUT };
                }
                pthread_mutex_unlock(&lock);
                now = monitor_now_usec();
                if (!waiting || now >= deadline_usec)
                        return;
                /* A regular file that took part of a write is tried again
                 * at once; anything else waits for room. */
                if (n == 0)
                        continue;
                if (poll(pfds, n, (int)((deadline_usec - now + 999) / 1000)) < 0 && errno != EINTR)
                        return;
        }
}
