#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elfdeps.h"
#include "util.h"

#define JAIL_TMPFS_OPTS "size=67108864,mode=0755"
#define JAIL_LD_SO_CACHE "/etc/ld.so.cache"

struct jail_bind {
        char *src;
        char *dst;
        char *target;   /* root + dst, built at spawn; the child edits it in place */
        bool writable;
        bool is_dir;
};

struct jail_gid_map {
        uint32_t inner, outer, count;
};

struct jail {
        char *root;
        bool root_made;
        struct jail_bind *binds;
        size_t n_binds;
        struct jail_gid_map *gid_maps;
        size_t n_gid_maps;
        const struct sock_fprog *seccomp;
};

/* Steps of the child, for the parent's message. */
enum jail_step {
        STEP_SYNC,
        STEP_SETID,
        STEP_PROPAGATION,
        STEP_TMPFS,
        STEP_MOUNTPOINT,
        STEP_BIND,
        STEP_REMOUNT,
        STEP_PROC,
        STEP_PIVOT,
        STEP_OLD_ROOT,
        STEP_FDS,
        STEP_SECUREBITS,
        STEP_BOUNDING,
        STEP_AMBIENT,
        STEP_CAPSET,
        STEP_NO_NEW_PRIVS,
        STEP_SECCOMP,
        STEP_EXEC,
};

static const char *const step_names[] = {
        [STEP_SYNC] = "waiting for the id maps",
        [STEP_SETID] = "switching to uid and gid 0 in the user namespace",
        [STEP_PROPAGATION] = "making the mount namespace private",
        [STEP_TMPFS] = "mounting the tmpfs root on",
        [STEP_MOUNTPOINT] = "creating the mount point for",
        [STEP_BIND] = "bind-mounting",
        [STEP_REMOUNT] = "remounting read-only",
        [STEP_PROC] = "mounting /proc in",
        [STEP_PIVOT] = "pivot_root into",
        [STEP_OLD_ROOT] = "detaching the old root",
        [STEP_FDS] = "setting up the plugin's fds",
        [STEP_SECUREBITS] = "locking the securebits",
        [STEP_BOUNDING] = "dropping the capability bounding set",
        [STEP_AMBIENT] = "clearing the ambient capabilities",
        [STEP_CAPSET] = "dropping every capability",
        [STEP_NO_NEW_PRIVS] = "setting no_new_privs",
        [STEP_SECCOMP] = "loading the seccomp filter",
        [STEP_EXEC] = "executing",
};

struct jail_report {
        int step;
        int item;       /* bind index, or -1 */
        int err;
};

int jail_new(struct jail **ret) {
        struct jail *j = calloc(1, sizeof(*j));

        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

void jail_free(struct jail *j) {
        if (!j)
                return;
        if (j->root_made && rmdir(j->root) < 0 && errno != ENOENT)
                fprintf(stderr, "vmlaunch: warning: removing the private root %s: %m\n", j->root);
        free(j->root);
        for (size_t i = 0; i < j->n_binds; i++) {
                free(j->binds[i].src);
                free(j->binds[i].dst);
                free(j->binds[i].target);
        }
        free(j->binds);
        free(j->gid_maps);
        free(j);
}

int jail_set_root(struct jail *j, const char *root) {
        char *copy = NULL;

        if (root && !(copy = strdup(root)))
                return -ENOMEM;
        free(j->root);
        j->root = copy;
        j->root_made = false;
        return 0;
}

int jail_add_bind(struct jail *j, const char *src, const char *dst, bool writable) {
        struct jail_bind *v;
        struct stat st;

        if (src[0] != '/' || dst[0] != '/')
                return -EINVAL;
        if (stat(src, &st) < 0)
                return -errno;
        for (size_t i = 0; i < j->n_binds; i++)
                if (strcmp(j->binds[i].dst, dst) == 0)
                        return 0;       /* already there (a library listed twice) */
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

int jail_add_executable(struct jail *j, const char *exe, char *errbuf, size_t errlen) {
        struct elfdeps *d = NULL;
        char why[1024];
        int r;

        /* Read here, never run: the interpreter the plugin names would
         * otherwise execute with our privileges before any jail exists. */
        r = elfdeps_resolve(exe, NULL, &d, why, sizeof(why));
        if (r < 0) {
                snprintf(errbuf, errlen, "jail: the plugin %s", why);
                return r;
        }
        for (size_t i = 0; i < d->n; i++) {
                /* [0] is the executable at its normal path: bound from the
                 * path as given, which is the one that was read. */
                r = jail_add_bind(j, i == 0 ? exe : d->paths[i], d->paths[i], false);
                if (r < 0) {
                        snprintf(errbuf, errlen, "jail: binding %s, which the plugin %s needs: %s", d->paths[i], exe,
                                 strerror(-r));
                        goto out;
                }
        }
        /* A library from an ld.so.conf directory outside the loader's
         * defaults is found only through the cache. */
        if (d->needs_ld_cache && (r = jail_add_bind(j, JAIL_LD_SO_CACHE, JAIL_LD_SO_CACHE, false)) < 0) {
                snprintf(errbuf, errlen, "jail: binding %s, which the plugin %s needs to find its libraries: %s",
                         JAIL_LD_SO_CACHE, exe, strerror(-r));
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
        const char *root;
        const char *proc_target;
        const char *path;
        char *const *argv;
        char *const *envp;
        const struct jail_stdio *stdio;
        int sync_fd, report_fd;
        unsigned cap_last;
};

_Noreturn static void child_fail(const struct child_args *a, enum jail_step step, int item) {
        struct jail_report rep = { .step = step, .item = item, .err = errno };

        if (write(a->report_fd, &rep, sizeof(rep)) < 0) {
                /* The parent sees EOF and a dead child. */
        }
        _exit(127);
}

/* mkdir -p of the directories above (and, for a directory, at) `path`,
 * editing the buffer in place; a file mount point becomes an empty file. */
static int make_mount_point(char *path, bool is_dir) {
        int fd;

        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                        *p = '/';
                        return -1;
                }
                *p = '/';
        }
        if (is_dir)
                return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
        fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -1;
        close(fd);
        return 0;
}

/* Mount flags that a remount inside a user namespace must keep (the
 * kernel locks them), read back from the mount itself. */
static unsigned long locked_flags(const char *path) {
        struct statvfs s;
        unsigned long f = 0;

        if (statvfs(path, &s) < 0)
                return 0;
        if (s.f_flag & ST_NOSUID)
                f |= MS_NOSUID;
        if (s.f_flag & ST_NODEV)
                f |= MS_NODEV;
        if (s.f_flag & ST_NOEXEC)
                f |= MS_NOEXEC;
        if (s.f_flag & ST_NOATIME)
                f |= MS_NOATIME;
        if (s.f_flag & ST_NODIRATIME)
                f |= MS_NODIRATIME;
        if (s.f_flag & ST_RELATIME)
                f |= MS_RELATIME;
        return f;
}

static void child_mounts(const struct child_args *a) {
        const struct jail *j = a->j;

        /* Nothing done here may reach the host's mount table. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(a, STEP_PROPAGATION, -1);
        if (mount("none", a->root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, JAIL_TMPFS_OPTS) < 0)
                child_fail(a, STEP_TMPFS, -1);
        for (size_t i = 0; i < j->n_binds; i++) {
                const struct jail_bind *b = &j->binds[i];

                if (make_mount_point(b->target, b->is_dir) < 0)
                        child_fail(a, STEP_MOUNTPOINT, (int)i);
                if (mount(b->src, b->target, NULL, MS_BIND | MS_REC, NULL) < 0)
                        child_fail(a, STEP_BIND, (int)i);
                if (!b->writable &&
                    mount(NULL, b->target, NULL,
                          MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | locked_flags(b->target),
                          NULL) < 0)
                        child_fail(a, STEP_REMOUNT, (int)i);
        }
        if (mkdir(a->proc_target, 0555) < 0 && errno != EEXIST)
                child_fail(a, STEP_PROC, -1);
        if (mount("proc", a->proc_target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0)
                child_fail(a, STEP_PROC, -1);
        /* pivot_root(".", "."): the old root ends up stacked under the new
         * one and is detached at once; no directory for it is needed. */
        if (chdir(a->root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
                child_fail(a, STEP_PIVOT, -1);
        if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
                child_fail(a, STEP_OLD_ROOT, -1);
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
        if (a->j->seccomp && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, a->j->seccomp) < 0)
                child_fail(a, STEP_SECCOMP, -1);
}

_Noreturn static void child_main(const struct child_args *a) {
        char c;

        /* getppid() is 0 here (the parent is outside our pid namespace):
         * a parent that died early shows as EOF on the sync pipe instead. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(a, STEP_SYNC, -1);
        /* The parent writes our id maps; until then we are nobody. */
        if (read(a->sync_fd, &c, 1) != 1)
                child_fail(a, STEP_SYNC, -1);
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                child_fail(a, STEP_SETID, -1);
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);
        {
                sigset_t none;

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
        }
        child_mounts(a);
        child_fds(a);
        child_drop_privileges(a);
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

static int write_id_maps(const struct jail *j, pid_t pid, char *errbuf, size_t errlen) {
        char path[64], map[1024];
        size_t off;
        int r;

        snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
        snprintf(map, sizeof(map), "0 %u 1\n", geteuid());
        r = write_file(path, map);
        if (r < 0) {
                snprintf(errbuf, errlen, "writing the uid map \"0 %u 1\" to %s: %s", geteuid(), path, strerror(-r));
                return r;
        }
        /* An unprivileged gid map needs setgroups denied first; extra gid
         * maps need CAP_SETGID and may keep setgroups. */
        if (j->n_gid_maps == 0) {
                snprintf(path, sizeof(path), "/proc/%d/setgroups", pid);
                r = write_file(path, "deny");
                if (r < 0) {
                        snprintf(errbuf, errlen, "denying setgroups in %s: %s", path, strerror(-r));
                        return r;
                }
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
                snprintf(errbuf, errlen, "writing the gid map \"%s\" to %s: %s%s", map, path, strerror(-r),
                         r == -EPERM && j->n_gid_maps ? " (extra gid maps need root, CAP_SETGID)" : "");
                return r;
        }
        return 0;
}

static void describe_failure(const struct jail *j, const struct child_args *a, const struct jail_report *rep,
                             char *errbuf, size_t errlen) {
        const char *step = rep->step >= 0 && rep->step <= STEP_EXEC ? step_names[rep->step] : "?";
        const char *what = "";
        char item[PATH_MAX * 2 + 8] = "";

        if ((rep->step == STEP_BIND || rep->step == STEP_MOUNTPOINT || rep->step == STEP_REMOUNT) &&
            rep->item >= 0 && (size_t)rep->item < j->n_binds)
                snprintf(item, sizeof(item), " %s on %s", j->binds[rep->item].src, j->binds[rep->item].dst);
        else if (rep->step == STEP_TMPFS || rep->step == STEP_PIVOT || rep->step == STEP_PROC)
                what = a->root;
        else if (rep->step == STEP_EXEC)
                what = a->path;
        snprintf(errbuf, errlen, "jail: %s%s%s%s: %s", step, *what ? " " : "", what, item, strerror(rep->err));
}

int jail_spawn(struct jail *j, const char *path, char *const argv[], char *const envp[],
               const struct jail_stdio *stdio, pid_t *ret_pid, char *errbuf, size_t errlen) {
        _cleanup_close_ int sync_rd = -1, sync_wr = -1, rep_rd = -1, rep_wr = -1;
        _cleanup_free_ char *proc_target = NULL;
        struct child_args a = { 0 };
        struct jail_report rep;
        pid_t pid;
        int fds[2], r, status;
        ssize_t n;

        if (!j->root) {
                char tmpl[] = "/tmp/vmlaunch-root-XXXXXX";

                if (!mkdtemp(tmpl)) {
                        r = -errno;
                        snprintf(errbuf, errlen, "jail: making a private root directory in /tmp: %s", strerror(-r));
                        return r;
                }
                j->root = strdup(tmpl);
                j->root_made = true;
                if (!j->root)
                        return -ENOMEM;
        }
        /* Every path the child needs, built now. */
        for (size_t i = 0; i < j->n_binds; i++) {
                free(j->binds[i].target);
                if (asprintf(&j->binds[i].target, "%s%s", j->root, j->binds[i].dst) < 0) {
                        j->binds[i].target = NULL;
                        return -ENOMEM;
                }
        }
        if (asprintf(&proc_target, "%s/proc", j->root) < 0) {
                proc_target = NULL;
                return -ENOMEM;
        }
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        sync_rd = fds[0], sync_wr = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        rep_rd = fds[0], rep_wr = fds[1];

        a = (struct child_args){
                .j = j,
                .root = j->root,
                .proc_target = proc_target,
                .path = path,
                .argv = argv,
                .envp = envp,
                .stdio = stdio,
                .sync_fd = sync_rd,
                .report_fd = rep_wr,
                .cap_last = read_cap_last(),
        };
        pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC |
                                                CLONE_NEWUTS | SIGCHLD,
                             NULL, NULL, NULL, NULL);
        if (pid < 0) {
                r = -errno;
                snprintf(errbuf, errlen,
                         "jail: creating the user, pid, mount, net, IPC and UTS namespaces: %s%s", strerror(-r),
                         r == -EPERM || r == -ENOSPC || r == -EUSERS
                                 ? " (are user namespaces disabled? see sysctl user.max_user_namespaces and "
                                   "kernel.unprivileged_userns_clone)"
                                 : "");
                return r;
        }
        if (pid == 0)
                child_main(&a);

        rep_wr = safe_close(rep_wr);
        sync_rd = safe_close(sync_rd);
        r = write_id_maps(j, pid, errbuf, errlen);
        if (r < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                return r;
        }
        if (write(sync_wr, "x", 1) != 1) {
                r = -errno;
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                snprintf(errbuf, errlen, "jail: releasing the child: %s", strerror(-r));
                return r;
        }
        /* EOF: exec closed the report pipe, the plugin runs. */
        do
                n = read(rep_rd, &rep, sizeof(rep));
        while (n < 0 && errno == EINTR);
        if (n == 0) {
                /* The child pivoted into its tmpfs and dropped the old root
                 * before exec, so nothing is mounted on a directory we made
                 * any more: it goes now, and a launcher killed by SIGKILL
                 * later leaves nothing in /tmp. */
                if (j->root_made && rmdir(j->root) == 0)
                        j->root_made = false;
                *ret_pid = pid;
                return 0;
        }
        waitpid(pid, &status, 0);
        if (n != sizeof(rep)) {
                snprintf(errbuf, errlen, "jail: the child died before exec");
                return -EIO;
        }
        describe_failure(j, &a, &rep, errbuf, errlen);
        return rep.err > 0 ? -rep.err : -EIO;
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
