/* The jail, for real: user, pid, mount, net, IPC, UTS and cgroup
 * namespaces, its own session, the tmpfs root, binds and their targets,
 * capabilities, no_new_privs.  jail_probe checks from
 * the inside; the errors are checked from the outside.  Needs root (the
 * extra gid map) and user namespaces; no KVM. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "jail.h"
#include "config.h"
#include "log.h"
#include "plugin.h"
#include "seccomp_policy.h"
#include "test_util.h"

#define PROBE TEST_PLUGIN_DIR "/jail_probe"

extern char **environ;

struct run {
        int status;
        char err[8192];
};

/* Spawns `exe` in `j` with `args`; collects stdout and stderr together,
 * and the status. */
static int spawn_in(struct jail *j, const char *exe, const char *const *args, struct run *out,
                    struct log_err *err) {
        int sv[2], errp[2], null_fd;
        char *argv[16];
        char env_sock[32];
        char *envp[] = { env_sock, NULL };
        struct jail_stdio stdio;
        size_t k = 0, len = 0;
        pid_t pid;
        int r;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(pipe2(errp, O_CLOEXEC), 0);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        argv[k++] = (char *)exe;
        for (size_t i = 0; args && args[i]; i++)
                argv[k++] = (char *)args[i];
        argv[k] = NULL;
        snprintf(env_sock, sizeof(env_sock), "CROSVM_SOCKET=%d", sv[1]);
        stdio = (struct jail_stdio){ .in = null_fd, .out = errp[1], .err = errp[1], .keep_fds = { sv[1], -1 } };
        r = jail_spawn(j, exe, argv, envp, &stdio, &pid, err);
        close(errp[1]);
        close(sv[1]);
        close(null_fd);
        if (r == 0) {
                ssize_t n;

                while ((n = read(errp[0], out->err + len, sizeof(out->err) - 1 - len)) > 0)
                        len += (size_t)n;
                out->err[len] = '\0';
                ck_assert_int_eq(waitpid(pid, &out->status, 0), pid);
        }
        close(errp[0]);
        close(sv[0]);
        return r;
}

static int spawn_probe(struct jail *j, const char *const *args, struct run *out, struct log_err *err) {
        return spawn_in(j, PROBE, args, out, err);
}

/* The probe's jail, as the launcher builds it. */
static struct jail *probe_jail(void) {
        struct jail *j = NULL;
        struct log_err err = LOG_ERR_INIT;

        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_int_eq(jail_add_bind(j, "/dev/null", "/dev/null", true), 0);
        ck_assert_int_eq(jail_add_bind(j, "/dev/urandom", "/dev/urandom", true), 0);
        ck_assert_msg(jail_add_executable(j, PROBE, &err) == 0, "%s", err.msg);
        return j;
}

START_TEST(test_probe_inside) {
        char ro[] = "/tmp/vmlaunch-jail-ro-XXXXXX", rw[] = "/tmp/vmlaunch-jail-rw-XXXXXX";
        const char *args[] = { "--ro", "/mnt/ro", "--rw", "/mnt/rw", "--gid-map", "1000 1000 1", NULL };
        struct jail *j = probe_jail();
        struct run run;
        struct log_err err = LOG_ERR_INIT;

        ck_assert_ptr_nonnull(mkdtemp(ro));
        ck_assert_ptr_nonnull(mkdtemp(rw));
        ck_assert_int_eq(jail_add_bind(j, ro, "/mnt/ro", false), 0);
        ck_assert_int_eq(jail_add_bind(j, rw, "/mnt/rw", true), 0);
        ck_assert_int_eq(jail_add_gid_map(j, 1000, 1000, 1), 0);
        ck_assert_msg(spawn_probe(j, args, &run, &err) == 0, "%s", err.msg);
        ck_assert_msg(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0, "probe: %s", run.err);
        ck_assert_ptr_nonnull(strstr(run.err, "all checks passed"));
        jail_free(j);
        rmdir(ro);
        rmdir(rw);
}
END_TEST

static bool probe_under_tmp(void) {
        return strncmp(PROBE, "/tmp/", 5) == 0;
}

/* Runs a jail_spawn of the probe in a child process whose /tmp is `tmp`
 * (a bind in its own mount namespace, so that what it leaves there is
 * ours to see, whatever runs beside us) unless the probe itself lies
 * under /tmp (a build tree there: the bind would hide it); SIGKILLs that
 * child after `kill_us` microseconds, or, if negative, lets it finish. */
static void spawn_in_private_tmp(struct jail *j, const char *tmp, long kill_us) {
        int st;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                char *argv[] = { (char *)PROBE, NULL }, *envp[] = { NULL };
                struct log_err err = LOG_ERR_INIT;
                struct jail_stdio stdio = { .in = null_fd, .out = null_fd, .err = null_fd, .keep_fds = { -1, -1 } };
                pid_t child;

                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    (!probe_under_tmp() && mount(tmp, "/tmp", NULL, MS_BIND, NULL) < 0))
                        _exit(100);
                if (jail_spawn(j, PROBE, argv, envp, &stdio, &child, &err) < 0)
                        _exit(101);
                waitpid(child, &st, 0);
                _exit(0);
        }
        if (kill_us >= 0) {
                usleep((useconds_t)kill_us);
                kill(pid, SIGKILL);
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        if (kill_us < 0)
                ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "spawner: status 0x%x", st);
}

/* Every orphan that came to us (we are a subreaper) is gone within 5 s. */
static void reap_orphans(void) {
        for (int i = 0; i < 500; i++) {
                siginfo_t si = { 0 };

                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0) {
                        ck_assert_int_eq(errno, ECHILD);
                        return;
                }
                if (si.si_pid == 0)
                        usleep(10000);
        }
        ck_abort_msg("a jailed child outlived its launcher by 5 s");
}

/* Entries of /tmp named like the per-run root directory the jail used to
 * make (no other test makes such names). */
static unsigned old_root_dirs(void) {
        glob_t g;
        unsigned n = 0;

        if (glob("/tmp/vmlaunch-root-*", 0, NULL, &g) == 0)
                n = (unsigned)g.gl_pathc;
        globfree(&g);
        return n;
}

static unsigned dir_entries(const char *path) {
        DIR *d = opendir(path);
        struct dirent *e;
        unsigned n = 0;

        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d)))
                if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

/* The jail needs no directory of its own on the host: a spawn that
 * completes, and 50 whose launcher is SIGKILLed in its first 15 ms,
 * leave nothing in /tmp and no process behind. */
START_TEST(test_killed_spawns_leave_nothing) {
        char tmp[] = "/tmp/vmlaunch-jail-tmp-XXXXXX";
        struct jail *j = probe_jail();
        unsigned old_before = old_root_dirs();

        ck_assert_ptr_nonnull(mkdtemp(tmp));
        ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
        srand((unsigned)getpid());
        spawn_in_private_tmp(j, tmp, -1);
        for (int i = 0; i < 50; i++)
                spawn_in_private_tmp(j, tmp, rand() % 15000);
        reap_orphans();
        ck_assert_msg(dir_entries(tmp) == 0, "%u entries left in the spawners' /tmp", dir_entries(tmp));
        ck_assert_msg(old_root_dirs() == old_before, "%u /tmp/vmlaunch-root-* directories left",
                      old_root_dirs() - old_before);
        jail_free(j);
        rmdir(tmp);
}
END_TEST

/* A writable bind can hold a symlink to anywhere (whoever writes its
 * source plants it); a later bind's target through it must not make
 * anything outside the jail's root. */
START_TEST(test_mount_through_symlink_refused) {
        char rw[] = "/tmp/vmlaunch-jail-rw-XXXXXX", outside[] = "/tmp/vmlaunch-jail-outside-XXXXXX";
        struct log_err err = LOG_ERR_INIT;
        char link[PATH_MAX];
        struct jail *j = probe_jail();
        struct run run;

        ck_assert_ptr_nonnull(mkdtemp(rw));
        ck_assert_ptr_nonnull(mkdtemp(outside));
        snprintf(link, sizeof(link), "%s/escape", rw);
        ck_assert_int_eq(symlink(outside, link), 0);
        ck_assert_int_eq(jail_add_bind(j, rw, "/mnt/rw", true), 0);
        ck_assert_int_eq(jail_add_bind(j, outside, "/mnt/rw/escape/planted", false), 0);
        ck_assert_int_lt(spawn_probe(j, NULL, &run, &err), 0);
        ck_assert_msg(strstr(err.msg, "mount point") && strstr(err.msg, "/mnt/rw/escape/planted") &&
                              strstr(err.msg, strerror(ELOOP)),
                      "message: %s", err.msg);
        ck_assert_msg(dir_entries(outside) == 0, "something was made outside the jail's root, in %s", outside);
        jail_free(j);
        unlink(link);
        rmdir(rw);
        rmdir(outside);
}
END_TEST

/* A second bind on a target is an error naming the first; so are
 * targets that are no place for a bind. */
START_TEST(test_bind_targets) {
        struct jail *j = probe_jail();

        ck_assert_int_eq(jail_add_bind(j, "/tmp", "/mnt/x", false), 0);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "//mnt//x/", false), -EEXIST);
        ck_assert_str_eq(jail_bind_source(j, "/mnt/x"), "/tmp");
        ck_assert_int_eq(jail_add_bind(j, "/usr", "/dev/null", false), -EEXIST);
        ck_assert_str_eq(jail_bind_source(j, "/dev/null"), "/dev/null");
        ck_assert_int_eq(jail_add_bind(j, "/usr", PROBE, false), -EEXIST);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "/", false), -EINVAL);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "/proc", false), -EINVAL);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "/proc/sys", false), -EINVAL);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "/mnt/../etc", false), -EINVAL);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "/mnt/./y", false), -EINVAL);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "mnt/y", false), -EINVAL);
        ck_assert_int_eq(jail_add_bind(j, "/usr", "/procfs", false), 0);
        jail_free(j);
}
END_TEST

static int move_into_cgroup(pid_t pid, void *userdata, struct log_err *err) {
        char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof(path), "%s/cgroup.procs", (const char *)userdata);
        f = fopen(path, "we");
        if (!f || fprintf(f, "%d\n", pid) < 0 || fclose(f) != 0) {
                return log_err_errno(err, -errno, "moving %d into %s", pid, path);
        }
        return 0;
}

/* A new cgroup v2 directory below our own, or "" where none can be made. */
static void make_cgroup(char *buf, size_t len) {
        char line[PATH_MAX], mnt[PATH_MAX] = "", own[PATH_MAX] = "";
        FILE *f = fopen("/proc/self/mountinfo", "re");

        buf[0] = '\0';
        while (f && fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - cgroup2 ");

                if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
                        break;
                mnt[0] = '\0';
        }
        if (f)
                fclose(f);
        f = fopen("/proc/self/cgroup", "re");
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0)
                        snprintf(own, sizeof(own), "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
        if (f)
                fclose(f);
        if (!mnt[0] || !own[0])
                return;
        snprintf(buf, len, "%s%s/vmlaunch-test-jail-%d", mnt, strcmp(own, "/") == 0 ? "" : own, getpid());
        if (mkdir(buf, 0755) < 0)
                buf[0] = '\0';
}

/* The plugin is in its own session, and in its own cgroup namespace
 * rooted at the cgroup it was put in before release (the hook): every
 * hierarchy shows "/", v1 ones included. */
START_TEST(test_session_and_cgroup_namespace) {
        const char *args[] = { "/proc/self/cgroup", "/proc/self/stat", NULL };
        struct log_err err = LOG_ERR_INIT;
        char cgroup[PATH_MAX], *save = NULL;
        struct jail *j = NULL;
        struct run run;
        unsigned lines = 0;

        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_msg(jail_add_executable(j, "/bin/cat", &err) == 0, "%s", err.msg);
        make_cgroup(cgroup, sizeof(cgroup));
        if (cgroup[0])
                jail_set_before_release(j, move_into_cgroup, cgroup);
        else
                fprintf(stderr, "no cgroup v2 directory could be made: the hook goes untested\n");
        ck_assert_msg(spawn_in(j, "/bin/cat", args, &run, &err) == 0, "%s", err.msg);
        if (cgroup[0])
                rmdir(cgroup);
        ck_assert_msg(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0, "cat: %s", run.err);
        for (char *l = strtok_r(run.err, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (strstr(l, " (cat) ")) {
                        /* pid (comm) state ppid pgrp session: all ours. */
                        ck_assert_msg(strncmp(l, "1 (cat) R 0 1 1 ", 16) == 0, "stat: %s", l);
                        continue;
                }
                lines++;
                ck_assert_msg(strlen(l) >= 2 && strcmp(l + strlen(l) - 2, ":/") == 0,
                              "a cgroup outside the namespace: %s", l);
        }
        ck_assert_uint_gt(lines, 0);
        jail_free(j);
}
END_TEST

START_TEST(test_missing_root) {
        struct jail *j = probe_jail();
        struct run run;
        struct log_err err = LOG_ERR_INIT;

        ck_assert_int_eq(jail_set_root(j, "/nonexistent/vmlaunch-root"), 0);
        ck_assert_int_lt(spawn_probe(j, NULL, &run, &err), 0);
        ck_assert_msg(strstr(err.msg, "tmpfs root") && strstr(err.msg, "/nonexistent/vmlaunch-root") &&
                              strstr(err.msg, "No such file"),
                      "message: %s", err.msg);
        jail_free(j);
}
END_TEST

START_TEST(test_bind_source_gone) {
        char src[] = "/tmp/vmlaunch-jail-gone-XXXXXX";
        struct jail *j = probe_jail();
        struct run run;
        struct log_err err = LOG_ERR_INIT;

        ck_assert_ptr_nonnull(mkdtemp(src));
        ck_assert_int_eq(jail_add_bind(j, src, "/mnt/gone", false), 0);
        rmdir(src);     /* gone between config time and spawn */
        ck_assert_int_lt(spawn_probe(j, NULL, &run, &err), 0);
        ck_assert_msg(strstr(err.msg, "bind-mounting") && strstr(err.msg, src) && strstr(err.msg, "/mnt/gone"),
                      "message: %s", err.msg);
        jail_free(j);
}
END_TEST

START_TEST(test_refused_gid_map) {
        struct jail *j = probe_jail();
        struct run run;
        struct log_err err = LOG_ERR_INIT;

        /* A gid map the kernel refuses: overlapping inner ranges. */
        ck_assert_int_eq(jail_add_gid_map(j, 0, 5000, 1), 0);
        ck_assert_int_lt(spawn_probe(j, NULL, &run, &err), 0);
        ck_assert_msg(strstr(err.msg, "gid map") && strstr(err.msg, "gid_map"), "message: %s", err.msg);
        jail_free(j);
}
END_TEST

START_TEST(test_exec_missing) {
        struct jail *j = NULL;
        struct log_err err = LOG_ERR_INIT;

        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_int_lt(jail_add_executable(j, "/nonexistent/plugin", &err), 0);
        ck_assert_msg(strstr(err.msg, "/nonexistent/plugin"), "message: %s", err.msg);
        jail_free(j);
}
END_TEST

/* An executable that is not ELF is refused with its name, and no child
 * is left behind (nothing is run to list libraries). */
START_TEST(test_libs_not_elf) {
        struct jail *j = NULL;
        siginfo_t si = { 0 };
        struct log_err err = LOG_ERR_INIT;

        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_int_eq(jail_add_executable(j, "/etc/passwd", &err), -ENOEXEC);
        ck_assert_msg(strstr(err.msg, "not an ELF file") && strstr(err.msg, "/etc/passwd"), "message: %s", err.msg);
        errno = 0;
        ck_assert_int_eq(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);
        jail_free(j);
}
END_TEST

/* With a filter, violations notify a listener that jail_spawn() took
 * from the child before exec: the launcher gets it, the plugin does not
 * (it could answer its own notifications).  /bin/cat under the plugin
 * policy makes a syscall the policy lacks (fadvise64, at least) and waits
 * on the notification; its fds are looked at meanwhile. */
START_TEST(test_seccomp_listener) {
        char *argv[] = { (char *)"/bin/cat", (char *)"/proc/self/status", NULL }, *envp[] = { NULL };
        struct log_err err = LOG_ERR_INIT;
        char path[64], link[256];
        struct sock_fprog prog = { 0 };
        struct seccomp_notif n;
        struct jail_stdio stdio;
        struct jail *j = NULL;
        struct pollfd p;
        struct dirent *e;
        int null_fd, listener, st;
        char *name;
        pid_t pid;
        DIR *d;

        ck_assert_int_eq(seccomp_policy_compile(TEST_SECCOMP_POLICY, false, stderr, &prog), 0);
        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_msg(jail_add_executable(j, "/bin/cat", &err) == 0, "%s", err.msg);
        jail_set_seccomp(j, &prog);
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        stdio = (struct jail_stdio){ .in = null_fd, .out = null_fd, .err = null_fd, .keep_fds = { -1, -1 } };
        ck_assert_msg(jail_spawn(j, "/bin/cat", argv, envp, &stdio, &pid, &err) == 0, "%s", err.msg);
        close(null_fd);
        listener = jail_take_seccomp_listener(j);
        ck_assert_int_ge(listener, 0);
        ck_assert_int_eq(jail_take_seccomp_listener(j), -1);
        p = (struct pollfd){ .fd = listener, .events = POLLIN };
        ck_assert_int_eq(poll(&p, 1, 5000), 1);
        memset(&n, 0, sizeof(n));
        ck_assert_int_eq(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n), 0);
        ck_assert_int_eq((pid_t)n.pid, pid);
        name = audit_syscall_name(n.data.arch, n.data.nr);
        fprintf(stderr, "test_seccomp_listener: cat stopped on syscall %d, %s\n", n.data.nr, name ? name : "?");
        free(name);
        /* The plugin waits in that syscall: its fds are what exec left. */
        snprintf(path, sizeof(path), "/proc/%d/fd", pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        while ((e = readdir(d))) {
                char fd_path[320];
                ssize_t len;

                if (e->d_name[0] == '.')
                        continue;
                snprintf(fd_path, sizeof(fd_path), "%s/%s", path, e->d_name);
                len = readlink(fd_path, link, sizeof(link) - 1);
                ck_assert_int_gt(len, 0);
                link[len] = '\0';
                ck_assert_msg(!strstr(link, "seccomp"), "the plugin holds a listener: fd %s -> %s", e->d_name, link);
        }
        closedir(d);
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        close(listener);
        jail_free(j);
        seccomp_policy_free(&prog);
}
END_TEST

/* The unsandboxed plugin starts through the same sequence as the jailed
 * one (a plain jail): the launcher's blocked and ignored signals are not
 * its, an fd the launcher's own parent leaked to it (not CLOEXEC) does not
 * reach it, the socket does, and it leads its own session. */
START_TEST(test_unsandboxed_plugin_start) {
        static const char script[] =
                "read -r s < /proc/$$/stat; echo \"stat $s\"\n"
                "[ -e /proc/$$/fd/100 ] && echo stray 100\n"
                "[ -e /proc/$$/fd/$CROSVM_SOCKET ] && echo socket kept\n"
                "while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k $v\";; esac; done < /proc/$$/status\n";
        char *args[] = { (char *)"-c", (char *)script, NULL }, *env[] = { NULL };
        struct vm_config c = { 0 };
        struct plugin p = PLUGIN_INIT;
        struct log_err err = LOG_ERR_INIT;
        char out[4096] = "", *line;
        size_t len = 0;
        int sv[2], leak[2], pid = 0, ppid = 0, pgrp = 0, sid = 0, status;
        sigset_t block;

        c.plugin.path = (char *)"/bin/sh";
        c.plugin.args = args;
        c.plugin.n_args = 2;
        c.plugin.env = env;
        c.sandbox.enabled = false;
        /* The launcher's state when it spawns: its loop's signals blocked,
         * SIGPIPE ignored. */
        sigemptyset(&block);
        sigaddset(&block, SIGTERM);
        sigaddset(&block, SIGCHLD);
        ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, NULL), 0);
        signal(SIGPIPE, SIG_IGN);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(pipe(leak), 0);
        ck_assert_int_eq(dup2(leak[0], 100), 100);

        ck_assert_msg(plugin_spawn(&c, sv[1], -1, NULL, &p, &err) == 0, "%s", err.msg);
        for (;;) {
                struct pollfd pfd = { .fd = p.out_fd, .events = POLLIN };
                ssize_t n;

                ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
                n = read(p.out_fd, out + len, sizeof(out) - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        out[len] = '\0';
        ck_assert_int_eq(waitpid(p.pid, &status, 0), p.pid);
        ck_assert_msg(WIFEXITED(status), "sh: status %d", status);
        ck_assert_msg(!strstr(out, "stray"), "a leaked fd reached the plugin:\n%s", out);
        ck_assert_msg(strstr(out, "socket kept"), "the socket did not reach the plugin:\n%s", out);
        ck_assert_msg(strstr(out, "SigBlk: 0000000000000000"), "signals blocked in the plugin:\n%s", out);
        ck_assert_msg(strstr(out, "SigIgn: 0000000000000000"), "signals ignored in the plugin:\n%s", out);
        line = strstr(out, "stat ");
        ck_assert_ptr_nonnull(line);
        ck_assert_int_eq(sscanf(line, "stat %d (%*[^)]) %*c %d %d %d", &pid, &ppid, &pgrp, &sid), 4);
        ck_assert_int_eq(pid, p.pid);
        ck_assert_int_eq(ppid, getpid());
        ck_assert_msg(pgrp == pid && sid == pid, "not its own session: pgrp %d, session %d, pid %d", pgrp, sid, pid);
        p.reaped = true;
        plugin_close(&p);
        close(sv[0]);
        close(sv[1]);
        close(100);
        close(leak[0]);
        close(leak[1]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("jail");
        TCase *tc = tcase_create("jail");
        int fd;

        test_require(test_is_root(), "root");
        fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
        test_require(fd >= 0, "user namespaces");
        close(fd);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_probe_inside);
        tcase_add_test(tc, test_killed_spawns_leave_nothing);
        tcase_add_test(tc, test_mount_through_symlink_refused);
        tcase_add_test(tc, test_bind_targets);
        tcase_add_test(tc, test_session_and_cgroup_namespace);
        tcase_add_test(tc, test_seccomp_listener);
        tcase_add_test(tc, test_missing_root);
        tcase_add_test(tc, test_bind_source_gone);
        tcase_add_test(tc, test_refused_gid_map);
        tcase_add_test(tc, test_exec_missing);
        tcase_add_test(tc, test_libs_not_elf);
        tcase_add_test(tc, test_unsandboxed_plugin_start);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
