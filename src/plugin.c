#include "plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/* The child between fork and exec: only async-signal-safe calls, no
 * allocation.  Any failure is written to `err_wr` as an int errno. */
_Noreturn static void child(const char *path, char *const argv[], char *const envp[], int null_fd,
                            int out_wr, int err_wr, int sock_fd, int lane_fd, int report_fd, int sync_fd,
                            pid_t parent) {
        sigset_t all;
        char go;
        int e;

        /* Die with the launcher, so a crashed vmlaunch leaves no plugin. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                goto fail;
        /* Own session and process group: a terminal's ^C goes to
         * vmlaunch, which stops the plugin gracefully through the shutdown
         * eventfd, and kill(0, ...) from the plugin reaches only itself. */
        if (setsid() < 0)
                goto fail;
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        sigemptyset(&all);
        if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
                goto fail;
        if (dup2(null_fd, 0) < 0 || dup2(out_wr, 1) < 0 || dup2(err_wr, 2) < 0)
                goto fail;
        /* The fds the plugin inherits beyond 0-2, at their own numbers. */
        if (fcntl(sock_fd, F_SETFD, 0) < 0 || (lane_fd >= 0 && fcntl(lane_fd, F_SETFD, 0) < 0))
                goto fail;
        /* No exec before the parent has placed us (cgroup, rlimits): EOF
         * instead of the byte means it gave up on us. */
        if (read(sync_fd, &go, 1) != 1) {
                errno = ECANCELED;
                goto fail;
        }
        execve(path, argv, envp);
fail:
        e = errno;
        if (write(report_fd, &e, sizeof(e)) < 0) {
                /* Nothing left to tell. */
        }
        _exit(127);
}

/* Builds the jail of DESIGN.md's sandbox from the config. */
static int build_jail(const struct vm_config *c, const struct sock_fprog *seccomp, struct jail **ret,
                      char *errbuf, size_t errlen) {
        static const char *const devices[] = { "/dev/full", "/dev/null", "/dev/urandom", "/dev/zero" };
        struct jail *j = NULL;
        const char *step = "building the jail";
        int r;

        r = jail_new(&j);
        if (r < 0)
                goto fail;
        step = "setting the jail root";
        if ((r = jail_set_root(j, c->plugin.root)) < 0)
                goto fail;
        for (size_t i = 0; i < ARRAY_SIZE(devices); i++) {
                step = devices[i];
                if ((r = jail_add_bind(j, devices[i], devices[i], true)) < 0)
                        goto fail;
        }
        if ((r = jail_add_executable(j, c->plugin.path, errbuf, errlen)) < 0) {
                jail_free(j);
                return r;
        }
        for (size_t i = 0; i < c->plugin.n_mounts; i++) {
                const struct vm_mount *m = &c->plugin.mounts[i];

                step = m->src;
                r = jail_add_bind(j, m->src, m->dst, m->writable);
                if (r == -EEXIST) {
                        snprintf(errbuf, errlen, "jail: plugin.mounts: %s on %s: %s is already the target of %s",
                                 m->src, m->dst, m->dst, jail_bind_source(j, m->dst));
                        jail_free(j);
                        return r;
                }
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < c->plugin.n_gid_maps; i++)
                if ((r = jail_add_gid_map(j, c->plugin.gid_maps[i].inner, c->plugin.gid_maps[i].outer,
                                          c->plugin.gid_maps[i].count)) < 0)
                        goto fail;
        jail_set_seccomp(j, seccomp);
        *ret = j;
        return 0;
fail:
        snprintf(errbuf, errlen, "jail: %s (plugin %s): %s", step, c->plugin.path, strerror(-r));
        jail_free(j);
        return r;
}

int plugin_spawn(const struct vm_config *config, int sock_fd, int lane_fd, const struct sock_fprog *seccomp,
                 struct plugin *p, char *errbuf, size_t errlen) {
        _cleanup_close_ int null_fd = -1, out_rd = -1, out_wr = -1, err_rd = -1, err_wr = -1;
        _cleanup_close_ int rep_rd = -1, rep_wr = -1, sync_rd = -1, sync_wr = -1;
        _cleanup_free_ char **argv = NULL;
        _cleanup_free_ char **envp = NULL;
        char sock_env[32], poll_env[32], lane_env[32];
        size_t k = 0;
        int fds[2], e = 0, r;
        pid_t pid, parent = getpid();
        ssize_t n;

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0 || pipe2(fds, O_CLOEXEC) < 0)
                goto fail_fds;
        out_rd = fds[0], out_wr = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                goto fail_fds;
        err_rd = fds[0], err_wr = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                goto fail_fds;
        rep_rd = fds[0], rep_wr = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                goto fail_fds;
        sync_rd = fds[0], sync_wr = fds[1];
        if (fcntl(out_rd, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_rd, F_SETFL, O_NONBLOCK) < 0)
                goto fail_fds;

        /* argv and envp are built here: the child must not allocate.
         * The environment is exactly the protocol's variables and then
         * plugin.env; nothing of ours (a secret, a path) goes along. */
        argv = calloc(config->plugin.n_args + 2, sizeof(*argv));
        envp = calloc(config->plugin.n_env + 4, sizeof(*envp));
        if (!argv || !envp)
                return -ENOMEM;
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

        if (config->sandbox.enabled) {
                struct jail_stdio stdio = { .in = null_fd, .out = out_wr, .err = err_wr, .keep_fds = { sock_fd, lane_fd } };

                r = build_jail(config, seccomp, &p->jail, errbuf, errlen);
                if (r < 0)
                        return r;
                jail_set_before_release(p->jail, p->before_release, p->before_release_data);
                r = jail_spawn(p->jail, config->plugin.path, argv, envp, &stdio, &pid, errbuf, errlen);
                if (r < 0) {
                        jail_free(p->jail);
                        p->jail = NULL;
                        return r;
                }
                p->notify_fd = jail_take_seccomp_listener(p->jail);
        } else {
                pid = fork();
                if (pid < 0) {
                        r = -errno;
                        snprintf(errbuf, errlen, "forking the plugin: %s", strerror(-r));
                        return r;
                }
                if (pid == 0)
                        child(config->plugin.path, argv, envp, null_fd, out_wr, err_wr, sock_fd, lane_fd, rep_wr,
                              sync_rd, parent);

                /* exec closes rep_wr on success: EOF means it ran. */
                rep_wr = safe_close(rep_wr);
                sync_rd = safe_close(sync_rd);
                r = p->before_release ? p->before_release(pid, p->before_release_data, errbuf, errlen) : 0;
                if (r < 0) {
                        int status;

                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        return r;
                }
                /* A child that died already has said why in the report. */
                if (write(sync_wr, "x", 1) != 1)
                        log_debug("releasing the plugin: %m");
                do
                        n = read(rep_rd, &e, sizeof(e));
                while (n < 0 && errno == EINTR);
                if (n == sizeof(e)) {
                        int status;

                        waitpid(pid, &status, 0);
                        snprintf(errbuf, errlen, "starting the plugin %s: %s", config->plugin.path, strerror(e));
                        return e > 0 ? -e : -EIO;
                }
        }
        p->pid = pid;
        p->out_fd = TAKE_FD(out_rd);
        p->err_fd = TAKE_FD(err_rd);
        p->reaped = false;
        return 0;

fail_fds:
        r = negative_errno();
        snprintf(errbuf, errlen, "preparing the plugin's fds: %s", strerror(-r));
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
