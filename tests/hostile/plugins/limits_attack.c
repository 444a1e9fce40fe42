/* limits_attack MODE: spends one resource until the host or the kernel
 * says no, reports on stderr "limits: MODE count=N errno=E ms=T", then
 * starts the VM and holds what it got until the shutdown eventfd fires.
 *
 *   threads  pthread_create until it fails (the cgroup's pids.max)
 *   irq      irq events until an error (vmlaunch's limits.irq_events); the
 *            plugin closes its copies of the fds, so only vmlaunch holds them
 *   conn     crosvm_new_connection until an error (limits.connections)
 *   range    1-port ranges until an error (limits.ranges)
 *   sparse   one sparse 1 TiB dirty-logged region (limits.guest_memory_mib)
 *   memfd    after the start: memfd pages until an allocation fails or the
 *            kernel kills us (the cgroup's memory limit), with progress
 *            every 8 MiB ("limits: memfd holds N MiB")
 *   nofile   nothing spent: count is RLIMIT_NOFILE's soft limit, and a line
 *            "limits: nofile hard=N" follows */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <crosvm.h>

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *idle(void *arg) {
        (void)arg;
        for (;;)
                pause();
        return NULL;
}

static int threads(long *count) {
        pthread_attr_t a;
        pthread_t t;
        int r = 0;

        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 64 * 1024);
        while (*count < 100000 && (r = pthread_create(&t, &a, idle, NULL)) == 0)
                (*count)++;
        return -r;
}

static int irqs(struct crosvm *c, long *count) {
        struct crosvm_irq *irq;
        int r;

        while ((r = crosvm_create_irq_event(c, (uint32_t)(*count % 24), &irq)) == 0) {
                close(crosvm_irq_event_get_fd(irq));
                close(crosvm_irq_event_get_resample_fd(irq));
                (*count)++;
        }
        return r;
}

static int conns(struct crosvm *c, long *count) {
        struct crosvm *n;
        int r;

        while ((r = crosvm_new_connection(c, &n)) == 0)
                (*count)++;
        return r;
}

static int ranges(struct crosvm *c, long *count) {
        int r;

        while ((r = crosvm_reserve_range(c, CROSVM_ADDRESS_SPACE_IOPORT, (uint64_t)*count, 1)) == 0)
                (*count)++;
        return r;
}

static int sparse(struct crosvm *c, long *count) {
        struct crosvm_memory *m;
        int fd = memfd_create("sparse", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        int r;

        if (fd < 0 || ftruncate(fd, (off_t)1 << 40) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
                return -errno;
        r = crosvm_create_memory(c, fd, 0, UINT64_C(1) << 40, 0, false, true, &m);
        if (r == 0)
                (*count)++;
        return r;
}

static int memfd(long *count) {
        int fd = memfd_create("hog", MFD_CLOEXEC);
        size_t chunk = 1u << 20;

        if (fd < 0)
                return -errno;
        for (;;) {
                char *p;

                if (ftruncate(fd, (off_t)((*count + 1) * (long)chunk)) < 0)
                        return -errno;
                p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(*count * (long)chunk));
                if (p == MAP_FAILED)
                        return -errno;
                memset(p, 1, chunk);
                munmap(p, chunk);
                (*count)++;
                if (*count % 8 == 0) {
                        fprintf(stderr, "limits: memfd holds %ld MiB\n", *count);
                        fflush(stderr);
                }
                if (*count >= 8192)
                        return 0;
        }
}

int main(int argc, char **argv) {
        const char *mode = argc > 1 ? argv[1] : "";
        struct crosvm *c = NULL;
        struct pollfd p;
        long count = 0;
        double t;
        int r;

        if (crosvm_connect(&c) < 0) {
                fprintf(stderr, "limits: crosvm_connect failed\n");
                return 1;
        }
        t = now_ms();
        if (strcmp(mode, "threads") == 0)
                r = threads(&count);
        else if (strcmp(mode, "irq") == 0)
                r = irqs(c, &count);
        else if (strcmp(mode, "conn") == 0)
                r = conns(c, &count);
        else if (strcmp(mode, "range") == 0)
                r = ranges(c, &count);
        else if (strcmp(mode, "sparse") == 0)
                r = sparse(c, &count);
        else if (strcmp(mode, "memfd") == 0) {
                if (crosvm_start(c) < 0)
                        return 1;
                r = memfd(&count);
        } else if (strcmp(mode, "nofile") == 0) {
                struct rlimit rl;

                r = getrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
                count = (long)rl.rlim_cur;
                fprintf(stderr, "limits: nofile hard=%ld\n", (long)rl.rlim_max);
        } else
                return 2;
        fprintf(stderr, "limits: %s count=%ld errno=%d ms=%.0f\n", mode, count, -r, now_ms() - t);
        fflush(stderr);
        if (strcmp(mode, "memfd") != 0 && crosvm_start(c) < 0) {
                fprintf(stderr, "limits: crosvm_start failed\n");
                return 1;
        }
        p = (struct pollfd){ .fd = crosvm_get_shutdown_eventfd(c), .events = POLLIN };
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        return 0;
}
