/* Seccomp policies in minijail's syntax, compiled into a BPF program with
 * libseccomp by our own small parser.  The policy is compiled in the
 * parent; the child between clone and exec only loads it (jail.c).
 *
 * Syntax, one rule per line:
 *   read: 1                             allow
 *   ioctl: arg1 == TCGETS || arg1 == FIONREAD
 *   mmap: arg2 in ~PROT_EXEC            (no bit outside the mask)
 *   open: arg1 & O_CREAT                (some bit of the mask set)
 *   mmap: arg2 != PROT_NONE && arg3 == MAP_PRIVATE
 *   uname: return EPERM                 (fail with an errno)
 *   @include /abs/path or relative/to/this/file.policy
 *   @frequency ...                      (ignored)
 *   # comment
 * Values: numbers (decimal, 0x hex, 0 octal), the constants of the table in
 * seccomp_policy.c, `|` between them, `~` before one.  Syscalls not listed
 * kill the process (or are logged with log_failures).
 *
 * Every compiled policy also allows read, write, execve and exit_group
 * without condition, whatever the file says: the jail's child makes them
 * after loading the filter, while it hands the seccomp listener to the
 * launcher (jail.c), and no plugin can run without them.  A rule of the
 * file that would restrict them has no effect. */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stdio.h>

/* Parses and compiles `path`.  Errors go to `errors` as "FILE:LINE:
 * message" lines; -EINVAL then.  On success *ret_prog holds an allocated
 * program (free with seccomp_policy_free). */
int seccomp_policy_compile(const char *path, bool log_failures, FILE *errors, struct sock_fprog *ret_prog);

/* The same, with the rules of the policy file `base` (NULL: none) added
 * to those of `path`: a syscall either allows is allowed, under the union
 * of their conditions.  Where both name a syscall unconditionally with
 * different actions, `path` wins (its "return EPERM" is not undone by the
 * base's allow).  A syscall listed twice, identically or not, is no
 * error.  Errors in either file are reported as above. */
int seccomp_policy_compile_with_base(const char *path, const char *base, bool log_failures, FILE *errors,
                                     struct sock_fprog *ret_prog);

void seccomp_policy_free(struct sock_fprog *prog);
