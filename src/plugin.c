#include "plugin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "jail.h"
#include "lane.h"
#include "util.h"

extern char **environ;

/* The child between fork and exec: only async-signal-safe calls, no
 * allocation.  Any failure is written to `err_wr` as an int errno. */
_Noreturn static void child(const char *path, char *const argv[], char *const envp[], int null_fd,
                            int out_wr, int err_wr, int sock_fd, int lane_fd, int report_fd, pid_t parent) {
        sigset_t all;
        int e;

        /* Die with the launcher, so a crashed vmlaunch leaves no plugin. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                goto fail;
        /* Own process group: a terminal's ^C goes to vmlaunch, which stops
         * the plugin gracefully through the shutdown eventfd. */
        if (setpgid(0, 0) < 0)
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
                step = c->plugin.mounts[i].src;
                if ((r = jail_add_bind(j, c->plugin.mounts[i].src, c->plugin.mounts[i].dst,
                                       c->plugin.mounts[i].writable)) < 0)
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
        _cleanup_close_ int rep_rd = -1, rep_wr = -1;
        _cleanup_free_ char **argv = NULL;
        _cleanup_free_ char **envp = NULL;
        char sock_env[32], poll_env[32], lane_env[32];
        size_t n_env = 0, k = 0;
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
        if (fcntl(out_rd, F_SETFL, O_NONBLOCK) < 0 || fcntl(err_rd, F_SETFL, O_NONBLOCK) < 0)
                goto fail_fds;

        /* argv and envp are built here: the child must not allocate. */
        argv = calloc(config->plugin.n_args + 2, sizeof(*argv));
        while (environ && environ[n_env])
                n_env++;
        envp = calloc(n_env + 4, sizeof(*envp));
        if (!argv || !envp)
                return -ENOMEM;
        argv[0] = config->plugin.path;
        for (size_t i = 0; i < config->plugin.n_args; i++)
                argv[i + 1] = config->plugin.args[i];
        snprintf(sock_env, sizeof(sock_env), "CROSVM_SOCKET=%d", sock_fd);
        /* Our SDK polls its vCPU pipes this long (wire.h); others ignore it. */
        snprintf(poll_env, sizeof(poll_env), "VMLAUNCH_POLL_US=%u", config->poll_us);
        snprintf(lane_env, sizeof(lane_env), LANE_ENV "=%d", lane_fd);
        for (size_t i = 0; i < n_env; i++)
                if (strncmp(environ[i], "CROSVM_SOCKET=", 14) != 0 && strncmp(environ[i], "VMLAUNCH_POLL_US=", 17) != 0 &&
                    strncmp(environ[i], LANE_ENV "=", sizeof(LANE_ENV)) != 0)
                        envp[k++] = environ[i];
        envp[k++] = sock_env;
        envp[k++] = poll_env;
        if (lane_fd >= 0)
                envp[k++] = lane_env;

        if (config->sandbox.enabled) {
                struct jail_stdio stdio = { .in = null_fd, .out = out_wr, .err = err_wr, .keep_fds = { sock_fd, lane_fd } };

                r = build_jail(config, seccomp, &p->jail, errbuf, errlen);
                if (r < 0)
                        return r;
                r = jail_spawn(p->jail, config->plugin.path, argv, envp, &stdio, &pid, errbuf, errlen);
                if (r < 0) {
                        jail_free(p->jail);
                        p->jail = NULL;
                        return r;
                }
        } else {
                pid = fork();
                if (pid < 0) {
                        r = -errno;
                        snprintf(errbuf, errlen, "forking the plugin: %s", strerror(-r));
                        return r;
                }
                if (pid == 0)
                        child(config->plugin.path, argv, envp, null_fd, out_wr, err_wr, sock_fd, lane_fd, rep_wr, parent);

                /* exec closes rep_wr on success: EOF means it ran. */
                rep_wr = safe_close(rep_wr);
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

int plugin_try_reap(struct plugin *p) {
        int status;
        pid_t r;

        if (p->pid <= 0 || p->reaped)
                return 1;
        r = waitpid(p->pid, &status, WNOHANG);
        if (r < 0)
                return -errno;
        if (r == 0)
                return 0;
        p->reaped = true;
        p->wait_status = status;
        return 1;
}

void plugin_kill_and_reap(struct plugin *p) {
        int status;

        if (p->pid <= 0 || p->reaped)
                return;
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
                ;
        p->reaped = true;
        p->wait_status = status;
}

void plugin_close(struct plugin *p) {
        p->out_fd = safe_close(p->out_fd);
        p->err_fd = safe_close(p->err_fd);
        jail_free(p->jail);
        p->jail = NULL;
}
