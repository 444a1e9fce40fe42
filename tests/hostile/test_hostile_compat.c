/* kill() under the default policy reaches nothing outside the jail: a
 * plugin that SIGSTOPs its parent, SIGKILLs its process group and every
 * process it can see (compat_kill) leaves vmlaunch running and stoppable
 * in time, this test (in vmlaunch's process group) alive, and a sibling
 * of vmlaunch alive; and the policy let every call through. */
#include <check.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

START_TEST(test_kill_reaches_nothing_outside) {
        struct vmrun_opts o = { .signal = SIGTERM, .timeout_s = 120 };
        pid_t sibling = fork();
        struct vmrun r;
        int st;

        ck_assert_int_ge(sibling, 0);
        if (sibling == 0) {
                for (;;)
                        pause();
        }
        o.config = hostile_config(hostile_plugin("compat_kill"), "", "");
        vmrun(&o, &r);
        if (r.status != 0 || !vmrun_output_has(&r, "compat_kill: attacks done"))
                hostile_dump(&r);
        /* Every call was allowed and made (a seccomp kill would end the
         * plugin at the first). */
        ck_assert_msg(vmrun_output_has(&r, "compat_kill: attacks done"), "the attacks did not run");
        ck_assert(vmrun_output_has(&r, "compat_kill: pid 1 parent 0"));
        ck_assert(vmrun_output_has(&r, "kill(getppid(), SIGSTOP) = 0 (sent)"));
        ck_assert(vmrun_output_has(&r, "kill(0, SIGKILL) = 0 (sent)"));
        /* Nothing else in its namespace: ESRCH. */
        ck_assert(vmrun_output_has(&r, "kill(-1, SIGKILL) = -1"));
        /* The plugin itself survived its own signals and idled. */
        ck_assert(vmrun_output_has(&r, "compat_kill: idling"));
        ck_assert_int_eq(r.status, 0);
        hostile_assert_stopped_in_time(&r);
        ck_assert_msg(waitpid(sibling, &st, WNOHANG) == 0, "vmlaunch's sibling died: status 0x%x", st);
        kill(sibling, SIGKILL);
        waitpid(sibling, &st, 0);
        vmrun_free(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hostile_compat");
        TCase *tc = tcase_create("hostile_compat");

        test_require(test_is_root(), "root");
        test_require(test_have_kvm(), "/dev/kvm");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_kill_reaches_nothing_outside);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
