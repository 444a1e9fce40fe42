#include "launcher.h"

#include <errno.h>
#include <poll.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "jail.h"
#include "log.h"
#include "loop.h"
#include "notify.h"
#include "output.h"
#include "plugin.h"
#include "audit.h"
#include "seccomp_policy.h"
#include "server.h"
#include "sink.h"
#include "tap.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"

struct fd_source {
        struct loop_source source;
        int fd;
};

struct launcher {
        const struct vm_config *config;
        struct monitor *mon;
        struct launch_result *res;

        int epoll_fd;
        struct fd_source sig, exit_ev, countdown, tick, input, watchdog;
        sigset_t old_mask;
        bool mask_set;

        struct vm *vm;
        struct server *server;
        struct plugin plugin;
        struct output out, err;
        struct sock_fprog seccomp_prog;         /* compiled policy; len 0: none */
        const struct sock_fprog *seccomp;       /* &seccomp_prog, or NULL */
        struct tap tap;
        struct cgroup *cgroup;          /* the plugin's tasks and memory; or NULL */
        int kmsg_fd;                    /* the kernel log, for a seccomp kill's syscall; or -1 */
        struct fd_source notify;        /* the plugin's seccomp listener (borrowed), or -1 */
        bool violation;                 /* a notification came: the plugin was killed for it */
        int violation_nr;
        uint32_t violation_arch;

        bool stopping;
        bool stop_requested;            /* SIGTERM/SIGINT/q */
        bool killed_at_deadline;
        bool killed_on_request;
        bool failed;                    /* infrastructure error recorded */
        bool running_reported;
        char stop_reason[160];
};

uint64_t monitor_now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void set_result(struct launch_result *res, int code, const char *fmt, ...) _printf_(3, 4);
static void set_result(struct launch_result *res, int code, const char *fmt, ...) {
        va_list ap;

        res->exit_code = code;
        va_start(ap, fmt);
        vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
        va_end(ap);
}

static int watch(struct launcher *l, int fd, struct loop_source *src) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

        return epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void arm_timer(int fd, uint64_t first_ms, uint64_t interval_ms) {
        struct itimerspec its = {
                .it_value = { .tv_sec = (time_t)(first_ms / 1000), .tv_nsec = (long)(first_ms % 1000) * 1000000L },
                .it_interval = { .tv_sec = (time_t)(interval_ms / 1000),
                                 .tv_nsec = (long)(interval_ms % 1000) * 1000000L },
        };

        timerfd_settime(fd, 0, &its, NULL);
}

/* Starts the countdown: the plugin is told through the shutdown eventfd
 * and has shutdown_timeout_ms before SIGKILL. */
static void begin_stop(struct launcher *l, const char *fmt, ...) _printf_(2, 3);
static void begin_stop(struct launcher *l, const char *fmt, ...) {
        va_list ap;

        if (l->stopping)
                return;
        l->stopping = true;
        va_start(ap, fmt);
        vsnprintf(l->stop_reason, sizeof(l->stop_reason), fmt, ap);
        va_end(ap);
        log_info("stopping: %s; the plugin has %u ms to exit", l->stop_reason, l->config->shutdown_timeout_ms);
        if (l->stop_requested)
                l->res->drain_by_usec = monitor_now_usec() + (uint64_t)l->config->shutdown_timeout_ms * 1000u +
                                        LAUNCHER_STOP_SLACK_MS * 1000u;
        if (l->vm)
                vm_signal_kill(l->vm);
        arm_timer(l->countdown.fd, l->config->shutdown_timeout_ms, 0);
        notify_stopping(l->stop_reason, l->config->shutdown_timeout_ms);
        if (l->mon && l->mon->stopping)
                l->mon->stopping(l->mon, l->stop_reason,
                                 monitor_now_usec() + (uint64_t)l->config->shutdown_timeout_ms * 1000u);
}

static void kill_plugin(struct launcher *l) {
        if (l->plugin.pid > 0 && !l->plugin.reaped)
                kill(l->plugin.pid, SIGKILL);
}

/* The terminal is gone: its fd leaves the loop (a hung-up tty reports
 * EPOLLHUP forever, and the loop would spin on it) and the VM stops. */
static void terminal_gone(struct launcher *l, const char *why) {
        if (l->input.fd >= 0) {
                epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->input.fd, NULL);
                l->input.fd = -1;
        }
        if (!l->stopping) {
                l->stop_requested = true;
                begin_stop(l, "%s", why);
        }
}

static void handle_signal(struct launcher *l) {
        struct signalfd_siginfo si;

        while (read(l->sig.fd, &si, sizeof(si)) == sizeof(si)) {
                switch (si.ssi_signo) {
                case SIGCHLD:
                        if (plugin_try_reap(&l->plugin) < 0)
                                log_warning("reaping the plugin: %m");
                        break;
                case SIGTERM:
                case SIGINT:
                        if (!l->stopping) {
                                l->stop_requested = true;
                                begin_stop(l, "%s received", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                        } else {
                                log_info("second stop request: killing the plugin now");
                                l->killed_on_request = true;
                                kill_plugin(l);
                        }
                        break;
                case SIGWINCH:
                        if (l->mon && l->mon->resize)
                                l->mon->resize(l->mon);
                        break;
                case SIGHUP:
                        /* The monitor's terminal hung up (an ssh session
                         * dropped, a tmux server killed): nobody can see
                         * or steer the VM any more, so it stops as on
                         * SIGTERM.  Headless, main() ignores SIGHUP, but a
                         * blocked signal is queued anyway: drop it here. */
                        if (l->mon && l->mon->input_fd >= 0)
                                terminal_gone(l, "SIGHUP received: the terminal hung up");
                        break;
                default:
                        break;
                }
        }
}

static void handle_exit_event(struct launcher *l) {
        uint64_t n;

        if (read(l->exit_ev.fd, &n, sizeof(n)) < 0)
                return;
        if (!l->stopping) {
                int reason = atomic_load(&l->vm->stop_reason);

                begin_stop(l, "%s", reason != VM_STOP_NONE ? l->vm->stop_detail : "a vCPU stopped");
        }
}

static void handle_input(struct launcher *l, uint32_t events) {
        enum monitor_action a;

        if (events & (EPOLLHUP | EPOLLERR)) {
                terminal_gone(l, "the terminal closed");
                return;
        }
        a = l->mon->input(l->mon);

        if (a == MONITOR_ACTION_STOP && !l->stopping) {
                l->stop_requested = true;
                begin_stop(l, "stop requested from the monitor");
        } else if (a == MONITOR_ACTION_KILL) {
                l->stop_requested = true;
                l->killed_on_request = true;
                if (!l->stopping)
                        begin_stop(l, "kill requested from the monitor");
                kill_plugin(l);
        }
}

static void handle_timer(struct launcher *l, struct fd_source *src) {
        uint64_t ticks;

        if (read(src->fd, &ticks, sizeof(ticks)) < 0)
                return;
        if (src == &l->watchdog) {
                notify_watchdog();
        } else if (src == &l->countdown) {
                log_warning("the plugin did not exit within %u ms; killing it", l->config->shutdown_timeout_ms);
                l->killed_at_deadline = true;
                kill_plugin(l);
        } else if (l->mon && l->mon->tick) {
                l->mon->tick(l->mon, l->vm);
        }
}

/* The plugin made a syscall its policy forbids and waits for an answer
 * it never gets: it is killed, and the syscall recorded for the reason.
 * EPOLLHUP: no task is left under the filter; the fd leaves the loop
 * (it would report the hang-up on every turn). */
static void handle_seccomp(struct launcher *l, uint32_t events) {
        struct seccomp_notif n;

        if (events & EPOLLIN) {
                memset(&n, 0, sizeof(n));
                if (ioctl(l->notify.fd, SECCOMP_IOCTL_NOTIF_RECV, &n) == 0) {
                        if (!l->violation) {
                                l->violation = true;
                                l->violation_nr = n.data.nr;
                                l->violation_arch = n.data.arch;
                        }
                        kill_plugin(l);
                }
                return;
        }
        epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->notify.fd, NULL);
        l->notify.fd = -1;
}

/* The sources that stop the VM or steer it: signals, the vCPUs' exit
 * event, a seccomp violation, the countdown and the timers, the
 * monitor's keys. */
static void handle_priority(struct launcher *l, struct loop_source *src, uint32_t events) {
        switch (src->kind) {
        case LOOP_SIGNAL:
                handle_signal(l);
                break;
        case LOOP_EXIT_EVENT:
                handle_exit_event(l);
                break;
        case LOOP_TIMER:
                handle_timer(l, (struct fd_source *)src);
                break;
        case LOOP_INPUT:
                handle_input(l, events);
                break;
        case LOOP_SECCOMP:
                handle_seccomp(l, events);
                break;
        case LOOP_PLUGIN_OUTPUT:
        case LOOP_CONNECTION:
        case LOOP_SINK:
                break;
        }
}

/* A full batch may have left a priority source out of it: ask them
 * directly, without waiting. */
static void poll_priority(struct launcher *l) {
        struct fd_source *srcs[] = { &l->sig, &l->exit_ev, &l->notify, &l->countdown, &l->input };
        struct pollfd p[ARRAY_SIZE(srcs)];

        for (size_t i = 0; i < ARRAY_SIZE(srcs); i++)
                p[i] = (struct pollfd){ .fd = srcs[i]->fd, .events = POLLIN };
        if (poll(p, ARRAY_SIZE(p), 0) <= 0)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(srcs); i++)
                if (p[i].revents)
                        handle_priority(l, &srcs[i]->source,
                                        (p[i].revents & POLLIN ? EPOLLIN : 0) | (p[i].revents & POLLHUP ? EPOLLHUP : 0) |
                                                (p[i].revents & POLLERR ? EPOLLERR : 0));
}

static void output_turn(struct launcher *l, struct output *o) {
        uint64_t now = monitor_now_usec();

        if (o->fd < 0 || output_read(o, OUTPUT_READ_BUDGET, now) == 0)
                return;
        epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, o->fd, NULL);
        output_end(o, now);
}

static void handle_connection(struct launcher *l, struct server_conn *c) {
        bool was_started = l->vm->started;

        server_handle(l->server, c);
        if (!was_started && l->vm->started && !l->running_reported) {
                l->running_reported = true;
                notify_ready(l->config->name, l->config->vcpus);
                if (l->mon && l->mon->running)
                        l->mon->running(l->mon);
        }
}

/* epoll_wait's timeout: until the next note about dropped output. */
static int loop_timeout(struct launcher *l) {
        uint64_t due = output_note_due(&l->out), now;

        if (output_note_due(&l->err) < due)
                due = output_note_due(&l->err);
        if (due == UINT64_MAX)
                return -1;
        now = monitor_now_usec();
        return due <= now ? 0 : (int)((due - now + 999) / 1000);
}


/* Every source has a budget per turn, so nothing the plugin does starves
 * a stop: a pipe gives at most OUTPUT_READ_BUDGET bytes, a connection one
 * request, a sink a bounded write.  epoll is level-triggered, so what is
 * left is reported again next turn.  The sources that stop the VM go
 * first in every turn. */
static void run_loop(struct launcher *l) {
        sink_watch_all(l->epoll_fd);
        while (!l->plugin.reaped) {
                struct epoll_event evs[32];
                int n = epoll_wait(l->epoll_fd, evs, (int)ARRAY_SIZE(evs), loop_timeout(l));
                uint64_t now;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        set_result(l->res, EXIT_VM_FAILED, "the event loop failed: %s", strerror(errno));
                        l->failed = true;
                        break;
                }
                for (int i = 0; i < n; i++)
                        handle_priority(l, evs[i].data.ptr, evs[i].events);
                if (n == (int)ARRAY_SIZE(evs))
                        poll_priority(l);
                for (int i = 0; i < n; i++) {
                        struct loop_source *src = evs[i].data.ptr;

                        switch (src->kind) {
                        case LOOP_PLUGIN_OUTPUT:
                                output_turn(l, (struct output *)src);
                                break;
                        case LOOP_CONNECTION:
                                handle_connection(l, (struct server_conn *)src);
                                break;
                        case LOOP_SINK:
                                sink_flush((struct sink *)src);
                                break;
                        case LOOP_SIGNAL:
                        case LOOP_EXIT_EVENT:
                        case LOOP_SECCOMP:
                        case LOOP_TIMER:
                        case LOOP_INPUT:
                                break;
                        }
                }
                now = monitor_now_usec();
                output_tick(&l->out, now);
                output_tick(&l->err, now);
                server_reap(l->server);
        }
        sink_watch_all(-1);
}

/* After the plugin is gone: what its pipes still hold, within a bound (a
 * pipe holds at most /proc/sys/fs/pipe-max-size, but a process the plugin
 * left behind could keep writing). */
static void output_finish(struct output *o) {
        uint64_t now = monitor_now_usec();

        for (int i = 0; i < 16 && o->fd >= 0; i++)
                if (output_read(o, OUTPUT_READ_BUDGET, now) != 0)
                        break;
        output_end(o, now);
}

/* A seccomp kill, named from the listener's notification; where there
 * was no listener (jail.h) the kernel's audit record of a SIGSYS is the
 * fallback, if it can be read and comes soon. */
static void seccomp_kill_result(struct launcher *l) {
        _cleanup_free_ char *name = NULL;
        uint32_t arch = 0;      /* audit.h: ours */
        int nr;

        if (l->violation) {
                nr = l->violation_nr;
                arch = l->violation_arch;
        } else if (audit_find_seccomp_kill(l->kmsg_fd, l->plugin.pid, 100, &nr) < 0) {
                set_result(l->res, EXIT_VM_CRASHED, "crash: the plugin was killed by SIGSYS (a seccomp violation)");
                return;
        }
        name = audit_syscall_name(arch, nr);
        set_result(l->res, EXIT_VM_CRASHED,
                   "crash: the plugin was killed for a seccomp violation: syscall %d, %s, is not allowed", nr,
                   name ? name : "unknown to libseccomp");
}

static const char *signal_name(int sig) {
        const char *d = sigabbrev_np(sig);

        return d ? d : "?";
}

static void decide_result(struct launcher *l) {
        struct launch_result *res = l->res;
        int st = l->plugin.wait_status;
        int vm_reason = l->vm ? atomic_load(&l->vm->stop_reason) : VM_STOP_NONE;

        if (WIFEXITED(st))
                snprintf(res->plugin_status, sizeof(res->plugin_status), "exited %d", WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
                snprintf(res->plugin_status, sizeof(res->plugin_status), "killed by SIG%s",
                         signal_name(WTERMSIG(st)));
        if (l->failed)
                return;
        if (l->violation) {
                seccomp_kill_result(l);
                return;
        }
        if (vm_reason == VM_STOP_VCPU_ERROR) {
                set_result(res, EXIT_VM_CRASHED, "crash: %s", l->vm->stop_detail);
                return;
        }
        if (vm_reason == VM_STOP_PLUGIN_ERROR) {
                set_result(res, EXIT_VM_FAILED, "error: %s", l->vm->stop_detail);
                return;
        }
        if (WIFSIGNALED(st)) {
                int sig = WTERMSIG(st);

                if (l->killed_at_deadline)
                        set_result(res, EXIT_VM_FAILED,
                                   "hung plugin killed: it did not exit within %u ms after the stop (%s)",
                                   l->config->shutdown_timeout_ms, l->stop_reason);
                else if (l->killed_on_request)
                        set_result(res, EXIT_VM_FAILED, "killed on request");
                else if (sig == SIGSYS)
                        seccomp_kill_result(l);
                else
                        set_result(res, EXIT_VM_CRASHED, "crash: the plugin was killed by signal SIG%s (%s)",
                                   signal_name(sig), strsignal(sig));
                return;
        }
        switch (WEXITSTATUS(st)) {
        case 0:
                if (l->stop_requested)
                        set_result(res, EXIT_VM_OK, "shutdown: stopped on request (%s); the plugin exited cleanly",
                                   l->stop_reason);
                else if (l->stopping)
                        set_result(res, EXIT_VM_OK, "shutdown: %s; the plugin exited cleanly", l->stop_reason);
                else
                        set_result(res, EXIT_VM_OK, "shutdown: the plugin exited cleanly");
                return;
        case EXIT_VM_RESET:
                set_result(res, EXIT_VM_RESET, "reset: the plugin requested a reset (exit status 32)");
                return;
        default:
                set_result(res, EXIT_VM_FAILED, "error: the plugin exited with status %d", WEXITSTATUS(st));
                return;
        }
}

/* The tap, before the plugin exists and while we may still have
 * CAP_NET_ADMIN.  GetNetConfig serves it (the first one, as crosvm). */
static int setup_network(struct launcher *l) {
        const struct vm_config *c = l->config;
        struct server_net net = { .tap_fd = -1 };
        const char *step = NULL;
        int r = 0;

        switch (c->network.mode) {
        case VM_NET_NONE:
                return 0;
        case VM_NET_CREATE:
                r = tap_create(&l->tap, &step);
                if (r >= 0)
                        r = tap_configure(&l->tap, c->network.host_ip, c->network.netmask, c->network.mac, &step);
                break;
        case VM_NET_TAP_NAME:
                r = tap_open_name(c->network.tap_name, &l->tap, &step);
                break;
        case VM_NET_TAP_FDS:
                /* Each given fd must be a tap; the first one is served. */
                for (size_t i = 0; i < c->network.n_tap_fds && r >= 0; i++) {
                        struct tap t = TAP_INIT;

                        r = tap_from_fd(c->network.tap_fds[i], i == 0 ? &l->tap : &t, &step);
                        if (r < 0)
                                set_result(l->res, EXIT_VM_FAILED, "error: network.tap_fds: fd %d: %s: %s",
                                           c->network.tap_fds[i], step, strerror(-r));
                        tap_close(&t);
                }
                if (r < 0)
                        return r;
                break;
        }
        if (r < 0) {
                /* Making and configuring a tap takes CAP_NET_ADMIN. */
                bool denied = c->network.mode == VM_NET_CREATE && (r == -EPERM || r == -EACCES);

                set_result(l->res, EXIT_VM_FAILED, "error: network: %s%s%s: %s%s", step, l->tap.name[0] ? " " : "",
                           l->tap.name, strerror(-r),
                           denied ? " (creating a tap needs root or CAP_NET_ADMIN; as an ordinary user, pass "
                                    "network.tap_fds or name a tap you own in network.tap_name)"
                                  : "");
                return r;
        }
        net.tap_fd = l->tap.fd;
        net.host_ip = l->tap.host_ip;
        net.netmask = l->tap.netmask;
        memcpy(net.mac, l->tap.mac, sizeof(net.mac));
        server_set_net(l->server, &net);
        log_info("network: tap %s", l->tap.name);
        return 0;
}

const char *launcher_default_policy(const struct vm_config *c) {
        if (c->sandbox.seccomp_policy)
                return c->sandbox.seccomp_policy;
        /* Installed, or else the one in the source tree this was built from. */
        if (access(VMLAUNCH_POLICY_INSTALLED, R_OK) == 0)
                return VMLAUNCH_POLICY_INSTALLED;
        return VMLAUNCH_POLICY_SOURCE;
}

/* vmlaunch's own fd table must hold what limits.* let a plugin make it
 * open: the soft limit goes up to the hard one first thing, and a config
 * that needs more than that is refused before the plugin starts (checked
 * once vm_new has checked vcpus against KVM's own limit). */
static void raise_own_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int check_own_nofile(struct launcher *l) {
        uint64_t need = vm_fds_needed(l->config);
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
                set_result(l->res, EXIT_VM_CONFIG,
                           "config: %s: limits: connections + 2 x irq_events + 5 x vcpus + 128 = %llu fds, more "
                           "than vmlaunch's RLIMIT_NOFILE allows (%llu): lower them or raise the hard limit",
                           l->config->path, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
                return -EMFILE;
        }
        return 0;
}

/* Before the plugin is released to exec: its cgroup and its fd limit. */
static int place_plugin(pid_t pid, void *userdata, char *errbuf, size_t errlen) {
        struct launcher *l = userdata;
        struct rlimit rl = { .rlim_cur = l->config->limits.nofile, .rlim_max = l->config->limits.nofile };
        int r;

        r = cgroup_attach(l->cgroup, pid);
        if (r < 0) {
                snprintf(errbuf, errlen, "placing the plugin in its cgroup: %s", strerror(-r));
                return r;
        }
        if (prlimit(pid, RLIMIT_NOFILE, &rl, NULL) < 0) {
                r = -errno;
                snprintf(errbuf, errlen, "setting the plugin's RLIMIT_NOFILE to %u: %s", l->config->limits.nofile,
                         strerror(-r));
                return r;
        }
        return 0;
}

static int setup(struct launcher *l) {
        const struct vm_config *c = l->config;
        _cleanup_close_ int plugin_end = -1;
        const char *step = NULL;
        char errbuf[512];
        sigset_t mask;
        int sv[2], r;

        signal(SIGPIPE, SIG_IGN);
        raise_own_nofile();
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGWINCH);
        pthread_sigmask(SIG_BLOCK, &mask, &l->old_mask);
        l->mask_set = true;

        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        l->sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        l->countdown.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        l->tick.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (l->epoll_fd < 0 || l->sig.fd < 0 || l->countdown.fd < 0 || l->tick.fd < 0) {
                r = -errno;
                set_result(l->res, EXIT_VM_FAILED, "error: setting up the event loop: %s", strerror(-r));
                return r;
        }
        if ((r = watch(l, l->sig.fd, &l->sig.source)) < 0 ||
            (r = watch(l, l->countdown.fd, &l->countdown.source)) < 0 ||
            (r = watch(l, l->tick.fd, &l->tick.source)) < 0) {
                set_result(l->res, EXIT_VM_FAILED, "error: setting up the event loop: %s", strerror(-r));
                return r;
        }

        if (c->sandbox.enabled) {
                const char *policy = launcher_default_policy(c);

                /* A policy error is a config error: nothing has started. */
                r = seccomp_policy_compile(policy, c->sandbox.seccomp_log_failures, stderr, &l->seccomp_prog);
                if (r < 0) {
                        set_result(l->res, r == -EINVAL ? EXIT_VM_CONFIG : EXIT_VM_FAILED,
                                   "%s: sandbox.seccomp_policy %s: %s", r == -EINVAL ? "config" : "error", policy,
                                   r == -EINVAL ? "invalid (see above)" : strerror(-r));
                        return r;
                }
                l->seccomp = &l->seccomp_prog;
        }
        r = vm_new(c, &l->vm, &step);
        if (r == -E2BIG) {
                set_result(l->res, EXIT_VM_CONFIG, "config: %s: %s", c->path, step);
                return r;
        }
        if (r < 0) {
                set_result(l->res, EXIT_VM_FAILED, "error: creating the VM: %s (%s): %s", step, c->kvm_device,
                           strerror(-r));
                return r;
        }
        r = check_own_nofile(l);
        if (r < 0)
                return r;
        l->exit_ev.fd = l->vm->exit_fd;
        if ((r = watch(l, l->exit_ev.fd, &l->exit_ev.source)) < 0 ||
            (r = server_new(l->vm, l->epoll_fd, &l->server)) < 0) {
                set_result(l->res, EXIT_VM_FAILED, "error: setting up the main socket: %s", strerror(-r));
                return r;
        }
        r = setup_network(l);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                r = -errno;
                set_result(l->res, EXIT_VM_FAILED, "error: creating the main socket: %s", strerror(-r));
                return r;
        }
        plugin_end = sv[1];
        r = server_add_connection(l->server, sv[0]);
        if (r < 0) {
                set_result(l->res, EXIT_VM_FAILED, "error: registering the main socket: %s", strerror(-r));
                return r;
        }

        /* Reading the kernel log may take the privilege dropped below. */
        if (l->seccomp) {
                l->kmsg_fd = audit_open();
                if (l->kmsg_fd < 0)
                        log_debug("no kernel log (%s): a seccomp kill will not name its syscall",
                                  strerror(-l->kmsg_fd));
        }

        r = cgroup_new(c, &l->cgroup, errbuf, sizeof(errbuf));
        if (r < 0) {
                set_result(l->res, EXIT_VM_FAILED, "error: %s", errbuf);
                return r;
        }
        if (errbuf[0])
                log_warning("%s", errbuf);
        for (size_t i = 0; cgroup_path(l->cgroup, i, &step); i++)
                log_debug("limits: the plugin's %s cgroup is %s", step, cgroup_path(l->cgroup, i, NULL));
        l->plugin.before_release = place_plugin;
        l->plugin.before_release_data = l;

        /* The plugin starts before any vCPU thread exists. */
        r = plugin_spawn(c, plugin_end, l->vm->lane_fd, l->seccomp, &l->plugin, errbuf, sizeof(errbuf));
        if (r < 0) {
                set_result(l->res, EXIT_VM_FAILED, "error: %s", errbuf);
                snprintf(l->res->plugin_status, sizeof(l->res->plugin_status), "not started");
                return r;
        }
        /* The jail and the tap exist: nothing privileged is left to do. */
        r = jail_drop_own_capabilities();
        if (r < 0)
                log_warning("dropping the launcher's capabilities: %s", strerror(-r));
        /* With the listener, a violation is named from it: the kernel
         * log is only the fallback. */
        l->notify.fd = l->plugin.notify_fd;
        if (l->notify.fd >= 0) {
                l->kmsg_fd = safe_close(l->kmsg_fd);
                if (watch(l, l->notify.fd, &l->notify.source) < 0)
                        log_warning("watching the seccomp listener: %m");
        }
        l->out.fd = l->plugin.out_fd;
        l->err.fd = l->plugin.err_fd;
        if ((r = watch(l, l->out.fd, &l->out.source)) < 0 || (r = watch(l, l->err.fd, &l->err.source)) < 0) {
                set_result(l->res, EXIT_VM_FAILED, "error: watching the plugin's output: %s", strerror(-r));
                l->failed = true;
                return 0;       /* the plugin runs: the normal teardown follows */
        }
        if (l->mon && l->mon->input_fd >= 0 && l->mon->input) {
                l->input.fd = l->mon->input_fd;
                if (watch(l, l->input.fd, &l->input.source) < 0)
                        log_warning("watching the terminal for keys: %m");
        }
        if (l->mon && l->mon->tick_ms)
                arm_timer(l->tick.fd, l->mon->tick_ms, l->mon->tick_ms);
        {
                uint64_t wd = notify_watchdog_interval_ms();

                if (wd) {
                        l->watchdog.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
                        if (l->watchdog.fd < 0 || watch(l, l->watchdog.fd, &l->watchdog.source) < 0)
                                log_warning("setting up the watchdog timer: %m");
                        else
                                arm_timer(l->watchdog.fd, wd, wd);
                }
        }
        if (l->mon && l->mon->started) {
                struct monitor_info info = {
                        .name = c->name,
                        .vcpus = c->vcpus,
                        .plugin_pid = l->plugin.pid,
                        .tap = l->tap.fd >= 0 ? l->tap.name : NULL,
                };

                l->mon->started(l->mon, &info);
        }
        return 0;
}

int launcher_run(const struct vm_config *config, struct monitor *mon, struct launch_result *res) {
        struct launcher l = {
                .config = config,
                .mon = mon,
                .res = res,
                .epoll_fd = -1,
                .sig = { { LOOP_SIGNAL }, -1 },
                .exit_ev = { { LOOP_EXIT_EVENT }, -1 },
                .countdown = { { LOOP_TIMER }, -1 },
                .tick = { { LOOP_TIMER }, -1 },
                .input = { { LOOP_INPUT }, -1 },
                .watchdog = { { LOOP_TIMER }, -1 },
                .plugin = PLUGIN_INIT,
                .tap = TAP_INIT,
                .kmsg_fd = -1,
                .notify = { { LOOP_SECCOMP }, -1 },
                .out = { .source = { LOOP_PLUGIN_OUTPUT }, .fd = -1, .stream = MONITOR_STDOUT },
                .err = { .source = { LOOP_PLUGIN_OUTPUT }, .fd = -1, .stream = MONITOR_STDERR },
        };
        int r;

        output_init(&l.out, MONITOR_STDOUT, mon, monitor_now_usec());
        output_init(&l.err, MONITOR_STDERR, mon, monitor_now_usec());
        memset(res, 0, sizeof(*res));
        snprintf(res->plugin_status, sizeof(res->plugin_status), "not started");
        r = setup(&l);
        if (r >= 0) {
                run_loop(&l);
                if (!l.plugin.reaped && !l.stopping)
                        begin_stop(&l, "the event loop ended");
        }

        /* Teardown, the reverse of setup, on every path. */
        if (l.vm)
                vm_stop_vcpus(l.vm);
        if (l.plugin.pid > 0) {
                plugin_kill_and_reap(&l.plugin);
                output_finish(&l.out);
                output_finish(&l.err);
                if (r >= 0)
                        decide_result(&l);
                else if (WIFSIGNALED(l.plugin.wait_status) || WIFEXITED(l.plugin.wait_status))
                        decide_result(&l);
        }
        /* After the reap: what the plugin left running in its group dies
         * with the group. */
        r = cgroup_remove(l.cgroup);
        if (r < 0)
                log_warning("limits: removing the plugin's cgroup: %s", strerror(-r));
        plugin_close(&l.plugin);
        server_free(l.server);
        tap_close(&l.tap);
        safe_close(l.kmsg_fd);
        seccomp_policy_free(&l.seccomp_prog);
        vm_free_detached(l.vm);
        safe_close(l.watchdog.fd);
        safe_close(l.tick.fd);
        safe_close(l.countdown.fd);
        safe_close(l.epoll_fd);
        if (l.mask_set) {
                struct signalfd_siginfo si;

                /* Consume what arrived during teardown: a late SIGTERM
                 * must not kill us before the last line is written. */
                while (l.sig.fd >= 0 && read(l.sig.fd, &si, sizeof(si)) == sizeof(si))
                        ;
                pthread_sigmask(SIG_SETMASK, &l.old_mask, NULL);
        }
        safe_close(l.sig.fd);
        if (mon && mon->exited)
                mon->exited(mon, res->exit_code, res->reason, res->plugin_status);
        return res->exit_code;
}
