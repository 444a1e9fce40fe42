/* Set-up and teardown of a run, as one table of named steps each with
 * its undo (see setup_steps below).  The order is the one DESIGN.md
 * gives: the loop's fds, the policy, the VM, the socket and the tap, the
 * cgroup, then the plugin (before any vCPU thread exists), then what
 * watches it. */
#include "launcher_private.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "cgroup.h"
#include "jail.h"
#include "notify.h"
#include "seccomp_policy.h"
#include "server.h"
#include "util.h"
#include "vm.h"

/* The tap, before the plugin exists and while we may still have
 * CAP_NET_ADMIN.  GetNetConfig serves it (the first one, as crosvm). */
static int setup_network(struct launcher *l) {
        const struct vm_config *c = l->config;
        struct server_net net = { .tap_fd = -1 };
        struct log_err err = LOG_ERR_INIT;
        int r = 0;

        switch (c->network.mode) {
        case VM_NET_NONE:
                return 0;
        case VM_NET_CREATE:
                r = tap_create(&l->tap, &err);
                if (r >= 0)
                        r = tap_configure(&l->tap, c->network.host_ip, c->network.netmask, c->network.mac, &err);
                break;
        case VM_NET_TAP_NAME:
                r = tap_open_name(c->network.tap_name, &l->tap, &err);
                break;
        case VM_NET_TAP_FDS:
                /* Each given fd must be a tap; the first one is served. */
                for (size_t i = 0; i < c->network.n_tap_fds && r >= 0; i++) {
                        struct tap t = TAP_INIT;

                        r = tap_from_fd(c->network.tap_fds[i], i == 0 ? &l->tap : &t, &err);
                        if (r < 0)
                                log_err_set(&l->setup_err, r, "network.tap_fds: fd %d: %s", c->network.tap_fds[i],
                                            log_err_text(&err, r));
                        tap_close(&t);
                }
                if (r < 0)
                        return r;
                break;
        }
        if (r < 0) {
                /* Making and configuring a tap takes CAP_NET_ADMIN. */
                bool denied = c->network.mode == VM_NET_CREATE && (r == -EPERM || r == -EACCES);

                return log_err_set(&l->setup_err, r, "network: %s%s", log_err_text(&err, r),
                                   denied ? " (creating a tap needs root or CAP_NET_ADMIN; as an ordinary user, "
                                            "pass network.tap_fds or name a tap you own in network.tap_name)"
                                          : "");
        }
        net.tap_fd = l->tap.fd;
        net.host_ip = l->tap.host_ip;
        net.netmask = l->tap.netmask;
        memcpy(net.mac, l->tap.mac, sizeof(net.mac));
        server_set_net(l->server, &net);
        log_info("network: tap %s", l->tap.name);
        return 0;
}

/* vmlaunch's own fd table must hold what limits.* let a plugin make it
 * open: the soft limit goes up to the hard one first thing, and a config
 * that needs more than that is refused before the plugin starts (checked
 * once vm_new has checked vcpus against KVM's own limit). */
static int raise_own_nofile(struct launcher *l) {
        struct rlimit rl;

        (void)l;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        return 0;
}

static int check_own_nofile(struct launcher *l) {
        uint64_t need = vm_fds_needed(l->config);
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
                l->err_code = EXIT_VM_CONFIG;
                return log_err_set(&l->setup_err, -EMFILE,
                                   "%s: limits: connections + 2 x irq_events + 5 x vcpus + 128 = %llu fds, more "
                                   "than vmlaunch's RLIMIT_NOFILE allows (%llu): lower them or raise the hard limit",
                                   l->config->path, (unsigned long long)need, (unsigned long long)rl.rlim_cur);
        }
        return 0;
}

/* Before the plugin is released to exec: its cgroup.  (Its fd limit the
 * child sets itself: plugin_spawn, jail_set_nofile.) */
static int place_plugin(pid_t pid, void *userdata, struct log_err *err) {
        struct launcher *l = userdata;
        int r;

        r = cgroup_attach(l->cgroup, pid);
        if (r < 0)
                return log_err_errno(err, r, "placing the plugin in its cgroup");
        return 0;
}

/* ---- set-up and teardown: one table ----
 *
 * Each step makes one thing and names its undo.  launcher_setup_run()
 * runs them in order; the first that fails stops it, and
 * launcher_teardown() then undoes that step (an undo takes a half-made
 * step: every field starts out empty) and every step before it, in
 * reverse.  A run that set up completely is torn down by the same undos,
 * in the same order.  A step that fails fills l->setup_err (and
 * l->err_code where the config is at fault); launcher_setup_run() turns
 * that into the result and the line "setup: <step>: <what>". */

struct setup_step {
        const char *name;
        int (*run)(struct launcher *l);
        void (*undo)(struct launcher *l);       /* NULL: nothing to undo */
};

/* The signals the loop reads come through a signalfd, so they are blocked
 * first; SIGPIPE is ignored for the life of the process (a plugin that
 * closes its socket must not kill us). */
static int setup_signals(struct launcher *l) {
        sigset_t mask;
        int r;

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGWINCH);
        r = -pthread_sigmask(SIG_BLOCK, &mask, &l->old_mask);
        if (r < 0)
                return log_err_errno(&l->setup_err, r, "blocking the loop's signals");
        l->mask_set = true;
        l->sig.fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (l->sig.fd < 0)
                return log_err_errno(&l->setup_err, -errno, "setting up the event loop: the signalfd");
        return 0;
}

static void undo_signals(struct launcher *l) {
        if (l->mask_set) {
                struct signalfd_siginfo si;

                /* Consume what arrived during teardown: a late SIGTERM
                 * must not kill us before the last line is written. */
                while (l->sig.fd >= 0 && read(l->sig.fd, &si, sizeof(si)) == sizeof(si))
                        ;
                pthread_sigmask(SIG_SETMASK, &l->old_mask, NULL);
                l->mask_set = false;
        }
        l->sig.fd = safe_close(l->sig.fd);
}

static int setup_event_loop(struct launcher *l) {
        int r;

        l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        l->countdown.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        l->tick.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (l->epoll_fd < 0 || l->countdown.fd < 0 || l->tick.fd < 0)
                return log_err_errno(&l->setup_err, -errno, "setting up the event loop");
        if ((r = launcher_watch(l, l->sig.fd, &l->sig.source)) < 0 ||
            (r = launcher_watch(l, l->countdown.fd, &l->countdown.source)) < 0 ||
            (r = launcher_watch(l, l->tick.fd, &l->tick.source)) < 0)
                return log_err_errno(&l->setup_err, r, "setting up the event loop");
        return 0;
}

static void undo_event_loop(struct launcher *l) {
        l->tick.fd = safe_close(l->tick.fd);
        l->countdown.fd = safe_close(l->countdown.fd);
        l->epoll_fd = safe_close(l->epoll_fd);
}

static int setup_policy(struct launcher *l) {
        const char *policy = launcher_default_policy(l->config);
        int r;

        if (!l->config->sandbox.enabled)
                return 0;
        /* A policy error is a config error: nothing has started. */
        r = launcher_compile_policy(l->config, stderr, &l->seccomp_prog);
        if (r == -EINVAL) {
                l->err_code = EXIT_VM_CONFIG;
                return log_err_set(&l->setup_err, r, "sandbox.seccomp_policy %s: invalid (see above)", policy);
        }
        if (r < 0)
                return log_err_errno(&l->setup_err, r, "sandbox.seccomp_policy %s", policy);
        l->seccomp = &l->seccomp_prog;
        return 0;
}

static void undo_policy(struct launcher *l) {
        seccomp_policy_free(&l->seccomp_prog);
        l->seccomp = NULL;
}

static int setup_vm(struct launcher *l) {
        char why[256] = "";
        int r;

        r = vm_new(l->config, &l->vm, why, sizeof(why));
        if (r == -E2BIG) {
                l->err_code = EXIT_VM_CONFIG;
                return log_err_set(&l->setup_err, r, "%s: %s", l->config->path, why[0] ? why : "?");
        }
        if (r < 0)
                return log_err_set(&l->setup_err, r, "creating the VM: %s (%s): %s", why[0] ? why : "?",
                                   l->config->kvm_device, strerror(-r));
        return 0;
}

/* Detached: a vCPU thread stuck in the kernel must not hold up the exit. */
static void undo_vm(struct launcher *l) {
        vm_free_detached(l->vm);
        l->vm = NULL;
}

static int setup_server(struct launcher *l) {
        int r;

        l->exit_ev.fd = l->vm->exit_fd;
        if ((r = launcher_watch(l, l->exit_ev.fd, &l->exit_ev.source)) < 0 ||
            (r = server_new(l->vm, l->epoll_fd, &l->server)) < 0)
                return log_err_errno(&l->setup_err, r, "setting up the main socket");
        return 0;
}

static void undo_server(struct launcher *l) {
        server_free(l->server);
        l->server = NULL;
}

static void undo_network(struct launcher *l) {
        tap_close(&l->tap);
}

static int setup_main_socket(struct launcher *l) {
        int sv[2], r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return log_err_errno(&l->setup_err, -errno, "creating the main socket");
        l->plugin_end = sv[1];
        r = server_add_connection(l->server, sv[0]);
        if (r < 0)
                return log_err_errno(&l->setup_err, r, "registering the main socket");
        return 0;
}

/* The server closes its end; ours goes here unless the spawn took it. */
static void undo_main_socket(struct launcher *l) {
        l->plugin_end = safe_close(l->plugin_end);
}

/* Reading the kernel log may take the privilege dropped below. */
static int setup_kernel_log(struct launcher *l) {
        if (l->seccomp) {
                l->kmsg_fd = audit_open();
                if (l->kmsg_fd < 0)
                        log_debug("no kernel log (%s): a seccomp kill will not name its syscall",
                                  strerror(-l->kmsg_fd));
        }
        return 0;
}

static void undo_kernel_log(struct launcher *l) {
        l->kmsg_fd = safe_close(l->kmsg_fd);
}

static int setup_cgroup(struct launcher *l) {
        const char *controllers = NULL;
        int r;

        r = cgroup_new(l->config, &l->cgroup, &l->setup_err);
        if (r < 0)
                return r;
        if (l->setup_err.msg[0])
                log_warning("%s", l->setup_err.msg);
        l->setup_err.msg[0] = '\0';
        for (size_t i = 0; cgroup_path(l->cgroup, i, &controllers); i++)
                log_debug("limits: the plugin's %s cgroup is %s", controllers, cgroup_path(l->cgroup, i, NULL));
        l->plugin.before_release = place_plugin;
        l->plugin.before_release_data = l;
        return 0;
}

/* After the plugin's reap: what it left running in its group dies with
 * the group. */
static void undo_cgroup(struct launcher *l) {
        int r = cgroup_remove(l->cgroup);

        l->cgroup = NULL;
        if (r < 0)
                log_warning("limits: removing the plugin's cgroup: %s", strerror(-r));
}

/* The plugin starts before any vCPU thread exists. */
static int setup_plugin(struct launcher *l) {
        int r;

        r = plugin_spawn(l->config, l->plugin_end, l->vm->lane_fd, l->seccomp, &l->plugin, &l->setup_err);
        /* The plugin has its copy (or failed): ours would only keep the
         * socket open past the plugin's exit. */
        l->plugin_end = safe_close(l->plugin_end);
        return r;
}

/* The plugin's end, reaped; its last output read; what it died of made
 * the result (unless set-up failed: the result says why then). */
static void undo_plugin(struct launcher *l) {
        if (l->plugin.pid > 0) {
                plugin_kill_and_reap(&l->plugin);
                launcher_output_finish(&l->out);
                launcher_output_finish(&l->err);
                launcher_decide_result(l);
        }
        /* After the plugin's last lines: the counters are final. */
        if (l->vm && l->stats && l->mon && l->mon->final_stats)
                l->mon->final_stats(l->mon, launcher_stats(l));
        plugin_close(&l->plugin);
}

/* The vCPU threads start when the plugin says Start, in the loop; they
 * stop before the plugin is killed, so that none waits on its answer. */
static int setup_vcpus(struct launcher *l) {
        (void)l;
        return 0;
}

static void undo_vcpus(struct launcher *l) {
        vm_stop_vcpus(l->vm);
}

/* The jail and the tap exist: nothing privileged is left to do. */
static int setup_capabilities(struct launcher *l) {
        int r;

        (void)l;
        r = jail_drop_own_capabilities();
        if (r < 0)
                log_warning("dropping the launcher's capabilities: %s", strerror(-r));
        return 0;
}

/* With the listener, a violation is named from it: the kernel log is
 * only the fallback. */
static int setup_listener(struct launcher *l) {
        l->notify.fd = l->plugin.notify_fd;
        if (l->notify.fd >= 0) {
                l->kmsg_fd = safe_close(l->kmsg_fd);
                if (launcher_watch(l, l->notify.fd, &l->notify.source) < 0)
                        log_warning("watching the seccomp listener: %m");
        }
        return 0;
}

static int setup_output(struct launcher *l) {
        int r;

        l->out.fd = l->plugin.out_fd;
        l->err.fd = l->plugin.err_fd;
        if ((r = launcher_watch(l, l->out.fd, &l->out.source)) < 0 ||
            (r = launcher_watch(l, l->err.fd, &l->err.source)) < 0)
                return log_err_errno(&l->setup_err, r, "watching the plugin's output");
        return 0;
}

static int setup_terminal(struct launcher *l) {
        if (l->mon && l->mon->input_fd >= 0 && l->mon->input) {
                l->input.fd = l->mon->input_fd;
                if (launcher_watch(l, l->input.fd, &l->input.source) < 0)
                        log_warning("watching the terminal for keys: %m");
        }
        return 0;
}

static int setup_timers(struct launcher *l) {
        uint64_t wd = notify_watchdog_interval_ms();

        if (l->mon && l->mon->tick_ms)
                launcher_arm_timer(l->tick.fd, l->mon->tick_ms, l->mon->tick_ms);
        if (wd) {
                l->watchdog.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
                if (l->watchdog.fd < 0 || launcher_watch(l, l->watchdog.fd, &l->watchdog.source) < 0)
                        log_warning("setting up the watchdog timer: %m");
                else
                        launcher_arm_timer(l->watchdog.fd, wd, wd);
        }
        return 0;
}

static void undo_timers(struct launcher *l) {
        l->watchdog.fd = safe_close(l->watchdog.fd);
}

static int setup_guards(struct launcher *l) {
        launcher_arm_guards(l);
        return 0;
}

static void undo_guards(struct launcher *l) {
        l->stdout_gone.fd = safe_close(l->stdout_gone.fd);
        l->reply_timer.fd = safe_close(l->reply_timer.fd);
        l->start_timer.fd = safe_close(l->start_timer.fd);
}

static int setup_monitor(struct launcher *l) {
        if (l->mon && l->mon->started) {
                struct monitor_info info = {
                        .name = l->config->name,
                        .vcpus = l->config->vcpus,
                        .plugin_pid = l->plugin.pid,
                        .tap = l->tap.fd >= 0 ? l->tap.name : NULL,
                };

                l->mon->started(l->mon, &info);
        }
        return 0;
}

static const struct setup_step setup_steps[] = {
        { "own fd limit", raise_own_nofile, NULL },
        { "signals", setup_signals, undo_signals },
        { "event loop", setup_event_loop, undo_event_loop },
        { "control", launcher_setup_control, NULL },
        { "seccomp policy", setup_policy, undo_policy },
        { "vm", setup_vm, undo_vm },
        { "fd limit check", check_own_nofile, NULL },
        { "server", setup_server, undo_server },
        { "network", setup_network, undo_network },
        { "main socket", setup_main_socket, undo_main_socket },
        { "kernel log", setup_kernel_log, undo_kernel_log },
        { "cgroup", setup_cgroup, undo_cgroup },
        { "plugin", setup_plugin, undo_plugin },
        { "vcpus", setup_vcpus, undo_vcpus },
        { "capabilities", setup_capabilities, NULL },
        { "seccomp listener", setup_listener, NULL },
        { "plugin output", setup_output, NULL },
        { "terminal", setup_terminal, NULL },
        { "timers", setup_timers, undo_timers },
        { "guards", setup_guards, undo_guards },
        { "monitor", setup_monitor, NULL },
};

/* Runs the steps in order up to the first failure: 0, or its -errno with
 * the result set ("error: <what>" or "config: <what>") and the line
 * "setup: <step>: <what>" logged.  l->n_setup_done counts the steps to
 * undo, the failed one included. */
int launcher_setup_run(struct launcher *l) {
        for (size_t i = 0; i < ARRAY_SIZE(setup_steps); i++) {
                const struct setup_step *s = &setup_steps[i];
                const char *what;
                int r;

                l->setup_err.msg[0] = '\0';
                l->err_code = EXIT_VM_FAILED;
                l->n_setup_done = i + 1;
                r = s->run(l);
                if (r >= 0)
                        continue;
                what = log_err_text(&l->setup_err, r);
                log_error("setup: %s: %s", s->name, what);
                l->res->exit_code = l->err_code;
                snprintf(l->res->reason, sizeof(l->res->reason), "%s: %s",
                         l->err_code == EXIT_VM_CONFIG ? "config" : "error", what);
                /* The plugin (if it runs) dies in the undo: its end is not
                 * the result. */
                l->failed = true;
                return r;
        }
        return 0;
}

/* The undos of the steps that ran, in reverse. */
void launcher_teardown(struct launcher *l) {
        while (l->n_setup_done > 0) {
                const struct setup_step *s = &setup_steps[--l->n_setup_done];

                if (s->undo)
                        s->undo(l);
        }
}

