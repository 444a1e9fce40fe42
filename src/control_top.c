/* `vmlaunch top NAME`: the terminal monitor (tui.h) attached to a running
 * VM over its control socket.  The VM's events feed the monitor's
 * callbacks as the launcher's would; a stats request every tick feeds its
 * table.  q detaches and leaves the VM running; K asks for the stop,
 * which a second K within TOP_CONFIRM_MS confirms. */
#include "control_client.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "control_proto.h"
#include "launcher.h"
#include "log.h"
#include "stats.h"
#include "tui.h"
#include "util.h"

#define TOP_TICK_MS 250
#define TOP_CONFIRM_MS 3000

struct top {
        const char *name;
        int fd;
        struct monitor *mon;
        struct vm_stats *st;
        char *buf;
        size_t len, cap;
        bool ended;                     /* the VM exited, or went away */
        int exit_code;
        char reason[256];
};

static json_object *member(json_object *o, const char *key) {
        json_object *v = NULL;

        json_object_object_get_ex(o, key, &v);
        return v;
}

static int send_request(struct top *t, enum control_command cmd) {
        char line[128];
        size_t len = control_request_format(cmd, line, sizeof(line));

        return send(t->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len ? 0 : -EIO;
}

/* A stats reply into the snapshot the monitor draws from. */
static void take_stats(struct top *t, json_object *st) {
        json_object *vcpus = member(st, "vcpus");
        unsigned n = vcpus ? (unsigned)json_object_array_length(vcpus) : 0;
        const char *state = json_object_get_string(member(st, "state"));

        if (!t->st || t->st->n_vcpus != n) {
                stats_free(t->st);
                t->st = NULL;
                if (stats_new(n, &t->st) < 0)
                        return;
        }
        for (unsigned i = 0; i <= n; i++) {
                json_object *row = i < n ? json_object_array_get_idx(vcpus, i) : member(st, "total");
                struct stats_vcpu *v = i < n ? &t->st->vcpus[i] : &t->st->total;

                for (int k = 0; k < _VCPU_STAT_MAX; k++)
                        v->count[k] = json_object_get_uint64(member(row, stats_counter_name((enum vcpu_stat)k)));
                v->exits = json_object_get_uint64(member(row, "exits"));
                v->rate = json_object_get_double(member(row, "rate"));
        }
        t->st->uptime_usec = (uint64_t)(json_object_get_double(member(st, "uptime_s")) * 1e6);
        for (int s = STATS_STARTING; s <= STATS_EXITED; s++)
                if (state && strcmp(state, stats_state_name((enum stats_state)s)) == 0)
                        t->st->state = (enum stats_state)s;
        if (t->mon->tick)
                t->mon->tick(t->mon, t->st);
}

/* One event of the VM's status stream, to the monitor. */
static void take_event(struct top *t, json_object *ev) {
        const char *name = json_object_get_string(member(ev, "event"));
        struct monitor *m = t->mon;

        if (strcmp(name, "running") == 0 && m->running) {
                m->running(m);
        } else if (strcmp(name, "plugin_output") == 0 && m->plugin_output) {
                const char *line = json_object_get_string(member(ev, "line"));
                const char *stream = json_object_get_string(member(ev, "stream"));

                m->plugin_output(m, stream && strcmp(stream, "stderr") == 0 ? MONITOR_STDERR : MONITOR_STDOUT,
                                 line ? line : "", line ? strlen(line) : 0);
        } else if (strcmp(name, "plugin_output_dropped") == 0 && m->plugin_output_dropped) {
                const char *stream = json_object_get_string(member(ev, "stream"));

                m->plugin_output_dropped(m, stream && strcmp(stream, "stderr") == 0 ? MONITOR_STDERR : MONITOR_STDOUT,
                                         json_object_get_uint64(member(ev, "lines")),
                                         json_object_get_uint64(member(ev, "bytes")));
        } else if (strcmp(name, "stopping") == 0 && m->stopping) {
                int64_t ms = json_object_get_int64(member(ev, "deadline_ms"));

                m->stopping(m, json_object_get_string(member(ev, "reason")),
                            monitor_now_usec() + (uint64_t)(ms > 0 ? ms : 0) * 1000u);
        } else if (strcmp(name, "exited") == 0) {
                t->ended = true;
                t->exit_code = json_object_get_int(member(ev, "exit_code"));
                snprintf(t->reason, sizeof(t->reason), "%s", json_object_get_string(member(ev, "reason")));
        }
}

/* Every whole line read so far. */
static void take_lines(struct top *t) {
        char *nl;

        while ((nl = memchr(t->buf, '\n', t->len))) {
                size_t used = (size_t)(nl - t->buf) + 1;
                json_object *o;

                *nl = '\0';
                o = json_tokener_parse(t->buf);
                if (o && member(o, "event"))
                        take_event(t, o);
                else if (o && member(o, "stats"))
                        take_stats(t, member(o, "stats"));
                json_object_put(o);
                memmove(t->buf, t->buf + used, t->len - used);
                t->len -= used;
        }
}

/* Room for more input; a reply line is bounded (16 MiB). */
static int grow(struct top *t) {
        size_t cap = t->cap ? t->cap * 2 : 65536;
        char *b;

        if (t->len < t->cap)
                return 0;
        b = cap <= 16u * 1024u * 1024u ? realloc(t->buf, cap) : NULL;
        if (!b)
                return -ENOMEM;
        t->buf = b;
        t->cap = cap;
        return 0;
}

static int read_socket(struct top *t) {
        ssize_t n;

        if (grow(t) < 0)
                return -ENOMEM;
        n = recv(t->fd, t->buf + t->len, t->cap - t->len, MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        if (n == 0)
                return -EPIPE;
        t->len += (size_t)n;
        take_lines(t);
        return 0;
}

/* Status first (the header), then the stream. */
static int attach(struct top *t, struct tui **ret_tui) {
        struct monitor_info info = { .name = t->name };
        char line[128];
        size_t len = control_request_format(CONTROL_STATUS, line, sizeof(line));
        json_object *o = NULL, *st;
        bool running;
        int r;

        if (send(t->fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
                return -EIO;
        for (char *nl = NULL; !nl;) {
                struct pollfd p = { .fd = t->fd, .events = POLLIN };

                if (poll(&p, 1, 5000) <= 0)
                        return -ETIMEDOUT;
                if (grow(t) < 0)
                        return -ENOMEM;
                r = (int)recv(t->fd, t->buf + t->len, t->cap - t->len, 0);
                if (r <= 0)
                        return -EPIPE;
                t->len += (size_t)r;
                nl = memchr(t->buf, '\n', t->len);
                if (nl) {
                        *nl = '\0';
                        o = json_tokener_parse(t->buf);
                        t->len -= (size_t)(nl - t->buf) + 1;
                        memmove(t->buf, nl + 1, t->len);
                }
        }
        st = member(o, "status");
        if (!st || !json_object_get_boolean(member(o, "ok"))) {
                fprintf(stderr, "vmlaunch: top: %s: %s\n", t->name,
                        member(o, "error") ? json_object_get_string(member(o, "error")) : "refused");
                json_object_put(o);
                return -EPROTO;
        }
        r = tui_new(ret_tui);
        if (r < 0) {
                json_object_put(o);
                fprintf(stderr, "vmlaunch: top: stdin and stdout must be a terminal\n");
                return r;
        }
        t->mon = tui_monitor(*ret_tui);
        info.name = json_object_get_string(member(st, "name"));
        info.vcpus = (unsigned)json_object_get_int(member(st, "vcpus"));
        info.plugin_pid = json_object_get_int(member(st, "plugin_pid"));
        running = strcmp(json_object_get_string(member(st, "state")), "starting") != 0;
        if (t->mon->started)
                t->mon->started(t->mon, &info);
        if (running && t->mon->running)
                t->mon->running(t->mon);
        json_object_put(o);
        return send_request(t, CONTROL_EVENTS);
}

int control_client_top(int argc, char **argv) {
        struct top t = { .fd = -1 };
        struct tui *tui = NULL;
        uint64_t next_tick = 0, confirm_until = 0;
        char path[128];
        sigset_t mask;
        int sig_fd, r;
        bool detached = false;

        if (argc != 2) {
                fprintf(stderr, "usage: vmlaunch top NAME\n");
                return EXIT_VM_CONFIG;
        }
        t.name = argv[1];
        r = control_client_connect(argv[1], path, sizeof(path), &t.fd);
        if (r < 0) {
                fprintf(stderr, "vmlaunch: %s: %s\n", argv[1], control_client_connect_error(r));
                return 1;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        r = attach(&t, &tui);
        while (r >= 0 && !t.ended && !detached) {
                struct pollfd p[3] = {
                        { .fd = t.fd, .events = POLLIN },
                        { .fd = STDIN_FILENO, .events = POLLIN },
                        { .fd = sig_fd, .events = POLLIN },
                };
                uint64_t now = monitor_now_usec();

                if (now >= next_tick) {
                        r = send_request(&t, CONTROL_STATS);
                        next_tick = now + TOP_TICK_MS * 1000u;
                }
                if (poll(p, 3, (int)((next_tick - now) / 1000u) + 1) < 0 && errno != EINTR)
                        r = -errno;
                if (p[0].revents)
                        r = read_socket(&t);
                if (p[2].revents) {
                        struct signalfd_siginfo si;

                        while (read(sig_fd, &si, sizeof(si)) == sizeof(si))
                                ;
                        if (t.mon->resize)
                                t.mon->resize(t.mon);
                }
                if (p[1].revents & (POLLHUP | POLLERR))
                        detached = true;
                else if (p[1].revents) {
                        enum monitor_action a = t.mon->input(t.mon);

                        /* Attached, q leaves the VM to itself; stopping it
                         * takes K twice. */
                        if (a == MONITOR_ACTION_STOP) {
                                detached = true;
                        } else if (a == MONITOR_ACTION_KILL && confirm_until > monitor_now_usec()) {
                                send_request(&t, CONTROL_STOP);
                                confirm_until = 0;
                        } else if (a == MONITOR_ACTION_KILL) {
                                confirm_until = monitor_now_usec() + TOP_CONFIRM_MS * 1000u;
                                log_info("press K again within %d s to stop %s (q detaches and leaves it running)",
                                         TOP_CONFIRM_MS / 1000, t.name);
                        }
                }
        }
        if (tui && t.mon && t.mon->exited)
                t.mon->exited(t.mon, t.exit_code, t.reason, "");
        tui_free(tui);
        if (t.ended)
                fprintf(stderr, "vmlaunch: %s exited %d: %s\n", t.name, t.exit_code, t.reason);
        else if (detached)
                fprintf(stderr, "vmlaunch: detached from %s; it runs on\n", t.name);
        else if (r < 0 && tui)
                fprintf(stderr, "vmlaunch: %s: the VM went away\n", t.name);
        safe_close(sig_fd);
        safe_close(t.fd);
        stats_free(t.st);
        free(t.buf);
        return r < 0 && !t.ended && !detached ? 1 : 0;
}
