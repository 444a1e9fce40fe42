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
#include <sys/resource.h>
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

/* The one call a child makes under a filter (set before the fork). */
static struct {
        long nr, a0, a1, a2;
} call;

static int do_call(void) {
        syscall(call.nr, call.a0, call.a1, call.a2);
        return 0;       /* reached only if the filter let the call through */
}

/* Whether the filter lets call nr(a0, a1, a2) through: the child exits
 * 0 if so; a refused call must kill it with SIGSYS, nothing else. */
static bool allows(const struct sock_fprog *prog, long nr, long a0, long a1, long a2) {
        int st;

        call.nr = nr;
        call.a0 = a0;
        call.a1 = a1;
        call.a2 = a2;
        st = run_filtered(prog, do_call);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
                return true;
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "syscall %ld(%ld, %ld, %ld): status 0x%x", nr,
                      a0, a1, a2, st);
        return false;
}

/* Each operator is held to what it means by calls just inside and just
 * outside it: `&` (some bit of a several-bit mask), `!=`, `==`, `&&` (both
 * sides) and `||` (either side).  The calls fail harmlessly (fd -1) when
 * allowed; only the filter's verdict counts. */
START_TEST(test_operators_act) {
        struct sock_fprog prog = { 0 };
        char *errors = NULL, text[512];

        snprintf(text, sizeof(text), "%s"
                 "lseek: arg2 & 0x2|0x4 && arg1 != 5\n"
                 "fcntl: arg1 == 1 || arg1 == 3\n"
                 "getpriority: arg0 != 1\n", base);
        ck_assert_msg(compile(text, false, &prog, &errors) == 0, "%s", errors);
        free(errors);

        /* &: any one bit of 0x6 will do, not all of them; none is refused. */
        ck_assert(allows(&prog, SYS_lseek, -1, 0, 2));
        ck_assert(allows(&prog, SYS_lseek, -1, 0, 4));
        ck_assert(allows(&prog, SYS_lseek, -1, 0, 3));
        ck_assert(!allows(&prog, SYS_lseek, -1, 0, 1));
        ck_assert(!allows(&prog, SYS_lseek, -1, 0, 0));
        /* &&: the mask holds, but arg1 != 5 does not. */
        ck_assert(!allows(&prog, SYS_lseek, -1, 5, 2));
        ck_assert(allows(&prog, SYS_lseek, -1, 6, 2));
        /* || of two ==: either value, and nothing else. */
        ck_assert(allows(&prog, SYS_fcntl, -1, 1, 0));
        ck_assert(allows(&prog, SYS_fcntl, -1, 3, 0));
        ck_assert(!allows(&prog, SYS_fcntl, -1, 2, 0));
        ck_assert(!allows(&prog, SYS_fcntl, -1, 4, 0));
        /* != */
        ck_assert(allows(&prog, SYS_getpriority, 0, 0, 0));
        ck_assert(allows(&prog, SYS_getpriority, 2, 0, 0));
        ck_assert(!allows(&prog, SYS_getpriority, 1, 0, 0));
        /* Unlisted: killed. */
        ck_assert(!allows(&prog, SYS_getppid, 0, 0, 0));
        seccomp_policy_free(&prog);
}
END_TEST

/* @include brings the other file's rules in: a call it alone allows goes
 * through, and is refused without the directive. */
START_TEST(test_include_adds_rules) {
        struct sock_fprog prog = { 0 };
        char *errors = NULL, text[512], inc[64];
        FILE *f;

        snprintf(inc, sizeof(inc), "/tmp/vmlaunch-policy-%d.inc.policy", getpid());
        f = fopen(inc, "w");
        ck_assert_ptr_nonnull(f);
        fputs("getppid: 1\n", f);
        fclose(f);

        snprintf(text, sizeof(text), "%s@include %s\n", base, inc);
        ck_assert_msg(compile(text, false, &prog, &errors) == 0, "%s", errors);
        free(errors);
        ck_assert(allows(&prog, SYS_getppid, 0, 0, 0));
        seccomp_policy_free(&prog);

        ck_assert_int_eq(compile(base, false, &prog, &errors), 0);
        free(errors);
        ck_assert(!allows(&prog, SYS_getppid, 0, 0, 0));
        seccomp_policy_free(&prog);
        unlink(inc);
}
END_TEST

START_TEST(test_shipped_policy_compiles) {
        struct sock_fprog prog = { 0 };

        ck_assert_int_eq(seccomp_policy_compile(SOURCE_DIR "/seccomp/x86_64/plugin.policy", false, stderr, &prog), 0);
        ck_assert_uint_gt(prog.len, 0);
        seccomp_policy_free(&prog);
}
END_TEST

#define BASE_POLICY SOURCE_DIR "/seccomp/x86_64/base.policy"
#define ERA_POLICY SOURCE_DIR "/tests/seccomp/crosvm_era.policy"

/* Execs a dynamically linked program (this system's glibc: its loader
 * and libc start-up) under the filter; returns its wait status. */
static int exec_filtered(const struct sock_fprog *prog, const char *program) {
        pid_t pid = fork();
        int st;

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char *argv[] = { (char *)program, NULL }, *envp[] = { NULL };

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
                        syscall(SYS_exit_group, 100);
                syscall(SYS_execve, program, argv, envp);
                syscall(SYS_exit_group, 101);
        }
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        return st;
}

/* A policy of crosvm's era cannot start a program linked against glibc
 * 2.36 (its loader's newfstatat, pread64; malloc's getrandom); with the
 * base added it can.  /bin/true is dynamically linked on the systems
 * this builds on. */
START_TEST(test_base_starts_what_an_old_policy_cannot) {
        struct sock_fprog prog = { 0 };
        int st;

        ck_assert_int_eq(seccomp_policy_compile(ERA_POLICY, false, stderr, &prog), 0);
        st = exec_filtered(&prog, "/bin/true");
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "without the base: status 0x%x", st);
        seccomp_policy_free(&prog);

        ck_assert_int_eq(seccomp_policy_compile_with_base(ERA_POLICY, BASE_POLICY, false, stderr, &prog), 0);
        st = exec_filtered(&prog, "/bin/true");
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "with the base: status 0x%x", st);
        seccomp_policy_free(&prog);

        /* The default policy stands alone: it includes the base. */
        ck_assert_int_eq(seccomp_policy_compile(SOURCE_DIR "/seccomp/x86_64/plugin.policy", false, stderr, &prog), 0);
        st = exec_filtered(&prog, "/bin/true");
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "plugin.policy alone: status 0x%x", st);
        seccomp_policy_free(&prog);
}
END_TEST

static int do_sched_yield(void) {
        return syscall(SYS_sched_yield) < 0 && errno == EPERM ? 0 : 1;
}

static int do_prlimit_set(void) {
        struct rlimit rl = { 0, 0 };

        syscall(SYS_prlimit64, 0, RLIMIT_CORE, &rl, NULL);
        return 0;       /* reached only if allowed */
}

/* A syscall both name: the policy's "return ERRNO" stands against the
 * base's allow; a syscall listed twice (here: the base's own, by the
 * policy including it as well) is no error; the base's conditions hold
 * where the policy says nothing (prlimit64 may only read). */
START_TEST(test_base_merges) {
        struct sock_fprog prog = { 0 };
        char *errors = NULL, text[512];
        int st;

        snprintf(text, sizeof(text), "%s@include %s\nsched_yield: return EPERM\nsched_yield: 1\ngetpid: 1\ngetpid: 1\n",
                 base, BASE_POLICY);
        ck_assert_int_eq(compile(text, false, &prog, &errors), 0);
        free(errors);
        seccomp_policy_free(&prog);

        snprintf(path, sizeof(path), "/tmp/vmlaunch-policy-%d.policy", getpid());
        {
                FILE *f = fopen(path, "w");

                fprintf(f, "%ssched_yield: return EPERM\ngetpid: 1\n", base);
                fclose(f);
        }
        ck_assert_int_eq(seccomp_policy_compile_with_base(path, BASE_POLICY, false, stderr, &prog), 0);
        unlink(path);
        st = run_filtered(&prog, do_sched_yield);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the policy's EPERM lost: status 0x%x", st);
        st = run_filtered(&prog, do_getpid);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "getpid: status 0x%x", st);
        st = run_filtered(&prog, do_prlimit_set);
        ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "setting a limit: status 0x%x", st);
        seccomp_policy_free(&prog);

        /* plugin.policy includes the base: adding it again yields the very
         * same program. */
        {
                struct sock_fprog alone = { 0 };

                ck_assert_int_eq(seccomp_policy_compile(SOURCE_DIR "/seccomp/x86_64/plugin.policy", false, stderr,
                                                        &alone), 0);
                ck_assert_int_eq(seccomp_policy_compile_with_base(SOURCE_DIR "/seccomp/x86_64/plugin.policy",
                                                                  BASE_POLICY, false, stderr, &prog), 0);
                ck_assert_uint_eq(prog.len, alone.len);
                ck_assert(memcmp(prog.filter, alone.filter, prog.len * sizeof(*prog.filter)) == 0);
                seccomp_policy_free(&alone);
                seccomp_policy_free(&prog);
        }

        /* A base that does not parse is an error naming it. */
        ck_assert_int_eq(seccomp_policy_compile_with_base(BASE_POLICY, "/nonexistent/base.policy", false, NULL, &prog),
                         -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("seccomp_policy");
        TCase *tc = tcase_create("seccomp_policy");

        tcase_add_test(tc, test_errors_name_file_and_line);
        tcase_add_test(tc, test_filters_act);
        tcase_add_test(tc, test_operators_act);
        tcase_add_test(tc, test_include_adds_rules);
        tcase_add_test(tc, test_shipped_policy_compiles);
        tcase_add_test(tc, test_base_starts_what_an_old_policy_cannot);
        tcase_add_test(tc, test_base_merges);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
