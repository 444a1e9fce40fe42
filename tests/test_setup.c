/* Set-up and teardown (launcher_setup.c): a run whose set-up fails at a
 * step names that step ("setup: <step>: <what>") and leaves nothing
 * behind, and neither does a run that set up completely: no fd, tap,
 * cgroup or mount of the run survives launcher_run(), and the signal mask
 * is the caller's again.  Each failure is a real one (a policy that does
 * not parse, a device that is not KVM, a tap that does not exist, ...),
 * provoked in-process so that /proc/self shows what is left.
 *
 * The steps before the VM run anywhere ("host" cases); the rest need
 * /dev/kvm and root (run with the argument "kvm", in the kvmhost guest). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "launcher.h"
#include "log.h"
#include "test_util.h"

/* What a run leaves that the next one could see. */
struct traces {
        char fds[1024];         /* "0 1 2 ..." */
        unsigned mounts;
        unsigned taps;
        bool cgroup;            /* a vmlaunch-<our pid> group exists */
        sigset_t mask;
};

static char log_lines[16384];

static void capture(enum log_level level, const char *line, void *userdata) {
        size_t len = strlen(log_lines);

        (void)level;
        (void)userdata;
        snprintf(log_lines + len, sizeof(log_lines) - len, "%s\n", line);
}

static void list_fds(char *buf, size_t cap) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        size_t len = 0;

        ck_assert_ptr_nonnull(d);
        buf[0] = '\0';
        /* The listing's own fd is in it: left out. */
        while ((e = readdir(d)))
                if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
                        len += (size_t)snprintf(buf + len, cap - len, "%s ", e->d_name);
        closedir(d);
}

static unsigned count_lines(const char *path) {
        FILE *f = fopen(path, "re");
        unsigned n = 0;
        int c;

        ck_assert_ptr_nonnull(f);
        while ((c = fgetc(f)) != EOF)
                n += c == '\n';
        fclose(f);
        return n;
}

static unsigned count_taps(void) {
        glob_t g;
        unsigned n;

        if (glob("/sys/class/net/vmtap*", 0, NULL, &g) != 0)
                return 0;
        n = (unsigned)g.gl_pathc;
        globfree(&g);
        return n;
}

/* The plugin's group is vmlaunch-<pid> below ours, in any hierarchy. */
static bool own_cgroup_left(void) {
        char line[4096], path[8192];
        bool found = false;
        FILE *f = fopen("/proc/self/cgroup", "re");

        ck_assert_ptr_nonnull(f);
        while (!found && fgets(line, sizeof(line), f)) {
                static const char *const mounts[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified",
                                                      "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory" };
                char *own = strchr(strchr(line, ':') + 1, ':') + 1;
                struct stat st;

                own[strcspn(own, "\n")] = '\0';
                for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
                        snprintf(path, sizeof(path), "%s%s/vmlaunch-%d", mounts[i], strcmp(own, "/") ? own : "",
                                 (int)getpid());
                        found |= stat(path, &st) == 0;
                }
        }
        fclose(f);
        return found;
}

static void take_traces(struct traces *t) {
        list_fds(t->fds, sizeof(t->fds));
        t->mounts = count_lines("/proc/self/mountinfo");
        t->taps = count_taps();
        t->cgroup = own_cgroup_left();
        ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &t->mask), 0);
}

static void assert_nothing_left(const struct traces *before) {
        struct traces after;

        take_traces(&after);
        ck_assert_msg(strcmp(before->fds, after.fds) == 0, "fds before: %s, after: %s", before->fds, after.fds);
        ck_assert_uint_eq(before->mounts, after.mounts);
        ck_assert_uint_eq(before->taps, after.taps);
        ck_assert_msg(!after.cgroup, "the plugin's cgroup is still there");
        for (int sig = 1; sig < NSIG; sig++)
                ck_assert_msg(sigismember(&before->mask, sig) == sigismember(&after.mask, sig),
                              "signal %d: the mask is not restored", sig);
}

/* Runs `text` in-process; returns the exit code, *res and the log. */
static int run_text(const char *text, struct launch_result *res) {
        struct vm_config *c = NULL;
        char dir[] = SOURCE_DIR;
        int code;

        ck_assert_int_eq(config_load_buffer(text, strlen(text), "setup.conf", dir, NULL, 0, stderr, &c), 0);
        log_lines[0] = '\0';
        log_set_sink(capture, NULL);
        code = launcher_run(c, NULL, res);
        log_set_sink(NULL, NULL);
        config_free(c);
        return code;
}

static const char *conf(const char *extra) {
        static char text[4096];

        snprintf(text, sizeof(text),
                 "plugin = { path = \"%s\";\n%s};\n"
                 "sandbox = { seccomp_policy = \"%s\"; };\n"
                 "shutdown_timeout_ms = 2000;\n%s",
                 HELLO_PLUGIN, test_plugin_env(), TEST_SECCOMP_POLICY, extra);
        return text;
}

/* A run whose set-up fails at `step`: exit `code`, the step named. */
static void expect_failure(const char *text, const char *step, int code, const char *what) {
        struct launch_result res;
        struct traces before;
        char want[128];

        take_traces(&before);
        ck_assert_int_eq(run_text(text, &res), code);
        snprintf(want, sizeof(want), "setup: %s: ", step);
        ck_assert_msg(strstr(log_lines, want), "no \"%s\" line; the log:\n%s", want, log_lines);
        ck_assert_msg(strstr(log_lines, what), "\"%s\" is not said; the log:\n%s", what, log_lines);
        ck_assert_msg(strstr(res.reason, what), "reason: %s", res.reason);
        ck_assert_str_eq(res.plugin_status, "not started");
        assert_nothing_left(&before);
}

/* A policy that does not parse: a config error (exit 2) before anything
 * of the VM exists. */
START_TEST(test_fail_policy) {
        char dir[] = "/tmp/vmlaunch-setup-XXXXXX", policy[64], text[4096];
        FILE *f;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(policy, sizeof(policy), "%s/bad.policy", dir);
        f = fopen(policy, "we");
        ck_assert_ptr_nonnull(f);
        fputs("read: 1\nno_such_syscall_at_all: 1\n", f);
        fclose(f);
        snprintf(text, sizeof(text), "%s", conf(""));
        snprintf(strstr(text, "sandbox = {"), sizeof(text) - (size_t)(strstr(text, "sandbox = {") - text),
                 "sandbox = { seccomp_policy = \"%s\"; };\n", policy);
        expect_failure(text, "seccomp policy", EXIT_VM_CONFIG, "sandbox.seccomp_policy");
        unlink(policy);
        rmdir(dir);
}
END_TEST

/* A device that is not KVM. */
START_TEST(test_fail_vm) {
        expect_failure(conf("kvm_device = \"/dev/null\";\n"), "vm", EXIT_VM_FAILED, "creating the VM");
}
END_TEST

/* The fds the config needs (one vCPU and the default limits: over 700)
 * are more than our hard limit allows. */
START_TEST(test_fail_fd_limit) {
        struct rlimit rl = { 256, 256 };

        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        expect_failure(conf(""), "fd limit check", EXIT_VM_CONFIG, "RLIMIT_NOFILE");
}
END_TEST

START_TEST(test_fail_network_name) {
        expect_failure(conf("network = { tap_name = \"vmlaunch-none0\"; };\n"), "network", EXIT_VM_FAILED,
                       "finding the persistent tap");
}
END_TEST

/* An fd that is not a tap: the step and the fd are named, and ours (the
 * caller's) stays open. */
START_TEST(test_fail_network_fd) {
        char extra[128];
        int p[2];

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        snprintf(extra, sizeof(extra), "network = { tap_fds = [ %d ]; };\n", p[0]);
        expect_failure(conf(extra), "network", EXIT_VM_FAILED, "network.tap_fds: fd");
        ck_assert_int_ge(fcntl(p[0], F_GETFD), 0);
        close(p[0]);
        close(p[1]);
}
END_TEST

/* A configured parent cgroup that does not exist. */
START_TEST(test_fail_cgroup) {
        expect_failure(conf("limits = { tasks = 64; cgroup_parent = \"/vmlaunch-test-no-such-parent\"; };\n"),
                       "cgroup", EXIT_VM_FAILED, "limits.cgroup_parent");
}
END_TEST

/* A plugin whose exec fails, jailed (not an ELF file: refused before
 * the jail is built) and not (the interpreter it names is missing). */
START_TEST(test_fail_plugin) {
        char path[] = SOURCE_DIR "/build-setup-plugin-XXXXXX", text[4096];
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_gt(write(fd, "#!/nonexistent/interpreter\n", 27), 0);
        ck_assert_int_eq(fchmod(fd, 0755), 0);
        close(fd);
        snprintf(text, sizeof(text), "plugin = { path = \"%s\"; };\nsandbox = { seccomp_policy = \"%s\"; };\n", path,
                 TEST_SECCOMP_POLICY);
        expect_failure(text, "plugin", EXIT_VM_FAILED, "not an ELF file");
        snprintf(text, sizeof(text), "plugin = { path = \"%s\"; };\nsandbox = { enabled = false; };\n", path);
        expect_failure(text, "plugin", EXIT_VM_FAILED, "plugin: executing");
        unlink(path);
}
END_TEST

/* A run that set up completely, with a tap vmlaunch creates: the undos
 * of every step ran at the end. */
START_TEST(test_full_run_leaves_nothing) {
        struct launch_result res;
        struct traces before;

        take_traces(&before);
        ck_assert_int_eq(run_text(conf("limits = { tasks = 64; };\n"
                                       "network = { host_ip = \"192.168.231.1\"; netmask = \"255.255.255.0\";"
                                       " mac = \"de:21:e8:47:6b:6a\"; };\n"),
                                  &res),
                         EXIT_VM_OK);
        ck_assert_msg(!strstr(log_lines, "setup: "), "the log:\n%s", log_lines);
        ck_assert_str_eq(res.plugin_status, "exited 0");
        assert_nothing_left(&before);
}
END_TEST

int main(int argc, char **argv) {
        bool kvm = argc > 1 && strcmp(argv[1], "kvm") == 0;
        Suite *s = suite_create("setup");
        TCase *tc = tcase_create("setup");

        if (kvm) {
                test_require(geteuid() == 0, "root");
                test_require(test_have_kvm(), "/dev/kvm");
        }
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_fail_policy);
        tcase_add_test(tc, test_fail_vm);
        if (kvm) {
                tcase_add_test(tc, test_fail_fd_limit);
                tcase_add_test(tc, test_fail_network_name);
                tcase_add_test(tc, test_fail_network_fd);
                tcase_add_test(tc, test_fail_cgroup);
                tcase_add_test(tc, test_fail_plugin);
                tcase_add_test(tc, test_full_run_leaves_nothing);
        }
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
