/* The jail against its attackers (#14): a plugin that signals its process
 * group and every process it can reach, one that looks for its caller's
 * session keys, one that prints its environment, one that makes vmlaunch
 * its tracer and stops, and 20 seccomp violations in a row, each named
 * without the kernel log.  Each run is jailed (and, where it matters,
 * unsandboxed too) and must stop on SIGTERM in time. */
#include <check.h>
#include <errno.h>
#include <linux/keyctl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile.h"

/* A config running `plugin` with `args` (libconfig list items), sandboxed
 * or not, under the test policy plus jail.policy; `plugin_extra` goes
 * into the plugin group verbatim (may be ""). */
static const char *jail_config(const char *plugin, const char *args, bool sandbox, const char *plugin_extra) {
        static char buf[8192];

        snprintf(buf, sizeof(buf),
                 "name = \"hostile-jail\";\n"
                 "shutdown_timeout_ms = %u;\n"
                 "plugin = {\n"
                 "  path = \"%s\";\n"
                 "  args = [ %s ];\n"
                 "%s"
                 "};\n"
                 "sandbox = { enabled = %s; seccomp_policy = \"%s\"; };\n",
                 HOSTILE_DEADLINE_MS, plugin, args, plugin_extra, sandbox ? "true" : "false", JAIL_POLICY);
        return buf;
}

/* Runs `config`, SIGTERMs vmlaunch once it runs, and checks that it
 * stopped cleanly and in time. */
static void run_and_stop(const char *config, struct vmrun *r) {
        struct vmrun_opts o = { .config = config, .signal = SIGTERM, .timeout_s = 120 };

        vmrun(&o, r);
        if (r->status != 0)
                hostile_dump(r);
        ck_assert_int_eq(r->status, 0);
        hostile_assert_stopped_in_time(r);
}

/* The plugin line that starts with `prefix`, or NULL. */
static const char *output_line(const struct vmrun *r, const char *prefix) {
        for (size_t i = 0; i < r->n_events; i++) {
                const char *line = vmrun_str(r->events[i], "line");

                if (line && strncmp(line, prefix, strlen(prefix)) == 0)
                        return line;
        }
        return NULL;
}

/* A sibling of vmlaunch, in our process group. */
static pid_t start_sibling(void) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                for (;;)
                        pause();
        }
        return pid;
}

static void assert_sibling_alive(pid_t pid) {
        int st;

        ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0, "the sibling died: status 0x%x", st);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
}

/* kill(0, SIGTERM), kill(-pgrp, SIGTERM) and kill(-1, SIGKILL) from the
 * jail reach nothing outside it: without its own session, the first one
 * reached this test (in vmlaunch's process group) and killed it. */
START_TEST(test_session_jailed) {
        pid_t sibling = start_sibling();
        struct vmrun r;

        run_and_stop(jail_config(hostile_plugin("jail_session"), "\"--jailed\"", true, ""), &r);
        ck_assert_msg(vmrun_output_has(&r, "jail_session: attacks done"), "the attacks did not run");
        ck_assert_msg(vmrun_output_has(&r, "jail_session: pid 1 sid 1 pgrp 1"), "not its own session");
        assert_sibling_alive(sibling);
        vmrun_free(&r);
}
END_TEST

/* Unsandboxed, the plugin leads its own session too. */
START_TEST(test_session_unsandboxed) {
        pid_t sibling = start_sibling();
        const char *line;
        struct vmrun r;
        int pid = -1, sid = -2, pgrp = -3;

        run_and_stop(jail_config(hostile_plugin("jail_session"), "", false, ""), &r);
        line = output_line(&r, "jail_session: pid ");
        ck_assert_ptr_nonnull(line);
        ck_assert_int_eq(sscanf(line, "jail_session: pid %d sid %d pgrp %d", &pid, &sid, &pgrp), 3);
        ck_assert_msg(pid == sid && pid == pgrp, "%s", line);
        assert_sibling_alive(sibling);
        vmrun_free(&r);
}
END_TEST

/* A key in the session keyring of vmlaunch's caller is neither found nor
 * readable from the jail. */
START_TEST(test_keyring) {
        static const char desc[] = "vmlaunch-hostile-secret", payload[] = "the-caller's-secret";
        char args[128], buf[64];
        struct vmrun r;
        long key;

        ck_assert_int_ge(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL), 0);
        key = syscall(SYS_add_key, "user", desc, payload, strlen(payload), KEY_SPEC_SESSION_KEYRING);
        ck_assert_msg(key > 0, "add_key: %s", strerror(errno));
        /* We possess it: we can read it. */
        ck_assert_int_eq(syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof(buf)), (long)strlen(payload));
        snprintf(args, sizeof(args), "\"%s\", \"%ld\"", desc, key);
        run_and_stop(jail_config(hostile_plugin("jail_keyring"), args, true, ""), &r);
        ck_assert_msg(vmrun_output_has(&r, "jail_keyring: attacks done"), "the attacks did not run");
        if (vmrun_output_has(&r, "LEAKED"))
                hostile_dump(&r);
        ck_assert_msg(!vmrun_output_has(&r, "LEAKED"), "the plugin read the caller's key");
        ck_assert(vmrun_output_has(&r, "jail_keyring: search: not found"));
        ck_assert(vmrun_output_has(&r, "jail_keyring: by id: read refused"));
        vmrun_free(&r);
}
END_TEST

/* The environment the plugin printed, as "NAME=value" lines joined by
 * '\n', in its order. */
static void plugin_env(const struct vmrun *r, char *buf, size_t len) {
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < r->n_events; i++) {
                const char *line = vmrun_str(r->events[i], "line");

                if (!line || strncmp(line, "jail_env: ", 10) != 0)
                        continue;
                if (strcmp(line + 10, "end") == 0)
                        return;
                off += (size_t)snprintf(buf + off, len - off, "%s\n", line + 10);
                ck_assert_uint_lt(off, len);
        }
        ck_abort_msg("no end of the environment in the output");
}

/* Exactly the protocol's variables, then `extra` (may be ""). */
static void check_env(bool sandbox, const char *plugin_extra, const char *extra) {
        char env[4096], want[4096];
        struct vmrun r;
        int sock = -1, lane = -1;
        unsigned poll = 0;

        ck_assert_int_eq(setenv("VMLAUNCH_HOSTILE_SECRET", "hunter2", 1), 0);
        run_and_stop(jail_config(hostile_plugin("jail_env"), "", sandbox, plugin_extra), &r);
        plugin_env(&r, env, sizeof(env));
        ck_assert_msg(sscanf(env, "CROSVM_SOCKET=%d\nVMLAUNCH_POLL_US=%u\nVMLAUNCH_LANE_FD=%d\n", &sock, &poll, &lane) == 3,
                      "environment:\n%s", env);
        snprintf(want, sizeof(want), "CROSVM_SOCKET=%d\nVMLAUNCH_POLL_US=%u\nVMLAUNCH_LANE_FD=%d\n%s", sock, poll, lane,
                 extra);
        ck_assert_msg(strcmp(env, want) == 0, "environment:\n%s\nwanted:\n%s", env, want);
        vmrun_free(&r);
}

START_TEST(test_env_jailed) {
        check_env(true, "", "");
}
END_TEST

START_TEST(test_env_unsandboxed) {
        check_env(false, "", "");
}
END_TEST

/* plugin.env entries follow the protocol's variables, in order. */
START_TEST(test_env_from_config) {
        static const char entries[] = "  env = [ \"ADDED_BY_CONFIG=yes\", \"SECOND=2 and more\" ];\n";

        check_env(true, entries, "ADDED_BY_CONFIG=yes\nSECOND=2 and more\n");
        check_env(false, entries, "ADDED_BY_CONFIG=yes\nSECOND=2 and more\n");
}
END_TEST

/* A plugin that made vmlaunch its tracer and stopped has not exited: the
 * VM runs on until it is stopped, and stops cleanly. */
START_TEST(test_ptrace_stop) {
        struct vmrun r;

        run_and_stop(jail_config(hostile_plugin("jail_ptrace"), "", true, ""), &r);
        ck_assert_msg(vmrun_output_has(&r, "jail_ptrace: running on after the stop"), "the plugin did not go on");
        vmrun_free(&r);
}
END_TEST

#define ACTIONS_LOGGED "/proc/sys/kernel/seccomp/actions_logged"

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");

        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        fputs(text, f);
        ck_assert_msg(fclose(f) == 0, "%s: %s", path, strerror(errno));
}

/* 20 seccomp kills in a row each name the syscall, with the kernel
 * logging no seccomp kill at all (actions_logged without kill_process):
 * the name comes from the listener, not from the kernel log. */
START_TEST(test_seccomp_kills_named) {
        char old[256] = "";
        FILE *f = fopen(ACTIONS_LOGGED, "re");
        double total = 0, worst = 0, kill_worst = 0;

        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(old, sizeof(old), f));
        fclose(f);
        write_text(ACTIONS_LOGGED, "kill_thread trap errno trace log");
        for (int i = 0; i < 20; i++) {
                struct vmrun_opts o = {
                        .config = jail_config(TEST_PLUGIN_DIR "/seccomp_violator", "", true, ""),
                        .timeout_s = 60,
                };
                const char *reason;
                struct vmrun r;

                vmrun(&o, &r);
                reason = vmrun_str(vmrun_event(&r, "exited", 0), "reason");
                if (r.status != 33 || !reason || !strstr(reason, "syscall 41, socket, is not allowed")) {
                        write_text(ACTIONS_LOGGED, old);
                        hostile_dump(&r);
                        ck_abort_msg("run %d: status %d, reason: %s", i, r.status, reason ? reason : "(none)");
                }
                total += r.seconds;
                if (r.seconds > worst)
                        worst = r.seconds;
                /* From the plugin's last line to the exit: the kill and
                 * its naming, with no wait for a kernel log. */
                for (size_t k = 0; k < r.n_events; k++) {
                        const char *line = vmrun_str(r.events[k], "line");

                        if (line && strstr(line, "opening an AF_INET socket")) {
                                double d = vmrun_time(vmrun_event(&r, "exited", 0)) - vmrun_time(r.events[k]);

                                if (d > kill_worst)
                                        kill_worst = d;
                        }
                }
                vmrun_free(&r);
        }
        write_text(ACTIONS_LOGGED, old);
        fprintf(stderr,
                "test_seccomp_kills_named: 20 runs, %.3f s each on average, %.3f s at worst; "
                "from the violating plugin's last line to the exit: %.3f s at worst\n",
                total / 20, worst, kill_worst);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hostile_jail");
        TCase *tc = tcase_create("hostile_jail");

        test_require(test_is_root(), "root");
        test_require(test_have_kvm(), "/dev/kvm");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_session_jailed);
        tcase_add_test(tc, test_session_unsandboxed);
        tcase_add_test(tc, test_keyring);
        tcase_add_test(tc, test_env_jailed);
        tcase_add_test(tc, test_env_unsandboxed);
        tcase_add_test(tc, test_env_from_config);
        tcase_add_test(tc, test_ptrace_stop);
        tcase_add_test(tc, test_seccomp_kills_named);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
