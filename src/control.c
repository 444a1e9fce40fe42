#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_proto.h"
#include "log.h"
#include "stats.h"
#include "status.h"
#include "util.h"

/* Connections accepted per loop turn: a flood of connects waits for the
 * next turn instead of holding up the stop sources. */
#define CONTROL_ACCEPTS_PER_TURN 4

struct client {
        struct loop_source source;      /* LOOP_CONTROL */
        struct control *ctl;
        int fd;
        char in[CONTROL_LINE_MAX];
        size_t in_len;
        char *out;                      /* queued bytes: out[out_off .. out_len) */
        size_t out_off, out_len, out_cap;
        bool want_out;                  /* EPOLLOUT is watched */
        bool eof;                       /* the client sent all it will */
        bool dead;                      /* dropped: nothing more is written; closed at reap */
        bool closing;                   /* closed once the queue is out */
        struct status *events;          /* following the status stream, or NULL */
};

struct control {
        struct loop_source source;      /* the listener, LOOP_CONTROL */
        int fd;
        int epoll_fd;
        const struct vm_config *config;
        struct control_ops ops;
        struct monitor *primary;
        struct monitor tee;
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        dev_t dev;                      /* the socket file we made: removed only if it is still ours */
        ino_t ino;
        struct client *clients[CONTROL_CLIENTS_MAX];
};

int control_socket_dir(char *buf, size_t size) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        int n;

        if (geteuid() == 0)
                n = snprintf(buf, size, "/run/vmlaunch");
        else if (xdg && xdg[0] == '/')
                n = snprintf(buf, size, "%s/vmlaunch", xdg);
        else
                return -ENOENT;
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int control_socket_path(const char *name, char *buf, size_t size) {
        char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
        int r = control_socket_dir(dir, sizeof(dir)), n;

        if (r < 0)
                return r;
        n = snprintf(buf, size, "%s/%s.sock", dir, name);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void watch_client(struct client *cl) {
        struct epoll_event ev = {
                .events = (cl->eof ? 0 : EPOLLIN) | (cl->want_out ? EPOLLOUT : 0),
                .data.ptr = &cl->source,
        };

        epoll_ctl(cl->ctl->epoll_fd, EPOLL_CTL_MOD, cl->fd, &ev);
}

/* Writes what the socket takes now; the rest waits for EPOLLOUT. */
static void flush_client(struct client *cl) {
        bool want;

        while (!cl->dead && cl->out_off < cl->out_len) {
                ssize_t n = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno != EAGAIN)
                                cl->dead = true;
                        break;
                }
                cl->out_off += (size_t)n;
        }
        if (cl->out_off == cl->out_len)
                cl->out_off = cl->out_len = 0;
        want = !cl->dead && cl->out_len > 0;
        if (want != cl->want_out) {
                cl->want_out = want;
                watch_client(cl);
        }
}

/* Queues a line for the client (status_write_fn's contract).  A client
 * whose queue would pass CONTROL_QUEUE_MAX is dropped: a slow reader
 * never holds the loop, and the line is discarded (0: the status stream
 * that wrote it does not count a drop for a client that is gone). */
static int client_write(void *data, const char *line, size_t len, bool force) {
        struct client *cl = data;
        size_t queued = cl->out_len - cl->out_off;

        if (cl->dead)
                return 0;
        if (!force && queued + len > CONTROL_QUEUE_MAX) {
                log_debug("control: dropping a client that does not read (%zu bytes queued)", queued);
                cl->dead = true;
                return 0;
        }
        if (cl->out_len + len > cl->out_cap) {
                size_t cap = cl->out_cap ? cl->out_cap : 4096;
                char *p;

                if (cl->out_off) {
                        memmove(cl->out, cl->out + cl->out_off, queued);
                        cl->out_len = queued;
                        cl->out_off = 0;
                }
                while (cap < cl->out_len + len)
                        cap *= 2;
                if (cap > cl->out_cap) {
                        p = realloc(cl->out, cap);
                        if (!p) {
                                cl->dead = true;
                                return 0;
                        }
                        cl->out = p;
                        cl->out_cap = cap;
                }
        }
        memcpy(cl->out + cl->out_len, line, len);
        cl->out_len += len;
        flush_client(cl);
        return 0;
}

/* Queues the object as one line and frees it. */
static void reply(struct client *cl, json_object *o) {
        const char *text;
        size_t len;
        char *line;

        if (!o) {
                cl->dead = true;
                return;
        }
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        len = strlen(text);
        line = malloc(len + 1);
        if (line) {
                memcpy(line, text, len);
                line[len] = '\n';
                client_write(cl, line, len + 1, false);
                free(line);
        } else
                cl->dead = true;
        json_object_put(o);
}

static void reply_error(struct client *cl, const char *fmt, ...) _printf_(2, 3);
static void reply_error(struct client *cl, const char *fmt, ...) {
        char what[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        reply(cl, control_reply_error(what));
}

static json_object *status_object(struct control *c) {
        const struct vm_stats *st = c->ops.stats(c->ops.userdata);
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        json_object_object_add(o, "name", json_object_new_string(c->config->name));
        json_object_object_add(o, "pid", json_object_new_int(getpid()));
        json_object_object_add(o, "plugin_pid", json_object_new_int(c->ops.plugin_pid(c->ops.userdata)));
        json_object_object_add(o, "state", json_object_new_string(stats_state_name(st->state)));
        json_object_object_add(o, "vcpus", json_object_new_int((int)st->n_vcpus));
        json_object_object_add(o, "uptime_s", json_object_new_double((double)st->uptime_usec / 1e6));
        json_object_object_add(o, "socket", json_object_new_string(c->path));
        return o;
}

/* The words for an action the launcher refused. */
static const char *refusal(enum control_command cmd, int r) {
        switch (r) {
        case -EALREADY:
                return cmd == CONTROL_PAUSE    ? "the VM is already paused"
                       : cmd == CONTROL_RESUME ? "the VM is not paused"
                                               : "the VM is already stopping";
        case -ESRCH:
                return "the VM is stopping";
        default:
                return strerror(-r);
        }
}

static void follow_events(struct client *cl) {
        struct control *c = cl->ctl;
        json_object *o;
        /* Stats events follow the headless stream's: only where the
         * primary monitor is that stream (a TUI ticks four times a
         * second). */
        unsigned interval = c->primary && c->primary->input_fd < 0 && c->primary->tick ? 1 : 0;

        if (!cl->events && status_new_writer(client_write, cl, interval, &cl->events) < 0) {
                reply_error(cl, "out of memory");
                return;
        }
        o = control_reply_new(true);
        if (o)
                json_object_object_add(o, "events", json_object_new_string("follow"));
        reply(cl, o);
}

static void serve(struct client *cl, enum control_command cmd) {
        struct control *c = cl->ctl;
        json_object *o = NULL;
        int r = 0;

        switch (cmd) {
        case CONTROL_STATUS:
                o = control_reply_new(true);
                if (o)
                        json_object_object_add(o, "status", status_object(c));
                reply(cl, o);
                return;
        case CONTROL_STATS:
                o = control_reply_new(true);
                if (o)
                        json_object_object_add(o, "stats", stats_json(c->ops.stats(c->ops.userdata)));
                reply(cl, o);
                return;
        case CONTROL_EVENTS:
                follow_events(cl);
                return;
        case CONTROL_STOP:
                r = c->ops.stop(c->ops.userdata);
                break;
        case CONTROL_KILL:
                r = c->ops.kill(c->ops.userdata);
                break;
        case CONTROL_PAUSE:
        case CONTROL_RESUME:
                r = c->ops.pause(c->ops.userdata, cmd == CONTROL_PAUSE);
                break;
        case _CONTROL_COMMAND_MAX:
                break;
        }
        if (r < 0) {
                reply_error(cl, "%s: %s", control_command_name(cmd), refusal(cmd, r));
                return;
        }
        o = control_reply_new(true);
        if (o)
                json_object_object_add(o, "state",
                                       json_object_new_string(stats_state_name(c->ops.stats(c->ops.userdata)->state)));
        reply(cl, o);
}

/* Serves every whole line in the buffer.  A line that fills the buffer
 * without its newline is refused, and the client closed: there is no
 * telling where the next request would begin. */
static void serve_lines(struct client *cl) {
        size_t start = 0;
        char *nl;

        while (!cl->dead && (nl = memchr(cl->in + start, '\n', cl->in_len - start))) {
                size_t len = (size_t)(nl - (cl->in + start));
                enum control_command cmd;
                const char *why;

                if (len > 0 && control_request_parse(cl->in + start, len, &cmd, &why) == 0)
                        serve(cl, cmd);
                else if (len > 0)
                        reply_error(cl, "bad request: %s", why);
                start += len + 1;
        }
        memmove(cl->in, cl->in + start, cl->in_len - start);
        cl->in_len -= start;
        if (cl->in_len == sizeof(cl->in)) {
                reply_error(cl, "bad request: request too long (a line holds at most %u bytes)", CONTROL_LINE_MAX - 1);
                cl->closing = true;
                cl->eof = true;
                watch_client(cl);
        }
}

/* At most one buffer's worth per turn (CONTROL_LINE_MAX bytes). */
static void read_client(struct client *cl, uint32_t events) {
        ssize_t n;

        if (events & EPOLLOUT)
                flush_client(cl);
        if (!cl->eof && !cl->dead && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                n = recv(cl->fd, cl->in + cl->in_len, sizeof(cl->in) - cl->in_len, MSG_DONTWAIT);
                if (n > 0) {
                        cl->in_len += (size_t)n;
                        serve_lines(cl);
                } else if (n == 0) {
                        /* Done sending: what it asked for still goes
                         * out, and a client following events keeps them
                         * coming. */
                        cl->eof = true;
                        if (!cl->events)
                                cl->closing = true;
                        watch_client(cl);
                } else if (errno != EAGAIN && errno != EINTR) {
                        cl->dead = true;
                }
        }
        /* Gone both ways: nothing can reach it, and a hung-up socket
         * would be reported on every turn. */
        if (events & (EPOLLHUP | EPOLLERR))
                cl->dead = true;
}

static void client_free(struct client *cl) {
        if (!cl)
                return;
        /* Out of the epoll set first: closing the fd alone is not enough
         * while a copy of it lives on (a child forked but not yet exec'd
         * holds one), and the set would go on reporting a freed client. */
        if (cl->fd >= 0)
                epoll_ctl(cl->ctl->epoll_fd, EPOLL_CTL_DEL, cl->fd, NULL);
        safe_close(cl->fd);
        status_free(cl->events);
        free(cl->out);
        free(cl);
}

/* A refused peer gets its reason in one line, if the socket takes it
 * now, and is closed. */
static void refuse(int fd, const char *what) {
        json_object *o = control_reply_error(what);
        const char *text = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;

        if (text) {
                struct iovec iov[2] = { { (void *)text, strlen(text) }, { (void *)"\n", 1 } };
                struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

                if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                        log_debug("control: refusing a client: %m");
        }
        json_object_put(o);
        close(fd);
}

static void accept_clients(struct control *c) {
        for (int i = 0; i < CONTROL_ACCEPTS_PER_TURN; i++) {
                int fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                struct ucred cred;
                socklen_t len = sizeof(cred);
                struct epoll_event ev;
                struct client *cl;
                char what[160];
                int slot = -1;

                if (fd < 0)
                        return;
                /* The file's mode keeps others out; this is the check that
                 * holds when the mode or the directory was loosened. */
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
                    (cred.uid != geteuid() && cred.uid != 0)) {
                        snprintf(what, sizeof(what), "permission denied: uid %u may not control this VM (only uid %u and root)",
                                 len == sizeof(cred) ? (unsigned)cred.uid : 0u, (unsigned)geteuid());
                        log_info("control: refused a client of uid %u", (unsigned)cred.uid);
                        refuse(fd, what);
                        continue;
                }
                for (int k = 0; k < CONTROL_CLIENTS_MAX && slot < 0; k++)
                        if (!c->clients[k])
                                slot = k;
                if (slot < 0) {
                        snprintf(what, sizeof(what), "too many control clients (at most %d at once)",
                                 CONTROL_CLIENTS_MAX);
                        refuse(fd, what);
                        continue;
                }
                cl = calloc(1, sizeof(*cl));
                if (!cl) {
                        close(fd);
                        continue;
                }
                *cl = (struct client){ .source = { LOOP_CONTROL }, .ctl = c, .fd = fd };
                ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &cl->source };
                if (epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        cl->fd = -1;
                        close(fd);
                        free(cl);
                        continue;
                }
                c->clients[slot] = cl;
        }
}

void control_handle(struct control *c, struct loop_source *src, uint32_t events) {
        if (!c)
                return;
        if (src == &c->source)
                accept_clients(c);
        else
                read_client((struct client *)src, events);
}

void control_reap(struct control *c) {
        if (!c)
                return;
        for (int k = 0; k < CONTROL_CLIENTS_MAX; k++) {
                struct client *cl = c->clients[k];

                if (cl && (cl->dead || (cl->closing && cl->out_len == 0))) {
                        client_free(cl);
                        c->clients[k] = NULL;
                }
        }
}

/* The tee: the primary monitor first, then every client following
 * events.  A dead client's stream is skipped (it is closed at reap). */
#define FOR_FOLLOWERS(c, m)                                                                       \
        for (int _k = 0; _k < CONTROL_CLIENTS_MAX; _k++)                                          \
                for (struct monitor *m = (c)->clients[_k] && (c)->clients[_k]->events &&          \
                                                         !(c)->clients[_k]->dead                  \
                                                 ? status_monitor((c)->clients[_k]->events)       \
                                                 : NULL;                                          \
                     m; m = NULL)

static void tee_started(struct monitor *t, const struct monitor_info *info) {
        struct control *c = t->userdata;

        if (c->primary && c->primary->started)
                c->primary->started(c->primary, info);
        FOR_FOLLOWERS(c, m) m->started(m, info);
}

static void tee_running(struct monitor *t) {
        struct control *c = t->userdata;

        if (c->primary && c->primary->running)
                c->primary->running(c->primary);
        FOR_FOLLOWERS(c, m) m->running(m);
}

static void tee_output(struct monitor *t, enum monitor_stream stream, const char *line, size_t len) {
        struct control *c = t->userdata;

        if (c->primary && c->primary->plugin_output)
                c->primary->plugin_output(c->primary, stream, line, len);
        FOR_FOLLOWERS(c, m) m->plugin_output(m, stream, line, len);
}

static void tee_output_dropped(struct monitor *t, enum monitor_stream stream, uint64_t lines, uint64_t bytes) {
        struct control *c = t->userdata;

        if (c->primary && c->primary->plugin_output_dropped)
                c->primary->plugin_output_dropped(c->primary, stream, lines, bytes);
        FOR_FOLLOWERS(c, m) m->plugin_output_dropped(m, stream, lines, bytes);
}

/* The launcher sets the stop's cause on the tee; each monitor behind it
 * reads its own. */
static void tee_cause(struct control *c, const char *cause) {
        if (!cause)
                return;
        if (c->primary)
                c->primary->stop_cause = cause;
        FOR_FOLLOWERS(c, m) m->stop_cause = cause;
}

static void tee_stopping(struct monitor *t, const char *reason, uint64_t deadline_usec) {
        struct control *c = t->userdata;

        tee_cause(c, t->stop_cause);
        if (c->primary && c->primary->stopping)
                c->primary->stopping(c->primary, reason, deadline_usec);
        FOR_FOLLOWERS(c, m) m->stopping(m, reason, deadline_usec);
}

static void tee_tick(struct monitor *t, const struct vm_stats *st) {
        struct control *c = t->userdata;

        if (c->primary && c->primary->tick)
                c->primary->tick(c->primary, st);
        FOR_FOLLOWERS(c, m) if (m->tick) m->tick(m, st);
}

static void tee_final_stats(struct monitor *t, const struct vm_stats *st) {
        struct control *c = t->userdata;

        if (c->primary && c->primary->final_stats)
                c->primary->final_stats(c->primary, st);
        FOR_FOLLOWERS(c, m) if (m->final_stats) m->final_stats(m, st);
}

static void tee_resize(struct monitor *t) {
        struct control *c = t->userdata;

        if (c->primary && c->primary->resize)
                c->primary->resize(c->primary);
}

static enum monitor_action tee_input(struct monitor *t) {
        struct control *c = t->userdata;

        return c->primary && c->primary->input ? c->primary->input(c->primary) : MONITOR_ACTION_NONE;
}

static void tee_exited(struct monitor *t, int exit_code, const char *reason, const char *plugin_status) {
        struct control *c = t->userdata;

        tee_cause(c, t->stop_cause);
        if (c->primary && c->primary->exited)
                c->primary->exited(c->primary, exit_code, reason, plugin_status);
        FOR_FOLLOWERS(c, m) m->exited(m, exit_code, reason, plugin_status);
}

struct monitor *control_monitor(struct control *c) {
        return &c->tee;
}

/* Is a VM answering at c->path?  0: nobody (a stale socket, if any, is
 * gone); -EEXIST: a live VM; another -errno: the path cannot be used. */
static int claim_path(struct control *c, char *errbuf, size_t errlen) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (lstat(c->path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode)) {
                snprintf(errbuf, errlen, "control socket %s: exists and is not a socket", c->path);
                return -EEXIST;
        }
        memcpy(sa.sun_path, c->path, strlen(c->path));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN) {
                snprintf(errbuf, errlen,
                         "name '%s': a VM of that name is running (its control socket %s answers); "
                         "give this one another name",
                         c->config->name, c->path);
                return -EEXIST;
        }
        if (errno != ECONNREFUSED) {
                snprintf(errbuf, errlen, "control socket %s: %s", c->path, strerror(errno));
                return -errno;
        }
        /* Nobody listens: a vmlaunch that could not clean up (SIGKILL). */
        log_info("control: replacing the stale socket %s", c->path);
        if (unlink(c->path) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

static int listen_on_path(struct control *c, char *errbuf, size_t errlen) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &c->source };
        struct stat st;
        mode_t old;
        int r;

        memcpy(sa.sun_path, c->path, strlen(c->path));
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0)
                return -errno;
        /* The mode is the umask's at bind: 0600 from the first moment
         * (a chmod after would leave a window). */
        old = umask(0177);
        r = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0) {
                r = -errno;
                if (r == -EADDRINUSE) {
                        snprintf(errbuf, errlen, "name '%s': a VM of that name is starting (%s)", c->config->name,
                                 c->path);
                        return -EEXIST;
                }
                snprintf(errbuf, errlen, "control socket %s: %s", c->path, strerror(-r));
                return r;
        }
        if (stat(c->path, &st) == 0) {
                c->dev = st.st_dev;
                c->ino = st.st_ino;
        }
        if (listen(c->fd, CONTROL_CLIENTS_MAX) < 0 || epoll_ctl(c->epoll_fd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "control socket %s: %s", c->path, strerror(-r));
                return r;
        }
        return 0;
}

int control_new(const struct vm_config *config, int epoll_fd, const struct control_ops *ops, struct monitor *primary,
                char *errbuf, size_t errlen, struct control **ret) {
        struct control *c = calloc(1, sizeof(*c));
        char dir[sizeof(c->path)];
        int r;

        if (!c)
                return -ENOMEM;
        *c = (struct control){
                .source = { LOOP_CONTROL },
                .fd = -1,
                .epoll_fd = epoll_fd,
                .config = config,
                .ops = *ops,
                .primary = primary,
        };
        if (config->control.socket) {
                snprintf(c->path, sizeof(c->path), "%s", config->control.socket);
        } else {
                r = control_socket_dir(dir, sizeof(dir));
                if (r >= 0)
                        r = control_socket_path(config->name, c->path, sizeof(c->path));
                if (r < 0) {
                        snprintf(errbuf, errlen, "control socket: %s",
                                 r == -ENOENT ? "XDG_RUNTIME_DIR is not set (or set control.socket)"
                                              : "the path would be too long for a unix socket (set control.socket)");
                        free(c);
                        return r;
                }
                if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                        r = -errno;
                        snprintf(errbuf, errlen, "control socket: creating %s: %s", dir, strerror(-r));
                        free(c);
                        return r;
                }
        }
        r = claim_path(c, errbuf, errlen);
        if (r >= 0)
                r = listen_on_path(c, errbuf, errlen);
        if (r < 0) {
                if (!errbuf[0])
                        snprintf(errbuf, errlen, "control socket %s: %s", c->path, strerror(-r));
                control_free(c, 0);
                return r;
        }
        c->tee = (struct monitor){
                .userdata = c,
                .tick_ms = primary ? primary->tick_ms : 0,
                .input_fd = primary ? primary->input_fd : -1,
                .shows_plugin_output = primary && primary->shows_plugin_output,
                .writes_stdout = primary && primary->writes_stdout,
                .started = tee_started,
                .running = tee_running,
                .plugin_output = tee_output,
                .plugin_output_dropped = tee_output_dropped,
                .stopping = tee_stopping,
                .tick = primary && primary->tick ? tee_tick : NULL,
                .final_stats = tee_final_stats,
                .resize = tee_resize,
                .input = primary && primary->input ? tee_input : NULL,
                .exited = tee_exited,
        };
        *ret = c;
        return 0;
}

void control_free(struct control *c, unsigned flush_ms) {
        uint64_t deadline;
        struct stat st;

        if (!c)
                return;
        deadline = monitor_now_usec() + (uint64_t)flush_ms * 1000u;
        /* The last lines (exited) to whoever still reads, briefly. */
        for (int k = 0; k < CONTROL_CLIENTS_MAX; k++) {
                struct client *cl = c->clients[k];

                while (cl && !cl->dead && cl->out_len > 0) {
                        uint64_t now = monitor_now_usec();
                        struct pollfd p = { .fd = cl->fd, .events = POLLOUT };

                        if (now >= deadline || poll(&p, 1, (int)((deadline - now + 999) / 1000)) <= 0)
                                break;
                        flush_client(cl);
                }
                client_free(cl);
                c->clients[k] = NULL;
        }
        if (c->fd >= 0) {
                /* Only the socket we made: not one a later VM put there. */
                if (c->ino && stat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
                        unlink(c->path);
                epoll_ctl(c->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        }
        safe_close(c->fd);
        free(c);
}
