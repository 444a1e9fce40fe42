/* busy [PACE_US [LINGER_MS]]: every vCPU loops forever writing port 0x10, so the exit
 * counters keep growing; says "busy: running" on stderr, and exits 0 when
 * the host signals shutdown ("busy: stopping").  With PACE_US, each exit
 * waits that long before its resume, so the VM leaves CPU time to others
 * (on a 2-CPU machine a flat-out 2-vCPU VM starves everything else).  With
 * LINGER_MS, it waits that long after the shutdown signal before it exits,
 * so the host's countdown is there to be seen. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "guest.h"

static long pace_us;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v, (void)ev;
        if (pace_us > 0)
                usleep((useconds_t)pace_us);
        return 0;
}

int main(int argc, char **argv) {
        /* l: out 0x10, al; inc al; jmp l */
        static const uint8_t code[] = { 0xe6, 0x10, 0xfe, 0xc0, 0xeb, 0xfa };
        uint16_t *entry;
        struct crosvm_vcpu *v;
        struct guest g;
        unsigned n = 0;
        int r;

        pace_us = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
        if (guest_setup(&g, "busy", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code, sizeof(code));
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x10, 1) < 0)
                return 1;
        while (crosvm_get_vcpu(g.crosvm, n, &v) == 0)
                n++;
        entry = calloc(n, sizeof(*entry));
        for (unsigned i = 0; i < n; i++)
                entry[i] = 0x1000;
        fprintf(stderr, "busy: running on %u vCPU%s\n", n, n == 1 ? "" : "s");
        fflush(stderr);
        r = guest_run(&g, n, entry, on_io, NULL);
        fprintf(stderr, "busy: stopping\n");
        fflush(stderr);
        if (argc > 2)
                usleep((useconds_t)strtol(argv[2], NULL, 10) * 1000);
        free(entry);
        return r;
}
