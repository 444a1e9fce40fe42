/* memfd_create, its seals and pthread_tryjoin_np are GNU extensions; the
 * example builds outside this project's build (which defines it) too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "guest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_setup(struct guest *g, const char *name, size_t ram_size) {
        int fd, r;

        memset(g, 0, sizeof(*g));
        g->name = name;
        g->shutdown_fd = g->done_fd = -1;
        r = crosvm_connect(&g->crosvm);
        if (r < 0) {
                fprintf(stderr, "%s: crosvm_connect: %s\n", name, strerror(-r));
                return r;
        }
        fd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t)ram_size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
                fprintf(stderr, "%s: guest RAM memfd: %m\n", name);
                return -errno;
        }
        g->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (g->ram == MAP_FAILED) {
                fprintf(stderr, "%s: mmap: %m\n", name);
                return -errno;
        }
        g->ram_size = ram_size;
        r = crosvm_create_memory(g->crosvm, fd, 0, ram_size, 0, false, false, &g->memory);
        close(fd);
        if (r < 0) {
                fprintf(stderr, "%s: crosvm_create_memory: %s\n", name, strerror(-r));
                return r;
        }
        g->shutdown_fd = crosvm_get_shutdown_eventfd(g->crosvm);
        if (g->shutdown_fd < 0) {
                fprintf(stderr, "%s: crosvm_get_shutdown_eventfd: %s\n", name, strerror(-g->shutdown_fd));
                return g->shutdown_fd;
        }
        g->done_fd = eventfd(0, EFD_CLOEXEC);
        return g->done_fd < 0 ? -errno : 0;
}

void guest_load(struct guest *g, uint16_t addr, const uint8_t *code, size_t len) {
        memcpy(g->ram + addr, code, len);
}

static void finish(struct guest *g, int status) {
        uint64_t one = 1;

        g->status = status;
        if (write(g->done_fd, &one, sizeof(one)) < 0)
                _exit(1);
}

/* Real mode at `ip` with every segment at 0; vCPUs other than 0 start
 * halted under the in-kernel irqchip and are made runnable. */
static int init_vcpu(struct guest *g, unsigned id, struct crosvm_vcpu *v) {
        struct kvm_sregs sregs;
        struct kvm_regs regs;
        int r;

        r = crosvm_vcpu_get_sregs(v, &sregs);
        if (r < 0)
                return r;
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        sregs.ds.base = sregs.es.base = sregs.ss.base = 0;
        sregs.ds.selector = sregs.es.selector = sregs.ss.selector = 0;
        r = crosvm_vcpu_set_sregs(v, &sregs);
        if (r < 0)
                return r;
        memset(&regs, 0, sizeof(regs));
        regs.rip = g->entry[id];
        regs.rflags = 2;
        regs.rsp = 0xf000 - 0x100 * id;
        r = crosvm_vcpu_set_regs(v, &regs);
        if (r < 0)
                return r;
        if (id > 0) {
                struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };

                r = crosvm_vcpu_set_mp_state(v, &mp);
        }
        return r;
}

struct vcpu_arg {
        struct guest *g;
        unsigned id;
};

static void *vcpu_thread(void *p) {
        struct vcpu_arg *a = p;
        struct guest *g = a->g;
        struct crosvm_vcpu *v = NULL;
        struct crosvm_vcpu_event ev;
        int r = crosvm_get_vcpu(g->crosvm, a->id, &v);

        while (r >= 0) {
                r = crosvm_vcpu_wait(v, &ev);
                if (__atomic_load_n(&g->stopping, __ATOMIC_SEQ_CST))
                        return NULL;
                if (r == -EINTR) {
                        r = 0;
                        continue;
                }
                if (r < 0)
                        break;
                switch (ev.kind) {
                case CROSVM_VCPU_EVENT_KIND_INIT:
                        r = init_vcpu(g, a->id, v);
                        if (r >= 0 && g->on_init)
                                r = g->on_init(g->userdata, a->id, v);
                        break;
                case CROSVM_VCPU_EVENT_KIND_IO_ACCESS: {
                        int s = g->io(g->userdata, a->id, v, &ev);

                        if (s > 0) {
                                finish(g, s == 1 ? 0 : 1);
                                return NULL;
                        }
                        if (ev.io_access.no_resume)
                                continue;
                        break;
                }
                case CROSVM_VCPU_EVENT_KIND_PAUSED:
                        if (g->on_pause)
                                g->on_pause(g->userdata, a->id, ev.user);
                        break;
                default:
                        break;
                }
                if (r >= 0)
                        r = crosvm_vcpu_resume(v);
        }
        if (!__atomic_load_n(&g->stopping, __ATOMIC_SEQ_CST)) {
                fprintf(stderr, "%s: vCPU %u: %s\n", g->name, a->id, strerror(-r));
                finish(g, 1);
        }
        return NULL;
}

static void wake(int sig) {
        (void)sig;
}

static void teardown(struct guest *g, unsigned n_threads, bool park, struct vcpu_arg *args, int status_on_stuck) {
        bool paused;

        __atomic_store_n(&g->stopping, true, __ATOMIC_SEQ_CST);
        /* The memory is destroyed below while the host may still run the
         * other vCPUs (it stops the VM when we exit).  A vCPU running guest
         * code then fails to fetch its next instruction, which KVM reports
         * as an emulation error and the host as a crash.  So park them
         * first: each waiting thread gets the PAUSED event and returns
         * without resuming, and its vCPU waits in the host for good.  Not
         * when the host asked us to stop: it is stopping the vCPUs itself,
         * and no event would come. */
        paused = park && n_threads > 0 && n_threads <= 64 &&
                 crosvm_pause_vcpus(g->crosvm, n_threads == 64 ? UINT64_MAX : (UINT64_C(1) << n_threads) - 1,
                                    NULL) == 0;
        for (unsigned i = 0; i < n_threads; i++) {
                unsigned tries = 0;

                while (pthread_tryjoin_np(g->threads[i], NULL) != 0) {
                        /* A thread waiting for the reply to a request the
                         * host will no longer answer (the VM stopped under
                         * it) cannot be woken: after a second, leave
                         * without freeing what it still uses. */
                        if (++tries > 1000) {
                                fflush(NULL);
                                _exit(status_on_stuck);
                        }
                        /* Blocked in crosvm_vcpu_wait with no event coming
                         * (nothing paused, or the host is stopping): a
                         * signal without SA_RESTART makes the wait return
                         * -EINTR, and the thread sees `stopping`.  Given
                         * until it is gone, since one may land just before
                         * the thread blocks. */
                        if (!paused || tries > 100)
                                pthread_kill(g->threads[i], SIGUSR1);
                        usleep(1000);
                }
        }
        free(g->threads);
        free(args);
        for (unsigned i = 0; g->conns && i < g->n_vcpus; i++)
                crosvm_destroy_connection(&g->conns[i]);
        free(g->conns);
        crosvm_destroy_memory(g->crosvm, &g->memory);
        crosvm_destroy_connection(&g->crosvm);
        munmap(g->ram, g->ram_size);
        close(g->shutdown_fd);
        close(g->done_fd);
}

int guest_run(struct guest *g, unsigned n_vcpus, const uint16_t *entry, guest_io_fn io, void *userdata) {
        struct vcpu_arg *args = calloc(n_vcpus, sizeof(*args));
        struct sigaction sa = { .sa_handler = wake };
        unsigned started = 0;
        bool park = false;      /* the VM runs, and the host did not ask us to stop */
        int r, status = 1;

        sigemptyset(&sa.sa_mask);
        sigaction(SIGUSR1, &sa, NULL);

        g->n_vcpus = n_vcpus;
        g->entry = entry;
        g->io = io;
        g->userdata = userdata;
        g->threads = calloc(n_vcpus, sizeof(*g->threads));
        g->conns = calloc(n_vcpus, sizeof(*g->conns));
        if (!args || !g->threads || !g->conns)
                goto out;
        for (unsigned i = 0; i < n_vcpus; i++) {
                r = crosvm_new_connection(g->crosvm, &g->conns[i]);
                if (r < 0) {
                        fprintf(stderr, "%s: crosvm_new_connection: %s\n", g->name, strerror(-r));
                        goto out;
                }
        }
        for (unsigned i = 0; i < n_vcpus; i++) {
                args[i] = (struct vcpu_arg){ g, i };
                if (pthread_create(&g->threads[i], NULL, vcpu_thread, &args[i]) != 0) {
                        fprintf(stderr, "%s: pthread_create failed\n", g->name);
                        goto out;
                }
                started++;
        }
        r = crosvm_start(g->crosvm);
        if (r < 0) {
                fprintf(stderr, "%s: crosvm_start: %s\n", g->name, strerror(-r));
                goto out;
        }
        park = true;
        for (;;) {
                struct pollfd p[2] = { { g->shutdown_fd, POLLIN, 0 }, { g->done_fd, POLLIN, 0 } };

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        goto out;
                }
                if (p[1].revents) {
                        status = g->status;
                        break;
                }
                if (p[0].revents) {
                        status = 0;     /* the host asked us to stop: a clean exit */
                        park = false;   /* it stops the vCPUs itself */
                        break;
                }
        }
out:
        teardown(g, started, park, args, status);
        return status;
}
