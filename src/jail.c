#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elfdeps.h"
#include "log.h"
#include "util.h"

#define JAIL_TMPFS_SIZE "67108864"
#define JAIL_LD_SO_CACHE "/etc/ld.so.cache"

struct jail_bind {
        char *src;
        char *dst;
        bool writable;
        bool is_dir;
};

struct jail_gid_map {
        uint32_t inner, outer, count;
};

struct jail {
        char *root;             /* where the tmpfs root is attached; NULL: on top of "/" */
        struct jail_bind *binds;
        size_t n_binds;
        struct jail_gid_map *gid_maps;
        size_t n_gid_maps;
        const struct sock_fprog *seccomp;
        bool plain;             /* jail_set_plain(): the common sequence only */
        unsigned nofile;        /* jail_set_nofile(); 0: inherited */
        int (*before_release)(pid_t pid, void *userdata, struct log_err *err);
        void *before_release_data;
        int listener_fd;        /* the seccomp listener taken from the child, or -1 */
};

/* Steps of the child, for the parent's message. */
enum jail_step {
        STEP_SYNC,
        STEP_SESSION,
        STEP_SIGNALS,
        STEP_SETID,
        STEP_CGROUPNS,
        STEP_KEYRING,
        STEP_PROPAGATION,
        STEP_TMPFS,
        STEP_MOUNTPOINT,
        STEP_BIND,
        STEP_REMOUNT,
        STEP_PROC,
        STEP_PIVOT,
        STEP_OLD_ROOT,
        STEP_FDS,
        STEP_NOFILE,
        STEP_SECUREBITS,
        STEP_BOUNDING,
        STEP_AMBIENT,
        STEP_CAPSET,
        STEP_NO_NEW_PRIVS,
        STEP_SECCOMP,
        STEP_LISTENER,          /* not a failure when err is 0: item is the listener's fd */
        STEP_EXEC,
};

static const char *const step_names[] = {
        [STEP_SYNC] = "waiting for the id maps",
        [STEP_SESSION] = "starting a new session",
        [STEP_SIGNALS] = "resetting the signal mask",
        [STEP_SETID] = "switching to uid and gid 0 in the user namespace",
        [STEP_CGROUPNS] = "creating the cgroup namespace",
        [STEP_KEYRING] = "joining a new session keyring",
        [STEP_PROPAGATION] = "making the mount namespace private",
        [STEP_TMPFS] = "mounting the tmpfs root on",
        [STEP_MOUNTPOINT] = "creating the mount point (inside the root, no symlinks) for",
        [STEP_BIND] = "bind-mounting",
        [STEP_REMOUNT] = "making read-only",
        [STEP_PROC] = "mounting /proc in the new root",
        [STEP_PIVOT] = "pivot_root into the new root",
        [STEP_OLD_ROOT] = "detaching the old root",
        [STEP_FDS] = "setting up the plugin's fds",
        [STEP_NOFILE] = "setting RLIMIT_NOFILE",
        [STEP_SECUREBITS] = "locking the securebits",
        [STEP_BOUNDING] = "dropping the capability bounding set",
        [STEP_AMBIENT] = "clearing the ambient capabilities",
        [STEP_CAPSET] = "dropping every capability",
        [STEP_NO_NEW_PRIVS] = "setting no_new_privs",
        [STEP_SECCOMP] = "loading the seccomp filter",
        [STEP_LISTENER] = "handing the seccomp listener to the launcher",
        [STEP_EXEC] = "executing",
};

struct jail_report {
        int step;
        int item;       /* bind index, a listener fd, or -1 */
        int err;
};

int jail_new(struct jail **ret) {
        struct jail *j = calloc(1, sizeof(*j));

        if (!j)
                return -ENOMEM;
        j->listener_fd = -1;
        *ret = j;
        return 0;
}

void jail_free(struct jail *j) {
        if (!j)
                return;
        free(j->root);
        for (size_t i = 0; i < j->n_binds; i++) {
                free(j->binds[i].src);
                free(j->binds[i].dst);
        }
        free(j->binds);
        free(j->gid_maps);
        safe_close(j->listener_fd);
        free(j);
}

int jail_set_root(struct jail *j, const char *root) {
        char *copy = NULL;

        if (root && !(copy = strdup(root)))
                return -ENOMEM;
        free(j->root);
        j->root = copy;
        return 0;
}

/* A mount target: absolute, at least one component, no "." or ".."
 * component, and not /proc or below (the jail mounts its own there). */
static bool valid_dst(const char *dst) {
        const char *p = dst;

        if (dst[0] != '/')
                return false;
        p += strspn(p, "/");
        if (!*p)
                return false;
        if (strncmp(p, "proc", 4) == 0 && (p[4] == '/' || p[4] == '\0'))
                return false;
        while (*p) {
                size_t len = strcspn(p, "/");

                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += len;
                p += strspn(p, "/");
        }
        return true;
}

/* Compares two absolute paths component by component ("/a//b/" is "/a/b"). */
static bool same_dst(const char *a, const char *b) {
        for (;;) {
                size_t la, lb;

                a += strspn(a, "/");
                b += strspn(b, "/");
                la = strcspn(a, "/");
                lb = strcspn(b, "/");
                if (la != lb || strncmp(a, b, la) != 0)
                        return false;
                if (la == 0)
                        return true;
                a += la;
                b += lb;
        }
}

const char *jail_bind_source(const struct jail *j, const char *dst) {
        for (size_t i = 0; i < j->n_binds; i++)
                if (same_dst(j->binds[i].dst, dst))
                        return j->binds[i].src;
        return NULL;
}

int jail_add_bind(struct jail *j, const char *src, const char *dst, bool writable) {
        struct jail_bind *v;
        struct stat st;

        if (src[0] != '/' || !valid_dst(dst))
                return -EINVAL;
        if (stat(src, &st) < 0)
                return -errno;
        /* Two binds on one target: the second would hide the first.  The
         * caller names both (jail_bind_source). */
        if (jail_bind_source(j, dst))
                return -EEXIST;
        v = realloc(j->binds, (j->n_binds + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        j->binds = v;
        v = &j->binds[j->n_binds];
        *v = (struct jail_bind){ .src = strdup(src), .dst = strdup(dst), .writable = writable,
                                 .is_dir = S_ISDIR(st.st_mode) };
        if (!v->src || !v->dst) {
                free(v->src);
                free(v->dst);
                return -ENOMEM;
        }
        j->n_binds++;
        return 0;
}

int jail_add_gid_map(struct jail *j, uint32_t inner, uint32_t outer, uint32_t count) {
        struct jail_gid_map *v = realloc(j->gid_maps, (j->n_gid_maps + 1) * sizeof(*v));

        if (!v)
                return -ENOMEM;
        j->gid_maps = v;
        v[j->n_gid_maps++] = (struct jail_gid_map){ inner, outer, count };
        return 0;
}

void jail_set_seccomp(struct jail *j, const struct sock_fprog *prog) {
        j->seccomp = prog;
}

void jail_set_plain(struct jail *j) {
        j->plain = true;
}

void jail_set_nofile(struct jail *j, unsigned n) {
        j->nofile = n;
}

void jail_set_before_release(struct jail *j, int (*fn)(pid_t pid, void *userdata, struct log_err *err),
                             void *userdata) {
        j->before_release = fn;
        j->before_release_data = userdata;
}

int jail_take_seccomp_listener(struct jail *j) {
        return TAKE_FD(j->listener_fd);
}

int jail_add_executable(struct jail *j, const char *exe, struct log_err *err) {
        struct elfdeps *d = NULL;
        char why[1024];
        int r;

        /* Read here, never run: the interpreter the plugin names would
         * otherwise execute with our privileges before any jail exists. */
        r = elfdeps_resolve(exe, NULL, &d, why, sizeof(why));
        if (r < 0) {
                return log_err_set(err, r, "jail: the plugin %s", why);
        }
        for (size_t i = 0; i < d->n; i++) {
                /* [0] is the executable at its normal path: bound from the
                 * path as given, which is the one that was read. */
                r = jail_add_bind(j, i == 0 ? exe : d->paths[i], d->paths[i], false);
                if (r < 0) {
                        log_err_errno(err, r, "jail: binding %s, which the plugin %s needs", d->paths[i], exe);
                        goto out;
                }
        }
        /* A library from an ld.so.conf directory outside the loader's
         * defaults is found only through the cache. */
        if (d->needs_ld_cache && (r = jail_add_bind(j, JAIL_LD_SO_CACHE, JAIL_LD_SO_CACHE, false)) < 0) {
                log_err_errno(err, r, "jail: binding %s, which the plugin %s needs to find its libraries",
                              JAIL_LD_SO_CACHE, exe);
                goto out;
        }
        r = 0;
out:
        elfdeps_free(d);
        return r;
}

/* ---- the child, between clone and exec: no allocation ---- */

struct child_args {
        const struct jail *j;
        const char *path;
        char *const *argv;
        char *const *envp;
        const struct jail_stdio *stdio;
        const struct sock_fprog *notify_prog;   /* violations notify a listener; NULL: j->seccomp only */
        int sync_fd, report_fd;
        int parent_sync_fd, parent_report_fd;   /* the parent's ends, closed first */
        unsigned cap_last;
};

_Noreturn static void child_fail(const struct child_args *a, enum jail_step step, int item) {
        struct jail_report rep = { .step = step, .item = item, .err = errno };

        if (write(a->report_fd, &rep, sizeof(rep)) < 0) {
                /* The parent sees EOF and a dead child. */
        }
        _exit(127);
}

static int sys_openat2(int dirfd, const char *name, const struct open_how *how) {
        return (int)syscall(SYS_openat2, dirfd, name, how, sizeof(*how));
}

/* Opens `dst` (absolute) beneath `root_fd` as an O_PATH fd, making the
 * missing directories on the way and, at the end, a directory or an
 * empty file.  Every step is one component opened with openat2 beneath
 * the directory before it, refusing symlinks and magic links: a
 * writable bind earlier in the list may hold a symlink (planted by
 * whoever writes its source), and following it would make directories
 * on the host as root.  Returns the fd, or -1 with errno set. */
static int open_mount_point(int root_fd, const char *dst, bool is_dir) {
        const struct open_how dir_how = {
                .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        struct open_how file_how = dir_how;
        char name[NAME_MAX + 1];
        const char *p = dst;
        int dir = sys_openat2(root_fd, ".", &dir_how);

        file_how.flags = O_PATH | O_CLOEXEC;
        while (dir >= 0) {
                size_t len;
                bool last;
                int next;

                p += strspn(p, "/");
                len = strcspn(p, "/");
                if (len > NAME_MAX) {
                        close(dir);
                        errno = ENAMETOOLONG;
                        return -1;
                }
                memcpy(name, p, len);
                name[len] = '\0';
                p += len;
                last = p[strspn(p, "/")] == '\0';
                if (last && !is_dir) {
                        next = sys_openat2(dir, name, &file_how);
                        if (next < 0 && errno == ENOENT) {
                                struct open_how create = file_how;

                                create.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
                                create.mode = 0644;
                                next = sys_openat2(dir, name, &create);
                                if (next >= 0) {
                                        close(next);
                                        next = sys_openat2(dir, name, &file_how);
                                }
                        }
                } else {
                        next = sys_openat2(dir, name, &dir_how);
                        if (next < 0 && errno == ENOENT) {
                                /* mkdirat does not follow a symlink in the
                                 * last component: EEXIST, then ELOOP. */
                                if (mkdirat(dir, name, 0755) == 0 || errno == EEXIST)
                                        next = sys_openat2(dir, name, &dir_how);
                        }
                }
                close(dir);
                dir = next;
                if (last)
                        break;
        }
        return dir;
}

/* A new filesystem instance, mounted detached with `attrs`; -1 on error. */
static int new_fs(const char *type, bool sized, unsigned attrs) {
        int fs = fsopen(type, FSOPEN_CLOEXEC), m = -1;

        if (fs < 0)
                return -1;
        if ((!sized || (fsconfig(fs, FSCONFIG_SET_STRING, "size", JAIL_TMPFS_SIZE, 0) == 0 &&
                        fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) == 0)) &&
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
                m = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
        close(fs);
        return m;
}

static void child_bind(const struct child_args *a, int root_fd, size_t i) {
        const struct jail_bind *b = &a->j->binds[i];
        struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV };
        int src, dst;

        /* A detached copy of the source tree (with its submounts, as
         * MS_BIND|MS_REC), made read-only before it is attached. */
        src = open_tree(AT_FDCWD, b->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (src < 0)
                child_fail(a, STEP_BIND, (int)i);
        if (!b->writable && mount_setattr(src, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro, sizeof(ro)) < 0)
                child_fail(a, STEP_REMOUNT, (int)i);
        dst = open_mount_point(root_fd, b->dst, b->is_dir);
        if (dst < 0)
                child_fail(a, STEP_MOUNTPOINT, (int)i);
        /* Attached on the fd: no path is looked up again. */
        if (move_mount(src, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                child_fail(a, STEP_BIND, (int)i);
        close(dst);
        close(src);
}

static void child_mounts(const struct child_args *a) {
        const unsigned no_exec = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        int root_fd, proc_fd, dst;

        /* Nothing done here may reach the host's mount table. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(a, STEP_PROPAGATION, -1);
        /* The root is a fresh tmpfs, attached in this private namespace
         * only: by default on top of "/" itself, so that no host
         * directory is named, made or left behind (a launcher SIGKILLed
         * at any point leaves nothing).  It must be attached before the
         * binds go in: kernels before 6.15 cannot mount into a detached
         * tree.  Sources still resolve to the host's files: a lookup from
         * the process root does not enter a mount stacked on that root. */
        root_fd = new_fs("tmpfs", true, no_exec);
        if (root_fd < 0 || move_mount(root_fd, "", AT_FDCWD, a->j->root ? a->j->root : "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                child_fail(a, STEP_TMPFS, -1);
        for (size_t i = 0; i < a->j->n_binds; i++)
                child_bind(a, root_fd, i);
        dst = open_mount_point(root_fd, "/proc", true);
        proc_fd = new_fs("proc", false, no_exec | MOUNT_ATTR_RDONLY);
        if (dst < 0 || proc_fd < 0 || move_mount(proc_fd, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                child_fail(a, STEP_PROC, -1);
        close(proc_fd);
        close(dst);
        /* pivot_root(".", "."): the old root ends up stacked under the new
         * one and is detached at once; no directory for it is needed. */
        if (fchdir(root_fd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
                child_fail(a, STEP_PIVOT, -1);
        if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                child_fail(a, STEP_OLD_ROOT, -1);
        close(root_fd);
}

static void child_fds(const struct child_args *a) {
        const struct jail_stdio *s = a->stdio;

        if (dup2(s->in, 0) < 0 || dup2(s->out, 1) < 0 || dup2(s->err, 2) < 0)
                child_fail(a, STEP_FDS, -1);
        /* Whatever else is open (an fd our own parent leaked to us) must
         * not reach the plugin: mark everything but 0-2, then unmark the
         * fds it is meant to have. */
        if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
                child_fail(a, STEP_FDS, -1);
        for (size_t i = 0; i < ARRAY_SIZE(s->keep_fds); i++)
                if (s->keep_fds[i] >= 0 && fcntl(s->keep_fds[i], F_SETFD, 0) < 0)
                        child_fail(a, STEP_FDS, -1);
        /* Set here, by the child, not by the parent with prlimit() on its
         * pid: a limit lowered from outside while the child still runs
         * code that is not ours (valgrind's own after-fork work, which
         * dups its log fd above the old limit, failed on it) breaks that
         * code; here it is known that nothing of ours opens an fd again. */
        if (a->j->nofile) {
                struct rlimit rl = { .rlim_cur = a->j->nofile, .rlim_max = a->j->nofile };

                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        child_fail(a, STEP_NOFILE, (int)a->j->nofile);
        }
}

/* The filter, last thing before exec.  With a notifying filter the
 * listener goes to the launcher, which kills the plugin on a
 * notification and names the syscall.  The listener is CLOEXEC (the
 * kernel makes it so) and must not reach the plugin, which could answer
 * its own notifications and pass its filter: the launcher copies it out
 * with pidfd_getfd while we wait, and exec closes ours.  Between the load
 * and exec only write, read, execve and exit_group are made, which every
 * compiled policy allows (seccomp_policy.h): anything else would wait on
 * a listener nobody reads yet. */
static void child_seccomp(const struct child_args *a) {
        if (a->notify_prog) {
                int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
                                      a->notify_prog);

                if (fd >= 0) {
                        struct jail_report rep = { .step = STEP_LISTENER, .item = fd, .err = 0 };
                        char c;

                        if (write(a->report_fd, &rep, sizeof(rep)) != sizeof(rep) || read(a->sync_fd, &c, 1) != 1)
                                child_fail(a, STEP_LISTENER, -1);
                        return;
                }
                /* EBUSY: a filter of ours (a container's) already has a
                 * listener.  The killing filter instead: the launcher
                 * falls back on the kernel log for the syscall. */
        }
        if (a->j->seccomp && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, a->j->seccomp) < 0)
                child_fail(a, STEP_SECCOMP, -1);
}

static void child_drop_privileges(const struct child_args *a) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = { { 0 } };

        /* uid 0 in the namespace must not regain capabilities on exec. */
        if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                             SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                             SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
                  0, 0, 0) < 0)
                child_fail(a, STEP_SECUREBITS, -1);
        for (unsigned c = 0; c <= a->cap_last; c++)
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        child_fail(a, STEP_BOUNDING, (int)c);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                child_fail(a, STEP_AMBIENT, -1);
        if (syscall(SYS_capset, &hdr, data) < 0)
                child_fail(a, STEP_CAPSET, -1);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(a, STEP_NO_NEW_PRIVS, -1);
        child_seccomp(a);
}

/* The namespaces' part of the start: we are nobody until the parent has
 * written our id maps. */
static void child_enter_namespaces(const struct child_args *a) {
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                child_fail(a, STEP_SETID, -1);
        /* After the release, so that the namespace's root is the cgroup
         * the parent put us in: the plugin sees "/" and nothing above. */
        if (unshare(CLONE_NEWCGROUP) < 0)
                child_fail(a, STEP_CGROUPNS, -1);
        /* A fresh anonymous session keyring: the launcher's (and its
         * caller's) keys are no longer possessed, so not readable. */
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
                child_fail(a, STEP_KEYRING, -1);
}

/* The launcher blocks the signals its loop reads from a signalfd and
 * ignores SIGPIPE: a plugin must not start with either (exec keeps the
 * mask and ignored dispositions). */
static void child_reset_signals(const struct child_args *a) {
        sigset_t none;

        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                child_fail(a, STEP_SIGNALS, -1);
}

/* One sequence for every plugin, jailed or plain (jail_set_plain): the
 * steps marked "jail" are the sandbox's; the rest every plugin goes
 * through, so that a plain plugin gets the same fds, session, signal
 * state and environment as a jailed one. */
_Noreturn static void child_main(const struct child_args *a) {
        char c;

        /* A parent that died before the death signal was set shows as EOF
         * on the sync pipe, once our copy of its end is closed (getppid()
         * cannot tell: it is 0 in a new pid namespace). */
        close(a->parent_sync_fd);
        close(a->parent_report_fd);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(a, STEP_SYNC, -1);
        /* Our own session and process group: a terminal's ^C goes to
         * vmlaunch, which stops the plugin gracefully, and kill(0, ...)
         * from the plugin reaches neither vmlaunch, its shell nor its
         * siblings, nor can the plugin read vmlaunch's terminal. */
        if (setsid() < 0)
                child_fail(a, STEP_SESSION, -1);
        /* The parent writes our id maps, places us (the cgroup) and
         * then releases us: EOF instead of the byte means it gave up. */
        if (read(a->sync_fd, &c, 1) != 1) {
                errno = ECANCELED;
                child_fail(a, STEP_SYNC, -1);
        }
        if (!a->j->plain)
                child_enter_namespaces(a);              /* jail */
        child_reset_signals(a);
        if (!a->j->plain)
                child_mounts(a);                        /* jail */
        child_fds(a);
        if (!a->j->plain)
                child_drop_privileges(a);               /* jail */
        execve(a->path, a->argv, a->envp);
        child_fail(a, STEP_EXEC, -1);
}

/* ---- the parent ---- */

static int write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, text, strlen(text));
        if (n < 0)
                return -errno;
        return (size_t)n == strlen(text) ? 0 : -EIO;
}

static unsigned read_cap_last(void) {
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        unsigned v = 63;

        if (f) {
                if (fscanf(f, "%u", &v) != 1)
                        v = 63;
                fclose(f);
        }
        return v;
}

static int write_id_maps(const struct jail *j, pid_t pid, struct log_err *err) {
        char path[64], map[1024];
        size_t off;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
        snprintf(map, sizeof(map), "0 %u 1\n", geteuid());
        r = write_file(path, map);
        if (r < 0)
                return log_err_errno(err, r, "jail: writing the uid map \"0 %u 1\" to %s", geteuid(), path);
        /* An unprivileged gid map needs setgroups denied first; extra gid
         * maps need CAP_SETGID and may keep setgroups. */
        if (j->n_gid_maps == 0) {
                snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
                r = write_file(path, "deny");
                if (r < 0)
                        return log_err_errno(err, r, "jail: denying setgroups in %s", path);
        }
        off = (size_t)snprintf(map, sizeof(map), "0 %u 1\n", getegid());
        for (size_t i = 0; i < j->n_gid_maps && off < sizeof(map); i++)
                off += (size_t)snprintf(map + off, sizeof(map) - off, "%u %u %u\n", j->gid_maps[i].inner,
                                        j->gid_maps[i].outer, j->gid_maps[i].count);
        snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
        r = write_file(path, map);
        if (r < 0) {
                for (char *p = map; (p = strchr(p, '\n'));)
                        *p = p[1] ? ',' : '\0';
                return log_err_set(err, r, "jail: writing the gid map \"%s\" to %s: %s%s", map, path, strerror(-r),
                                   r == -EPERM && j->n_gid_maps ? " (extra gid maps need root, CAP_SETGID)" : "");
        }
        return 0;
}

static int describe_failure(const struct jail *j, const struct child_args *a, const struct jail_report *rep,
                            struct log_err *err) {
        const char *step = rep->step >= 0 && rep->step <= STEP_EXEC ? step_names[rep->step] : "?";
        const char *what = "";
        char item[PATH_MAX * 2 + 8] = "";

        if ((rep->step == STEP_BIND || rep->step == STEP_MOUNTPOINT || rep->step == STEP_REMOUNT) &&
            rep->item >= 0 && (size_t)rep->item < j->n_binds)
                snprintf(item, sizeof(item), " %s on %s", j->binds[rep->item].src, j->binds[rep->item].dst);
        else if (rep->step == STEP_TMPFS)
                what = j->root ? j->root : "/ (in the jail's mount namespace)";
        else if (rep->step == STEP_EXEC)
                what = a->path;
        else if (rep->step == STEP_NOFILE)
                snprintf(item, sizeof(item), " to %u", j->nofile);
        return log_err_set(err, rep->err > 0 ? -rep->err : -EIO, "%s: %s%s%s%s: %s", j->plain ? "plugin" : "jail",
                           step, *what ? " " : "", what, item, strerror(rep->err));
}

/* The filter with every "kill the process" return turned into "notify
 * the listener": the policy's violations and foreign ABIs.  NULL when
 * the kernel cannot hand a listener over (pidfd_getfd: Linux 5.6). */
static struct sock_filter *notify_variant(const struct sock_fprog *prog) {
        struct sock_filter *f;

        if (!prog || (syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno == ENOSYS))
                return NULL;
        f = malloc(prog->len * sizeof(*f));
        if (!f)
                return NULL;
        memcpy(f, prog->filter, prog->len * sizeof(*f));
        for (unsigned i = 0; i < prog->len; i++)
                if (f[i].code == (BPF_RET | BPF_K) && f[i].k == SECCOMP_RET_KILL_PROCESS)
                        f[i].k = SECCOMP_RET_USER_NOTIF;
        return f;
}

/* Copies the child's listener `fd` into ours (CLOEXEC). */
static int take_listener(pid_t pid, int fd, int *ret) {
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int r;

        if (pidfd < 0)
                return -errno;
        r = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        if (r < 0)
                return -errno;
        *ret = r;
        return 0;
}

static void kill_child(pid_t pid) {
        int status;

        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
}

int jail_spawn(struct jail *j, const char *path, char *const argv[], char *const envp[],
               const struct jail_stdio *stdio, pid_t *ret_pid, struct log_err *err) {
        _cleanup_close_ int sync_rd = -1, sync_wr = -1, rep_rd = -1, rep_wr = -1;
        _cleanup_free_ struct sock_filter *notify = NULL;
        struct sock_fprog notify_prog;
        struct child_args a = { 0 };
        struct jail_report rep;
        unsigned long flags = SIGCHLD;
        pid_t pid;
        int fds[2], r;
        ssize_t n;

        j->listener_fd = safe_close(j->listener_fd);
        notify = notify_variant(j->seccomp);
        if (notify)
                notify_prog = (struct sock_fprog){ .len = j->seccomp->len, .filter = notify };
        if (pipe2(fds, O_CLOEXEC) < 0)
                return log_err_errno(err, -errno, "%s: creating the sync pipe", j->plain ? "plugin" : "jail");
        sync_rd = fds[0], sync_wr = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return log_err_errno(err, -errno, "%s: creating the report pipe", j->plain ? "plugin" : "jail");
        rep_rd = fds[0], rep_wr = fds[1];

        a = (struct child_args){
                .j = j,
                .path = path,
                .argv = argv,
                .envp = envp,
                .stdio = stdio,
                .notify_prog = notify ? &notify_prog : NULL,
                .sync_fd = sync_rd,
                .report_fd = rep_wr,
                .parent_sync_fd = sync_wr,
                .parent_report_fd = rep_rd,
                .cap_last = read_cap_last(),
        };
        /* A plain child is a fork: the same sequence without namespaces. */
        if (!j->plain)
                flags |= CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
        pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
        if (pid < 0 && j->plain)
                return log_err_errno(err, -errno, "plugin: forking the plugin");
        if (pid < 0) {
                r = -errno;
                return log_err_set(err, r, "jail: creating the user, pid, mount, net, IPC and UTS namespaces: %s%s",
                                   strerror(-r),
                                   r == -EPERM || r == -ENOSPC || r == -EUSERS
                                           ? " (are user namespaces disabled? see sysctl user.max_user_namespaces "
                                             "and kernel.unprivileged_userns_clone)"
                                           : "");
        }
        if (pid == 0)
                child_main(&a);

        rep_wr = safe_close(rep_wr);
        sync_rd = safe_close(sync_rd);
        r = j->plain ? 0 : write_id_maps(j, pid, err);
        /* The child waits on the sync pipe: this is where the parent acts
         * on its pid before it goes on (e.g. moves it into a cgroup, which
         * must happen before the child makes its cgroup namespace). */
        if (r >= 0 && j->before_release)
                r = j->before_release(pid, j->before_release_data, err);
        if (r < 0) {
                kill_child(pid);
                /* The hook's contract is to say why; a hook that did not
                 * still leaves a line naming where it failed. */
                if (!err || !err->msg[0])
                        log_err_errno(err, r, "placing the plugin (pid %d) before its release", pid);
                return r;
        }
        if (write(sync_wr, "x", 1) != 1) {
                r = -errno;
                kill_child(pid);
                return log_err_errno(err, r, "%s: releasing the child", j->plain ? "plugin" : "jail");
        }
        for (;;) {
                do
                        n = read(rep_rd, &rep, sizeof(rep));
                while (n < 0 && errno == EINTR);
                if (n != sizeof(rep) || rep.step != STEP_LISTENER || rep.err != 0)
                        break;
                /* The child waits again until we hold its listener. */
                r = take_listener(pid, rep.item, &j->listener_fd);
                if (r >= 0 && write(sync_wr, "x", 1) != 1)
                        r = -errno;
                if (r < 0) {
                        kill_child(pid);
                        return log_err_errno(err, r, "jail: taking the seccomp listener from the child");
                }
        }
        /* EOF: exec closed the report pipe, the plugin runs. */
        if (n == 0) {
                *ret_pid = pid;
                return 0;
        }
        kill_child(pid);
        j->listener_fd = safe_close(j->listener_fd);
        if (n != sizeof(rep))
                return log_err_set(err, -EIO, "%s: the child died before exec", j->plain ? "plugin" : "jail");
        return describe_failure(j, &a, &rep, err);
}

int jail_drop_own_capabilities(void) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = { { 0 } };
        unsigned last = read_cap_last();

        /* The bounding set first: dropping it needs CAP_SETPCAP, which the
         * capset below removes. */
        for (unsigned c = 0; c <= last; c++)
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL && errno != EPERM)
                        return -errno;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return -errno;
        if (syscall(SYS_capset, &hdr, data) < 0)
                return -errno;
        return 0;
}
