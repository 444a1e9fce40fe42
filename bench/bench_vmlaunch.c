/* Benchmarks, as ratios against baselines measured in the same run (these
 * machines are noisy; absolute times are printed, never asserted).  Each
 * baseline does the work its row's vmlaunch run does (bare.h):
 *
 *  io      plugin I/O round trip (guest `out`, plugin Wait/Resume): on
 *          the lane with both ends polling (the defaults), on the pipes
 *          polling (lane = false), and on the pipes blocking (lane =
 *          false, poll_us = 0: crosvm's way), against the same guest on
 *          a bare KVM loop handling the exit in-process; and the pipes'
 *          floor, measured: that loop with every exit also making a round
 *          trip of a small message over a pipe pair to a second thread,
 *          both spinning on read(), what any design that keeps crosvm's
 *          pipes pays before protobuf and the plugin.  For out, in and
 *          MMIO, bracketed pairs too (figures.h): bare, plugin, bare, ...
 *  launch  exec of vmlaunch to its exit for a no-op plugin (it connects
 *          and exits: no Start, so no irqchip, PIT or vCPU), sandbox off
 *          and on, against a bare KVM_CREATE_VM and close; and a run
 *          whose guest is entered and left at once (three exits), against
 *          QEMU's (-accel kvm, a 64 KiB -bios whose reset vector writes
 *          isa-debug-exit: no firmware runs) when qemu-system-x86_64 is
 *          installed;
 *  rss     vmlaunch's own resident memory (anonymous + file + the lanes'
 *          shared memory; the guest's memory, also shared, left out) at
 *          1, 8 and 64 vCPUs;
 *  scale   total exits per second with 1, 2, 4, 8 vCPUs in busy loops,
 *          against 1 vCPU;
 *  monitor the I/O round trip with headless stats every second and with
 *          the TUI (under tmux, when installed), against headless without;
 *          and, steadier on a noisy machine, the CPU time of vmlaunch's
 *          main loop (where the monitor runs) per unit of the busy vCPU
 *          thread's, in each of the three modes, and tmux's own.
 *
 * Usage: bench_vmlaunch [N_EXITS] [REPEATS]
 *        bench_vmlaunch --bare KIND N_EXITS   (the bare loop alone, in us
 *        per exit; KIND as bench_plugin's; for bench/ab.sh)
 *        bench_vmlaunch --rss                 (the rss rows alone) */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bare.h"
#include "figures.h"
#include "loops.h"

/* When the last run_vmlaunch exec'd vmlaunch, CLOCK_MONOTONIC seconds. */
static double last_exec;

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
                bench_die("config");
        close(fd);
        t0 = last_exec = bench_now();
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
        t0 = bench_now() - t0;
        unlink(path);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "bench: vmlaunch failed (status 0x%x)\n", st);
                exit(1);
        }
        return t0;
}

/* A vmlaunch left running: its pid and its stdout. */
struct running {
        pid_t pid;
        FILE *out;
        char path[64];
};

/* Starts vmlaunch headless (with `extra` arguments, may be NULL) and
 * returns once its "running" event is out. */
static void start_vmlaunch(const char *conf_text, const char *extra, struct running *r) {
        int fd, p[2];
        char buf[65536];

        snprintf(r->path, sizeof(r->path), "/tmp/vmlaunch-bench-XXXXXX");
        fd = mkstemp(r->path);
        if (fd < 0 || write(fd, conf_text, strlen(conf_text)) < 0 || pipe(p) < 0)
                bench_die("config");
        close(fd);
        r->pid = fork();
        if (r->pid == 0) {
                dup2(p[1], 1);
                if (extra)
                        execl(VMLAUNCH_BIN, VMLAUNCH_BIN, "--headless", extra, "-c", r->path, (char *)NULL);
                else
                        execl(VMLAUNCH_BIN, VMLAUNCH_BIN, "--headless", "-c", r->path, (char *)NULL);
                _exit(127);
        }
        close(p[1]);
        r->out = fdopen(p[0], "r");
        while (fgets(buf, sizeof(buf), r->out))
                if (strstr(buf, "\"event\":\"running\""))
                        return;
        fprintf(stderr, "bench: vmlaunch did not start the VM\n");
        exit(1);
}

static void stop_vmlaunch(struct running *r) {
        char buf[65536];
        int st;

        kill(r->pid, SIGTERM);
        while (fgets(buf, sizeof(buf), r->out))
                ;
        fclose(r->out);
        waitpid(r->pid, &st, 0);
        unlink(r->path);
}

/* RssAnon + RssFile of a process, in KiB: what it uses itself, without
 * the guest's memory (the plugin's memfds, counted as RssShmem); RssAnon
 * alone in *ret_anon (the file part is mostly shared libraries' pages). */
static long own_rss_kib(pid_t pid, long *ret_anon) {
        char path[64], line[256];
        long anon = -1, file = -1, v;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        f = fopen(path, "re");
        if (!f)
                bench_die(path);
        while (fgets(line, sizeof(line), f)) {
                if (sscanf(line, "RssAnon: %ld", &v) == 1)
                        anon = v;
                if (sscanf(line, "RssFile: %ld", &v) == 1)
                        file = v;
        }
        fclose(f);
        *ret_anon = anon;
        return anon < 0 || file < 0 ? -1 : anon + file;
}

/* The resident part of the lanes' memfd (shared memory, so not in
 * own_rss_kib), in KiB, from the mapping's Rss in smaps. */
static long lanes_rss_kib(pid_t pid) {
        char path[64], line[512];
        bool in_lanes = false;
        long total = 0, v;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
        f = fopen(path, "re");
        if (!f)
                bench_die(path);
        while (fgets(line, sizeof(line), f)) {
                /* A mapping's header: "start-end perms offset dev inode [path]". */
                if (strchr(line, '-') && strchr(line, '-') < strchr(line, ' ') && isxdigit((unsigned char)line[0]))
                        in_lanes = strstr(line, "memfd:vmlaunch-lanes") != NULL;
                else if (in_lanes && sscanf(line, "Rss: %ld", &v) == 1)
                        total += v;
        }
        fclose(f);
        return total;
}

static void bench_rss(void) {
        static const unsigned counts[] = { 1, 8, 64 };
        long kib[3], anon[3], lanes[3];

        for (int i = 0; i < 3; i++) {
                char conf[1024];
                struct running r;

                /* Paced: every vCPU runs and exits now and then, the CPU stays free. */
                snprintf(conf, sizeof(conf),
                         "vcpus = %u;\nplugin = { path = \"%s\"; args = [ \"20000\" ]; };\n", counts[i],
                         BUSY_PLUGIN);
                start_vmlaunch(conf, NULL, &r);
                usleep(500 * 1000);
                kib[i] = own_rss_kib(r.pid, &anon[i]);
                lanes[i] = lanes_rss_kib(r.pid);
                kib[i] += lanes[i];
                stop_vmlaunch(&r);
        }
        for (int i = 0; i < 3; i++)
                printf("%-52s %7ld KiB %9ld KiB %7.2fx\n",
                       i == 0 ? "vmlaunch RSS, 1 vCPU" : i == 1 ? "vmlaunch RSS, 8 vCPUs" : "vmlaunch RSS, 64 vCPUs",
                       kib[i], kib[0], (double)kib[i] / (double)kib[0]);
        printf("%-52s %7.1f KiB\n", "  growth per extra vCPU (1 -> 64)", (double)(kib[2] - kib[0]) / 63.0);
        printf("%-52s %7ld KiB %9ld KiB %7.2fx\n", "  of which anonymous, 1 and 64 vCPUs", anon[0], anon[2],
               (double)anon[2] / (double)anon[0]);
        printf("%-52s %7ld KiB %9ld KiB\n", "  of which the lanes, 1 and 64 vCPUs", lanes[0], lanes[2]);
}

/* The "io_out" total of a stats line. */
static bool stats_io_out(const char *line, unsigned long long *ret) {
        const char *t = strstr(line, "\"total\"");

        if (!strstr(line, "\"event\":\"stats\"") || !t || !(t = strstr(t, "\"io_out\":")))
                return false;
        return sscanf(t, "\"io_out\":%llu", ret) == 1;
}

/* CPU time (ns, from schedstat) of a process's threads: those whose name
 * starts with "vcpu" in *ret_vcpu, the others (the main loop, where the
 * monitor runs) as the return value. */
static unsigned long long task_cpu_ns(pid_t pid, unsigned long long *ret_vcpu) {
        unsigned long long own = 0, vcpu = 0;
        char path[320], comm[32];
        struct dirent *e;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/task", pid);
        d = opendir(path);
        if (!d)
                bench_die(path);
        while ((e = readdir(d))) {
                unsigned long long ns;
                FILE *f;

                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", pid, e->d_name);
                f = fopen(path, "re");
                if (!f || !fgets(comm, sizeof(comm), f)) {
                        if (f)
                                fclose(f);
                        continue;       /* gone meanwhile */
                }
                fclose(f);
                snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", pid, e->d_name);
                f = fopen(path, "re");
                if (!f)
                        continue;
                if (fscanf(f, "%llu", &ns) == 1)
                        *(strncmp(comm, "vcpu", 4) == 0 ? &vcpu : &own) += ns;
                fclose(f);
        }
        closedir(d);
        *ret_vcpu = vcpu;
        return own;
}

/* What the monitor costs where it runs, in vmlaunch's main loop: with the
 * busy plugin's vCPU exiting flat out, the CPU time of vmlaunch's threads
 * other than the vCPU's over 3 s (three stats events, twelve TUI
 * redraws), against the vCPU thread's own CPU time then.  Stolen time is
 * in neither, so this holds on a noisy machine where the exit rate does
 * not.  `tui`: run under tmux; `extra`: a headless argument, or NULL. */
static double monitor_cpu(bool tui, const char *extra, double *ret_vcpu_share, double *ret_tmux) {
        char conf[512], pidfile[] = "/tmp/vmlaunch-bench-pid-XXXXXX";
        unsigned long long own0, own1, vcpu0, vcpu1, tmux0 = 0, tmux1 = 0, unused;
        pid_t tmux = 0;
        struct running r = { .pid = 0 };
        double t0, t1;
        pid_t pid = 0;

        snprintf(conf, sizeof(conf), "plugin = { path = \"%s\"; };\nsandbox = { enabled = false; };\n", BUSY_PLUGIN);
        if (!tui) {
                start_vmlaunch(conf, extra, &r);
                pid = r.pid;
        } else {
                char conf_path[] = "/tmp/vmlaunch-bench-XXXXXX", cmd[2048];
                int fd, pfd;

                if (system("command -v tmux > /dev/null 2>&1") != 0)
                        return -1;
                fd = mkstemp(conf_path);
                pfd = mkstemp(pidfile);
                if (fd < 0 || pfd < 0 || write(fd, conf, strlen(conf)) < 0)
                        bench_die("config");
                close(fd);
                close(pfd);
                snprintf(cmd, sizeof(cmd),
                         "tmux -S /tmp/vmlaunch-bench.sock -f /dev/null new-session -d -s m -x 200 -y 50 "
                         "'echo $$ > %s; exec %s --tui -c %s'",
                         pidfile, VMLAUNCH_BIN, conf_path);
                if (system(cmd) != 0)
                        bench_die("tmux");
                /* Until the pid is there and its vCPU thread runs. */
                for (int i = 0; i < 100 && pid <= 0; i++) {
                        FILE *f = fopen(pidfile, "re");

                        if (f) {
                                if (fscanf(f, "%d", &pid) != 1)
                                        pid = 0;
                                fclose(f);
                        }
                        usleep(50000);
                }
                for (int i = 0; i < 100 && pid > 0; i++) {
                        task_cpu_ns(pid, &vcpu0);
                        if (vcpu0 > 0)
                                break;
                        usleep(50000);
                }
                unlink(conf_path);
                if (pid <= 0)
                        bench_die("the TUI run did not start");
        }
        if (tui) {
                FILE *p = popen("tmux -S /tmp/vmlaunch-bench.sock display-message -p '#{pid}'", "re");

                if (!p || fscanf(p, "%d", &tmux) != 1)
                        bench_die("the tmux server's pid");
                pclose(p);
        }
        usleep(300000);
        t0 = bench_now();
        own0 = task_cpu_ns(pid, &vcpu0);
        if (tmux > 0)
                tmux0 = task_cpu_ns(tmux, &unused);
        usleep(3000000);
        own1 = task_cpu_ns(pid, &vcpu1);
        if (tmux > 0)
                tmux1 = task_cpu_ns(tmux, &unused);
        t1 = bench_now();
        if (tui) {
                kill(pid, SIGTERM);
                for (int i = 0; i < 500 && kill(pid, 0) == 0; i++)
                        usleep(20000);
                if (system("tmux -S /tmp/vmlaunch-bench.sock kill-server 2> /dev/null") < 0)
                        bench_die("tmux");
                unlink(pidfile);
        } else
                stop_vmlaunch(&r);
        *ret_vcpu_share = (double)(vcpu1 - vcpu0) / 1e9 / (t1 - t0);
        *ret_tmux = (double)(tmux1 - tmux0) / (double)(vcpu1 - vcpu0);
        return (double)(own1 - own0) / (double)(vcpu1 - vcpu0);
}

static void bench_monitor_cpu(void) {
        static const char *const labels[] = { "no monitor (headless)", "stats every 1 s", "TUI" };
        double share[3], vcpu[3], tmux[3];

        share[0] = monitor_cpu(false, NULL, &vcpu[0], &tmux[0]);
        share[1] = monitor_cpu(false, "--stats-interval=1", &vcpu[1], &tmux[1]);
        share[2] = monitor_cpu(true, NULL, &vcpu[2], &tmux[2]);
        for (int i = 0; i < 3; i++) {
                char label[64];

                snprintf(label, sizeof(label), "main-loop CPU per vCPU CPU, %s", labels[i]);
                if (share[i] < 0)
                        printf("%-52s %s\n", label, "(no tmux)");
                else
                        printf("%-52s %10.3f %% %8.0f %%  %7.4fx\n", label, share[i] * 100, vcpu[i] * 100, share[i]);
        }
        if (share[2] >= 0)
                printf("%-52s %10.3f %% %8.0f %%  %7.4fx\n", "  tmux's own CPU per vCPU CPU, TUI", tmux[2] * 100,
                       vcpu[2] * 100, tmux[2]);
}

static void bench_scale(void) {
        static const unsigned counts[] = { 1, 2, 4, 8 };
        double rate[4];

        for (int i = 0; i < 4; i++) {
                char conf[1024], buf[65536];
                unsigned long long first = 0, last = 0, v;
                double t_first = 0, t_last = 0;
                int seen = 0;
                struct running r;

                snprintf(conf, sizeof(conf), "vcpus = %u;\nplugin = { path = \"%s\"; };\n", counts[i], BUSY_PLUGIN);
                start_vmlaunch(conf, "--stats-interval=1", &r);
                /* Skip the first interval (start-up), then count over three. */
                while (seen < 5 && fgets(buf, sizeof(buf), r.out)) {
                        if (!stats_io_out(buf, &v))
                                continue;
                        if (++seen == 2) {
                                first = v;
                                t_first = bench_now();
                        } else if (seen == 5) {
                                last = v;
                                t_last = bench_now();
                        }
                }
                stop_vmlaunch(&r);
                rate[i] = seen == 5 ? (double)(last - first) / (t_last - t_first) : 0;
        }
        for (int i = 0; i < 4; i++) {
                char label[64];

                snprintf(label, sizeof(label), "exits per second, %u busy vCPU%s", counts[i], counts[i] > 1 ? "s" : "");
                printf("%-52s %10.0f /s %10.0f /s %7.2fx\n", label, rate[i], rate[0], rate[i] / rate[0]);
        }
}

/* Seconds per exit with the TUI on, under tmux (the plugin writes its
 * figure to a file: the screen is gone once vmlaunch exits); 0 when tmux
 * is missing or no figure came. */
static double io_under_tui(unsigned n) {
        char conf_path[] = "/tmp/vmlaunch-bench-XXXXXX", report[] = "/tmp/vmlaunch-bench-report-XXXXXX";
        char cmd[2048], line[512];
        double per_exit = 0;
        int fd = mkstemp(conf_path), rfd = mkstemp(report);
        FILE *f;

        if (system("command -v tmux > /dev/null 2>&1") != 0)
                return 0;
        if (fd < 0 || rfd < 0 ||
            dprintf(fd, "plugin = { path = \"%s\"; args = [ \"%u\", \"%s\" ]; };\nsandbox = { enabled = false; };\n",
                    BENCH_PLUGIN, n, report) < 0)
                bench_die("config");
        close(fd);
        close(rfd);
        /* The harness blocks in `tmux wait-for` until vmlaunch is done: a
         * loop of `sleep 0.1` execs here took CPU from the run it timed
         * (2 CPUs, both busy with the vCPU and the plugin), which the
         * headless runs it is compared with never pay. */
        snprintf(cmd, sizeof(cmd),
                 "tmux -S /tmp/vmlaunch-bench.sock -f /dev/null new-session -d -s b -x 200 -y 50 "
                 "'%s --tui -c %s; tmux -S /tmp/vmlaunch-bench.sock wait-for -S vmlaunch-done; sleep 60' && "
                 "timeout 60 tmux -S /tmp/vmlaunch-bench.sock wait-for vmlaunch-done; "
                 "tmux -S /tmp/vmlaunch-bench.sock kill-server",
                 VMLAUNCH_BIN, conf_path);
        if (system(cmd) != 0)
                fprintf(stderr, "bench: the TUI run under tmux failed\n");
        f = fopen(report, "re");
        if (f && fgets(line, sizeof(line), f)) {
                unsigned long exits;
                long long ns;

                if (sscanf(line, "bench: %lu exits in %lld ns", &exits, &ns) == 2 && exits == n)
                        per_exit = (double)ns / 1e9 / (double)exits;
        }
        if (f)
                fclose(f);
        unlink(conf_path);
        unlink(report);
        return per_exit;
}

/* QEMU entering its guest and leaving at once: a 64 KiB -bios image (in
 * place of SeaBIOS: no firmware runs) whose reset vector, the guest's
 * first instruction, writes 0 to isa-debug-exit, which ends QEMU with
 * status 1; the counterpart of vmlaunch's bench_plugin run with one
 * access.  Seconds, or 0 if QEMU is not installed or failed. */
static double qemu_noop(void) {
        static uint8_t bios[65536];
        char path[] = "/tmp/vmlaunch-bench-bios-XXXXXX";
        int fd, st;
        double t0;
        pid_t pid;

        if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
                return 0;
        memset(bios, 0xf4, sizeof(bios));
        /* At 0xffff0: mov al, 0; out 0xf4, al; hlt */
        memcpy(bios + 0xfff0, (const uint8_t[]){ 0xb0, 0x00, 0xe6, 0xf4, 0xf4 }, 5);
        fd = mkstemp(path);
        if (fd < 0 || write(fd, bios, sizeof(bios)) != (ssize_t)sizeof(bios))
                bench_die("bios");
        close(fd);
        t0 = bench_now();
        pid = fork();
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);

                dup2(null, 1);
                dup2(null, 2);
                execl("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64", "-accel", "kvm", "-m", "16",
                      "-display", "none", "-nodefaults", "-no-reboot", "-bios", path, "-device",
                      "isa-debug-exit,iobase=0xf4,iosize=1", (char *)NULL);
                _exit(127);
        }
        waitpid(pid, &st, 0);
        t0 = bench_now() - t0;
        unlink(path);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 1) {
                fprintf(stderr, "bench: QEMU's no-op run ended with status 0x%x\n", st);
                return 0;
        }
        return t0;
}

/* One bench_plugin run of `kind` with n accesses and `extra` config:
 * seconds per access, as the plugin timed it. */
static double plugin_io(enum bench_kind kind, unsigned n, const char *extra) {
        char conf[1024], line[256];
        unsigned long exits = 0;
        long long ns = 0;

        snprintf(conf, sizeof(conf),
                 "plugin = { path = \"%s\"; args = [ \"%u\", \"-\", \"%s\" ]; };\nsandbox = { enabled = false; };\n%s",
                 BENCH_PLUGIN, n, bench_kind_name(kind), extra);
        run_vmlaunch(conf, line, sizeof(line));
        if (sscanf(line, "bench: %lu exits in %lld ns", &exits, &ns) != 2 || exits != n) {
                fprintf(stderr, "bench: no timing from the plugin (%s: \"%s\")\n", bench_kind_name(kind), line);
                exit(1);
        }
        return (double)ns / 1e9 / (double)exits;
}

/* Bracketed pairs for the round trips the goal names (out, in, MMIO):
 * bare, plugin, bare, plugin, ..., bare, back to back, each plugin run
 * against the mean of its two neighbours (figures_bracketed). */
static void bench_bracketed(unsigned n, int reps) {
        static const enum bench_kind kinds[] = { BENCH_OUT, BENCH_IN, BENCH_MMIO };

        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                double bare[65], plug[64], lo, hi, med;
                char label[64];

                bare[0] = bare_io(kinds[k], n, false);
                for (int i = 0; i < reps; i++) {
                        plug[i] = plugin_io(kinds[k], n, "");
                        bare[i + 1] = bare_io(kinds[k], n, false);
                }
                med = figures_bracketed(plug, bare, reps, &lo, &hi);
                snprintf(label, sizeof(label), "bracketed pairs, %s, lane (default)", bench_kind_name(kinds[k]));
                printf("%-52s %10.2f us %10.2f us %7.2fx  pairs %.2f-%.2fx\n", label, figures_median(plug, reps) * 1e6,
                       figures_median(bare, reps + 1) * 1e6, med, lo, hi);
        }
}

int main(int argc, char **argv) {
        unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 20000;
        int reps = argc > 2 ? atoi(argv[2]) : 5;
        double bare[64], floor_[64], plug[64], piped[64], block[64], stats[64], tui[64], lbare[64], loff[64], lon[64];
        double qemu[64];
        double first[4][64], whole[4][64];      /* sandbox off/on x tap off/on */
        double kbare[5][64], kplug[5][64];      /* per enum bench_kind, BENCH_IN onwards */
        bool have_qemu = true;
        char conf[1024], line[256];

        if (argc == 2 && strcmp(argv[1], "--rss") == 0) {
                bench_rss();
                return 0;
        }
        /* --bare KIND N: the bare loop alone, for bench/ab.sh. */
        if (argc == 4 && strcmp(argv[1], "--bare") == 0) {
                n = (unsigned)atoi(argv[3]);
                for (int k = BENCH_OUT; k <= BENCH_IOEVENT; k++)
                        if (strcmp(argv[2], bench_kind_name((enum bench_kind)k)) == 0 && n >= 1 && n <= 65535) {
                                /* An async write's baseline is the plain exit. */
                                printf("%.3f\n",
                                       bare_io(k == BENCH_ASYNC ? BENCH_OUT : (enum bench_kind)k, n, false) * 1e6);
                                return 0;
                        }
                return 2;
        }
        if (n < 1 || n > 65535 || reps < 1 || reps > 64)
                return 2;
        for (int i = 0; i < reps; i++) {
                static const char *const modes[] = { "", "lane = false;\n", "lane = false;\npoll_us = 0;\n" };

                bare[i] = bare_io(BENCH_OUT, n, false);
                plug[i] = plugin_io(BENCH_OUT, n, modes[0]);
                piped[i] = plugin_io(BENCH_OUT, n, modes[1]);
                block[i] = plugin_io(BENCH_OUT, n, modes[2]);
                floor_[i] = bare_io(BENCH_OUT, n, true);
                /* The other kinds of access, each against its own bare loop
                 * (an async write's is the plain exit handled in-process). */
                for (int k = BENCH_IN; k <= BENCH_IOEVENT; k++) {
                        kbare[k][i] = bare_io(k == BENCH_ASYNC ? BENCH_OUT : (enum bench_kind)k, n, false);
                        kplug[k][i] = plugin_io((enum bench_kind)k, n, "");
                }
                /* The monitor's cost: stats every second, and the TUI. */
                {
                        struct running r;
                        char buf[65536];
                        unsigned long exits = 0;
                        long long ns = 0;

                        snprintf(conf, sizeof(conf),
                                 "plugin = { path = \"%s\"; args = [ \"%u\" ]; };\nsandbox = { enabled = false; };\n",
                                 BENCH_PLUGIN, n);
                        start_vmlaunch(conf, "--stats-interval=1", &r);
                        stats[i] = 0;
                        while (fgets(buf, sizeof(buf), r.out)) {
                                char *b = strstr(buf, "bench: ");

                                if (b && sscanf(b, "bench: %lu exits in %lld ns", &exits, &ns) == 2 && exits == n)
                                        stats[i] = (double)ns / 1e9 / (double)exits;
                        }
                        stop_vmlaunch(&r);
                }
                /* Launch to the guest's first instruction (its first exit),
                 * and to exit, with the guest entered and left at once
                 * (begin, one access, done): sandbox and tap. */
                for (int k = 0; k < 4; k++) {
                        unsigned long e;
                        long long t, at;

                        snprintf(conf, sizeof(conf),
                                 "plugin = { path = \"%s\"; args = [ \"1\" ]; };\nsandbox = { enabled = %s; };\n%s",
                                 BENCH_PLUGIN, k & 1 ? "true" : "false",
                                 k & 2 ? "network = { host_ip = \"192.168.71.1\"; netmask = \"255.255.255.0\"; "
                                         "mac = \"de:21:e8:47:6b:71\"; };\n"
                                       : "");
                        whole[k][i] = run_vmlaunch(conf, line, sizeof(line));
                        if (sscanf(line, "bench: %lu exits in %lld ns, first at %lld ns", &e, &t, &at) != 3) {
                                fprintf(stderr, "bench: no first-exit time (\"%s\")\n", line);
                                return 1;
                        }
                        first[k][i] = (double)at / 1e9 - last_exec;
                }
                tui[i] = io_under_tui(n);
                qemu[i] = qemu_noop();
                have_qemu = have_qemu && qemu[i] > 0;

                lbare[i] = bare_create_destroy();
                snprintf(conf, sizeof(conf), "plugin = { path = \"%s\"; args = [ \"0\" ]; };\n"
                         "sandbox = { enabled = false; };\n", NOOP_PLUGIN);
                loff[i] = run_vmlaunch(conf, NULL, 0);
                snprintf(conf, sizeof(conf), "plugin = { path = \"%s\"; args = [ \"0\" ]; };\n", NOOP_PLUGIN);
                lon[i] = run_vmlaunch(conf, NULL, 0);
        }
        figures_header();
        figures_row("I/O round trip, per exit, lane (default)", "us", 1e6, plug, bare, reps);
        figures_row("I/O round trip, per exit, pipes, polling", "us", 1e6, piped, bare, reps);
        figures_row("  the pipes' floor: bare loop + pipe pair", "us", 1e6, floor_, bare, reps);
        figures_row("I/O round trip, per exit, pipes, blocking", "us", 1e6, block, bare, reps);
        figures_row("no-op run, exec to exit, sandbox off", "ms", 1e3, loff, lbare, reps);
        figures_row("no-op run, exec to exit, sandbox on", "ms", 1e3, lon, lbare, reps);
        for (int k = BENCH_IN; k <= BENCH_IOEVENT; k++) {
                static const char *const labels[] = {
                        [BENCH_IN] = "I/O read (in), the plugin supplies the byte",
                        [BENCH_MMIO] = "MMIO write through the plugin",
                        [BENCH_ASYNC] = "async-write port, no wait for the plugin",
                        [BENCH_IOEVENT] = "ioeventfd-backed port (never leaves KVM)",
                };

                figures_row(labels[k], "us", 1e6, kplug[k], kbare[k], reps);
        }
        for (int k = 0; k < 4; k++) {
                char label[64];

                snprintf(label, sizeof(label), "exec to the first guest exit, sandbox %s, tap %s", k & 1 ? "on" : "off",
                         k & 2 ? "on" : "off");
                figures_row(label, "ms", 1e3, first[k], first[0], reps);
        }
        for (int k = 1; k < 4; k++) {
                char label[64];

                snprintf(label, sizeof(label), "guest in and out, exec to exit, sandbox %s, tap %s",
                         k & 1 ? "on" : "off", k & 2 ? "on" : "off");
                figures_row(label, "ms", 1e3, whole[k], whole[0], reps);
        }
        if (have_qemu) {
                figures_row("guest in and out, sandbox off, against QEMU", "ms", 1e3, whole[0], qemu, reps);
                figures_row("guest in and out, sandbox on, against QEMU", "ms", 1e3, whole[1], qemu, reps);
        } else
                printf("%-52s %s\n", "guest in and out against QEMU",
                       "(no qemu-system-x86_64, or it failed: apt-get install qemu-system-x86)");
        figures_row("I/O round trip, headless, stats every 1 s", "us", 1e6, stats, plug, reps);
        if (figures_median(tui, reps) > 0)
                figures_row("I/O round trip, TUI under tmux", "us", 1e6, tui, plug, reps);
        else
                printf("%-52s %s\n", "I/O round trip, TUI under tmux", "(no tmux)");
        fflush(stdout);
        bench_bracketed(n, reps);
        fflush(stdout);
        bench_monitor_cpu();
        bench_rss();
        bench_scale();
        printf("(%u exits per I/O run, %d runs.  med(m/b): the median of the runs' own ratios, each run against\n"
               " the baseline measured next to it; med/med: the ratio of the two medians shown.  Baselines: the\n"
               " same guest on a bare KVM loop (irqchip, PIT, one vCPU); for the no-op run, a bare\n"
               " KVM_CREATE_VM and close (no Start: no irqchip, PIT or vCPU); for QEMU, its run of a 64 KiB\n"
               " -bios that leaves at its first instruction; the headless polling round trip without stats;\n"
               " 1 vCPU.  Bracketed pairs: median and range of each plugin run against the mean of the bare\n"
               " runs on either side.  RSS and scaling from one run each)\n", n, reps);
        return 0;
}
