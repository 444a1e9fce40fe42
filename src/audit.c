#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int audit_open(void) {
        int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (lseek(fd, 0, SEEK_END) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

/* The decimal value of " key=" in a record, if there. */
static bool field(const char *rec, const char *key, long *ret) {
        char pat[32];
        const char *p;
        char *end;

        snprintf(pat, sizeof(pat), " %s=", key);
        p = strstr(rec, pat);
        if (!p)
                return false;
        p += strlen(pat);
        errno = 0;
        *ret = strtol(p, &end, 10);
        return end != p && errno == 0;
}

/* Drains what the log holds now; 0 if the kill was among it. */
static int scan(int fd, pid_t pid, int *ret_syscall) {
        /* A /dev/kmsg record is at most about 8 KiB; each read gets one. */
        char rec[8192 + 1];
        int found = -ENOENT;

        for (;;) {
                ssize_t n = read(fd, rec, sizeof(rec) - 1);
                long p, nr;

                if (n < 0) {
                        if (errno == EPIPE)     /* records overwritten under us: go on */
                                continue;
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return found;
                        return -errno;
                }
                if (n == 0)
                        return found;
                rec[n] = '\0';
                /* "…;audit: type=1326 audit(…): … pid=N comm=… sig=31 arch=… syscall=N …" */
                if (!strstr(rec, "type=1326 ") || !field(rec, "pid", &p) || p != pid ||
                    !field(rec, "syscall", &nr))
                        continue;
                *ret_syscall = (int)nr;
                found = 0;
        }
}

int audit_find_seccomp_kill(int fd, pid_t pid, int wait_ms, int *ret_syscall) {
        struct timespec start, now;
        int r;

        if (fd < 0)
                return -EBADF;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                struct pollfd p = { fd, POLLIN, 0 };
                long left;

                r = scan(fd, pid, ret_syscall);
                if (r != -ENOENT)
                        return r;
                clock_gettime(CLOCK_MONOTONIC, &now);
                left = wait_ms - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
                if (left <= 0)
                        return -ENOENT;
                if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
                        return -errno;
        }
}

char *audit_syscall_name(uint32_t arch, int nr) {
        return seccomp_syscall_resolve_num_arch(arch ? arch : SCMP_ARCH_NATIVE, nr);
}
