#include "bare.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

double bench_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_die(const char *what) {
        fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
        exit(1);
}

/* The peer of a forwarded exit: the pipe pair's other end. */
struct peer {
        int to_peer[2], to_main[2];
        pthread_t thread;
};

static void spin_read(int fd, uint8_t *buf) {
        while (read(fd, buf, 64) < 0)
                __builtin_ia32_pause();
}

static void *peer_main(void *arg) {
        struct peer *p = arg;
        uint8_t buf[64];

        /* Until the main side closes its end: read() then returns 0. */
        for (;;) {
                ssize_t n;

                while ((n = read(p->to_peer[0], buf, sizeof(buf))) < 0)
                        __builtin_ia32_pause();
                if (n == 0)
                        return NULL;
                if (write(p->to_main[1], buf, 20) != 20)
                        bench_die("pipe");
        }
}

static void peer_start(struct peer *p) {
        if (pipe2(p->to_peer, O_NONBLOCK | O_CLOEXEC) < 0 || pipe2(p->to_main, O_NONBLOCK | O_CLOEXEC) < 0 ||
            pthread_create(&p->thread, NULL, peer_main, p) != 0)
                bench_die("pipes");
}

static void peer_stop(struct peer *p) {
        close(p->to_peer[1]);
        pthread_join(p->thread, NULL);
        close(p->to_peer[0]);
        close(p->to_main[0]);
        close(p->to_main[1]);
}

static void peer_round_trip(struct peer *p) {
        uint8_t buf[64] = { 0 };

        if (write(p->to_peer[1], buf, 20) != 20)
                bench_die("pipe");
        spin_read(p->to_main[0], buf);
}

double bare_io(enum bench_kind kind, unsigned n, bool forward) {
        uint8_t code[32];
        size_t len = bench_guest(kind, n, code);
        struct kvm_pit_config pit = { 0 };
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu, efd = -1;
        struct kvm_userspace_memory_region reg;
        struct kvm_sregs sregs;
        struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
        struct kvm_run *run;
        struct peer peer;
        uint8_t *mem;
        double t0 = 0, t;

        if (kvm < 0)
                bench_die("/dev/kvm");
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
                bench_die("creating the VM");
        mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
                bench_die("guest memory");
        memcpy(mem + 0x1000, code, len);
        reg = (struct kvm_userspace_memory_region){ .memory_size = 0x10000, .userspace_addr = (uintptr_t)mem };
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
                bench_die("memory");
        if (kind == BENCH_IOEVENT) {
                struct kvm_ioeventfd io = { .datamatch = 0, .addr = BENCH_PORT, .len = 1,
                                            .flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH };

                efd = eventfd(0, EFD_CLOEXEC);
                io.fd = efd;
                if (efd < 0 || ioctl(vm, KVM_IOEVENTFD, &io) < 0)
                        bench_die("KVM_IOEVENTFD");
        }
        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        if (vcpu < 0)
                bench_die("KVM_CREATE_VCPU");
        run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (run == MAP_FAILED)
                bench_die("mapping kvm_run");
        ioctl(vcpu, KVM_GET_SREGS, &sregs);
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        ioctl(vcpu, KVM_SET_SREGS, &sregs);
        ioctl(vcpu, KVM_SET_REGS, &regs);
        if (forward)
                peer_start(&peer);
        for (;;) {
                if (ioctl(vcpu, KVM_RUN, 0) < 0)
                        bench_die("KVM_RUN");
                if (run->exit_reason == KVM_EXIT_MMIO) {
                        if (!run->mmio.is_write)
                                run->mmio.data[0] = 0x5a;
                        continue;
                }
                if (run->exit_reason != KVM_EXIT_IO)
                        continue;
                if (run->io.port == BENCH_PORT) {
                        if (run->io.direction == KVM_EXIT_IO_IN)
                                ((uint8_t *)run)[run->io.data_offset] = 0x5a;
                        if (forward)
                                peer_round_trip(&peer);
                }
                if (run->io.port == BENCH_BEGIN)
                        t0 = bench_now();
                if (run->io.port == BENCH_DONE)
                        break;
        }
        t = (bench_now() - t0) / n;
        if (forward)
                peer_stop(&peer);
        if (efd >= 0)
                close(efd);
        munmap(run, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0));
        close(vcpu);
        close(vm);
        close(kvm);
        munmap(mem, 0x10000);
        return t;
}

double bare_create_destroy(void) {
        double t0 = bench_now();
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm;

        if (kvm < 0)
                bench_die("/dev/kvm");
        /* vmlaunch checks these two before KVM_CREATE_VM (kvm.c). */
        if (ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 || ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_PIT2) <= 0)
                bench_die("the irqchip capabilities");
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                bench_die("KVM_CREATE_VM");
        close(vm);
        close(kvm);
        return bench_now() - t0;
}
