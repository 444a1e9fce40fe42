/* The crosvm-compatibility guard (issue 16): plugins of our own that make
 * the calls crosvm's plugin test suite made (tests/plugins/compat_*.c),
 * run the way crosvm ran its suite (one vCPU, a tap with crosvm's network
 * values) in three modes: unsandboxed, jailed under the default policy,
 * and jailed under a policy of crosvm's era (tests/seccomp/
 * crosvm_era.policy), which passes only because vmlaunch adds
 * seccomp/x86_64/base.policy to it; with the base switched off the same
 * run must die before main().  Needs /dev/kvm and root (the tap). */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "test_util.h"
#include "vmrun.h"

#define HOST_IP "100.115.92.5"
#define NETMASK "255.255.255.252"
#define MAC "de:21:e8:47:6b:6a"
#define ERA_POLICY SOURCE_DIR "/tests/seccomp/crosvm_era.policy"

static const char *const plugins[] = { "compat_io", "compat_state", "compat_net_hint" };

/* `sandbox` is the body of the sandbox group. */
static const char *config(const char *plugin, const char *sandbox) {
        static char buf[4096];

        snprintf(buf, sizeof(buf),
                 "name = \"compat\";\n"
                 "vcpus = 1;\n"
                 "shutdown_timeout_ms = 2000;\n"
                 "plugin = {\n"
                 "  path = \"%s/%s\";\n"
                 "  args = [ \"" HOST_IP "\", \"" NETMASK "\", \"" MAC "\" ];\n"
                 "%s"
                 "};\n"
                 "network = { host_ip = \"" HOST_IP "\"; netmask = \"" NETMASK "\"; mac = \"" MAC "\"; };\n"
                 "sandbox = { %s };\n",
                 TEST_PLUGIN_DIR, plugin, test_plugin_env(), sandbox);
        return buf;
}

static void dump(const struct vmrun *r) {
        fprintf(stderr, "--- status %d, %.3f s\n--- stdout:\n%s--- stderr:\n%s---\n", r->status, r->seconds,
                r->out, r->err);
}

/* The plugin ran to its end, every check passed, and the VM stopped
 * cleanly because the plugin exited 0. */
static void run_ok(const char *plugin, const char *sandbox) {
        struct vmrun_opts o = { .config = config(plugin, sandbox), .timeout_s = 240 };
        char ok[64];
        struct vmrun r;

        vmrun(&o, &r);
        snprintf(ok, sizeof(ok), "%s: ok", plugin);
        if (r.status != 0 || !vmrun_output_has(&r, ok))
                dump(&r);
        ck_assert_msg(vmrun_output_has(&r, ok), "%s (sandbox { %s }) did not pass", plugin, sandbox);
        ck_assert_int_eq(r.status, 0);
        vmrun_free(&r);
}

START_TEST(test_sandbox_off) {
        run_ok(plugins[_i], "enabled = false;");
}
END_TEST

START_TEST(test_default_policy) {
        char sandbox[512];

        snprintf(sandbox, sizeof(sandbox), "enabled = true; seccomp_policy = \"%s\";", TEST_SECCOMP_POLICY);
        run_ok(plugins[_i], sandbox);
}
END_TEST

START_TEST(test_crosvm_era_policy) {
        run_ok(plugins[_i], "enabled = true; seccomp_policy = \"" ERA_POLICY "\";");
}
END_TEST

/* The same policy without the base: glibc's loader calls newfstatat,
 * which crosvm's era never listed, and the plugin dies before main(),
 * named. */
START_TEST(test_crosvm_era_policy_needs_base) {
        struct vmrun_opts o = {
                .config = config("compat_io", "enabled = true; seccomp_base = false; seccomp_policy = \"" ERA_POLICY
                                              "\";"),
                .timeout_s = 240,
        };
        const char *reason;
        struct vmrun r;

        vmrun(&o, &r);
        reason = vmrun_event(&r, "exited", 0) ? vmrun_str(vmrun_event(&r, "exited", 0), "reason") : NULL;
        if (r.status != 33 || !reason || !strstr(reason, "seccomp"))
                dump(&r);
        ck_assert_int_eq(r.status, 33);
        ck_assert_msg(reason && strstr(reason, "seccomp"), "reason: %s", reason ? reason : "(none)");
        ck_assert_msg(!vmrun_output_has(&r, "compat_io: ok"), "the plugin ran without the base");
        vmrun_free(&r);
}
END_TEST

/* crosvm's enable_cap: Hyper-V SynIC exits reach the plugin with KVM's
 * values (tests/plugins/compat_synic.c), unsandboxed and jailed. */
START_TEST(test_synic) {
        char sandbox[512];

        if (_i == 0)
                snprintf(sandbox, sizeof(sandbox), "enabled = false;");
        else
                snprintf(sandbox, sizeof(sandbox), "enabled = true; seccomp_policy = \"%s\";", TEST_SECCOMP_POLICY);
        run_ok("compat_synic", sandbox);
}
END_TEST

int main(void) {
        Suite *s = suite_create("compat");
        TCase *tc = tcase_create("compat");
        TCase *synic = tcase_create("synic");
        int n = (int)(sizeof(plugins) / sizeof(plugins[0]));

        test_require(test_is_root(), "root");
        test_require(test_have_kvm(), "/dev/kvm");
        tcase_set_timeout(tc, 900);
        tcase_add_loop_test(tc, test_sandbox_off, 0, n);
        tcase_add_loop_test(tc, test_default_policy, 0, n);
        /* A sanitized plugin's runtime calls what no crosvm-era policy
         * allows (sanitizer.policy lists it): these two need a plain
         * build. */
        if (!TEST_SANITIZED) {
                tcase_add_loop_test(tc, test_crosvm_era_policy, 0, n);
                tcase_add_test(tc, test_crosvm_era_policy_needs_base);
        }
        suite_add_tcase(s, tc);
        tcase_set_timeout(synic, 600);
        tcase_add_loop_test(synic, test_synic, 0, 2);
        suite_add_tcase(s, synic);
        return test_run_suite(s);
}
