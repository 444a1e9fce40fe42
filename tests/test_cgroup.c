/* The plugin's cgroup on this machine's real cgroups (v2 where it offers
 * pids and memory, else v1): the limits are written and hold, teardown
 * kills what is left and removes the groups, and a dead run's group is
 * removed by the next.  Needs root and a cgroup hierarchy with pids. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "log.h"
#include "test_util.h"

static struct vm_config config = { .limits = { .tasks = 8, .memory_mib = 16 } };

static bool read_value(const char *dir, const char *file, char *buf, size_t size) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        f = fopen(path, "re");
        if (!f)
                return false;
        buf[0] = 0;
        if (!fgets(buf, (int)size, f))
                buf[0] = 0;
        fclose(f);
        buf[strcspn(buf, "\n")] = 0;
        return true;
}

/* A child that waits for a byte on `go`, then forks children that sleep
 * until it has made `want` or fork fails, reports how many through `res`,
 * and sleeps itself. */
static pid_t fork_bomb(int go, int res, int want) {
        pid_t pid = fork();
        char c;
        int n = 0;

        ck_assert_int_ge(pid, 0);
        if (pid > 0)
                return pid;
        if (read(go, &c, 1) != 1)
                _exit(1);
        for (; n < want; n++) {
                pid_t k = fork();

                if (k < 0)
                        break;
                if (k == 0) {
                        pause();
                        _exit(0);
                }
        }
        if (write(res, &n, sizeof(n)) != sizeof(n))
                _exit(1);
        pause();
        _exit(0);
}

START_TEST(test_tasks_bounded_and_teardown_kills) {
        struct cgroup *cg = NULL;
        const char *path, *ctl = NULL;
        struct log_err msg = LOG_ERR_INIT;
        char val[64];
        int go[2], res[2], n = -1;
        bool saw_pids = false, saw_memory = false;
        pid_t pid;
        char *paths[4] = { 0 };
        size_t n_paths = 0;

        ck_assert_int_eq(cgroup_new(&config, &cg, &msg), 0);
        ck_assert_msg(msg.msg[0] == 0, "warning: %s", msg.msg);
        for (size_t i = 0; (path = cgroup_path(cg, i, &ctl)); i++) {
                ck_assert_ptr_nonnull(strstr(path, CGROUP_PREFIX));
                paths[n_paths++] = strdup(path);
                if (strstr(ctl, "pids")) {
                        saw_pids = true;
                        ck_assert(read_value(path, "pids.max", val, sizeof(val)));
                        ck_assert_str_eq(val, "8");
                }
                if (strstr(ctl, "memory")) {
                        saw_memory = true;
                        if (!read_value(path, "memory.max", val, sizeof(val)))
                                ck_assert(read_value(path, "memory.limit_in_bytes", val, sizeof(val)));
                        ck_assert_str_eq(val, "16777216");
                }
        }
        ck_assert(saw_pids && saw_memory);

        ck_assert_int_eq(pipe(go), 0);
        ck_assert_int_eq(pipe(res), 0);
        pid = fork_bomb(go[0], res[1], 50);
        ck_assert_int_eq(cgroup_attach(cg, pid), 0);
        ck_assert_int_eq(write(go[1], "x", 1), 1);
        ck_assert_int_eq(read(res[0], &n, sizeof(n)), sizeof(n));
        /* pids.max counts the child itself. */
        ck_assert_int_eq(n, 7);

        ck_assert_int_eq(cgroup_remove(cg), 0);
        for (size_t i = 0; i < n_paths; i++) {
                struct stat st;

                ck_assert_msg(stat(paths[i], &st) < 0 && errno == ENOENT, "%s is still there", paths[i]);
                free(paths[i]);
        }
        /* The child died with its group (and was only left to reap). */
        {
                int st;

                ck_assert_int_eq(waitpid(pid, &st, 0), pid);
                ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        }
}
END_TEST

/* A group named for a vmlaunch that no longer runs goes with the next run. */
START_TEST(test_stale_group_removed) {
        struct cgroup *cg = NULL;
        const char *path;
        struct log_err msg = LOG_ERR_INIT;
        char stale[4096];
        struct stat st;
        pid_t dead = fork();
        int status;

        ck_assert_int_ge(dead, 0);
        if (dead == 0)
                _exit(0);
        ck_assert_int_eq(waitpid(dead, &status, 0), dead);

        ck_assert_int_eq(cgroup_new(&config, &cg, &msg), 0);
        path = cgroup_path(cg, 0, NULL);
        ck_assert_ptr_nonnull(path);
        snprintf(stale, sizeof(stale), "%.*s" CGROUP_PREFIX "%d", (int)(strrchr(path, '/') + 1 - path), path,
                 (int)dead);
        ck_assert_int_eq(mkdir(stale, 0755), 0);
        ck_assert_int_eq(cgroup_remove(cg), 0);

        cg = NULL;
        ck_assert_int_eq(cgroup_new(&config, &cg, &msg), 0);
        ck_assert_msg(stat(stale, &st) < 0 && errno == ENOENT, "%s was not removed", stale);
        ck_assert_int_eq(cgroup_remove(cg), 0);
}
END_TEST

START_TEST(test_nothing_needed_nothing_made) {
        struct vm_config none = { 0 };
        struct cgroup *cg = NULL;
        struct log_err msg = LOG_ERR_INIT;

        ck_assert_int_eq(cgroup_new(&none, &cg, &msg), 0);
        ck_assert_str_eq(msg.msg, "");
        ck_assert_ptr_null(cgroup_path(cg, 0, NULL));
        ck_assert_int_eq(cgroup_attach(cg, getpid()), 0);
        ck_assert_int_eq(cgroup_remove(cg), 0);
}
END_TEST

static bool have_pids_cgroup(void) {
        FILE *f = fopen("/proc/self/cgroup", "re");
        char line[512];
        bool ok = false;

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f))
                ok |= strstr(line, ":pids:") != NULL || strncmp(line, "0::", 3) == 0;
        fclose(f);
        return ok;
}

int main(void) {
        Suite *s = suite_create("cgroup");
        TCase *tc = tcase_create("real");

        test_require(test_is_root(), "root");
        test_require(have_pids_cgroup(), "a cgroup hierarchy");
        tcase_add_test(tc, test_tasks_bounded_and_teardown_kills);
        tcase_add_test(tc, test_stale_group_removed);
        tcase_add_test(tc, test_nothing_needed_nothing_made);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
