#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

enum {
        CG_PIDS = 1u << 0,
        CG_MEMORY = 1u << 1,
};

#define CG_MAX_DIRS 3

struct cgroup;
static int keeper_start(struct cgroup *cg);
static size_t read_pids_raw(const char *path, pid_t *pids, size_t max);

struct cgroup_dir {
        char *path;             /* the plugin's group */
        char *kill_path, *procs_path;   /* its files, for the keeper */
        bool v2;
        unsigned controllers;
};

struct cgroup {
        struct cgroup_dir dirs[CG_MAX_DIRS];
        size_t n_dirs;
        /* v2, when vmlaunch left its own group to enable controllers in it:
         * that group, the leaf it moved into, and what it enabled. */
        char *home;
        char *leaf;
        unsigned enabled;
        /* For the keeper (keeper_start): the paths and the words it writes. */
        char *leaf_procs, *home_procs, *home_subtree;
        char off[32];
        pid_t keeper;
        int keeper_fd;
};

/* A hierarchy as this process sees it: where it is mounted, the root of
 * the mount within the hierarchy, and our group in it. */
struct hierarchy {
        char mnt[256];
        char root[256];
        char own[512];
        bool found, own_found;
};

static const char *controller_name(unsigned c) {
        return c == CG_PIDS ? "pids" : "memory";
}

static bool has_word(const char *list, const char *word, char sep) {
        size_t n = strlen(word);

        for (const char *p = list; p && *p;) {
                const char *e = strchr(p, sep);
                size_t len = e ? (size_t)(e - p) : strlen(p);

                if (len == n && strncmp(p, word, n) == 0)
                        return true;
                p = e ? e + 1 : NULL;
        }
        return false;
}

/* Reads dir/file whole, if small (trailing newline dropped). */
static int read_small(const char *dir, const char *file, char *buf, size_t size) {
        _cleanup_close_ int fd = -1;
        char path[PATH_MAX];
        ssize_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        if (n > 0 && buf[n - 1] == '\n')
                buf[n - 1] = 0;
        return 0;
}

static int write_file(const char *dir, const char *file, const char *value) {
        char path[PATH_MAX];
        _cleanup_close_ int fd = -1;
        size_t len = strlen(value);

        snprintf(path, sizeof(path), "%s/%s", dir, file);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, value, len) != (ssize_t)len)
                return negative_errno();
        return 0;
}

/* The v2 hierarchy (want_v2) or the v1 one carrying `controller`, from
 * /proc/self/mountinfo and /proc/self/cgroup.  Paths with escaped
 * characters (\040) are not handled: not found. */
static void find_hierarchy(bool want_v2, const char *controller, struct hierarchy *h) {
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        FILE *f;

        memset(h, 0, sizeof(*h));
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return;
        while (getline(&line, &cap, f) > 0) {
                char root[256], mnt[256], fstype[32], super[512];
                const char *dash = strstr(line, " - ");

                if (!dash || sscanf(line, "%*s %*s %*s %255s %255s", root, mnt) != 2 ||
                    sscanf(dash + 3, "%31s %*s %511s", fstype, super) != 2)
                        continue;
                if (strchr(mnt, '\\') || strchr(root, '\\'))
                        continue;
                if (want_v2 ? strcmp(fstype, "cgroup2") != 0
                            : strcmp(fstype, "cgroup") != 0 || !has_word(super, controller, ','))
                        continue;
                snprintf(h->mnt, sizeof(h->mnt), "%s", mnt);
                snprintf(h->root, sizeof(h->root), "%s", root);
                h->found = true;
                break;
        }
        fclose(f);
        if (!h->found)
                return;
        f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return;
        while (getline(&line, &cap, f) > 0) {
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                size_t rl = strlen(h->root);

                if (!c2)
                        continue;
                *c2 = 0;
                c2[1 + strcspn(c2 + 1, "\n")] = 0;
                if (want_v2 ? strncmp(line, "0:", 2) != 0 || c1[1] != 0 : !has_word(c1 + 1, controller, ','))
                        continue;
                /* Our group as a path below the mount point. */
                if (strcmp(h->root, "/") == 0)
                        rl = 0;
                else if (strncmp(c2 + 1, h->root, rl) != 0 || (c2[1 + rl] != '/' && c2[1 + rl] != 0))
                        break;
                snprintf(h->own, sizeof(h->own), "%s", c2 + 1 + rl);
                h->own_found = true;
                break;
        }
        fclose(f);
}

static char *path_join(const char *dir, const char *file) {
        char *p;

        return asprintf(&p, "%s/%s", dir, file) < 0 ? NULL : p;
}

static void join_path(char *out, size_t size, const char *mnt, const char *rel) {
        /* "/" as the group means the mount point itself. */
        if (strcmp(rel, "/") == 0 || rel[0] == 0)
                snprintf(out, size, "%s", mnt);
        else
                snprintf(out, size, "%s%s%s", mnt, rel[0] == '/' ? "" : "/", rel);
}

/* Removes the empty groups of vmlaunch runs that no longer exist. */
static void remove_stale(const char *parent) {
        DIR *d = opendir(parent);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d))) {
                char path[PATH_MAX], *end;
                long pid;

                if (e->d_type != DT_DIR || strncmp(e->d_name, CGROUP_PREFIX, strlen(CGROUP_PREFIX)) != 0)
                        continue;
                pid = strtol(e->d_name + strlen(CGROUP_PREFIX), &end, 10);
                if (pid <= 0 || pid == getpid() || (*end && strcmp(end, ".self") != 0))
                        continue;
                if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
                rmdir(path);    /* refused if anything still runs in it */
        }
        closedir(d);
}

/* v2: enables `ctl` for the children of `parent`.  When it holds
 * processes and is our own group with nobody else in it, we move into a
 * leaf beside the plugin's first (the "no internal processes" rule). */
static int v2_enable(struct cgroup *cg, const char *parent, bool own, unsigned ctl) {
        _cleanup_free_ char *procs = NULL;
        char want[64] = "", sub[256] = "";
        unsigned missing = 0;
        pid_t pids[2];
        size_t n = 0;
        int r;

        if (read_small(parent, "cgroup.subtree_control", sub, sizeof(sub)) < 0)
                return -EACCES;
        for (unsigned c = CG_PIDS; c <= CG_MEMORY; c <<= 1)
                if ((ctl & c) && !has_word(sub, controller_name(c), ' ')) {
                        missing |= c;
                        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s+%s", want[0] ? " " : "",
                                 controller_name(c));
                }
        if (!missing)
                return 0;
        r = write_file(parent, "cgroup.subtree_control", want);
        if (r != -EBUSY || !own) {
                if (r == 0)
                        cg->enabled |= missing;
                return r;
        }
        procs = path_join(parent, "cgroup.procs");
        if (!procs)
                return -ENOMEM;
        n = read_pids_raw(procs, pids, ARRAY_SIZE(pids));
        if (n != 1 || pids[0] != getpid())
                return -EBUSY;
        if (asprintf(&cg->leaf, "%s/" CGROUP_PREFIX "%d.self", parent, (int)getpid()) < 0) {
                cg->leaf = NULL;
                return -ENOMEM;
        }
        cg->home = strdup(parent);
        if (!cg->home)
                return -ENOMEM;
        if (mkdir(cg->leaf, 0755) < 0 && errno != EEXIST)
                return -errno;
        {
                char self[32];

                snprintf(self, sizeof(self), "%d", (int)getpid());
                if ((r = write_file(cg->leaf, "cgroup.procs", self)) < 0)
                        return r;
        }
        r = write_file(parent, "cgroup.subtree_control", want);
        if (r == 0)
                cg->enabled |= missing;
        return r;
}

static int add_dir(struct cgroup *cg, const char *parent, bool v2, unsigned ctl) {
        struct cgroup_dir *d = &cg->dirs[cg->n_dirs];

        remove_stale(parent);
        if (asprintf(&d->path, "%s/" CGROUP_PREFIX "%d", parent, (int)getpid()) < 0) {
                d->path = NULL;
                return -ENOMEM;
        }
        if (mkdir(d->path, 0755) < 0 && errno != EEXIST) {
                int r = -errno;

                free(d->path);
                d->path = NULL;
                return r;
        }
        d->v2 = v2;
        d->controllers = ctl;
        cg->n_dirs++;
        d->kill_path = path_join(d->path, "cgroup.kill");
        d->procs_path = path_join(d->path, "cgroup.procs");
        return d->kill_path && d->procs_path ? 0 : -ENOMEM;
}

static int write_limits(const struct vm_config *c, const struct cgroup_dir *d) {
        char v[32];
        int r;

        if (d->controllers & CG_PIDS) {
                if (c->limits.tasks)
                        snprintf(v, sizeof(v), "%u", c->limits.tasks);
                else
                        snprintf(v, sizeof(v), "max");
                if ((r = write_file(d->path, "pids.max", v)) < 0)
                        return r;
        }
        if ((d->controllers & CG_MEMORY) && c->limits.memory_mib) {
                snprintf(v, sizeof(v), "%" PRIu64, c->limits.memory_mib << 20);
                if ((r = write_file(d->path, d->v2 ? "memory.max" : "memory.limit_in_bytes", v)) < 0)
                        return r;
                /* Over the limit the plugin is OOM-killed, not vmlaunch:
                 * with swap the group would page instead, so swap is
                 * closed to it where the knob exists. */
                if (d->v2)
                        write_file(d->path, "memory.swap.max", "0");
        }
        return 0;
}

int cgroup_new(const struct vm_config *c, struct cgroup **ret, struct log_err *msg) {
        const char *parent_cfg = c->limits.cgroup_parent;
        unsigned need = (c->limits.tasks ? CG_PIDS : 0) | (c->limits.memory_mib ? CG_MEMORY : 0);
        unsigned got = 0;
        struct cgroup *cg;
        struct hierarchy h;
        char parent[PATH_MAX], why[PATH_MAX + 256] = "";
        int r;

        log_err_set(msg, 0, "%s", "");
        cg = calloc(1, sizeof(*cg));
        if (!cg)
                return log_err_errno(msg, -ENOMEM, "limits: making the plugin's cgroup");
        cg->keeper_fd = -1;
        if (!need) {
                *ret = cg;
                return 0;
        }

        find_hierarchy(true, NULL, &h);
        if (h.found && (parent_cfg || h.own_found)) {
                char avail[256] = "";
                unsigned v2 = 0;

                join_path(parent, sizeof(parent), h.mnt, parent_cfg ? parent_cfg : h.own);
                if (read_small(parent, "cgroup.controllers", avail, sizeof(avail)) == 0)
                        for (unsigned ctl = CG_PIDS; ctl <= CG_MEMORY; ctl <<= 1)
                                if ((need & ctl) && has_word(avail, controller_name(ctl), ' '))
                                        v2 |= ctl;
                if (v2) {
                        r = v2_enable(cg, parent, !parent_cfg, v2);
                        if (r == 0)
                                r = add_dir(cg, parent, true, v2);
                        if (r == 0)
                                got |= v2;
                        else
                                snprintf(why, sizeof(why), "cgroup v2 %s: %s%s", parent, strerror(-r),
                                         r == -EBUSY ? " (it holds other processes)" : "");
                }
        }
        for (unsigned ctl = CG_PIDS; ctl <= CG_MEMORY; ctl <<= 1) {
                char path[PATH_MAX + 64];
                bool shared = false;

                if (!(need & ctl) || (got & ctl))
                        continue;
                find_hierarchy(false, controller_name(ctl), &h);
                if (!h.found || (!parent_cfg && !h.own_found))
                        continue;
                join_path(parent, sizeof(parent), h.mnt, parent_cfg ? parent_cfg : h.own);
                /* Controllers mounted together share one group. */
                snprintf(path, sizeof(path), "%s/" CGROUP_PREFIX "%d", parent, (int)getpid());
                for (size_t i = 0; i < cg->n_dirs; i++)
                        if (!cg->dirs[i].v2 && strcmp(cg->dirs[i].path, path) == 0) {
                                cg->dirs[i].controllers |= ctl;
                                shared = true;
                        }
                r = shared ? 0 : add_dir(cg, parent, false, ctl);
                if (r == 0)
                        got |= ctl;
                else if (!why[0])
                        snprintf(why, sizeof(why), "cgroup v1 %s: %s", parent, strerror(-r));
        }
        for (size_t i = 0; i < cg->n_dirs; i++) {
                r = write_limits(c, &cg->dirs[i]);
                if (r < 0) {
                        log_err_errno(msg, r, "limits: writing the limits in %s", cg->dirs[i].path);
                        cgroup_remove(cg);
                        return r;
                }
        }
        if (cg->n_dirs > 0 && (r = keeper_start(cg)) < 0) {
                log_err_errno(msg, r, "limits: starting the cgroup keeper");
                cgroup_remove(cg);
                return r;
        }
        if (got != need) {
                unsigned miss = need & ~got;

                if (parent_cfg) {
                        log_err_set(msg, -EACCES, "limits.cgroup_parent %s: no writable %s%s%s controller%s%s",
                                    parent_cfg, (miss & CG_PIDS) ? "pids" : "",
                                    miss == (CG_PIDS | CG_MEMORY) ? " and " : "", (miss & CG_MEMORY) ? "memory" : "",
                                    why[0] ? ": " : "", why);
                        cgroup_remove(cg);
                        return -EACCES;
                }
                log_err_set(msg, 0,
                         "limits: no writable cgroup with the %s%s%s controller (%s): %s%s%s not enforced; "
                         "the plugin still gets RLIMIT_NOFILE, but RLIMIT_NPROC cannot stand in (the plugin is "
                         "uid 0 of its user namespace, and the kernel counts NPROC per real uid host-wide and "
                         "exempts root); set limits.cgroup_parent to a delegated cgroup",
                         (miss & CG_PIDS) ? "pids" : "", miss == (CG_PIDS | CG_MEMORY) ? " and " : "",
                         (miss & CG_MEMORY) ? "memory" : "", why[0] ? why : "none is mounted where we can see it",
                         (miss & CG_PIDS) ? "limits.tasks" : "", miss == (CG_PIDS | CG_MEMORY) ? " and " : "",
                         (miss & CG_MEMORY) ? "limits.memory_mib are" : " is");
        }
        *ret = cg;
        return 0;
}

int cgroup_attach(struct cgroup *cg, pid_t pid) {
        char v[32];
        int r;

        snprintf(v, sizeof(v), "%d", (int)pid);
        for (size_t i = 0; cg && i < cg->n_dirs; i++)
                if ((r = write_file(cg->dirs[i].path, "cgroup.procs", v)) < 0)
                        return r;
        return 0;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = ms * 1000000L };

        nanosleep(&ts, NULL);
}

/* What follows runs in the keeper too, a child forked from a process that
 * may have threads: raw syscalls on buffers built beforehand only. */

static int write_raw(const char *path, const char *value, size_t len) {
        int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;

        if (fd < 0)
                return -errno;
        if (write(fd, value, len) != (ssize_t)len)
                r = negative_errno();
        close(fd);
        return r;
}

/* The pids in a cgroup.procs, at most `max` (the rest on the next pass). */
static size_t read_pids_raw(const char *path, pid_t *pids, size_t max) {
        char buf[1024];
        size_t n = 0;
        long v = -1;
        ssize_t len;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return 0;
        len = read(fd, buf, sizeof(buf));
        close(fd);
        for (ssize_t i = 0; i < len && n < max; i++) {
                if (buf[i] >= '0' && buf[i] <= '9') {
                        v = (v < 0 ? 0 : v * 10) + (buf[i] - '0');
                } else if (v >= 0) {
                        pids[n++] = (pid_t)v;
                        v = -1;
                }
        }
        return n;
}

static size_t format_pid(char *buf, pid_t pid) {
        char tmp[16];
        size_t n = 0, k = 0;

        do
                tmp[n++] = (char)('0' + pid % 10);
        while ((pid /= 10) > 0);
        while (n)
                buf[k++] = tmp[--n];
        buf[k] = 0;
        return k;
}

/* Kills everything in the group and removes it; the kernel lets a group
 * go only once its last task is fully gone, so rmdir is retried. */
static int dir_remove(const struct cgroup_dir *d) {
        int r = 0;

        if (d->v2)
                write_raw(d->kill_path, "1", 1);    /* 5.14+; else the loop below */
        for (int i = 0; i < 100; i++) {
                pid_t pids[64];
                size_t n;

                if (rmdir(d->path) == 0 || errno == ENOENT)
                        return 0;
                r = -errno;
                if (r != -EBUSY)
                        return r;
                n = read_pids_raw(d->procs_path, pids, ARRAY_SIZE(pids));
                for (size_t k = 0; k < n; k++)
                        kill(pids[k], SIGKILL);
                sleep_ms(10);
        }
        return r;
}

/* The keeper's wake-up when vmlaunch dies (PR_SET_PDEATHSIG): it only
 * has to end the wait. */
static void keeper_wake(int sig) {
        (void)sig;
}

/* The keeper: waits until vmlaunch writes to its pipe (teardown) or
 * dies, then removes the plugin's group(s).  It exists because the
 * removal needs a privilege vmlaunch gives up once the plugin runs: a
 * cgroup hierarchy's root directory is mode 0555, so an rmdir in it takes
 * CAP_DAC_OVERRIDE.  A vmlaunch killed by SIGKILL leaves nothing behind
 * either.  It holds none of vmlaunch's fds and ignores the terminal. */
_Noreturn static void keeper_main(const struct cgroup *cg, int rd, int null_fd, pid_t parent) {
        struct sigaction wake = { .sa_handler = keeper_wake };
        struct pollfd p = { .fd = 0, .events = POLLIN };
        sigset_t all, waiting;
        char self[16];
        int failed = 0;
        size_t len;

        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        /* Told apart from vmlaunch in ps and by pgrep -x. */
        prctl(PR_SET_NAME, "vmlaunch-cgroup", 0, 0, 0);
        setsid();
        if (dup2(rd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(null_fd, 2) < 0)
                _exit(2);
        close_range(3, ~0u, 0);
        /* vmlaunch's end: a byte at teardown, or its death, whichever
         * comes first.  Not EOF alone: a process forked before an exec
         * holds a copy of the write end a while.  Its death is a signal
         * that only ppoll lets in (a pidfd would do, but valgrind, which
         * runs vmlaunch in test_valgrind, does not know pidfd_open). */
        sigaction(SIGUSR2, &wake, NULL);
        prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0);
        waiting = all;
        sigdelset(&waiting, SIGUSR2);
        while (getppid() == parent && ppoll(&p, 1, NULL, &waiting) <= 0)
                ;
        for (size_t i = 0; i < cg->n_dirs; i++)
                failed |= dir_remove(&cg->dirs[i]) < 0;
        if (cg->leaf) {
                /* vmlaunch left its group for a leaf beside the plugin's;
                 * once it is gone (so are we, but for us) the controllers
                 * it enabled go off, we leave the leaf, and it goes. */
                len = format_pid(self, getpid());
                for (int i = 0; i < 500; i++) {
                        pid_t pids[2];

                        if (read_pids_raw(cg->leaf_procs, pids, ARRAY_SIZE(pids)) <= 1)
                                break;
                        sleep_ms(10);
                }
                if (cg->off[0])
                        write_raw(cg->home_subtree, cg->off, strlen(cg->off));
                if (write_raw(cg->home_procs, self, len) < 0 || rmdir(cg->leaf) < 0)
                        failed = 1;
        }
        _exit(failed);
}

/* Builds every path the keeper needs, then forks it. */
static int keeper_start(struct cgroup *cg) {
        _cleanup_close_ int null_fd = -1;
        pid_t pid, parent = getpid();
        int fds[2];

        if (cg->leaf) {
                cg->leaf_procs = path_join(cg->leaf, "cgroup.procs");
                cg->home_procs = path_join(cg->home, "cgroup.procs");
                cg->home_subtree = path_join(cg->home, "cgroup.subtree_control");
                if (!cg->leaf_procs || !cg->home_procs || !cg->home_subtree)
                        return -ENOMEM;
                for (unsigned c = CG_PIDS; c <= CG_MEMORY; c <<= 1)
                        if (cg->enabled & c)
                                snprintf(cg->off + strlen(cg->off), sizeof(cg->off) - strlen(cg->off), "%s-%s",
                                         cg->off[0] ? " " : "", controller_name(c));
        }
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0 || pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                int r = -errno;

                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0)
                keeper_main(cg, fds[0], null_fd, parent);
        close(fds[0]);
        cg->keeper = pid;
        cg->keeper_fd = fds[1];
        return 0;
}

int cgroup_remove(struct cgroup *cg) {
        int r = 0, k;

        if (!cg)
                return 0;
        if (cg->keeper > 0) {
                int status = 0;
                pid_t w = 0;

                /* Bounded: what the keeper does takes a second at most. */
                if (write(cg->keeper_fd, "x", 1) != 1)
                        r = negative_errno();
                cg->keeper_fd = safe_close(cg->keeper_fd);
                for (int i = 0; i < 300 && (w = waitpid(cg->keeper, &status, WNOHANG)) == 0; i++)
                        sleep_ms(10);
                if (w != cg->keeper)
                        r = -ETIMEDOUT;
                else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        r = -EBUSY;
        } else {
                for (size_t i = 0; i < cg->n_dirs; i++) {
                        k = dir_remove(&cg->dirs[i]);
                        if (k < 0 && r == 0)
                                r = k;
                }
        }
        for (size_t i = 0; i < cg->n_dirs; i++) {
                free(cg->dirs[i].path);
                free(cg->dirs[i].kill_path);
                free(cg->dirs[i].procs_path);
        }
        free(cg->leaf);
        free(cg->home);
        free(cg->leaf_procs);
        free(cg->home_procs);
        free(cg->home_subtree);
        free(cg);
        return r;
}

const char *cgroup_path(const struct cgroup *cg, size_t i, const char **ret_controllers) {
        static const char *const names[] = { "", "pids", "memory", "pids,memory" };

        if (!cg || i >= cg->n_dirs)
                return NULL;
        if (ret_controllers)
                *ret_controllers = names[cg->dirs[i].controllers & 3];
        return cg->dirs[i].path;
}
