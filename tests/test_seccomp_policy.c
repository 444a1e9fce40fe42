/* The minijail-syntax parser: every error names FILE:LINE, and compiled
 * filters really allow, fail, log and kill in a forked child. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seccomp_policy.h"
#include "test_util.h"

static char path[64];

static int compile(const char *text, bool log_failures, struct sock_fprog *prog, char **errors) {
        size_t len = 0;
        FILE *f, *e;
        int r;

        snprintf(path, sizeof(path), "/tmp/vmlaunch-policy-%d.policy", getpid());
        f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        e = open_memstream(errors, &len);
        r = seccomp_policy_compile(path, log_failures, e, prog);
        fclose(e);
        unlink(path);
        return r;
}

static void expect_error(const char *text, const char *needle) {
        struct sock_fprog prog = { 0 };
        char *errors = NULL, want[128];

        ck_assert_int_eq(compile(text, false, &prog, &errors), -EINVAL);
        ck_assert_msg(strstr(errors, needle), "\"%s\" not in: %s", needle, errors);
        snprintf(want, sizeof(want), "%s:", path);
        ck_assert_msg(strstr(errors, want), "no file name in: %s", errors);
        free(errors);
}

START_TEST(test_errors_name_file_and_line) {
        expect_error("read: 1\nnot_a_syscall: 1\n", ":2: unknown syscall \"not_a_syscall\"");
        expect_error("mmap: arg2 in ~PROT_BOGUS\n", ":1: unknown constant \"PROT_BOGUS\"");
        expect_error("mmap: arg2 =! 1\n", ":1: expected an operator");
        expect_error("read: arg6 == 1\n", ":1: no such argument");
        expect_error("read 1\n", ":1: expected \"syscall: rule\"");
        expect_error("# comment\n\nread: return EWHATEVER\n", ":3: bad errno");
        expect_error("@include /nonexistent/x.policy\n", "/nonexistent/x.policy");
        expect_error("@bogus\n", ":1: unknown directive");
}
END_TEST

/* Runs `fn` in a child under the filter; returns its wait status. */
static int run_filtered(const struct sock_fprog *prog, int (*fn)(void)) {
        pid_t pid = fork();
        int st;

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Only raw syscalls from here: a sanitizer's _exit hook
                 * would make calls the filter does not allow. */
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
                        syscall(SYS_exit_group, 100);
                syscall(SYS_exit_group, fn());
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        return st;
}

static int do_getpid(void) {
        return syscall(SYS_getpid) > 0 ? 0 : 1;
}

static int do_uname(void) {
        struct utsname u;

        return syscall(SYS_uname, &u) < 0 && errno == EPERM ? 0 : 1;
}

static int do_socket(void) {
        syscall(SYS_socket, 2, 1, 0);
        return 0;       /* reached only when logged, not killed */
}

static int do_mmap(void) {
        void *rw = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (rw == MAP_FAILED)
                return 1;
        syscall(SYS_mmap, NULL, 4096, PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return 2;       /* the W+X mapping must have killed us */
}

static const char base[] = "exit_group: 1\nexit: 1\n";

START_TEST(test_filters_act) {
        struct sock_fprog prog = { 0 };
        char *errors = NULL, text[512];
        int st;

        snprintf(text, sizeof(text), "%sgetpid: 1\nuname: return EPERM\n"
                 "mmap: arg2 in ~PROT_EXEC || arg2 in ~PROT_WRITE\n", base);
        ck_assert_msg(compile(text, false, &prog, &errors) == 0, "%s", errors);
        free(errors);

        st = run_filtered(&prog, do_getpid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "allowed syscall: status 0x%x", st);
        st = run_filtered(&prog, do_uname);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "return EPERM: status 0x%x", st);
        st = run_filtered(&prog, do_socket);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "forbidden syscall: status 0x%x", st);
        st = run_filtered(&prog, do_mmap);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "W+X mmap: status 0x%x", st);
        seccomp_policy_free(&prog);

        /* With log_failures the same violation only logs. */
        ck_assert_int_eq(compile(text, true, &prog, &errors), 0);
        free(errors);
        st = run_filtered(&prog, do_socket);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "logged violation: status 0x%x", st);
        seccomp_policy_free(&prog);
}
END_TEST

START_TEST(test_masks_and_include) {
        struct sock_fprog prog = { 0 };
        char *errors = NULL, text[512];

        /* & with several bits, in, ==, != and && together, via @include. */
        snprintf(text, sizeof(text),
                 "@include %s/seccomp/x86_64/plugin.policy\n"
                 "openat: arg2 & O_CREAT|O_TRUNC && arg1 != 0\n"
                 "uname: arg0 == 0 || arg0 != 0\n", SOURCE_DIR);
        ck_assert_msg(compile(text, false, &prog, &errors) == 0, "%s", errors);
        ck_assert_uint_gt(prog.len, 10);
        free(errors);
        seccomp_policy_free(&prog);
}
END_TEST

START_TEST(test_shipped_policy_compiles) {
        struct sock_fprog prog = { 0 };

        ck_assert_int_eq(seccomp_policy_compile(SOURCE_DIR "/seccomp/x86_64/plugin.policy", false, stderr, &prog), 0);
        ck_assert_uint_gt(prog.len, 0);
        seccomp_policy_free(&prog);
}
END_TEST

int main(void) {
        Suite *s = suite_create("seccomp_policy");
        TCase *tc = tcase_create("seccomp_policy");

        tcase_add_test(tc, test_errors_name_file_and_line);
        tcase_add_test(tc, test_filters_act);
        tcase_add_test(tc, test_masks_and_include);
        tcase_add_test(tc, test_shipped_policy_compiles);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
