/* Benchmarks, as ratios against baselines measured in the same run (these
 * machines are noisy; absolute times are printed, never asserted):
 *
 *  io      plugin I/O round trip (guest `out`, plugin Wait/Resume), with
 *          both ends polling (poll_us, the default) and both blocking
 *          (poll_us = 0, crosvm's way), against the same guest on a bare
 *          KVM loop handling the exit in-process;
 *  launch  exec of vmlaunch to its exit, for a no-op plugin, sandbox off
 *          and on, against a bare create/destroy of the same KVM VM.
 *
 * Usage: bench_vmlaunch [N_EXITS] [REPEATS] */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
        fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
        exit(1);
}

/* The baseline: the same real-mode loop on a bare KVM VM (irqchip + PIT,
 * as vmlaunch builds it), each exit handled here.  Seconds per exit. */
static double bare_io(unsigned n) {
        uint8_t code[] = { 0xb9, (uint8_t)n, (uint8_t)(n >> 8), 0xe6, 0x10, 0xe2, 0xfc, 0xe6, 0x11, 0xf4 };
        struct kvm_pit_config pit = { 0 };
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu;
        struct kvm_userspace_memory_region reg;
        struct kvm_sregs sregs;
        struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
        struct kvm_run *run;
        uint8_t *mem;
        double t0 = 0;
        unsigned seen = 0;

        if (kvm < 0)
                die("/dev/kvm");
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
                die("creating the VM");
        mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        memcpy(mem + 0x1000, code, sizeof(code));
        reg = (struct kvm_userspace_memory_region){ .memory_size = 0x10000, .userspace_addr = (uintptr_t)mem };
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
                die("memory");
        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        run = mmap(NULL, (size_t)ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        ioctl(vcpu, KVM_GET_SREGS, &sregs);
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        ioctl(vcpu, KVM_SET_SREGS, &sregs);
        ioctl(vcpu, KVM_SET_REGS, &regs);
        for (;;) {
                if (ioctl(vcpu, KVM_RUN, 0) < 0)
                        die("KVM_RUN");
                if (run->exit_reason != KVM_EXIT_IO)
                        continue;
                if (run->io.port == 0x10 && seen++ == 0)
                        t0 = now_s();
                if (run->io.port == 0x11)
                        break;
        }
        t0 = (now_s() - t0) / seen;
        close(vcpu);
        close(vm);
        close(kvm);
        munmap(mem, 0x10000);
        return t0;
}

/* Create and destroy the same VM (irqchip, PIT, one vCPU).  Seconds. */
static double bare_create_destroy(void) {
        struct kvm_pit_config pit = { 0 };
        double t0 = now_s();
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);

        if (vm < 0 || ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0 || ioctl(vm, KVM_CREATE_PIT2, &pit) < 0)
                die("creating the VM");
        close(ioctl(vm, KVM_CREATE_VCPU, 0));
        close(vm);
        close(kvm);
        return now_s() - t0;
}

/* Runs vmlaunch headless on a config; returns wall seconds and copies the
 * first "bench:" line of its stdout into line (if any). */
static double run_vmlaunch(const char *conf_text, char *line, size_t len) {
        char path[] = "/tmp/vmlaunch-bench-XXXXXX";
        int fd = mkstemp(path), p[2], st;
        double t0;
        pid_t pid;
        FILE *f;
        char buf[4096];

        if (fd < 0 || write(fd, conf_text, strlen(conf_text)) < 0 || pipe(p) < 0)
                die("config");
        close(fd);
        t0 = now_s();
        pid = fork();
        if (pid == 0) {
                dup2(p[1], 1);
                execl(VMLAUNCH_BIN, VMLAUNCH_BIN, "--headless", "-c", path, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        f = fdopen(p[0], "r");
        if (line)
                line[0] = '\0';
        while (fgets(buf, sizeof(buf), f)) {
                char *b = strstr(buf, "bench: ");

                if (b && line && !line[0])
                        snprintf(line, len, "%.*s", (int)strcspn(b, "\"\n"), b);
        }
        fclose(f);
        waitpid(pid, &st, 0);
        t0 = now_s() - t0;
        unlink(path);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "bench: vmlaunch failed (status 0x%x)\n", st);
                exit(1);
        }
        return t0;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
        qsort(v, (size_t)n, sizeof(*v), cmp_double);
        return v[n / 2];
}

int main(int argc, char **argv) {
        unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
        int reps = argc > 2 ? atoi(argv[2]) : 5;
        double bare[64], plug[64], block[64], lbare[64], loff[64], lon[64];
        char conf[1024], line[256];

        if (n < 1 || n > 65535 || reps < 1 || reps > 64)
                return 2;
        for (int i = 0; i < reps; i++) {
                unsigned long exits = 0;
                long long ns = 0;

                bare[i] = bare_io(n);
                for (int poll = 1; poll >= 0; poll--) {
                        snprintf(conf, sizeof(conf),
                                 "plugin = { path = \"%s\"; args = [ \"%u\" ]; };\nsandbox = { enabled = false; };\n%s",
                                 BENCH_PLUGIN, n, poll ? "" : "poll_us = 0;\n");
                        run_vmlaunch(conf, line, sizeof(line));
                        if (sscanf(line, "bench: %lu exits in %lld ns", &exits, &ns) != 2 || exits != n) {
                                fprintf(stderr, "bench: no timing from the plugin (\"%s\")\n", line);
                                return 1;
                        }
                        (poll ? plug : block)[i] = (double)ns / 1e9 / (double)exits;
                }

                lbare[i] = bare_create_destroy();
                snprintf(conf, sizeof(conf), "plugin = { path = \"%s\"; args = [ \"0\" ]; };\n"
                         "sandbox = { enabled = false; };\n", NOOP_PLUGIN);
                loff[i] = run_vmlaunch(conf, NULL, 0);
                snprintf(conf, sizeof(conf), "plugin = { path = \"%s\"; args = [ \"0\" ]; };\n", NOOP_PLUGIN);
                lon[i] = run_vmlaunch(conf, NULL, 0);
        }
        printf("%-44s %12s %12s %8s\n", "benchmark (median of runs)", "measured", "baseline", "ratio");
        printf("%-44s %10.2f us %10.2f us %7.2fx\n", "I/O round trip, per exit, polling (default)",
               median(plug, reps) * 1e6, median(bare, reps) * 1e6, median(plug, reps) / median(bare, reps));
        printf("%-44s %10.2f us %10.2f us %7.2fx\n", "I/O round trip, per exit, blocking (poll_us 0)",
               median(block, reps) * 1e6, median(bare, reps) * 1e6, median(block, reps) / median(bare, reps));
        printf("%-44s %10.2f ms %10.2f ms %7.2fx\n", "no-op run, exec to exit, sandbox off", median(loff, reps) * 1e3,
               median(lbare, reps) * 1e3, median(loff, reps) / median(lbare, reps));
        printf("%-44s %10.2f ms %10.2f ms %7.2fx\n", "no-op run, exec to exit, sandbox on", median(lon, reps) * 1e3,
               median(lbare, reps) * 1e3, median(lon, reps) / median(lbare, reps));
        printf("(%u exits per I/O run, %d runs; baselines: the same guest on a bare KVM loop, and a bare\n"
               " create/destroy of the same VM: irqchip, PIT, one vCPU)\n", n, reps);
        return 0;
}
