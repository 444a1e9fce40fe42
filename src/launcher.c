#include "launcher.h"
#include "launcher_private.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
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
#include "control.h"
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
#include "stats.h"
#include "tap.h"
#include "util.h"
#include "vcpu.h"
#include "vm.h"

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

int launcher_watch(struct launcher *l, int fd, struct loop_source *src) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = src };

        return epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void launcher_arm_timer(int fd, uint64_t first_ms, uint64_t interval_ms) {
        struct itimerspec its = {
                .it_value = { .tv_sec = (time_t)(first_ms / 1000), .tv_nsec = (long)(first_ms % 1000) * 1000000L },
                .it_interval = { .tv_sec = (time_t)(interval_ms / 1000),
                                 .tv_nsec = (long)(interval_ms % 1000) * 1000000L },
        };

        timerfd_settime(fd, 0, &its, NULL);
}

/* Starts the countdown: the plugin is told through the shutdown eventfd
 * and has shutdown_timeout_ms before SIGKILL. */
static void begin_stop(struct launcher *l, const char *cause, const char *fmt, ...) _printf_(3, 4);
static void begin_stop(struct launcher *l, const char *cause, const char *fmt, ...) {
        va_list ap;

        if (l->stopping)
                return;
        l->stopping = true;
        l->cause = cause;
        va_start(ap, fmt);
        vsnprintf(l->stop_reason, sizeof(l->stop_reason), fmt, ap);
        va_end(ap);
        log_info("stopping: %s; the plugin has %u ms to exit", l->stop_reason, l->config->shutdown_timeout_ms);
        if (l->stop_requested)
                l->res->drain_by_usec = monitor_now_usec() + (uint64_t)l->config->shutdown_timeout_ms * 1000u +
                                        LAUNCHER_STOP_SLACK_MS * 1000u;
        if (l->vm)
                vm_signal_kill(l->vm);
        launcher_arm_timer(l->countdown.fd, l->config->shutdown_timeout_ms, 0);
        notify_stopping(l->stop_reason, l->config->shutdown_timeout_ms);
        if (l->mon)
                l->mon->stop_cause = cause;
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
static void terminal_gone(struct launcher *l, const char *cause, const char *why) {
        if (l->input.fd >= 0) {
                epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->input.fd, NULL);
                l->input.fd = -1;
        }
        if (!l->stopping) {
                l->stop_requested = true;
                begin_stop(l, cause, "%s", why);
        }
}

/* The monitors' snapshot, refreshed (stats.h). */
const struct vm_stats *launcher_stats(struct launcher *l) {
        enum stats_state state = l->stopping                ? STATS_STOPPING
                                 : !l->vm || !l->vm->started ? STATS_STARTING
                                 : l->paused                 ? STATS_PAUSED
                                                             : STATS_RUNNING;
        uint64_t now = monitor_now_usec();

        stats_take(l->stats, l->vm, state, now - l->start_usec, now);
        return l->stats;
}

/* As K in the TUI: the plugin dies now, the countdown shows why. */
static void kill_on_request(struct launcher *l, const char *cause, const char *why) {
        l->stop_requested = true;
        l->killed_on_request = true;
        if (!l->stopping)
                begin_stop(l, cause, "%s", why);
        kill_plugin(l);
}

static const struct vm_stats *control_stats(void *userdata) {
        return launcher_stats(userdata);
}

static pid_t control_plugin_pid(void *userdata) {
        struct launcher *l = userdata;

        return l->plugin.pid;
}

/* `vmlaunch ctl NAME stop`: the countdown, as on SIGTERM. */
static int control_stop(void *userdata) {
        struct launcher *l = userdata;

        if (l->stopping)
                return -EALREADY;
        l->stop_requested = true;
        begin_stop(l, LAUNCHER_CAUSE_CONTROL, "stop requested over the control socket");
        return 0;
}

static int control_kill(void *userdata) {
        kill_on_request(userdata, LAUNCHER_CAUSE_CONTROL, "kill requested over the control socket");
        return 0;
}

static int control_pause(void *userdata, bool pause) {
        struct launcher *l = userdata;

        if (l->stopping)
                return -ESRCH;
        if (!l->vm)
                return -EAGAIN;
        if (pause == l->paused)
                return -EALREADY;
        l->paused = pause;
        vm_hold_vcpus(l->vm, pause);
        log_info("vCPUs %s over the control socket", pause ? "paused" : "resumed");
        return 0;
}

/* The snapshot and the control socket, before anything starts: a VM
 * whose name is taken is a config error (exit 2).  The control wraps the
 * monitor, so that clients following events see what it sees.  Both are
 * freed by launcher_run after the exited event, not by the set-up
 * table's undo: the followers get that event too. */
int launcher_setup_control(struct launcher *l) {
        struct control_ops ops = {
                .userdata = l,
                .stats = control_stats,
                .plugin_pid = control_plugin_pid,
                .stop = control_stop,
                .kill = control_kill,
                .pause = control_pause,
        };
        char errbuf[256] = "";
        int r;

        l->start_usec = monitor_now_usec();
        r = stats_new(l->config->vcpus, &l->stats);
        if (r < 0)
                return log_err_errno(&l->setup_err, r, "the stats snapshot");
        if (!l->config->control.enabled)
                return 0;
        r = control_new(l->config, l->epoll_fd, &ops, l->mon, errbuf, sizeof(errbuf), &l->control);
        if (r == -EEXIST) {
                l->err_code = EXIT_VM_CONFIG;
                return log_err_set(&l->setup_err, r, "%s: %s", l->config->path, errbuf);
        }
        if (r == -ENOENT && !l->config->control.socket) {
                log_warning("%s: running without one", errbuf);
                return 0;
        }
        if (r < 0)
                return log_err_set(&l->setup_err, r, "%s", errbuf);
        l->mon = control_monitor(l->control);
        l->out.mon = l->mon;
        l->err.mon = l->mon;
        return 0;
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
                                begin_stop(l, LAUNCHER_CAUSE_SIGNAL, "%s received",
                                           si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
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
                                terminal_gone(l, LAUNCHER_CAUSE_SIGNAL, "SIGHUP received: the terminal hung up");
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
                const char *cause = reason == VM_STOP_VCPU_ERROR     ? LAUNCHER_CAUSE_CRASH
                                    : reason == VM_STOP_PLUGIN_ERROR ? LAUNCHER_CAUSE_PLUGIN_ERROR
                                                                     : LAUNCHER_CAUSE_VCPU_EXIT;

                begin_stop(l, cause, "%s", reason != VM_STOP_NONE ? l->vm->stop_detail : "a vCPU stopped");
        }
}

static void handle_input(struct launcher *l, uint32_t events) {
        enum monitor_action a;

        if (events & (EPOLLHUP | EPOLLERR)) {
                terminal_gone(l, LAUNCHER_CAUSE_MONITOR, "the terminal closed");
                return;
        }
        a = l->mon->input(l->mon);

        if (a == MONITOR_ACTION_STOP && !l->stopping) {
                l->stop_requested = true;
                begin_stop(l, LAUNCHER_CAUSE_MONITOR, "stop requested from the monitor");
        } else if (a == MONITOR_ACTION_KILL) {
                kill_on_request(l, LAUNCHER_CAUSE_MONITOR, "kill requested from the monitor");
        }
}

/* The start guard: a plugin that has not sent Start by now never will,
 * as far as anyone can tell; it is stopped as failed. */
static void start_timeout(struct launcher *l) {
        if (l->stopping || l->vm->started)
                return;
        set_result(l->res, EXIT_VM_FAILED, "hang-up: the plugin did not start the VM within %u ms",
                   l->start_timeout_ms);
        l->verdict = true;
        begin_stop(l, LAUNCHER_CAUSE_HANGUP, "%s", l->res->reason);
}

/* The reply watchdog: the first vCPU found waiting past the timeout for
 * the plugin's answer stops the VM, named with what it waits on. */
static void reply_watchdog(struct launcher *l) {
        uint64_t now = monitor_now_usec(), limit = (uint64_t)l->config->vcpu_reply_timeout_ms * 1000u;

        if (l->stopping)
                return;
        for (unsigned i = 0; i < l->vm->n_vcpus; i++) {
                uint64_t since, addr;
                uint32_t space;
                bool write;

                if (!vcpu_waiting(l->vm->vcpus[i], &since, &space, &addr, &write) || now < since ||
                    now - since <= limit)
                        continue;
                set_result(l->res, EXIT_VM_FAILED,
                           "watchdog: vCPU %u waited more than %u ms for the plugin's answer to its %s %s 0x%llx",
                           i, l->config->vcpu_reply_timeout_ms, write ? "write to" : "read of",
                           space == 0 ? "I/O port" : "MMIO address", (unsigned long long)addr);
                l->verdict = true;
                begin_stop(l, LAUNCHER_CAUSE_WATCHDOG, "%s", l->res->reason);
                return;
        }
}

/* stdout's reader went away (`vmlaunch ... | head -1`): the status stream
 * is all a headless caller has, so without it nobody sees the VM or its
 * end; it stops as on SIGTERM.  The fd leaves the loop: a pipe without
 * readers reports EPOLLERR for ever. */
static void handle_stdout_gone(struct launcher *l) {
        epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->stdout_gone.fd, NULL);
        l->stdout_gone.fd = safe_close(l->stdout_gone.fd);
        if (l->stopping)
                return;
        log_warning("stdout was closed by its reader: nobody reads the status lines; stopping the VM as on "
                    "SIGTERM");
        l->stop_requested = true;
        begin_stop(l, LAUNCHER_CAUSE_OUTPUT, "stdout closed: the status reader went away");
}

static void handle_timer(struct launcher *l, struct fd_source *src) {
        uint64_t ticks;

        if (read(src->fd, &ticks, sizeof(ticks)) < 0)
                return;
        if (src == &l->watchdog) {
                notify_watchdog();
        } else if (src == &l->start_timer) {
                start_timeout(l);
        } else if (src == &l->reply_timer) {
                reply_watchdog(l);
        } else if (src == &l->countdown) {
                log_warning("the plugin did not exit within %u ms; killing it", l->config->shutdown_timeout_ms);
                l->killed_at_deadline = true;
                kill_plugin(l);
        } else if (l->mon && l->mon->tick) {
                l->mon->tick(l->mon, launcher_stats(l));
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
        case LOOP_MONITOR_OUTPUT:
                handle_stdout_gone(l);
                break;
        case LOOP_PLUGIN_OUTPUT:
        case LOOP_CONNECTION:
        case LOOP_SINK:
        case LOOP_CONTROL:
                break;
        }
}

/* A full batch may have left a priority source out of it: ask them
 * directly, without waiting. */
static void poll_priority(struct launcher *l) {
        struct fd_source *srcs[] = { &l->sig,   &l->exit_ev,     &l->notify,      &l->countdown,
                                     &l->input, &l->start_timer, &l->reply_timer };
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
                        case LOOP_CONTROL:
                                control_handle(l->control, src, evs[i].events);
                                break;
                        case LOOP_SIGNAL:
                        case LOOP_EXIT_EVENT:
                        case LOOP_SECCOMP:
                        case LOOP_MONITOR_OUTPUT:
                        case LOOP_TIMER:
                        case LOOP_INPUT:
                                break;
                        }
                }
                now = monitor_now_usec();
                output_tick(&l->out, now);
                output_tick(&l->err, now);
                server_reap(l->server);
                control_reap(l->control);
        }
        sink_watch_all(-1);
}

/* After the plugin is gone: what its pipes still hold, within a bound (a
 * pipe holds at most /proc/sys/fs/pipe-max-size, but a process the plugin
 * left behind could keep writing). */
void launcher_output_finish(struct output *o) {
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

void launcher_decide_result(struct launcher *l) {
        struct launch_result *res = l->res;
        int st = l->plugin.wait_status;
        int vm_reason = l->vm ? atomic_load(&l->vm->stop_reason) : VM_STOP_NONE;

        if (WIFEXITED(st))
                snprintf(res->plugin_status, sizeof(res->plugin_status), "exited %d", WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
                snprintf(res->plugin_status, sizeof(res->plugin_status), "killed by SIG%s",
                         signal_name(WTERMSIG(st)));
        /* By default the stop's own cause; what the plugin's end shows
         * (a crash, a seccomp kill) overrides it below. */
        res->cause = l->cause ? l->cause : LAUNCHER_CAUSE_PLUGIN_EXIT;
        if (l->failed) {
                res->cause = LAUNCHER_CAUSE_ERROR;
                return;
        }
        if (l->verdict)
                return;
        if (l->violation) {
                res->cause = LAUNCHER_CAUSE_SECCOMP;
                seccomp_kill_result(l);
                return;
        }
        if (vm_reason == VM_STOP_VCPU_ERROR) {
                res->cause = LAUNCHER_CAUSE_CRASH;
                set_result(res, EXIT_VM_CRASHED, "crash: %s", l->vm->stop_detail);
                return;
        }
        if (vm_reason == VM_STOP_PLUGIN_ERROR) {
                res->cause = LAUNCHER_CAUSE_PLUGIN_ERROR;
                set_result(res, EXIT_VM_FAILED, "error: %s", l->vm->stop_detail);
                return;
        }
        if (WIFSIGNALED(st)) {
                int sig = WTERMSIG(st);

                if (!l->killed_at_deadline && !l->killed_on_request)
                        res->cause = sig == SIGSYS ? LAUNCHER_CAUSE_SECCOMP : LAUNCHER_CAUSE_CRASH;

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

/* The default policy, found once.  An installed vmlaunch finds its data
 * directory relative to its own executable (bin/ -> share/vmlaunch/),
 * so a tree installed with `cmake --install --prefix P`, staged with
 * DESTDIR or moved as a whole uses its own policy, not the one under the
 * prefix configured at build time nor the source tree's.  The binary in
 * the build tree (and the tests beside it) has no such neighbour and
 * uses the source tree's, the one it is built and tested with.  Anything
 * else falls back to the configured prefix, which then names the path
 * in the error if the file is missing. */
static char default_policy[PATH_MAX];

static void find_default_policy(void) {
        char exe[PATH_MAX], real[PATH_MAX], *slash;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        size_t len;
        int m;

        snprintf(default_policy, sizeof(default_policy), "%s", VMLAUNCH_POLICY_INSTALLED);
        if (n <= 0)
                return;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (!slash)
                return;
        *slash = '\0';
        m = snprintf(default_policy, sizeof(default_policy), "%s/" VMLAUNCH_BINDIR_TO_DATADIR "/%s", exe,
                     VMLAUNCH_POLICY_NAME);
        if (m > 0 && (size_t)m < sizeof(default_policy) && access(default_policy, R_OK) == 0) {
                /* Without the "bin/..", for --check and the logs. */
                if (realpath(default_policy, real))
                        snprintf(default_policy, sizeof(default_policy), "%s", real);
                return;
        }
        snprintf(default_policy, sizeof(default_policy), "%s", VMLAUNCH_POLICY_INSTALLED);
        if (!realpath(VMLAUNCH_BUILD_DIR, real))
                return;
        len = strlen(real);
        if (strncmp(exe, real, len) == 0 && (exe[len] == '\0' || exe[len] == '/'))
                snprintf(default_policy, sizeof(default_policy), "%s", VMLAUNCH_POLICY_SOURCE);
}

const char *launcher_default_policy(const struct vm_config *c) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        if (c && c->sandbox.seccomp_policy)
                return c->sandbox.seccomp_policy;
        pthread_once(&once, find_default_policy);
        return default_policy;
}

/* base.policy sits beside plugin.policy, installed or in the source tree:
 * the directory is the one the build recorded for plugin.policy. */
static const char *policy_sibling(const char *policy, const char *name, char *buf, size_t size) {
        const char *slash = strrchr(policy, '/');

        snprintf(buf, size, "%.*s%s", slash ? (int)(slash - policy + 1) : 0, policy, name);
        return buf;
}

const char *launcher_base_policy(const struct vm_config *c) {
        static char path[PATH_MAX];

        if (!c->sandbox.seccomp_base)
                return NULL;
        /* Beside vmlaunch's own default policy, wherever that was found
         * (installed beside the binary, under the prefix, or the source
         * tree's), never beside a policy the config names.  Even when
         * missing: the compiler then names it, and the VM does not start,
         * rather than every plugin dying before main(). */
        return policy_sibling(launcher_default_policy(NULL), "base.policy", path, sizeof(path));
}

int launcher_compile_policy(const struct vm_config *c, FILE *errors, struct sock_fprog *ret_prog) {
        return seccomp_policy_compile_with_base(launcher_default_policy(c), launcher_base_policy(c),
                                                c->sandbox.seccomp_log_failures, errors, ret_prog);
}

/* 1, or LAUNCHER_NESTED_FACTOR when this runs in a virtual machine: CPUID
 * leaf 1, ECX bit 31 is the hypervisor bit, which hypervisors set for
 * their guests and real CPUs leave clear. */
static unsigned nested_factor(void) {
#if defined(__x86_64__) || defined(__i386__)
        unsigned a, b, c, d;

        if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 31)))
                return LAUNCHER_NESTED_FACTOR;
#endif
        return 1;
}

/* A timerfd watched as `src`, armed for `first_ms` then every
 * `interval_ms` (0: once).  A failure is logged: the guard is lost, the
 * VM runs on. */
static void arm_guard(struct launcher *l, struct fd_source *src, uint64_t first_ms, uint64_t interval_ms,
                      const char *what) {
        src->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (src->fd < 0 || launcher_watch(l, src->fd, &src->source) < 0) {
                log_warning("setting up the %s: %m; it is off", what);
                src->fd = safe_close(src->fd);
                return;
        }
        launcher_arm_timer(src->fd, first_ms, interval_ms);
}

/* The guards against a VM that never starts or stops answering, and the
 * watch on stdout's reader: armed once the plugin runs. */
void launcher_arm_guards(struct launcher *l) {
        const struct vm_config *c = l->config;

        if (c->start_timeout_ms) {
                unsigned factor = nested_factor();

                /* A VM inside a VM: every exit of the plugin's set-up
                 * ioctls and of its guest goes through two hypervisors,
                 * and an emulated host (TCG) is slower still: a timeout
                 * sized for bare metal would call a slow start a hang.
                 * 10 is the ratio Android's virtualizationservice chose
                 * for its boot hang-up timeout (30 s, 300 s nested), and
                 * covers hardware-assisted nesting (a few times slower)
                 * with room; a user who knows better sets the key. */
                l->start_timeout_ms = c->start_timeout_ms > UINT_MAX / factor ? UINT_MAX
                                                                               : c->start_timeout_ms * factor;
                if (factor > 1)
                        log_info("running nested (CPUID hypervisor bit): start_timeout_ms %u x %u = %u ms",
                                 c->start_timeout_ms, factor, l->start_timeout_ms);
                arm_guard(l, &l->start_timer, l->start_timeout_ms, 0, "start timeout");
        }
        if (c->vcpu_reply_timeout_ms) {
                /* Checked four times a timeout (every 10 ms .. 1 s): a
                 * stall is caught within 1.25 timeouts, or one second
                 * past a long one, at 100 wake-ups a second at most. */
                uint64_t every = c->vcpu_reply_timeout_ms / 4;

                every = every < 10 ? 10 : every > 1000 ? 1000 : every;
                arm_guard(l, &l->reply_timer, every, every, "vCPU reply watchdog");
        }
        if (l->mon && l->mon->writes_stdout) {
                /* No events asked (a terminal would report typed keys as
                 * EPOLLIN): EPOLLERR and EPOLLHUP come anyway.  A dup, so
                 * that a sink may watch fd 1 itself (sink.h).  A regular
                 * file or /dev/null cannot be watched (EPERM) and has no
                 * reader to lose. */
                struct epoll_event ev = { .events = 0, .data.ptr = &l->stdout_gone.source };

                l->stdout_gone.fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
                if (l->stdout_gone.fd >= 0 && epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, l->stdout_gone.fd, &ev) < 0)
                        l->stdout_gone.fd = safe_close(l->stdout_gone.fd);
        }
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
                .start_timer = { { LOOP_TIMER }, -1 },
                .reply_timer = { { LOOP_TIMER }, -1 },
                .stdout_gone = { { LOOP_MONITOR_OUTPUT }, -1 },
                .plugin = PLUGIN_INIT,
                .tap = TAP_INIT,
                .kmsg_fd = -1,
                .plugin_end = -1,
                .notify = { { LOOP_SECCOMP }, -1 },
                .out = { .source = { LOOP_PLUGIN_OUTPUT }, .fd = -1, .stream = MONITOR_STDOUT },
                .err = { .source = { LOOP_PLUGIN_OUTPUT }, .fd = -1, .stream = MONITOR_STDERR },
        };
        int r;

        output_init(&l.out, MONITOR_STDOUT, mon, monitor_now_usec());
        output_init(&l.err, MONITOR_STDERR, mon, monitor_now_usec());
        memset(res, 0, sizeof(*res));
        snprintf(res->plugin_status, sizeof(res->plugin_status), "not started");
        r = launcher_setup_run(&l);
        if (r >= 0) {
                run_loop(&l);
                if (!l.plugin.reaped && !l.stopping)
                        begin_stop(&l, LAUNCHER_CAUSE_ERROR, "the event loop ended");
        }
        launcher_teardown(&l);
        if (!res->cause)
                res->cause = res->exit_code == EXIT_VM_CONFIG ? LAUNCHER_CAUSE_CONFIG : LAUNCHER_CAUSE_ERROR;
        /* l.mon: the control's tee, when there is one, hands it on. */
        if (l.mon)
                l.mon->stop_cause = res->cause;
        notify_exited(res->exit_code, res->reason);
        notify_close(LAUNCHER_NOTIFY_FLUSH_MS);
        if (l.mon && l.mon->exited)
                l.mon->exited(l.mon, res->exit_code, res->reason, res->plugin_status);
        /* After the last event, which the control's followers get too:
         * outside the set-up table, whose undo runs before it. */
        control_free(l.control, LAUNCHER_CONTROL_FLUSH_MS);
        stats_free(l.stats);
        return res->exit_code;
}
