/* The jail, for real: user, pid, mount, net, IPC and UTS namespaces, the
 * tmpfs root, binds, capabilities, no_new_privs.  jail_probe checks from
 * the inside; the errors are checked from the outside.  Needs root (the
 * extra gid map) and user namespaces; no KVM. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"
#include "test_util.h"

#define PROBE TEST_PLUGIN_DIR "/jail_probe"

extern char **environ;

struct run {
        int status;
        char err[8192];
};

/* Spawns jail_probe in `j` with `args`; collects stderr and the status. */
static int spawn_probe(struct jail *j, const char *const *args, struct run *out, char *errbuf, size_t errlen) {
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
        argv[k++] = (char *)PROBE;
        for (size_t i = 0; args && args[i]; i++)
                argv[k++] = (char *)args[i];
        argv[k] = NULL;
        snprintf(env_sock, sizeof(env_sock), "CROSVM_SOCKET=%d", sv[1]);
        stdio = (struct jail_stdio){ .in = null_fd, .out = errp[1], .err = errp[1], .keep_fds = { sv[1], -1 } };
        r = jail_spawn(j, PROBE, argv, envp, &stdio, &pid, errbuf, errlen);
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

/* The probe's jail, as the launcher builds it. */
static struct jail *probe_jail(void) {
        struct jail *j = NULL;
        char err[1024] = "";

        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_int_eq(jail_add_bind(j, "/dev/null", "/dev/null", true), 0);
        ck_assert_int_eq(jail_add_bind(j, "/dev/urandom", "/dev/urandom", true), 0);
        ck_assert_msg(jail_add_executable(j, PROBE, err, sizeof(err)) == 0, "%s", err);
        return j;
}

START_TEST(test_probe_inside) {
        char ro[] = "/tmp/vmlaunch-jail-ro-XXXXXX", rw[] = "/tmp/vmlaunch-jail-rw-XXXXXX";
        const char *args[] = { "--ro", "/mnt/ro", "--rw", "/mnt/rw", "--gid-map", "1000 1000 1", NULL };
        struct jail *j = probe_jail();
        struct run run;
        char err[512];

        ck_assert_ptr_nonnull(mkdtemp(ro));
        ck_assert_ptr_nonnull(mkdtemp(rw));
        ck_assert_int_eq(jail_add_bind(j, ro, "/mnt/ro", false), 0);
        ck_assert_int_eq(jail_add_bind(j, rw, "/mnt/rw", true), 0);
        ck_assert_int_eq(jail_add_gid_map(j, 1000, 1000, 1), 0);
        ck_assert_msg(spawn_probe(j, args, &run, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0, "probe: %s", run.err);
        ck_assert_ptr_nonnull(strstr(run.err, "all checks passed"));
        jail_free(j);
        rmdir(ro);
        rmdir(rw);
}
END_TEST

START_TEST(test_private_root_removed) {
        struct jail *j = probe_jail();
        struct run run;
        char err[512];
        int before = 0, after = 0;
        FILE *p;
        char line[256];

        /* Count our private roots in /tmp before and after. */
        p = popen("ls -d /tmp/vmlaunch-root-* 2>/dev/null | wc -l", "r");
        ck_assert(fgets(line, sizeof(line), p));
        before = atoi(line);
        pclose(p);
        ck_assert_msg(spawn_probe(j, NULL, &run, err, sizeof(err)) == 0, "%s", err);
        ck_assert_msg(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0, "probe: %s", run.err);
        jail_free(j);
        p = popen("ls -d /tmp/vmlaunch-root-* 2>/dev/null | wc -l", "r");
        ck_assert(fgets(line, sizeof(line), p));
        after = atoi(line);
        pclose(p);
        ck_assert_int_eq(before, after);
}
END_TEST

START_TEST(test_missing_root) {
        struct jail *j = probe_jail();
        struct run run;
        char err[512] = "";

        ck_assert_int_eq(jail_set_root(j, "/nonexistent/vmlaunch-root"), 0);
        ck_assert_int_lt(spawn_probe(j, NULL, &run, err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, "tmpfs root") && strstr(err, "/nonexistent/vmlaunch-root") &&
                              strstr(err, "No such file"),
                      "message: %s", err);
        jail_free(j);
}
END_TEST

START_TEST(test_bind_source_gone) {
        char src[] = "/tmp/vmlaunch-jail-gone-XXXXXX";
        struct jail *j = probe_jail();
        struct run run;
        char err[512] = "";

        ck_assert_ptr_nonnull(mkdtemp(src));
        ck_assert_int_eq(jail_add_bind(j, src, "/mnt/gone", false), 0);
        rmdir(src);     /* gone between config time and spawn */
        ck_assert_int_lt(spawn_probe(j, NULL, &run, err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, "bind-mounting") && strstr(err, src) && strstr(err, "/mnt/gone"),
                      "message: %s", err);
        jail_free(j);
}
END_TEST

START_TEST(test_refused_gid_map) {
        struct jail *j = probe_jail();
        struct run run;
        char err[512] = "";

        /* A gid map the kernel refuses: overlapping inner ranges. */
        ck_assert_int_eq(jail_add_gid_map(j, 0, 5000, 1), 0);
        ck_assert_int_lt(spawn_probe(j, NULL, &run, err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, "gid map") && strstr(err, "gid_map"), "message: %s", err);
        jail_free(j);
}
END_TEST

START_TEST(test_exec_missing) {
        struct jail *j = NULL;
        char err[1024] = "";

        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_int_lt(jail_add_executable(j, "/nonexistent/plugin", err, sizeof(err)), 0);
        ck_assert_msg(strstr(err, "/nonexistent/plugin"), "message: %s", err);
        jail_free(j);
}
END_TEST

/* An executable that is not ELF is refused with its name, and no child
 * is left behind (nothing is run to list libraries). */
START_TEST(test_libs_not_elf) {
        struct jail *j = NULL;
        siginfo_t si = { 0 };
        char err[1024] = "";

        ck_assert_int_eq(jail_new(&j), 0);
        ck_assert_int_eq(jail_add_executable(j, "/etc/passwd", err, sizeof(err)), -ENOEXEC);
        ck_assert_msg(strstr(err, "not an ELF file") && strstr(err, "/etc/passwd"), "message: %s", err);
        errno = 0;
        ck_assert_int_eq(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), -1);
        ck_assert_int_eq(errno, ECHILD);
        jail_free(j);
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
        tcase_add_test(tc, test_private_root_removed);
        tcase_add_test(tc, test_missing_root);
        tcase_add_test(tc, test_bind_source_gone);
        tcase_add_test(tc, test_refused_gid_map);
        tcase_add_test(tc, test_exec_missing);
        tcase_add_test(tc, test_libs_not_elf);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
