/* The plugin's jail, built on the kernel's own interfaces (there is no
 * minijail here).  A builder: jail_new(), setters, jail_spawn().  The
 * order is written down once, in jail_spawn():
 *
 *   clone into new user, pid, mount, net, IPC and UTS namespaces
 *   -> the child starts its own session (setsid)
 *   -> the parent writes the id maps (setgroups denied unless extra gid
 *      maps need it), runs the before-release hook on the child's pid,
 *      and releases the child
 *   -> a new cgroup namespace (rooted where the hook put the child), a
 *      new anonymous session keyring
 *   -> every signal disposition default, the signal mask empty
 *   -> mounts: propagation private, a fresh tmpfs (64 MiB, nosuid, nodev,
 *      noexec) attached on top of "/" in the private namespace (or on
 *      the configured root dir), /dev/{full,null,urandom,zero}, the
 *      configured binds (read-only unless writable), the executable and
 *      its ELF interpreter and libraries (read-only), /proc read-only;
 *      every mount point is resolved beneath the new root, one component
 *      at a time, never through a symlink, and mounted on its fd
 *   -> pivot_root into it, the old root detached
 *   -> securebits locked, every capability dropped (bounding, ambient,
 *      effective, permitted, inheritable)
 *   -> 0-2 from the caller, every other fd closed on exec but the
 *      caller's keep_fds -> RLIMIT_NOFILE (jail_set_nofile)
 *   -> no_new_privs -> the seccomp filter (violations notify a listener
 *      the parent takes before exec, where the kernel can: 5.6) -> exec.
 *
 * A plain jail (jail_set_plain) runs the same sequence without what is
 * the sandbox's: a fork instead of the namespaces, no id maps, keyring,
 * mounts, capability drop or filter.  The unsandboxed plugin starts this
 * way, so both plugins get the same fds, session, signal state and
 * environment from one piece of code.
 *
 * No host directory is made for the root: nothing is left behind however
 * the launcher dies.  Everything that allocates happens in the parent; the
 * child between clone and exec only makes syscalls on prepared buffers,
 * and on failure reports (step, item, errno) through a pipe and exits.
 * The parent turns that into a message naming the step and the path or
 * id. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct jail;
struct log_err;

int jail_new(struct jail **ret);
/* Closes a listener not taken.  NULL is fine. */
void jail_free(struct jail *j);

/* The directory the tmpfs root is attached on, in the jail's own mount
 * namespace only; absolute and existing.  NULL (the default): on top of
 * "/" itself, so no directory is needed. */
int jail_set_root(struct jail *j, const char *root);
/* Binds `src` (absolute, existing) at `dst` in the jail.  `dst` must be
 * absolute, not "/", without "." or ".." components, and not /proc or
 * below: -EINVAL.  A `dst` that repeats an earlier bind's (the same
 * path, whatever the slashes): -EEXIST, and jail_bind_source() names the
 * earlier one. */
int jail_add_bind(struct jail *j, const char *src, const char *dst, bool writable);
/* The source of the bind already at `dst`, or NULL; borrowed. */
const char *jail_bind_source(const struct jail *j, const char *dst);
int jail_add_gid_map(struct jail *j, uint32_t inner, uint32_t outer, uint32_t count);
/* No namespaces and nothing of the sandbox: see the top of this file.
 * The root, binds, gid maps and filter are then not used. */
void jail_set_plain(struct jail *j);
/* The plugin's RLIMIT_NOFILE, soft and hard, set by the child once its
 * fds are in place (plain jails too).  0, the default: inherited. */
void jail_set_nofile(struct jail *j, unsigned n);
/* The filter is borrowed until jail_spawn() returns.  Where the kernel
 * can hand a listener over, every "kill the process" return of it
 * becomes "notify the listener" and jail_spawn() takes the listener
 * from the child before exec: see jail_take_seccomp_listener(). */
void jail_set_seccomp(struct jail *j, const struct sock_fprog *prog);
/* Called by jail_spawn() in the parent once the id maps are written and
 * before the child goes on: the place to act on the child's pid (move
 * it into a cgroup).  A negative return fails the spawn (the child is
 * killed); the hook then says why in `err` (log.h). */
void jail_set_before_release(struct jail *j, int (*fn)(pid_t pid, void *userdata, struct log_err *err),
                             void *userdata);
/* After a successful jail_spawn(): the seccomp user-notification
 * listener of the plugin's filter (CLOEXEC, now the caller's), or -1
 * when there is none (no filter, a kernel without pidfd_getfd, or a
 * listener already in the launcher's own filter chain: the kernel then
 * kills as before). */
int jail_take_seccomp_listener(struct jail *j);
/* Binds `exe` (absolute), its ELF interpreter and the libraries the
 * interpreter will load for it, read-only, each at the path the loader
 * opens it by (elfdeps.h: found by reading the files, nothing of them is
 * run), and /etc/ld.so.cache when a library is found only through it.
 * On failure `err` holds one line, "jail: the plugin needs libfoo.so.1
 * (needed by /p/libbar.so): not found in /p/lib, /lib/x86_64-linux-gnu, ...". */
int jail_add_executable(struct jail *j, const char *exe, struct log_err *err);

struct jail_stdio {
        int in, out, err;       /* become 0, 1, 2 */
        int keep_fds[2];        /* inherited at their own numbers (the socket, the lanes); -1: none */
};

/* Starts `path` in the jail with exactly `envp`.  On failure nothing is
 * left behind and `err` holds "jail: <step> <path or id>: <strerror>"
 * ("plugin: ..." for a plain jail), on every failing path. */
int jail_spawn(struct jail *j, const char *path, char *const argv[], char *const envp[],
               const struct jail_stdio *stdio, pid_t *ret_pid, struct log_err *err);

/* Drops every capability of the calling process (bounding set, ambient,
 * effective, permitted, inheritable): the launcher calls it once the jail
 * and the tap exist.  Needs no capability to succeed when there are none. */
int jail_drop_own_capabilities(void);
