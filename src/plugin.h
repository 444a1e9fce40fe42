/* The plugin process: spawned with the main socket passed as crosvm does
 * (the fd number in CROSVM_SOCKET, the fd itself inherited), its stdout
 * and stderr captured through pipes, stdin on /dev/null, in its own
 * session (jailed or not).
 *
 * The child gets exactly: 0 (/dev/null), 1 and 2 (our pipes), the
 * socket and the lanes' memfd; every other fd, even one our own parent
 * leaked to us without CLOEXEC, is closed on exec.  Jailed or not, it
 * starts through the one sequence of jail.h (a plain jail unsandboxed):
 * own session, default signal dispositions, an empty signal mask.
 * Its environment is exactly, in this order: CROSVM_SOCKET,
 * VMLAUNCH_POLL_US, VMLAUNCH_LANE_FD (when lanes are offered), then the
 * entries of plugin.env; nothing of vmlaunch's own environment. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct vm_config;
struct jail;
struct log_err;

struct plugin {
        pid_t pid;              /* > 0 while not reaped */
        int out_fd;             /* read ends, nonblocking, CLOEXEC */
        int err_fd;
        int notify_fd;          /* the jail's seccomp listener (jail_take_seccomp_listener), or -1 */
        bool reaped;
        int wait_status;        /* as waitpid's, valid once reaped */
        struct jail *jail;      /* how it was started (jail.h; a plain one unsandboxed): freed by plugin_close */
        /* Set by the caller before plugin_spawn(), or NULL: called with the
         * child's pid before the child may exec (jailed or not), to place
         * it in its cgroup (its fd limit comes from limits.nofile,
         * set by the child itself); < 0 fails the spawn. */
        int (*before_release)(pid_t pid, void *userdata, struct log_err *err);
        void *before_release_data;
};

#define PLUGIN_INIT { .pid = -1, .out_fd = -1, .err_fd = -1, .notify_fd = -1 }

/* Spawns the plugin with `sock_fd` (the plugin's end of the main socket;
 * still ours afterwards: the caller closes it) and, if >= 0, `lane_fd`
 * (the lanes' memfd, lane.h; also stays ours), each inherited at its own
 * number and named in CROSVM_SOCKET and VMLAUNCH_LANE_FD.  With sandbox.enabled the
 * plugin starts in the jail (jail.h) under `seccomp` (may be NULL); without,
 * in a plain jail: the same start sequence without the sandbox.  Fails if
 * anything up to and including exec fails; `err` (log.h) then says which
 * step, on what, and the errno, on every failing path. */
int plugin_spawn(const struct vm_config *config, int sock_fd, int lane_fd, const struct sock_fprog *seccomp,
                 struct plugin *p, struct log_err *err);

/* Reaps the plugin if it has exited: 1 reaped, 0 still running, -errno.
 * A stop is not an exit: a plugin that made itself our tracee and
 * stopped is detached and runs on. */
int plugin_try_reap(struct plugin *p);

/* SIGKILLs the plugin if it still runs, and reaps it (blocking). */
void plugin_kill_and_reap(struct plugin *p);

/* Closes the output pipes and the listener, and frees the jail. */
void plugin_close(struct plugin *p);
