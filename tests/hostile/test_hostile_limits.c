/* Hostile plugins against the limits (#14 item 7), each jailed under the
 * default policy and the default limits: a thread bomb (the cgroup's
 * pids.max), an irq-event flood, a connection flood, a range flood (the
 * caps on vmlaunch's tables) and a sparse 1 TiB dirty-logged region
 * (limits.guest_memory_mib).  Each asserts the cap held, that vmlaunch's
 * fd count and RSS stayed bounded while the plugin held what it got
 * (sampled from /proc by a hook), and that SIGTERM ended the run within
 * the countdown + 1 s.  Needs /dev/kvm and root. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "config.h"
#include "hostile.h"

/* The default connections cap of a 1-vCPU VM (hostile_config). */
#define CONNECTIONS_1VCPU (CONFIG_LIMIT_CONNECTIONS_DEFAULT + CONFIG_LIMIT_CONNECTIONS_PER_VCPU)
/* What vmlaunch may hold under the default limits (vm_fds_needed): every
 * connection, two fds per irq event, a vCPU's five, and 128 more. */
#define FDS_BOUND (CONNECTIONS_1VCPU + 2 * CONFIG_LIMIT_IRQ_EVENTS_DEFAULT + 5 + 128)
/* Loose on purpose (sanitizer builds run here too): what it catches is
 * growth without bound. */
#define RSS_BOUND_KIB (256 * 1024)

struct sample {
        int pid;
        long fds;
        long rss_kib;
        bool plugin_in_group;   /* a child of vmlaunch is in vmlaunch-<pid> */
};

/* Whether one of vmlaunch's children sits in its group. */
static bool child_in_group(int pid) {
        char path[96], kids[4096], group[64], line[512];
        size_t n;
        bool found = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        n = fread(kids, 1, sizeof(kids) - 1, f);
        kids[n] = 0;
        fclose(f);
        snprintf(group, sizeof(group), "/vmlaunch-%d", pid);
        for (char *tok = strtok(kids, " \n"); tok && !found; tok = strtok(NULL, " \n")) {
                snprintf(path, sizeof(path), "/proc/%s/cgroup", tok);
                f = fopen(path, "re");
                if (!f)
                        continue;
                while (fgets(line, sizeof(line), f))
                        found |= strstr(line, group) != NULL;
                fclose(f);
        }
        return found;
}

static const char *leftover_name;
static bool leftover;

static int find_leftover(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        (void)st;
        if (type == FTW_D && ftw->level > 0 && strcmp(path + ftw->base, leftover_name) == 0) {
                fprintf(stderr, "left behind: %s\n", path);
                leftover = true;
        }
        return 0;
}

/* No cgroup of that vmlaunch is left anywhere under /sys/fs/cgroup. */
static bool group_left_behind(int pid) {
        char name[64];

        snprintf(name, sizeof(name), "vmlaunch-%d", pid);
        leftover_name = name;
        leftover = false;
        nftw("/sys/fs/cgroup", find_leftover, 16, FTW_PHYS);
        return leftover;
}

static void sample_vmlaunch(int pid, void *arg) {
        struct sample *s = arg;
        char path[64], line[256];
        struct dirent *e;
        DIR *d;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/fd", pid);
        d = opendir(path);
        ck_assert_ptr_nonnull(d);
        s->pid = pid;
        s->plugin_in_group = child_in_group(pid);
        s->fds = 0;
        while ((e = readdir(d)))
                s->fds += e->d_name[0] != '.';
        closedir(d);
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        f = fopen(path, "re");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
                sscanf(line, "VmRSS: %ld kB", &s->rss_kib);
        fclose(f);
}

struct outcome {
        long count;
        int err;
        double ms;
        long hard;              /* nofile: the hard limit */
        struct sample at_peak;
};

/* Runs limits_attack MODE; the plugin's report, and vmlaunch's fds and RSS
 * once the plugin holds everything it got. */
static void attack(const char *mode, struct outcome *o) {
        char args[64], needle[64];
        struct vmrun r;
        struct vmrun_opts opts = {
                .signal = SIGTERM,
                .signal_delay_ms = 300,
                .timeout_s = 120,
                .hook_when = needle,
                .hook = sample_vmlaunch,
                .hook_arg = &o->at_peak,
        };
        const char *p;

        memset(o, 0, sizeof(*o));
        snprintf(args, sizeof(args), "\"%s\"", mode);
        snprintf(needle, sizeof(needle), "limits: %s count=", mode);
        opts.config = hostile_config(hostile_plugin("limits_attack"), args, "");
        vmrun(&opts, &r);
        p = strstr(r.out, needle);
        if (!p || r.status != 0)
                hostile_dump(&r);
        ck_assert_msg(p, "the plugin did not report");
        ck_assert_int_eq(sscanf(p + strlen(needle), "%ld errno=%d ms=%lf", &o->count, &o->err, &o->ms), 3);
        if ((p = strstr(r.out, "limits: nofile hard=")))
                sscanf(p, "limits: nofile hard=%ld", &o->hard);
        fprintf(stderr, "%s: count %ld, errno %d (%s), %.0f ms; vmlaunch then held %ld fds, %ld KiB RSS\n", mode,
                o->count, o->err, strerror(o->err), o->ms, o->at_peak.fds, o->at_peak.rss_kib);
        ck_assert_msg(o->at_peak.fds > 0, "the hook did not run");
        ck_assert_int_le(o->at_peak.fds, FDS_BOUND);
        ck_assert_int_le(o->at_peak.rss_kib, RSS_BOUND_KIB);
        hostile_assert_stopped_in_time(&r);
        ck_assert_int_eq(r.status, 0);
        ck_assert_msg(o->at_peak.plugin_in_group, "the plugin was not in vmlaunch-%d", o->at_peak.pid);
        ck_assert_msg(!group_left_behind(o->at_peak.pid), "vmlaunch-%d was left behind", o->at_peak.pid);
        vmrun_free(&r);
}

/* The run made 3,996 threads: the cgroup's pids.max (limits.tasks)
 * counts the plugin's main thread too. */
START_TEST(test_thread_bomb) {
        struct outcome o;

        attack("threads", &o);
        ck_assert_int_eq(o.err, EAGAIN);
        ck_assert_int_gt(o.count, 100);
        ck_assert_int_lt(o.count, CONFIG_LIMIT_TASKS_DEFAULT);
}
END_TEST

/* 9,990 irqfds filled vmlaunch's fd table: now limits.irq_events. */
START_TEST(test_irq_event_flood) {
        struct outcome o;

        attack("irq", &o);
        ck_assert_int_eq(o.err, EMFILE);
        ck_assert_int_eq(o.count, CONFIG_LIMIT_IRQ_EVENTS_DEFAULT);
}
END_TEST

/* 19,979 connections: now limits.connections, the first one included. */
START_TEST(test_connection_flood) {
        struct outcome o;

        attack("conn", &o);
        ck_assert_int_eq(o.err, EMFILE);
        ck_assert_int_eq(o.count, CONNECTIONS_1VCPU - 1);
}
END_TEST

/* 200k ranges grew vmlaunch's heap without bound: now limits.ranges. */
START_TEST(test_range_flood) {
        struct outcome o;

        attack("range", &o);
        ck_assert_int_eq(o.err, ENOSPC);
        ck_assert_int_eq(o.count, CONFIG_LIMIT_RANGES_DEFAULT);
}
END_TEST

/* A sparse 1 TiB dirty-logged region took 2.7 GB of vmalloc and 5 s+:
 * refused by limits.guest_memory_mib before KVM sees it. */
START_TEST(test_sparse_terabyte) {
        struct outcome o;

        attack("sparse", &o);
        ck_assert_int_eq(o.err, E2BIG);
        ck_assert_int_eq(o.count, 0);
        ck_assert_msg(o.ms < 500, "refusing took %.0f ms", o.ms);
}
END_TEST

/* The plugin's RLIMIT_NOFILE is limits.nofile, soft and hard, although
 * vmlaunch raised its own soft limit to its hard one. */
START_TEST(test_plugin_nofile) {
        struct outcome o;

        attack("nofile", &o);
        ck_assert_int_eq(o.count, CONFIG_LIMIT_NOFILE_DEFAULT);
        ck_assert_int_eq(o.hard, CONFIG_LIMIT_NOFILE_DEFAULT);
}
END_TEST

/* A hard RLIMIT_NOFILE too small for the caps is a config error (exit 2)
 * that says what is needed, before anything starts. */
START_TEST(test_own_nofile_too_small) {
        struct rlimit rl = { 512, 512 };
        struct vmrun r;
        struct vmrun_opts opts = { .timeout_s = 30 };

        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);     /* this test's process only */
        opts.config = hostile_config(hostile_plugin("limits_attack"), "\"nofile\"", "");
        vmrun(&opts, &r);
        if (r.status != 2)
                hostile_dump(&r);
        ck_assert_int_eq(r.status, 2);
        ck_assert_ptr_nonnull(strstr(r.err, "RLIMIT_NOFILE"));
        vmrun_free(&r);
}
END_TEST

static void kill_now(int pid, void *arg) {
        *(int *)arg = pid;
        kill(pid, SIGKILL);
}

/* A vmlaunch killed by SIGKILL leaves no cgroup: its keeper removes it. */
START_TEST(test_sigkill_leaves_no_group) {
        struct vmrun r;
        int pid = 0;
        struct vmrun_opts opts = {
                .timeout_s = 60,
                .hook_when = "limits: sparse count=",
                .hook = kill_now,
                .hook_arg = &pid,
        };
        bool left = true;

        opts.config = hostile_config(hostile_plugin("limits_attack"), "\"sparse\"", "");
        vmrun(&opts, &r);
        ck_assert_int_eq(r.status, 128 + SIGKILL);
        ck_assert_int_gt(pid, 0);
        for (int i = 0; i < 40 && left; i++) {
                left = group_left_behind(pid);
                if (left)
                        usleep(50 * 1000);
        }
        ck_assert_msg(!left, "vmlaunch-%d is still there 2 s after vmlaunch was killed", pid);
        vmrun_free(&r);
}
END_TEST

/* limits.memory_mib: a memfd hog is stopped by the cgroup's memory limit
 * (the kernel's OOM killer, inside the group), and vmlaunch reports the
 * crash. */
START_TEST(test_memfd_hog) {
        struct vmrun r;
        struct vmrun_opts opts = { .timeout_s = 120 };
        const char *p, *last = NULL;
        long mib = 0;

        opts.config = hostile_config(hostile_plugin("limits_attack"), "\"memfd\"", "limits = { memory_mib = 64; };");
        vmrun(&opts, &r);
        for (p = r.out; (p = strstr(p, "limits: memfd holds ")); p++)
                last = p;
        if (last)
                sscanf(last, "limits: memfd holds %ld MiB", &mib);
        fprintf(stderr, "memfd: the plugin held %ld MiB at most; status %d\n", mib, r.status);
        if (r.status != 33)
                hostile_dump(&r);
        ck_assert_int_eq(r.status, 33);
        ck_assert_ptr_nonnull(strstr(r.out, "SIGKILL"));
        ck_assert_int_lt(mib, 64);
        vmrun_free(&r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("hostile_limits");
        TCase *tc = tcase_create("limits");

        test_require(test_have_kvm(), "/dev/kvm");
        test_require(test_is_root(), "root");
        tcase_set_timeout(tc, 300);
        tcase_add_test(tc, test_thread_bomb);
        tcase_add_test(tc, test_irq_event_flood);
        tcase_add_test(tc, test_connection_flood);
        tcase_add_test(tc, test_range_flood);
        tcase_add_test(tc, test_sparse_terabyte);
        tcase_add_test(tc, test_plugin_nofile);
        tcase_add_test(tc, test_own_nofile_too_small);
        tcase_add_test(tc, test_sigkill_leaves_no_group);
        tcase_add_test(tc, test_memfd_hog);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
