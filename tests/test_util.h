/* Shared by the test suites: requirement probes that skip (exit 77) or,
 * under CI=true, fail; temporary directories; running vmlaunch. */
#pragma once

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TEST_SKIP 77

/* Waits until thread `tid` of this process sleeps (state S: blocked in
 * the kernel); a bounded wait, then the test fails. */
static inline void test_wait_asleep(pid_t tid) {
        char path[64], stat[256], *state;

        snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
        for (int i = 0; i < 10000; i++) {
                FILE *f = fopen(path, "re");

                ck_assert_ptr_nonnull(f);
                ck_assert_ptr_nonnull(fgets(stat, sizeof(stat), f));
                fclose(f);
                state = strrchr(stat, ')');
                if (state && state[1] == ' ' && state[2] == 'S')
                        return;
                usleep(1000);
        }
        ck_abort_msg("thread %d never slept", (int)tid);
}

/* Runs every test of `s` (and frees it): the exit status of main(). */
static inline int test_run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}

static inline bool test_ci_strict(void) {
        const char *ci = getenv("CI");

        return ci && strcmp(ci, "true") == 0;
}

/* Exits 77 with the reason when `ok` is false, or 1 under CI=true, where
 * every requirement is present and a skip would hide a broken machine. */
static inline void test_require(bool ok, const char *what) {
        if (ok)
                return;
        if (test_ci_strict()) {
                fprintf(stderr, "FAIL: %s is missing, and CI=true requires it\n", what);
                exit(1);
        }
        fprintf(stderr, "SKIP: %s is missing\n", what);
        exit(TEST_SKIP);
}

/* The sanitizer options of a sanitizer build's test run, as plugin.env
 * entries ("" where none are set): the plugin's environment is minimal,
 * so a sanitized plugin gets them only this way (a crash must end in its
 * signal, handle_segv=0, not in ASan's exit 1). */
static inline const char *test_plugin_env(void) {
        static char buf[1024];
        const char *a = getenv("ASAN_OPTIONS"), *u = getenv("UBSAN_OPTIONS");

        if (!a && !u)
                return "";
        /* The test plugins leak by design (an attack holds what it made
         * until it is killed): their leaks are not checked. */
        snprintf(buf, sizeof(buf), "  env = [ %s%s%s%s%s%s%s ];\n", a ? "\"ASAN_OPTIONS=" : "", a ? a : "",
                 a ? ":detect_leaks=0\"" : "", a && u ? ", " : "", u ? "\"UBSAN_OPTIONS=" : "", u ? u : "",
                 u ? "\"" : "");
        return buf;
}

static inline bool test_have_kvm(void) {
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        bool ok = fd >= 0 && ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;

        if (fd >= 0)
                close(fd);
        return ok;
}

static inline bool test_is_root(void) {
        return geteuid() == 0;
}
