/* What the kernel says about a seccomp kill, where no listener named it
 * (jail.h: the fallback).  SIGSYS alone does not name
 * the syscall; the kernel's audit record of the kill (type 1326,
 * AUDIT_SECCOMP) does, and without an audit daemon it goes to the kernel
 * log.  Reading that log needs privilege (CAP_SYSLOG under
 * dmesg_restrict), so it is opened while the launcher still has it; where
 * it cannot be read, the report simply goes without the syscall. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Opens /dev/kmsg positioned at its end (only records from now on);
 * returns the fd or -errno. */
int audit_open(void);

/* Reads the records logged since audit_open (or the last call) and looks
 * for the seccomp kill of `pid` (as the host's pid namespace numbers it),
 * waiting up to `wait_ms` for it: the kernel's audit thread prints the
 * record a little after the kill.  Returns 0 with *ret_syscall set,
 * -ENOENT when there is none, or -errno. */
int audit_find_seccomp_kill(int fd, pid_t pid, int wait_ms, int *ret_syscall);

/* The syscall's name on `arch` (an AUDIT_ARCH_* value, as seccomp
 * reports it; 0 for ours), or NULL; the caller frees. */
char *audit_syscall_name(uint32_t arch, int nr);
