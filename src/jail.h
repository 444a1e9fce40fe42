/* The plugin's jail, built on the kernel's own interfaces (there is no
 * minijail here).  A builder: jail_new(), setters, jail_spawn().  The
 * order is written down once, in jail_spawn():
 *
 *   clone into new user, pid, mount, net, IPC and UTS namespaces
 *   -> the parent writes the id maps (setgroups denied unless extra gid
 *      maps need it) and releases the child
 *   -> mounts: propagation private, an empty tmpfs (64 MiB, nosuid, nodev,
 *      noexec) on the root dir, /dev/{full,null,urandom,zero}, the
 *      configured binds (read-only unless writable), the executable and
 *      its ELF interpreter and libraries (read-only), /proc read-only
 *   -> pivot_root into it, the old root detached
 *   -> securebits locked, every capability dropped (bounding, ambient,
 *      effective, permitted, inheritable)
 *   -> no_new_privs -> the seccomp filter -> exec.
 *
 * Everything that allocates happens in the parent; the child between
 * clone and exec only makes syscalls on prepared buffers, and on failure
 * reports (step, item, errno) through a pipe and exits.  The parent turns
 * that into a message naming the step and the path or id. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct jail;

int jail_new(struct jail **ret);
/* Removes the private root dir if the jail made one.  NULL is fine. */
void jail_free(struct jail *j);

/* The directory the tmpfs root is mounted on; absolute and existing.
 * NULL (the default): a private empty directory made by jail_spawn() and
 * removed by jail_free(). */
int jail_set_root(struct jail *j, const char *root);
int jail_add_bind(struct jail *j, const char *src, const char *dst, bool writable);
int jail_add_gid_map(struct jail *j, uint32_t inner, uint32_t outer, uint32_t count);
/* The filter is borrowed until jail_spawn() returns. */
void jail_set_seccomp(struct jail *j, const struct sock_fprog *prog);
/* Binds `exe` (absolute), its ELF interpreter and the libraries the
 * interpreter will load for it, read-only, each at the path the loader
 * opens it by (elfdeps.h: found by reading the files, nothing of them is
 * run), and /etc/ld.so.cache when a library is found only through it.
 * On failure `errbuf` holds one line, "jail: the plugin needs libfoo.so.1
 * (needed by /p/libbar.so): not found in /p/lib, /lib/x86_64-linux-gnu, ...". */
int jail_add_executable(struct jail *j, const char *exe, char *errbuf, size_t errlen);

struct jail_stdio {
        int in, out, err;       /* become 0, 1, 2 */
        int keep_fds[2];        /* inherited at their own numbers (the socket, the lanes); -1: none */
};

/* Starts `path` in the jail.  On failure nothing is left behind and
 * `errbuf` holds "<step> <path or id>: <strerror>". */
int jail_spawn(struct jail *j, const char *path, char *const argv[], char *const envp[],
               const struct jail_stdio *stdio, pid_t *ret_pid, char *errbuf, size_t errlen);

/* Drops every capability of the calling process (bounding set, ambient,
 * effective, permitted, inheritable): the launcher calls it once the jail
 * and the tap exist.  Needs no capability to succeed when there are none. */
int jail_drop_own_capabilities(void);
