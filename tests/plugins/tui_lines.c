/* tui_lines FILLER TICK_MS: output for the terminal monitor's checks
 * (test_tui_habits.sh).  Writes on stdout a UTF-8 line, a line with an
 * escape sequence, a 300-column line, then FILLER numbered filler lines;
 * one line on stderr; then, while every vCPU loops on port 0x10 (paced,
 * 20 ms an exit), a numbered "tick" line on stdout every TICK_MS (0: none)
 * until the host signals shutdown, when it exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"

static long tick_ms;
static unsigned long long ticks;
static struct timespec last;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        struct timespec now;

        (void)u, (void)v, (void)ev;
        usleep(20000);
        if (id != 0 || tick_ms <= 0)
                return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= tick_ms) {
                last = now;
                printf("tui_lines: tick %llu\n", ++ticks);
                fflush(stdout);
        }
        return 0;
}

int main(int argc, char **argv) {
        /* l: out 0x10, al; inc al; jmp l */
        static const uint8_t code[] = { 0xe6, 0x10, 0xfe, 0xc0, 0xeb, 0xfa };
        static uint16_t entry[64];
        char longline[301];
        struct crosvm_vcpu *vcpu;
        struct guest g;
        unsigned n = 0;
        long filler = argc > 1 ? strtol(argv[1], NULL, 10) : 0;

        tick_ms = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
        if (guest_setup(&g, "tui_lines", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code, sizeof(code));
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x10, 1) < 0)
                return 1;
        while (n < 64 && crosvm_get_vcpu(g.crosvm, n, &vcpu) == 0)
                entry[n++] = 0x1000;

        printf("tui_lines: utf-8 gr\u00fc\u00dfe \u2713 \u65e5\u672c\u8a9e end\n");
        printf("tui_lines: escape \033[31mred\033[0m end\n");
        memset(longline, 'x', sizeof(longline) - 1);
        longline[sizeof(longline) - 1] = '\0';
        printf("tui_lines: long %s\n", longline);
        for (long i = 1; i <= filler; i++)
                printf("tui_lines: filler %ld\n", i);
        fflush(stdout);
        fprintf(stderr, "tui_lines: on stderr\n");
        fflush(stderr);
        clock_gettime(CLOCK_MONOTONIC, &last);
        return guest_run(&g, n, entry, on_io, NULL);
}
