#include "compat_common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void compat_fail(struct compat *c, const char *fmt, ...) {
        va_list ap;

        c->failed = true;
        fprintf(stderr, "%s: ", c->name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int compat_setup(struct compat *c, const char *name, size_t ram_size, bool dirty_log, const uint8_t *code,
                 size_t code_len) {
        int fd, r;

        c->name = name;
        c->ram_size = ram_size;
        r = crosvm_connect(&c->crosvm);
        if (r < 0) {
                compat_fail(c, "crosvm_connect: %s", strerror(-r));
                return r;
        }
        /* crosvm's plugins sealed their RAM against shrinking: the host
         * maps it too, and a shrunk file would fault there. */
        fd = memfd_create("compat-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t)ram_size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
                r = -errno;
                compat_fail(c, "guest RAM: %s", strerror(-r));
                return r;
        }
        c->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (c->ram == MAP_FAILED) {
                r = -errno;
                compat_fail(c, "mapping guest RAM: %s", strerror(-r));
                return r;
        }
        r = crosvm_create_memory(c->crosvm, fd, 0, ram_size, 0, false, dirty_log, &c->memory);
        close(fd);
        if (r < 0) {
                compat_fail(c, "crosvm_create_memory: %s", strerror(-r));
                return r;
        }
        memcpy(c->ram + 0x1000, code, code_len);
        c->shutdown_fd = crosvm_get_shutdown_eventfd(c->crosvm);
        if (c->shutdown_fd < 0) {
                compat_fail(c, "crosvm_get_shutdown_eventfd: %s", strerror(-c->shutdown_fd));
                return c->shutdown_fd;
        }
        return 0;
}

static int init_vcpu(struct compat *c, struct crosvm_vcpu *v) {
        struct kvm_sregs sregs;
        struct kvm_regs regs;
        int r;

        r = crosvm_vcpu_get_sregs(v, &sregs);
        if (r < 0)
                return r;
        sregs.cs.base = sregs.ds.base = sregs.es.base = sregs.ss.base = 0;
        sregs.cs.selector = sregs.ds.selector = sregs.es.selector = sregs.ss.selector = 0;
        memset(&regs, 0, sizeof(regs));
        regs.rip = 0x1000;
        regs.rflags = 2;
        if (c->init) {
                r = c->init(c, v, &regs, &sregs);
                if (r < 0)
                        return r;
        }
        r = crosvm_vcpu_set_sregs(v, &sregs);
        if (r < 0)
                return r;
        return crosvm_vcpu_set_regs(v, &regs);
}

/* Asks the host to stop the VM: the shutdown eventfd is writable by the
 * plugin, and a write to it is a stop request (crosvm's contract). */
static void request_stop(struct compat *c) {
        uint64_t one = 1;

        if (write(c->shutdown_fd, &one, sizeof(one)) != sizeof(one))
                compat_fail(c, "writing the shutdown eventfd: %s", strerror(errno));
}

static void *vcpu_thread(void *p) {
        struct compat *c = p;
        struct crosvm_vcpu *v = NULL;
        struct crosvm_vcpu_event ev;
        int r = crosvm_get_vcpu(c->crosvm, 0, &v);

        if (r < 0) {
                compat_fail(c, "crosvm_get_vcpu: %s", strerror(-r));
                request_stop(c);
                return NULL;
        }
        for (;;) {
                r = crosvm_vcpu_wait(v, &ev);
                if (r == -EINTR)
                        continue;
                if (r < 0) {
                        compat_fail(c, "crosvm_vcpu_wait: %s", strerror(-r));
                        break;
                }
                if (ev.kind == CROSVM_VCPU_EVENT_KIND_INIT) {
                        r = init_vcpu(c, v);
                        if (r < 0) {
                                compat_fail(c, "vCPU init: %s", strerror(-r));
                                break;
                        }
                } else if (ev.kind == CROSVM_VCPU_EVENT_KIND_PAUSED) {
                        if (ev.user == c->pause_user)
                                __atomic_add_fetch(&c->paused, 1, __ATOMIC_SEQ_CST);
                } else if (ev.kind == CROSVM_VCPU_EVENT_KIND_IO_ACCESS && c->io(c, v, &ev) == 1)
                        break;
                r = crosvm_vcpu_resume(v);
                if (r < 0) {
                        compat_fail(c, "crosvm_vcpu_resume: %s", strerror(-r));
                        break;
                }
        }
        request_stop(c);
        return NULL;
}

int compat_run(struct compat *c) {
        pthread_t t;
        uint64_t n;
        int r;

        r = pthread_create(&t, NULL, vcpu_thread, c);
        if (r > 0) {
                compat_fail(c, "pthread_create: %s", strerror(r));
                return -r;
        }
        r = crosvm_start(c->crosvm);
        if (r < 0) {
                compat_fail(c, "crosvm_start: %s", strerror(-r));
                return r;
        }
        /* The vCPU thread's stop request, or the host's own stop. */
        if (read(c->shutdown_fd, &n, sizeof(n)) != sizeof(n)) {
                r = -errno;
                compat_fail(c, "reading the shutdown eventfd: %s", strerror(-r));
                return r;
        }
        /* The thread wrote the eventfd last: after this, nothing of it
         * is left to race the checks. */
        pthread_join(t, NULL);
        return 0;
}

int compat_result(struct compat *c) {
        if (c->failed)
                return 1;
        fprintf(stderr, "%s: ok\n", c->name);
        return 0;
}
