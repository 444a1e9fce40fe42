/* Headless mode's promises (the status stream and how a run ends) and the
 * guards against a VM that never starts or stops answering, end to end:
 * the real vmlaunch, real KVM VMs.  Timeouts are set small and explicit:
 * the defaults are for real machines, and this runs under emulation too. */
#include <check.h>
#include <cpuid.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "vmrun.h"

static char config_buf[4096];

/* A config for `plugin` with `args` (libconfig list items) and `extra`
 * top-level lines. */
static const char *config(const char *plugin, const char *args, const char *extra) {
        snprintf(config_buf, sizeof(config_buf),
                 "name = \"headless\";\n"
                 "shutdown_timeout_ms = 3000;\n"
                 "%s"
                 "plugin = {\n"
                 "  path = \"%s/%s\";\n"
                 "  args = [ %s ];\n"
                 "%s"
                 "};\n"
                 "sandbox = { seccomp_policy = \"%s\"; };\n",
                 extra, TEST_PLUGIN_DIR, plugin, args, test_plugin_env(), TEST_SECCOMP_POLICY);
        return config_buf;
}

static void dump(const struct vmrun *r) {
        fprintf(stderr, "--- status %d, %.3f s\n--- stdout:\n%s--- stderr:\n%s---\n", r->status, r->seconds,
                r->out, r->err);
}

static const char *event_name(const struct vmrun *r, size_t i) {
        return vmrun_str(r->events[i], "event");
}

/* Every line JSON, the last one `exited` with the exit status. */
static json_object *check_exited_last(const struct vmrun *r) {
        json_object *last;

        ck_assert_msg(r->all_json, "a stdout line is not JSON:\n%s", r->out);
        ck_assert_uint_ge(r->n_events, 1);
        last = r->events[r->n_events - 1];
        ck_assert_str_eq(event_name(r, r->n_events - 1), "exited");
        ck_assert_int_eq(atoi(vmrun_str(last, "exit_code")), r->status);
        return last;
}

/* The last stats event comes after stopping, right before exited, and
 * holds the final (cumulative) counters; both ends carry the cause. */
START_TEST(test_final_stats_before_exited) {
        struct vmrun r;
        struct vmrun_opts o = {
                .config = config("busy", "\"1000\"", ""),
                .signal = SIGTERM,
                .signal_delay_ms = 500,
        };
        json_object *exited, *stats, *total;

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        exited = check_exited_last(&r);
        ck_assert_uint_ge(r.n_events, 3);
        ck_assert_msg(strcmp(event_name(&r, r.n_events - 2), "stats") == 0, "no final stats event:\n%s", r.out);
        /* No --stats-interval: the final one is the only one. */
        ck_assert_ptr_null(vmrun_event(&r, "stats", 1));
        stats = r.events[r.n_events - 2];
        ck_assert(json_object_object_get_ex(stats, "total", &total));
        ck_assert_msg(atoll(vmrun_str(total, "io_out")) > 0, "the final counters are empty:\n%s", r.out);
        ck_assert_str_eq(vmrun_str(exited, "cause"), "signal");
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "stopping", 0), "cause"), "signal");
        vmrun_free(&r);
}
END_TEST

/* --stats-interval 0.1: several stats events in a run well under a
 * second of wall time per event on a real machine. */
START_TEST(test_fractional_stats_interval) {
        static const char *const extra[] = { "--stats-interval", "0.1", NULL };
        struct vmrun r;
        struct vmrun_opts o = {
                .config = config("busy", "\"1000\"", ""),
                .extra_args = extra,
                .signal = SIGTERM,
                .signal_delay_ms = 900,
        };
        size_t before_stop = 0;

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        check_exited_last(&r);
        for (size_t i = 0; i < r.n_events && strcmp(event_name(&r, i), "stopping") != 0; i++)
                before_stop += strcmp(event_name(&r, i), "stats") == 0;
        ck_assert_msg(before_stop >= 2, "%zu stats events in 0.9 s at 0.1 s:\n%s", before_stop, r.out);
        vmrun_free(&r);
}
END_TEST

/* A plugin line goes to the status stream only; --echo-plugin-output
 * writes it to stderr as well. */
START_TEST(test_plugin_lines_once) {
        static const char *const echo[] = { "--echo-plugin-output", NULL };
        struct vmrun r;
        struct vmrun_opts o = {
                .config = config("busy", "\"1000\"", ""),
                .signal = SIGTERM,
                .signal_when = "busy: running",
        };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert(vmrun_output_has(&r, "busy: running"));
        ck_assert_msg(!strstr(r.err, "busy: running"), "a plugin line on stderr too:\n%s", r.err);
        vmrun_free(&r);

        o.extra_args = echo;
        vmrun(&o, &r);
        ck_assert_int_eq(r.status, 0);
        ck_assert(vmrun_output_has(&r, "busy: running"));
        ck_assert_msg(strstr(r.err, "plugin stderr: busy: running"), "not echoed:\n%s", r.err);
        vmrun_free(&r);
}
END_TEST

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `vmlaunch ... | head -1`: the reader takes the first line and goes;
 * vmlaunch stops the VM as on SIGTERM, says why on stderr, and ends
 * within the countdown.  Without it the busy guest would run for ever. */
START_TEST(test_reader_gone_stops_vm) {
        char dir[] = "/tmp/vmlaunch-headless-XXXXXX", conf[256], errpath[256], line[512], err[8192];
        int pipefd[2], status = -1, errfd;
        size_t n = 0;
        double closed, waited;
        pid_t pid;
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(conf, sizeof(conf), "%s/vm.conf", dir);
        snprintf(errpath, sizeof(errpath), "%s/err", dir);
        f = fopen(conf, "we");
        ck_assert_ptr_nonnull(f);
        fputs(config("busy", "\"1000\"", ""), f);
        fclose(f);
        errfd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(errfd, 0);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(pipefd[1], 1);
                dup2(errfd, 2);
                const char *bin = getenv("VMRUN_VMLAUNCH") ? getenv("VMRUN_VMLAUNCH") : VMLAUNCH_BIN;

                execl(bin, bin, "--headless", "-c", conf, (char *)NULL);
                _exit(127);
        }
        close(pipefd[1]);
        close(errfd);
        /* head -1: one line, then the pipe's only reader closes it. */
        while (n < sizeof(line) - 1 && read(pipefd[0], line + n, 1) == 1 && line[n] != '\n')
                n++;
        line[n] = '\0';
        ck_assert_msg(strstr(line, "\"started\""), "first line: %s", line);
        close(pipefd[0]);
        closed = now_s();
        /* The countdown is 3 s; give emulation plenty more, then fail. */
        while (waitpid(pid, &status, WNOHANG) == 0 && now_s() - closed < 60)
                usleep(10000);
        waited = now_s() - closed;
        if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                ck_abort_msg("vmlaunch still ran 60 s after its stdout reader went away");
        }
        f = fopen(errpath, "re");
        ck_assert_ptr_nonnull(f);
        n = fread(err, 1, sizeof(err) - 1, f);
        err[n] = '\0';
        fclose(f);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status 0x%x:\n%s", status, err);
        ck_assert_msg(strstr(err, "stdout was closed by its reader"), "no reason on stderr:\n%s", err);
        ck_assert_msg(strstr(err, "exit 0: shutdown: stopped on request (stdout closed"), "last line:\n%s", err);
        fprintf(stderr, "reader gone: vmlaunch ended %.2f s after the reader closed stdout\n", waited);
        unlink(errpath);
        unlink(conf);
        rmdir(dir);
}
END_TEST

/* stdout's reader gone before the first line: the VM, whose guest would
 * spin for ever, stops as on SIGTERM all the same. */
START_TEST(test_reader_gone_at_start) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config("busy", "\"1000\"", ""), .close_stdout = true, .timeout_s = 60 };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_ptr_nonnull(strstr(r.err, "status output failed"));
        ck_assert_ptr_nonnull(strstr(r.err, "stdout was closed by its reader"));
        ck_assert_ptr_nonnull(strstr(r.err, "exit 0: shutdown: stopped on request (stdout closed"));
        vmrun_free(&r);
}
END_TEST

/* As the launcher decides it (launcher.h LAUNCHER_NESTED_FACTOR): the
 * CPUID hypervisor bit multiplies the start timeout by 10. */
static unsigned nested_factor(void) {
        unsigned a, b, c, d;

        return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 31)) ? 10 : 1;
}

/* A plugin that never sends Start is stopped at start_timeout_ms as
 * hung: exit 1, cause hangup, the reason with the timeout it got. */
START_TEST(test_never_start_hangup) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config("never_start", "", "start_timeout_ms = 400;\n"), .timeout_s = 60 };
        unsigned factor = nested_factor();
        char want[128];

        vmrun(&o, &r);
        if (r.status != 1)
                dump(&r);
        ck_assert_int_eq(r.status, 1);
        check_exited_last(&r);
        ck_assert_ptr_null(vmrun_event(&r, "running", 0));
        snprintf(want, sizeof(want), "hang-up: the plugin did not start the VM within %u ms", 400 * factor);
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "exited", 0), "reason"), want);
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "exited", 0), "cause"), "hangup");
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "stopping", 0), "cause"), "hangup");
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "stopping", 0), "reason"), want);
        /* The scaling is said, with its factor, where it applies. */
        if (factor > 1)
                ck_assert_msg(
                        strstr(r.err, "running nested (CPUID hypervisor bit): start_timeout_ms 400 x 10 = 4000 ms"),
                        "no nested note:\n%s", r.err);
        else
                ck_assert_ptr_null(strstr(r.err, "running nested"));
        fprintf(stderr, "never_start: nested factor %u, stopped after %.2f s\n", factor, r.seconds);
        vmrun_free(&r);
}
END_TEST

/* A plugin that leaves one vCPU's I/O exit unanswered: with the reply
 * watchdog the VM stops, named vCPU and port; cause watchdog. */
START_TEST(test_stall_reply_watchdog) {
        struct vmrun r;
        struct vmrun_opts o = {
                .config = config("stall_reply", "", "vcpu_reply_timeout_ms = 300;\n"),
                .timeout_s = 60,
        };
        const char *reason;

        vmrun(&o, &r);
        if (r.status != 1)
                dump(&r);
        ck_assert_int_eq(r.status, 1);
        check_exited_last(&r);
        ck_assert(vmrun_output_has(&r, "stall_reply: 3 answered"));
        reason = vmrun_str(vmrun_event(&r, "exited", 0), "reason");
        ck_assert_msg(strstr(reason, "watchdog: vCPU 0 waited more than 300 ms") &&
                              strstr(reason, "write to I/O port 0x77"),
                      "reason: %s", reason);
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "exited", 0), "cause"), "watchdog");
        ck_assert_str_eq(vmrun_str(vmrun_event(&r, "stopping", 0), "cause"), "watchdog");
        vmrun_free(&r);
}
END_TEST

/* The watchdog on, every exit answered: nothing trips, the run is clean. */
START_TEST(test_watchdog_quiet_when_answered) {
        struct vmrun r;
        struct vmrun_opts o = { .config = config("io_roundtrip", "\"200\"", "vcpu_reply_timeout_ms = 5000;\n") };

        vmrun(&o, &r);
        if (r.status != 0)
                dump(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(vmrun_str(check_exited_last(&r), "cause"), "plugin_exit");
        vmrun_free(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("headless");
        TCase *tc = tcase_create("vm");

        test_require(test_have_kvm(), "/dev/kvm (KVM API 12)");
        test_require(test_is_root(), "root (the jail's gid maps)");
        tcase_set_timeout(tc, 180);
        tcase_add_test(tc, test_final_stats_before_exited);
        tcase_add_test(tc, test_fractional_stats_interval);
        tcase_add_test(tc, test_plugin_lines_once);
        tcase_add_test(tc, test_reader_gone_stops_vm);
        tcase_add_test(tc, test_reader_gone_at_start);
        tcase_add_test(tc, test_never_start_hangup);
        tcase_add_test(tc, test_stall_reply_watchdog);
        tcase_add_test(tc, test_watchdog_quiet_when_answered);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
