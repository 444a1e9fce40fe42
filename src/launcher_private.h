/* What launcher.c (the loop, the result) and launcher_setup.c (set-up
 * and teardown) share: the launcher's state, and the loop's helpers the
 * set-up steps use.  Private to those two files. */
#pragma once

#include <linux/filter.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "launcher.h"
#include "log.h"
#include "loop.h"
#include "monitor.h"
#include "output.h"
#include "plugin.h"
#include "tap.h"

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
        struct fd_source start_timer;   /* start_timeout_ms, one-shot; or -1 */
        struct fd_source reply_timer;   /* vcpu_reply_timeout_ms checks; or -1 */
        struct fd_source stdout_gone;   /* the monitor's stdout, for its reader going away; or -1 */
        unsigned start_timeout_ms;      /* the configured one, scaled when nested */
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
        struct control *control;        /* the control socket, or NULL (control.h) */
        struct vm_stats *stats;         /* the monitors' snapshot (stats.h) */
        uint64_t start_usec;
        bool paused;                    /* held by a control client */
        bool verdict;                   /* a guard (hang-up, watchdog) set the result */
        const char *cause;              /* the stop's LAUNCHER_CAUSE_*, once stopping */
        char stop_reason[160];

        /* Set-up (setup_steps): how many steps ran, and why the last one
         * failed (the exit code: EXIT_VM_FAILED unless the config is at
         * fault). */
        size_t n_setup_done;
        struct log_err setup_err;
        int err_code;
        int plugin_end;                 /* the plugin's end of the main socket until it is spawned, or -1 */
};

/* Adds `fd` to the loop (EPOLLIN) as `src`: 0 or -errno. */
int launcher_watch(struct launcher *l, int fd, struct loop_source *src);
/* Arms the timerfd `fd`: first expiry, then every interval (0: once). */
void launcher_arm_timer(int fd, uint64_t first_ms, uint64_t interval_ms);
/* Reads what is left in a plugin output pipe and ends its last line. */
void launcher_output_finish(struct output *o);
/* Once the plugin is reaped: its status, and the result from why it ended. */
void launcher_decide_result(struct launcher *l);

/* Set-up: runs the steps of launcher_setup.c in order up to the first
 * failure.  0; or -errno, with res set ("error: <what>" or, when the
 * config is at fault, "config: <what>") and "setup: <step>: <what>"
 * logged.  Either way launcher_teardown() undoes what ran. */
int launcher_setup_run(struct launcher *l);

/* The guards against a VM that never starts or stops answering
 * (start_timeout_ms, vcpu_reply_timeout_ms) and the watch on stdout's
 * reader: armed once the plugin runs.  A guard that cannot be armed is
 * logged and off; the VM runs on. */
void launcher_arm_guards(struct launcher *l);

/* The stats snapshot and the control socket (a set-up step). */
int launcher_setup_control(struct launcher *l);
/* The monitors' snapshot, refreshed now. */
const struct vm_stats *launcher_stats(struct launcher *l);
/* Undoes the steps that ran, the last first; then nothing is left of the
 * run (fds, the tap, the cgroup, the plugin, the signal mask). */
void launcher_teardown(struct launcher *l);
