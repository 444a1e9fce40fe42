/* bench_plugin N [FILE]: the guest writes port 0x10 N times and then port
 * 0x11; the plugin answers each exit and reports, on stdout (and in FILE,
 * for runs whose stdout goes to a screen), the time from the first exit to
 * the last as "bench: N exits in T ns, first at M ns" (M: the first exit,
 * on CLOCK_MONOTONIC).  (Guest code as in
 * tests/plugins/io_roundtrip, without the checks.) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "guest.h"

static unsigned long n, seen;
static const char *report_path;
static struct timespec t0, t1;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v;
        if (ev->io_access.address == 0x10) {
                if (seen++ == 0)
                        clock_gettime(CLOCK_MONOTONIC, &t0);
                return 0;
        }
        if (ev->io_access.address == 0x11) {
                clock_gettime(CLOCK_MONOTONIC, &t1);
                long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);

                /* The first exit's CLOCK_MONOTONIC time too: the caller
                 * times the launch up to the guest's first instruction. */
                printf("bench: %lu exits in %lld ns, first at %lld ns\n", seen, ns,
                       (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec);
                fflush(stdout);
                if (report_path) {
                        FILE *f = fopen(report_path, "we");

                        if (f) {
                                fprintf(f, "bench: %lu exits in %lld ns\n", seen, ns);
                                fclose(f);
                        }
                }
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        static const uint16_t entry[] = { 0x1000 };
        uint8_t code[] = {
                0xb9, 0, 0,             /* mov cx, N */
                0xe6, 0x10,             /* l: out 0x10, al */
                0xe2, 0xfc,             /* loop l */
                0xe6, 0x11,             /* out 0x11, al */
                0xf4, 0xeb, 0xfd,       /* hlt; jmp hlt */
        };
        struct guest g;

        n = argc > 1 ? strtoul(argv[1], NULL, 0) : 10000;
        report_path = argc > 2 ? argv[2] : NULL;
        if (n < 1 || n > 65535)
                return 1;
        code[1] = (uint8_t)n;
        code[2] = (uint8_t)(n >> 8);
        if (guest_setup(&g, "bench_plugin", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code, sizeof(code));
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x10, 2) < 0)
                return 1;
        return guest_run(&g, 1, entry, on_io, NULL);
}
