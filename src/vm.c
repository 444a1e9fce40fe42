#include "pb.h"

#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lane.h"
#include "log.h"
#include "util.h"
#include "vcpu.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* The lanes' memory: a memfd sealed against shrinking (a plugin that
 * truncated it would fault us) and growing, mapped here and by the SDK. */
static int lanes_new(struct vm *vm, unsigned n) {
        size_t size = (size_t)n * LANE_SLOT_BYTES;
        void *p;

        vm->lane_fd = memfd_create("vmlaunch-lanes", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (vm->lane_fd < 0)
                return -errno;
        if (ftruncate(vm->lane_fd, (off_t)size) < 0 ||
            fcntl(vm->lane_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->lane_fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        vm->lanes = p;
        return 0;
}

/* The failing step into errbuf, from a format. */
static void step_failed(char *errbuf, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void step_failed(char *errbuf, size_t errlen, const char *fmt, ...) {
        va_list ap;

        if (!errbuf || errlen == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
}

int vm_new(const struct vm_config *config, struct vm **ret_vm, char *errbuf, size_t errlen) {
        const char *step = NULL;
        struct vm *vm;
        int r;

        vm = calloc(1, sizeof(*vm));
        if (!vm) {
                step_failed(errbuf, errlen, "allocating the VM");
                return -ENOMEM;
        }
        vm->config = config;
        vm->kvm = (struct kvm_vm)KVM_VM_INIT;
        vm->kill_fd = vm->exit_fd = vm->lane_fd = -1;
        pthread_rwlock_init(&vm->lock, NULL);
        pthread_mutex_init(&vm->barrier_lock, NULL);
        pthread_cond_init(&vm->barrier_cond, NULL);
        pthread_mutex_init(&vm->stop_lock, NULL);

        vm->kill_fd = eventfd(0, EFD_CLOEXEC);
        vm->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (vm->kill_fd < 0 || vm->exit_fd < 0) {
                r = -errno;
                step = "creating eventfds";
                goto fail;
        }
        r = kvm_open(config->kvm_device, &vm->kvm, &step);
        if (r < 0)
                goto fail;
        if (config->vcpus > vm->kvm.max_vcpus) {
                step_failed(errbuf, errlen, "vcpus: %u exceeds the limit of %u that %s reports (KVM_CAP_MAX_VCPUS)",
                            config->vcpus, vm->kvm.max_vcpus, config->kvm_device);
                vm_free(vm);
                return -E2BIG;
        }
        r = kvm_create_vm(&vm->kvm, &step);
        if (r < 0)
                goto fail;
        vm->slot_used = calloc(vm->kvm.n_memslots, 1);
        vm->vcpus = calloc(config->vcpus, sizeof(*vm->vcpus));
        if (!vm->slot_used || !vm->vcpus) {
                r = -ENOMEM;
                step = "allocating vCPUs";
                goto fail;
        }
        if (config->lane) {
                r = lanes_new(vm, config->vcpus);
                if (r < 0) {
                        step = "creating the vCPU lanes";
                        goto fail;
                }
        }
        for (unsigned i = 0; i < config->vcpus; i++) {
                const struct vcpu_link link = {
                        .vm = vm,
                        .kvm = &vm->kvm,
                        .dying = &vm->dying,
                        .held = &vm->held,
                        .exit_fd = vm->exit_fd,
                        .poll_ns = config->poll_us * 1000u,
                        .reply_timeout_ms = config->vcpu_reply_timeout_ms,
                        .lane_slot = vm->lanes ? lane_slot_at(vm->lanes, i) : NULL,
                };

                r = vcpu_new(&link, i, &vm->vcpus[i]);
                if (r < 0) {
                        step = "creating the vCPU pipes";
                        goto fail;
                }
                vm->n_vcpus++;
        }
        *ret_vm = vm;
        return 0;
fail:
        step_failed(errbuf, errlen, "%s", step ? step : "creating the VM");
        vm_free(vm);
        return r;
}

static void object_teardown(struct vm *vm, struct vm_object *o) {
        switch (o->kind) {
        case VM_OBJECT_MEMORY: {
                struct kvm_userspace_memory_region reg = {
                        .slot = o->memory.slot,
                        .guest_phys_addr = o->memory.start,
                        .memory_size = 0,
                };

                if (ioctl(vm->kvm.vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
                        log_warning("removing memory slot %u: %m", o->memory.slot);
                munmap(o->memory.host, o->memory.length);
                vm->slot_used[o->memory.slot] = 0;
                vm->n_memory--;
                vm->memory_bytes -= o->memory.length;
                break;
        }
        case VM_OBJECT_IO_EVENT: {
                struct kvm_ioeventfd ioe = {
                        .datamatch = o->io_event.datamatch,
                        .addr = o->io_event.address,
                        .len = o->io_event.length,
                        .fd = o->io_event.fd,
                        .flags = KVM_IOEVENTFD_FLAG_DEASSIGN |
                                 (o->io_event.space == ADDRESS_SPACE__IOPORT ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                                 (o->io_event.length ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
                };

                if (ioctl(vm->kvm.vm_fd, KVM_IOEVENTFD, &ioe) < 0)
                        log_warning("removing ioevent %u: %m", o->id);
                safe_close(o->io_event.fd);
                vm->n_events--;
                break;
        }
        case VM_OBJECT_IRQ_EVENT: {
                struct kvm_irqfd irqfd = {
                        .fd = (uint32_t)o->irq_event.fd,
                        .gsi = o->irq_event.gsi,
                        .flags = KVM_IRQFD_FLAG_DEASSIGN,
                };

                if (ioctl(vm->kvm.vm_fd, KVM_IRQFD, &irqfd) < 0)
                        log_warning("removing irq event %u: %m", o->id);
                safe_close(o->irq_event.fd);
                safe_close(o->irq_event.resample_fd);
                vm->n_events--;
                break;
        }
        }
}

/* What an object holds of ours, once the VM that used it is gone. */
static void object_release(struct vm_object *o) {
        switch (o->kind) {
        case VM_OBJECT_MEMORY:
                munmap(o->memory.host, o->memory.length);
                break;
        case VM_OBJECT_IO_EVENT:
                safe_close(o->io_event.fd);
                break;
        case VM_OBJECT_IRQ_EVENT:
                safe_close(o->irq_event.fd);
                safe_close(o->irq_event.resample_fd);
                break;
        }
}

/* The last close of the VM fd, in a grandchild that holds nothing else:
 * the kernel's release of the VM's irq events takes an SRCU grace period
 * for each one (the resamplers), about 8 ms apiece on an emulated host, so
 * a thousand held vmlaunch's exit for seconds.  This is QEMU's
 * async-teardown idea: the exit does not wait for the kernel's cleanup.
 * The fork is cheap (guest memory is a shared mapping: no page tables are
 * copied), and the grandchild only makes raw syscalls. */
static void close_detached(int vm_fd) {
        int gate[2], status;
        pid_t pid = -1;

        /* The grandchild's close must be the last: it waits for EOF on
         * `gate`, whose write ends go only after every other copy of the
         * VM fd, ours and the middle child's. */
        if (vm_fd > 2 && pipe2(gate, O_CLOEXEC) == 0) {
                if (gate[0] > 2)
                        pid = fork();
                if (pid == 0) {
                        sigset_t all;
                        char c;

                        sigfillset(&all);
                        sigprocmask(SIG_SETMASK, &all, NULL);
                        if (fork() == 0) {
                                /* Named for ps and for whoever reaps it
                                 * (a subreaper above vmlaunch). */
                                prctl(PR_SET_NAME, VM_CLOSER_COMM, 0, 0, 0);
                                setsid();
                                close(gate[1]);
                                if (dup2(gate[0], 0) < 0 || dup2(vm_fd, 1) < 0)
                                        _exit(1);
                                close_range(2, ~0u, 0);
                                while (read(0, &c, 1) < 0 && errno == EINTR)
                                        ;
                                close(1);
                                _exit(0);
                        }
                        close(vm_fd);
                        _exit(0);
                }
                close(vm_fd);
                close(gate[1]);
                close(gate[0]);
                while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                return;
        }
        /* No fork: this close is the last, and waits. */
        close(vm_fd);
}

static void vm_free_full(struct vm *vm, bool detached) {
        if (!vm)
                return;
        /* Reverse order of creation: vCPUs, VM, the objects' memory and
         * fds.  The objects are not removed from KVM one by one: the VM's
         * release drops them all, and one by one costs a grace period each
         * (KVM_IRQFD and KVM_IOEVENTFD deassigns synchronize SRCU), which
         * for a thousand irq events held the exit for seconds. */
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vcpu_free(vm->vcpus[i]);
        free(vm->vcpus);
        if (detached && vm->kvm.vm_fd >= 0) {
                close_detached(vm->kvm.vm_fd);
                vm->kvm.vm_fd = -1;
        }
        kvm_close(&vm->kvm);
        while (vm->n_objects > 0)
                object_release(&vm->objects[--vm->n_objects]);
        free(vm->objects);
        free(vm->slot_used);
        range_set_clear(&vm->ranges[0]);
        range_set_clear(&vm->ranges[1]);
        if (vm->lanes)
                munmap(vm->lanes, (size_t)vm->config->vcpus * LANE_SLOT_BYTES);
        safe_close(vm->lane_fd);
        safe_close(vm->kill_fd);
        safe_close(vm->exit_fd);
        pthread_mutex_destroy(&vm->stop_lock);
        pthread_cond_destroy(&vm->barrier_cond);
        pthread_mutex_destroy(&vm->barrier_lock);
        pthread_rwlock_destroy(&vm->lock);
        free(vm);
}

void vm_free(struct vm *vm) {
        vm_free_full(vm, false);
}

void vm_free_detached(struct vm *vm) {
        vm_free_full(vm, true);
}

int vm_irqchip(struct vm *vm) {
        const char *step = NULL;
        int r = kvm_create_irqchip(&vm->kvm, &step);

        if (r < 0)
                log_error("creating the in-kernel irqchip: %s: %s", step, strerror(-r));
        return r;
}

int vm_start(struct vm *vm) {
        int r;

        if (vm->started)
                return -EINVAL;
        /* The irqchip comes before the vCPUs (their LAPICs live in it). */
        r = vm_irqchip(vm);
        if (r < 0) {
                vm_set_stop_reason(vm, VM_STOP_VCPU_ERROR, "creating the in-kernel irqchip: %s", strerror(-r));
                return r;
        }
        /* The kick (pause, stop) must find a handler, not the default
         * action, which kills the process; whoever embeds the VM. */
        r = vcpu_setup_signals();
        if (r < 0) {
                vm_set_stop_reason(vm, VM_STOP_VCPU_ERROR, "installing the vCPU kick handler: %s", strerror(-r));
                return r;
        }
        vm->started = true;
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                r = vcpu_start(vm->vcpus[i]);
                if (r < 0) {
                        vm_set_stop_reason(vm, VM_STOP_VCPU_ERROR, "creating vCPU %u: %s", i, strerror(-r));
                        return r;
                }
        }
        return 0;
}

void vm_set_stop_reason(struct vm *vm, enum vm_stop_reason reason, const char *fmt, ...) {
        uint64_t one = 1;
        va_list ap;

        /* The detail is written before the reason is published, and only
         * by the first caller: a reader that sees a reason (an acquire
         * load, as every atomic_load is) sees the whole detail.  The lock
         * orders the setters; readers never take it. */
        pthread_mutex_lock(&vm->stop_lock);
        if (atomic_load_explicit(&vm->stop_reason, memory_order_relaxed) != VM_STOP_NONE) {
                pthread_mutex_unlock(&vm->stop_lock);
                return;
        }
        va_start(ap, fmt);
        vsnprintf(vm->stop_detail, sizeof(vm->stop_detail), fmt, ap);
        va_end(ap);
        atomic_store_explicit(&vm->stop_reason, (int)reason, memory_order_release);
        pthread_mutex_unlock(&vm->stop_lock);
        if (write(vm->exit_fd, &one, sizeof(one)) < 0)
                log_debug("signalling the main loop: %m");
}

void vm_signal_kill(struct vm *vm) {
        uint64_t one = 1;

        atomic_store(&vm->dying, true);
        /* The shutdown eventfd the plugin holds dups of (signal_kill). */
        if (write(vm->kill_fd, &one, sizeof(one)) < 0)
                log_debug("signalling the shutdown eventfd: %m");
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vcpu_signal_stop(vm->vcpus[i]);
        pthread_mutex_lock(&vm->barrier_lock);
        pthread_cond_broadcast(&vm->barrier_cond);
        pthread_mutex_unlock(&vm->barrier_lock);
}

void vm_stop_vcpus(struct vm *vm) {
        vm_signal_kill(vm);
        for (unsigned i = 0; i < vm->n_vcpus; i++)
                vcpu_join(vm->vcpus[i]);
}

void vm_pause_vcpus(struct vm *vm, uint64_t mask, uint64_t user) {
        for (unsigned i = 0; i < vm->n_vcpus && i < 64; i++)
                if (mask & (UINT64_C(1) << i))
                        vcpu_pause(vm->vcpus[i], user);
}

void vm_wait_vcpus_resumed(struct vm *vm) {
        pthread_mutex_lock(&vm->barrier_lock);
        vm->barrier_count++;
        pthread_cond_broadcast(&vm->barrier_cond);
        while (vm->barrier_count < vm->n_vcpus && !atomic_load(&vm->dying))
                pthread_cond_wait(&vm->barrier_cond, &vm->barrier_lock);
        pthread_mutex_unlock(&vm->barrier_lock);
}

bool vm_lookup_access(struct vm *vm, uint32_t space, uint64_t addr, bool is_write, bool *ret_async,
                      struct vm_hint *ret_hint, bool *ret_hinted) {
        const struct range *rng;

        pthread_rwlock_rdlock(&vm->lock);
        rng = range_set_find(&vm->ranges[space], addr);
        *ret_async = rng && rng->async_write;
        *ret_hinted = false;
        if (rng && !rng->async_write && vm->hint.set && vm->hint.space == space && vm->hint.address == addr &&
            vm->hint.on_write == is_write) {
                *ret_hint = vm->hint;
                *ret_hinted = true;
        }
        pthread_rwlock_unlock(&vm->lock);
        return rng != NULL;
}

void vm_vcpu_peer_fds(const struct vm *vm, unsigned i, int *ret_req_wr, int *ret_resp_rd) {
        vcpu_peer_fds(vm->vcpus[i], ret_req_wr, ret_resp_rd);
}

void vm_hold_vcpus(struct vm *vm, bool hold) {
        pthread_mutex_lock(&vm->barrier_lock);
        atomic_store(&vm->held, hold);
        pthread_cond_broadcast(&vm->barrier_cond);
        pthread_mutex_unlock(&vm->barrier_lock);
        /* A running vCPU leaves KVM_RUN and finds the flag (the kick
         * comes after the store, as for a pause). */
        if (hold)
                for (unsigned i = 0; i < vm->n_vcpus; i++)
                        vcpu_kick(vm->vcpus[i]);
}

void vm_hold_wait(struct vm *vm) {
        pthread_mutex_lock(&vm->barrier_lock);
        while (atomic_load(&vm->held) && !atomic_load(&vm->dying))
                pthread_cond_wait(&vm->barrier_cond, &vm->barrier_lock);
        pthread_mutex_unlock(&vm->barrier_lock);
}

struct vm_object *vm_object_find(struct vm *vm, uint32_t id) {
        for (size_t i = 0; i < vm->n_objects; i++)
                if (vm->objects[i].id == id)
                        return &vm->objects[i];
        return NULL;
}

static struct vm_object *object_add(struct vm *vm, uint32_t id, enum vm_object_kind kind) {
        if (vm->n_objects == vm->cap_objects) {
                size_t cap = vm->cap_objects ? vm->cap_objects * 2 : 16;
                struct vm_object *v = realloc(vm->objects, cap * sizeof(*v));

                if (!v)
                        return NULL;
                vm->objects = v;
                vm->cap_objects = cap;
        }
        vm->objects[vm->n_objects] = (struct vm_object){ .id = id, .kind = kind };
        return &vm->objects[vm->n_objects++];
}

int vm_create_memory(struct vm *vm, uint32_t id, int fd, uint64_t offset, uint64_t start,
                     uint64_t length, bool read_only, bool dirty_log) {
        long page = sysconf(_SC_PAGESIZE);
        uint64_t mib = vm->config->limits.guest_memory_mib;
        uint64_t cap_bytes = mib > (UINT64_MAX >> 20) ? UINT64_MAX : mib << 20;
        struct kvm_userspace_memory_region reg;
        struct vm_object *o;
        struct stat st;
        uint64_t end;
        void *host;
        int seals;
        unsigned slot;

        if (vm_object_find(vm, id))
                return -EEXIST;
        if (fd < 0)
                return -EBADF;
        seals = fcntl(fd, F_GET_SEALS);
        if (seals < 0 || !(seals & F_SEAL_SHRINK))
                return -EPERM;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (__builtin_add_overflow(offset, length, &end))
                return -EOVERFLOW;
        if (end > (uint64_t)st.st_size)
                return -EINVAL;
        if (length == 0 || offset % (uint64_t)page || length % (uint64_t)page || start % (uint64_t)page)
                return -EINVAL;
        /* The caps come before anything is mapped: KVM sizes its per-slot
         * tables (and a dirty bitmap) by the region's length, populated or
         * not, and a sparse terabyte cost seconds and gigabytes of vmalloc. */
        if (vm->n_memory >= vm->config->limits.memory_regions)
                return -ENOSPC;
        if (length > cap_bytes - vm->memory_bytes)
                return -E2BIG;
        for (slot = 0; slot < vm->kvm.n_memslots && vm->slot_used[slot]; slot++)
                ;
        if (slot == vm->kvm.n_memslots)
                return -ENOSPC;
        host = mmap(NULL, length, read_only ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
        if (host == MAP_FAILED)
                return -errno;
        if (vm->config->hugepages && madvise(host, length, MADV_HUGEPAGE) < 0)
                log_debug("MADV_HUGEPAGE on memory %u: %m", id);
        /* A hugetlbfs memfd (MFD_HUGETLB): fault every page in now, so that
         * a pool too small for the region is a clean ENOMEM for the plugin
         * and not a SIGBUS in the guest later. */
        {
                struct statfs sfs;

                if (fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC &&
                    madvise(host, length, read_only ? MADV_POPULATE_READ : MADV_POPULATE_WRITE) < 0) {
                        int r = errno == EFAULT || errno == EINVAL ? -ENOMEM : -errno;

                        munmap(host, length);
                        return r;
                }
        }
        reg = (struct kvm_userspace_memory_region){
                .slot = slot,
                .flags = (read_only ? KVM_MEM_READONLY : 0) | (dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0),
                .guest_phys_addr = start,
                .memory_size = length,
                .userspace_addr = (uintptr_t)host,
        };
        if (ioctl(vm->kvm.vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0) {
                int r = -errno;

                munmap(host, length);
                return r;
        }
        o = object_add(vm, id, VM_OBJECT_MEMORY);
        if (!o) {
                reg.memory_size = 0;
                ioctl(vm->kvm.vm_fd, KVM_SET_USER_MEMORY_REGION, &reg);
                munmap(host, length);
                return -ENOMEM;
        }
        vm->slot_used[slot] = 1;
        vm->n_memory++;
        vm->memory_bytes += length;
        o->memory.slot = slot;
        o->memory.start = start;
        o->memory.length = length;
        o->memory.host = host;
        o->memory.dirty_log = dirty_log;
        return 0;
}

int vm_create_io_event(struct vm *vm, uint32_t id, uint32_t space, uint64_t address,
                       uint32_t length, uint64_t datamatch, int *ret_fd) {
        _cleanup_close_ int fd = -1;
        struct kvm_ioeventfd ioe;
        struct vm_object *o;

        if (vm_object_find(vm, id))
                return -EEXIST;
        if (space > ADDRESS_SPACE__MMIO)
                return -EINVAL;
        if (length != 0 && length != 1 && length != 2 && length != 4 && length != 8)
                return -EINVAL;
        if (length > 0 && length < 8)
                datamatch &= (UINT64_C(1) << (8 * length)) - 1;
        if (vm->n_events >= vm->config->limits.irq_events)
                return -EMFILE;
        fd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        ioe = (struct kvm_ioeventfd){
                .datamatch = length ? datamatch : 0,
                .addr = address,
                .len = length,
                .fd = fd,
                .flags = (space == ADDRESS_SPACE__IOPORT ? KVM_IOEVENTFD_FLAG_PIO : 0) |
                         (length ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
        };
        if (ioctl(vm->kvm.vm_fd, KVM_IOEVENTFD, &ioe) < 0)
                return -errno;
        o = object_add(vm, id, VM_OBJECT_IO_EVENT);
        if (!o) {
                ioe.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
                ioctl(vm->kvm.vm_fd, KVM_IOEVENTFD, &ioe);
                return -ENOMEM;
        }
        o->io_event.space = space;
        o->io_event.address = address;
        o->io_event.length = length;
        o->io_event.datamatch = ioe.datamatch;
        o->io_event.fd = TAKE_FD(fd);
        vm->n_events++;
        *ret_fd = o->io_event.fd;
        return 0;
}

int vm_create_irq_event(struct vm *vm, uint32_t id, uint32_t gsi, int *ret_fd, int *ret_resample_fd) {
        _cleanup_close_ int fd = -1, rfd = -1;
        struct kvm_irqfd irqfd;
        struct vm_object *o;
        int r;

        if (vm_object_find(vm, id))
                return -EEXIST;
        if (vm->n_events >= vm->config->limits.irq_events)
                return -EMFILE;
        r = vm_irqchip(vm);
        if (r < 0)
                return r;
        fd = eventfd(0, EFD_CLOEXEC);
        rfd = eventfd(0, EFD_CLOEXEC);
        if (fd < 0 || rfd < 0)
                return -errno;
        /* crosvm ignores the request's `resample` and always resamples. */
        irqfd = (struct kvm_irqfd){
                .fd = (uint32_t)fd,
                .gsi = gsi,
                .flags = KVM_IRQFD_FLAG_RESAMPLE,
                .resamplefd = (uint32_t)rfd,
        };
        if (ioctl(vm->kvm.vm_fd, KVM_IRQFD, &irqfd) < 0)
                return -errno;
        o = object_add(vm, id, VM_OBJECT_IRQ_EVENT);
        if (!o) {
                irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
                ioctl(vm->kvm.vm_fd, KVM_IRQFD, &irqfd);
                return -ENOMEM;
        }
        o->irq_event.gsi = gsi;
        o->irq_event.fd = TAKE_FD(fd);
        o->irq_event.resample_fd = TAKE_FD(rfd);
        vm->n_events++;
        *ret_fd = o->irq_event.fd;
        *ret_resample_fd = o->irq_event.resample_fd;
        return 0;
}

int vm_destroy_object(struct vm *vm, uint32_t id) {
        struct vm_object *o = vm_object_find(vm, id);
        struct vm_object copy;

        if (!o)
                return -ENOENT;
        /* The id is free before the teardown, even if that fails. */
        copy = *o;
        *o = vm->objects[--vm->n_objects];
        object_teardown(vm, &copy);
        return 0;
}

int vm_dirty_log(struct vm *vm, uint32_t id, uint8_t **ret_bitmap, size_t *ret_len) {
        struct vm_object *o = vm_object_find(vm, id);
        struct kvm_dirty_log log = { 0 };
        size_t pages, len;
        uint8_t *bitmap;

        if (!o || o->kind != VM_OBJECT_MEMORY)
                return -ENOENT;
        pages = (o->memory.length + (uint64_t)sysconf(_SC_PAGESIZE) - 1) / (uint64_t)sysconf(_SC_PAGESIZE);
        len = (pages + 7) / 8;
        if (len > VM_DIRTY_LOG_MAX)
                return -E2BIG;
        /* KVM writes whole 64-bit words. */
        bitmap = calloc((len + 7) & ~(size_t)7, 1);
        if (!bitmap)
                return -ENOMEM;
        log.slot = o->memory.slot;
        log.dirty_bitmap = bitmap;
        if (ioctl(vm->kvm.vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
                int r = -errno;

                free(bitmap);
                return r;
        }
        *ret_bitmap = bitmap;
        *ret_len = len;
        return 0;
}

int vm_reserve_range(struct vm *vm, uint32_t space, uint64_t start, uint64_t length, bool async_write) {
        int r;

        if (space > ADDRESS_SPACE__MMIO)
                return -EINVAL;
        pthread_rwlock_wrlock(&vm->lock);
        if (length == 0)
                r = range_set_remove(&vm->ranges[space], start);
        else if (vm->ranges[0].n + vm->ranges[1].n >= vm->config->limits.ranges)
                r = -ENOSPC;
        else
                r = range_set_add(&vm->ranges[space], start, length, async_write);
        pthread_rwlock_unlock(&vm->lock);
        return r;
}

int vm_set_hint(struct vm *vm, const struct vm_hint *hint) {
        if (hint->set && hint->space > ADDRESS_SPACE__MMIO)
                return -EINVAL;
        if (hint->n_details > VM_MAX_HINT_DETAILS)
                return -EINVAL;
        pthread_rwlock_wrlock(&vm->lock);
        vm->hint = *hint;
        pthread_rwlock_unlock(&vm->lock);
        return 0;
}

uint64_t vm_fds_needed(const struct vm_config *config) {
        /* Per vCPU: the KVM fd and both ends of two pipes. */
        return (uint64_t)config->limits.connections + 2u * (uint64_t)config->limits.irq_events +
               5u * (uint64_t)config->vcpus + 128u;
}

/* ---- VM-wide KVM calls for the main-socket server ---- */

bool vm_check_extension(struct vm *vm, uint32_t extension) {
        return kvm_check_extension(vm->kvm.vm_fd, extension) == 1;
}

int vm_get_cpuid(struct vm *vm, bool emulated, struct kvm_cpuid2 *c) {
        if (ioctl(vm->kvm.sys_fd, emulated ? KVM_GET_EMULATED_CPUID : KVM_GET_SUPPORTED_CPUID, c) < 0)
                return -errno;
        return 0;
}

int vm_get_msr_index_list(struct vm *vm, struct kvm_msr_list *l) {
        if (ioctl(vm->kvm.sys_fd, KVM_GET_MSR_INDEX_LIST, l) < 0)
                return -errno;
        return 0;
}

int vm_set_gsi_routing(struct vm *vm, const struct kvm_irq_routing *t) {
        int r = vm_irqchip(vm);

        if (r < 0)
                return r;
        if (ioctl(vm->kvm.vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
                return -errno;
        return 0;
}

int vm_set_irq_line(struct vm *vm, uint32_t irq, bool active) {
        struct kvm_irq_level lvl = { .irq = irq, .level = active };
        int r = vm_irqchip(vm);

        if (r < 0)
                return r;
        if (ioctl(vm->kvm.vm_fd, KVM_IRQ_LINE, &lvl) < 0)
                return -errno;
        return 0;
}

int vm_get_irqchip(struct vm *vm, struct kvm_irqchip *chip) {
        int r = vm_irqchip(vm);

        if (r < 0)
                return r;
        if (ioctl(vm->kvm.vm_fd, KVM_GET_IRQCHIP, chip) < 0)
                return -errno;
        return 0;
}

int vm_set_irqchip(struct vm *vm, const struct kvm_irqchip *chip) {
        int r = vm_irqchip(vm);

        if (r < 0)
                return r;
        if (ioctl(vm->kvm.vm_fd, KVM_SET_IRQCHIP, chip) < 0)
                return -errno;
        return 0;
}

int vm_get_pit(struct vm *vm, struct kvm_pit_state2 *pit) {
        int r = vm_irqchip(vm);

        if (r < 0)
                return r;
        if (ioctl(vm->kvm.vm_fd, KVM_GET_PIT2, pit) < 0)
                return -errno;
        return 0;
}

int vm_set_pit(struct vm *vm, const struct kvm_pit_state2 *pit) {
        int r = vm_irqchip(vm);

        if (r < 0)
                return r;
        if (ioctl(vm->kvm.vm_fd, KVM_SET_PIT2, pit) < 0)
                return -errno;
        return 0;
}

int vm_get_clock(struct vm *vm, struct kvm_clock_data *clock) {
        if (ioctl(vm->kvm.vm_fd, KVM_GET_CLOCK, clock) < 0)
                return -errno;
        return 0;
}

int vm_set_clock(struct vm *vm, const struct kvm_clock_data *clock) {
        if (ioctl(vm->kvm.vm_fd, KVM_SET_CLOCK, clock) < 0)
                return -errno;
        return 0;
}

int vm_set_identity_map_addr(struct vm *vm, uint64_t addr) {
        if (ioctl(vm->kvm.vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr) < 0)
                return -errno;
        return 0;
}
