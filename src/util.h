/* Small helpers shared by every file: cleanup attributes, fd ownership,
 * array sizes.  Header only; nothing here touches the OS beyond close(). */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand ownership out of a cleanup-managed local. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* Closes fd if it is valid and returns -1, for `fd = safe_close(fd);`.
 * close() is never retried on EINTR: the fd is gone either way, and a retry
 * could close a descriptor another thread has just been given. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -1;
}

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { safe_close(*fd); }

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* -errno of the last failed libc call, never 0. */
static inline int negative_errno(void) { return errno > 0 ? -errno : -EIO; }
