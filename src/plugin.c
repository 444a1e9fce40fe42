#include "plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "jail.h"
#include "lane.h"
#include "log.h"
#include "util.h"

/* True for "NAME=..." where NAME is one of the variables vmlaunch sets. */
static bool protocol_variable(const char *entry) {
        static const char *const names[] = { "CROSVM_SOCKET=", "VMLAUNCH_POLL_US=", LANE_ENV "=" };

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (strncmp(entry, names[i], strlen(names[i])) == 0)
                        return true;
        return false;
}

/* Builds the jail of DESIGN.md's sandbox from the config. */
static int build_jail(const struct vm_config *c, const struct sock_fprog *seccomp, struct jail *j,
                      struct log_err *err) {
        static const char *const devices[] = { "/dev/full", "/dev/null", "/dev/urandom", "/dev/zero" };
        int r;

        if ((r = jail_set_root(j, c->plugin.root)) < 0)
                return log_err_errno(err, r, "jail: setting the jail root (plugin %s)", c->plugin.path);
        for (size_t i = 0; i < ARRAY_SIZE(devices); i++)
                if ((r = jail_add_bind(j, devices[i], devices[i], true)) < 0)
                        return log_err_errno(err, r, "jail: %s (plugin %s)", devices[i], c->plugin.path);
        if ((r = jail_add_executable(j, c->plugin.path, err)) < 0)
                return r;
        for (size_t i = 0; i < c->plugin.n_mounts; i++) {
                const struct vm_mount *m = &c->plugin.mounts[i];

                r = jail_add_bind(j, m->src, m->dst, m->writable);
                if (r == -EEXIST)
                        return log_err_set(err, r, "jail: plugin.mounts: %s on %s: %s is already the target of %s",
                                           m->src, m->dst, m->dst, jail_bind_source(j, m->dst));
                if (r < 0)
                        return log_err_errno(err, r, "jail: %s (plugin %s)", m->src, c->plugin.path);
        }
        for (size_t i = 0; i < c->plugin.n_gid_maps; i++)
                if ((r = jail_add_gid_map(j, c->plugin.gid_maps[i].inner, c->plugin.gid_maps[i].outer,
                                          c->plugin.gid_maps[i].count)) < 0)
                        return log_err_errno(err, r, "jail: adding a gid map (plugin %s)", c->plugin.path);
        jail_set_seccomp(j, seccomp);
        return 0;
}

int plugin_spawn(const struct vm_config *config, int sock_fd, int lane_fd, const struct sock_fprog *seccomp,
                 struct plugin *p, struct log_err *err) {
        _cleanup_close_ int null_fd = -1, out_rd = -1, out_wr = -1, err_rd = -1, err_wr = -1;
        _cleanup_free_ char **argv = NULL;
        _cleanup_free_ char **envp = NULL;
        char sock_env[32], poll_env[32], lane_env[32];
        struct jail_stdio stdio;
        struct jail *j = NULL;
        size_t k = 0;
        int fds[2], r;
        pid_t pid;

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0 || pipe2(fds, O_CLOEXEC) < 0)
                goto fail_fds;
        out_rd = fds[0], out_wr = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                goto fail_fds;
        err_rd = fds[0], err_wr = fds[1];
        if (fcntl(out_rd, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_rd, F_SETFL, O_NONBLOCK) < 0)
                goto fail_fds;

        /* argv and envp are built here: the child must not allocate.
         * The environment is exactly the protocol's variables and then
         * plugin.env; nothing of ours (a secret, a path) goes along. */
        argv = calloc(config->plugin.n_args + 2, sizeof(*argv));
        envp = calloc(config->plugin.n_env + 4, sizeof(*envp));
        if (!argv || !envp)
                return log_err_errno(err, -ENOMEM, "preparing the plugin's arguments and environment");
        argv[0] = config->plugin.path;
        for (size_t i = 0; i < config->plugin.n_args; i++)
                argv[i + 1] = config->plugin.args[i];
        snprintf(sock_env, sizeof(sock_env), "CROSVM_SOCKET=%d", sock_fd);
        /* Our SDK polls its vCPU pipes this long (wire.h); others ignore it. */
        snprintf(poll_env, sizeof(poll_env), "VMLAUNCH_POLL_US=%u", config->poll_us);
        snprintf(lane_env, sizeof(lane_env), LANE_ENV "=%d", lane_fd);
        envp[k++] = sock_env;
        envp[k++] = poll_env;
        if (lane_fd >= 0)
                envp[k++] = lane_env;
        /* The protocol's variables win over a plugin.env entry of the
         * same name (config validation refuses those anyway). */
        for (size_t i = 0; i < config->plugin.n_env; i++)
                if (!protocol_variable(config->plugin.env[i]))
                        envp[k++] = config->plugin.env[i];

        /* Jailed or not, one start sequence (jail.h): the sandbox only
         * adds its namespaces, mounts, capability drop and filter. */
        r = jail_new(&j);
        if (r < 0)
                return log_err_errno(err, r, "building the plugin's jail");
        if (config->sandbox.enabled)
                r = build_jail(config, seccomp, j, err);
        else
                jail_set_plain(j);
        if (r < 0)
                goto fail;
        jail_set_before_release(j, p->before_release, p->before_release_data);
        jail_set_nofile(j, config->limits.nofile);
        stdio = (struct jail_stdio){ .in = null_fd, .out = out_wr, .err = err_wr, .keep_fds = { sock_fd, lane_fd } };
        r = jail_spawn(j, config->plugin.path, argv, envp, &stdio, &pid, err);
        if (r < 0)
                goto fail;
        p->notify_fd = jail_take_seccomp_listener(j);
        p->jail = j;
        p->pid = pid;
        p->out_fd = TAKE_FD(out_rd);
        p->err_fd = TAKE_FD(err_rd);
        p->reaped = false;
        return 0;

fail_fds:
        return log_err_errno(err, negative_errno(), "preparing the plugin's fds");
fail:
        jail_free(j);
        return r;
}

/* The exit in a siginfo as a wait status (WIFEXITED and friends). */
static int wait_status(const siginfo_t *si) {
        if (si->si_code == CLD_EXITED)
                return (si->si_status & 0xff) << 8;
        return (si->si_status & 0x7f) | (si->si_code == CLD_DUMPED ? 0x80 : 0);
}

/* One waitid on the plugin: 1 it exited (reaped), 0 it has not.  A
 * ptrace-stop is reported to a tracer whatever the flags, and a plugin
 * that PTRACE_TRACEMEs makes us its tracer: such a stop is not an exit.
 * The plugin is detached instead, with the signal it stopped on (but a
 * SIGTRAP, which only tracing made), so it runs on as if untraced: we
 * never meant to trace it, and left stopped it would hang the VM until
 * the countdown. */
static int wait_once(struct plugin *p, int flags) {
        siginfo_t si;

        for (;;) {
                memset(&si, 0, sizeof(si));
                if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | flags) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (si.si_pid == 0)
                        return 0;
                switch (si.si_code) {
                case CLD_EXITED:
                case CLD_KILLED:
                case CLD_DUMPED:
                        p->reaped = true;
                        p->wait_status = wait_status(&si);
                        return 1;
                case CLD_TRAPPED:
                case CLD_STOPPED:
                        ptrace(PTRACE_DETACH, p->pid, NULL,
                               (void *)(long)(si.si_code == CLD_TRAPPED && si.si_status != SIGTRAP ? si.si_status : 0));
                        break;
                default:
                        break;
                }
        }
}

int plugin_try_reap(struct plugin *p) {
        if (p->pid <= 0 || p->reaped)
                return 1;
        return wait_once(p, WNOHANG);
}

void plugin_kill_and_reap(struct plugin *p) {
        if (p->pid <= 0 || p->reaped)
                return;
        kill(p->pid, SIGKILL);
        /* Blocking: 1 once it exited.  An error (ECHILD) leaves nothing
         * to wait for either. */
        if (wait_once(p, 0) < 0)
                p->reaped = true;
}

void plugin_close(struct plugin *p) {
        p->out_fd = safe_close(p->out_fd);
        p->err_fd = safe_close(p->err_fd);
        p->notify_fd = safe_close(p->notify_fd);
        jail_free(p->jail);
        p->jail = NULL;
}
