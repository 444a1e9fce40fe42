/* The plugin's cgroup: what bounds its tasks (pids.max, limits.tasks) and
 * its memory (memory.max or memory.limit_in_bytes, limits.memory_mib).
 *
 * vmlaunch makes a group named vmlaunch-<its pid> under limits.cgroup_parent
 * or else under its own cgroup (/proc/self/cgroup), places the plugin in it
 * before the plugin is released to exec, and removes it at teardown after
 * killing whatever is left in it.  A group of that name whose pid no longer
 * runs is a leftover of a vmlaunch killed by SIGKILL: the next run that
 * makes its group beside it removes it (an empty cgroup only; the kernel
 * refuses the rest).
 *
 * Each controller comes from cgroup v2 when the parent's cgroup.controllers
 * offers it, else from the cgroup v1 hierarchy it is mounted on.  v2 allows
 * controllers in a child only of a group without processes of its own (the
 * root excepted): if vmlaunch's own group holds vmlaunch alone (a service
 * with Delegate=yes, a scope of its own), vmlaunch moves itself into a leaf
 * beside the plugin's, vmlaunch-<pid>.self, enables the controllers in the
 * group it came from, and moves back at teardown; if others share it, the
 * v2 way is refused and v1 or nothing remains.  A configured parent is the
 * admin's delegated subtree: vmlaunch enables the controllers there and
 * moves no one. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct vm_config;
struct cgroup;
struct log_err;

#define CGROUP_PREFIX "vmlaunch-"

/* Makes the plugin's group(s) and writes the limits.  Returns 0 and a
 * group in *ret (possibly holding nothing, when no controller is needed or
 * none could be written); then `msg` (log.h) is either "" or the one
 * warning line to log (what is not enforced and why).  With
 * limits.cgroup_parent set, a controller that cannot be had there is an
 * error: -errno, `msg` says what failed, nothing is left behind. */
int cgroup_new(const struct vm_config *config, struct cgroup **ret, struct log_err *msg);

/* Moves `pid` (all its threads) into the group(s): the caller does it before
 * the process may exec.  0 or -errno. */
int cgroup_attach(struct cgroup *cg, pid_t pid);

/* SIGKILLs whatever is left in the group(s), removes them (rmdir retried
 * for up to a second while the kernel finishes the exits), moves vmlaunch
 * back where it came from, and frees cg.  0, or the first -errno (the rest
 * is still done).  NULL is fine. */
int cgroup_remove(struct cgroup *cg);

/* The directories of the plugin's group(s), one per hierarchy, for logs and
 * tests; NULL past the last.  Each names the controllers it bounds. */
const char *cgroup_path(const struct cgroup *cg, size_t i, const char **ret_controllers);
