/* bench_plugin N [FILE [KIND]]: runs the benchmark guest of bench/loops.h
 * (KIND: out, the default, in, mmio, async or ioevent) with N accesses and
 * reports, on stdout (and in FILE unless it is "-", for runs whose stdout
 * goes to a screen), "bench: N exits in T ns, first at M ns": T from the
 * guest's begin marker to its done marker, M the begin marker's
 * CLOCK_MONOTONIC time, so the caller can time a launch up to the guest's
 * first instruction.  The plugin answers every exit that reaches it, and
 * checks that each one did (none for ioevent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest.h"
#include "loops.h"

static unsigned long n, seen;
static enum bench_kind kind;
static const char *report_path;
static struct timespec t0, t1;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        uint64_t addr = ev->io_access.address;

        (void)u, (void)id, (void)v;
        if (addr == BENCH_BEGIN) {
                clock_gettime(CLOCK_MONOTONIC, &t0);
                return 0;
        }
        if (addr == BENCH_PORT || addr == BENCH_MMIO_ADDR) {
                if (!ev->io_access.is_write)
                        ev->io_access.data[0] = 0x5a;
                seen++;
                return 0;
        }
        if (addr == BENCH_DONE) {
                long long ns;
                unsigned long want = kind == BENCH_IOEVENT ? 0 : n;

                clock_gettime(CLOCK_MONOTONIC, &t1);
                if (seen != want) {
                        fprintf(stderr, "bench_plugin: %lu exits reached the plugin, want %lu\n", seen, want);
                        return 2;
                }
                ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
                printf("bench: %lu exits in %lld ns, first at %lld ns\n", n, ns,
                       (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec);
                fflush(stdout);
                if (report_path) {
                        FILE *f = fopen(report_path, "we");

                        if (f) {
                                fprintf(f, "bench: %lu exits in %lld ns\n", n, ns);
                                fclose(f);
                        }
                }
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        static const uint16_t entry[] = { 0x1000 };
        static const uint8_t zero;
        uint8_t code[32];
        struct crosvm_io *ioev = NULL;
        struct guest g;
        int r;

        n = argc > 1 ? strtoul(argv[1], NULL, 0) : 10000;
        if (n < 1 || n > 65535)
                return 1;
        report_path = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
        kind = BENCH_OUT;
        for (int k = BENCH_OUT; argc > 3 && k <= BENCH_IOEVENT; k++)
                if (strcmp(argv[3], bench_kind_name((enum bench_kind)k)) == 0)
                        kind = (enum bench_kind)k;
        if (guest_setup(&g, "bench_plugin", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code, bench_guest(kind, (unsigned)n, code));
        r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, BENCH_DONE, 2);
        if (r >= 0 && (kind == BENCH_OUT || kind == BENCH_IN))
                r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, BENCH_PORT, 1);
        if (r >= 0 && kind == BENCH_MMIO)
                r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_MMIO, BENCH_MMIO_ADDR, 0x1000);
        if (r >= 0 && kind == BENCH_ASYNC)
                r = crosvm_reserve_async_write_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, BENCH_PORT, 1);
        if (r >= 0 && kind == BENCH_IOEVENT)
                r = crosvm_create_io_event(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, BENCH_PORT, 1, &zero, &ioev);
        if (r < 0) {
                fprintf(stderr, "bench_plugin: setting up %s: %s\n", bench_kind_name(kind), strerror(-r));
                return 1;
        }
        return guest_run(&g, 1, entry, on_io, NULL);
}
