/* flood STREAM LINELEN [polite]: starts a guest that spins, then writes
 * 64 KiB blocks of lines of LINELEN 'x' (0: bare newlines) to STREAM
 * ("stdout", "stderr" or "both", one thread each) as fast as the pipe
 * takes them.  First it says "flood: flooding" on stderr.  Without
 * "polite" it ignores the shutdown eventfd and SIGTERM and floods until
 * it is killed; with it, it stops and exits 0 once the host asks. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

static const uint8_t spin[] = { 0xeb, 0xfe };   /* jmp $ */
static char block[65536];
static atomic_bool stop;
static bool polite;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v, (void)ev;
        return 0;
}

static void *run(void *p) {
        static const uint16_t entry[] = { 0x1000 };

        guest_run(p, 1, entry, on_io, NULL);
        if (polite)
                atomic_store(&stop, true);
        return NULL;
}

static void *flood(void *p) {
        int fd = (int)(long)p;

        while (!atomic_load(&stop))
                if (write(fd, block, sizeof(block)) < 0)
                        break;
        return NULL;
}

int main(int argc, char **argv) {
        const char *stream = argc > 1 ? argv[1] : "stdout";
        long len = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
        pthread_t t, f[2];
        int n = 0;
        struct guest g;

        polite = argc > 3 && strcmp(argv[3], "polite") == 0;
        if (!polite)
                signal(SIGTERM, SIG_IGN);
        if (len < 0 || len >= (long)sizeof(block))
                return 2;
        memset(block, 'x', sizeof(block));
        for (size_t i = (size_t)len; i < sizeof(block); i += (size_t)len + 1)
                block[i] = '\n';
        if (guest_setup(&g, "flood", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, spin, sizeof(spin));
        pthread_create(&t, NULL, run, &g);
        /* Let the VM start first: the attack is on a running VM. */
        usleep(200 * 1000);
        fprintf(stderr, "flood: flooding\n");
        fflush(stderr);
        if (strcmp(stream, "stdout") == 0 || strcmp(stream, "both") == 0)
                pthread_create(&f[n++], NULL, flood, (void *)1L);
        if (strcmp(stream, "stderr") == 0 || strcmp(stream, "both") == 0)
                pthread_create(&f[n++], NULL, flood, (void *)2L);
        for (int i = 0; i < n; i++)
                pthread_join(f[i], NULL);
        if (!polite)
                for (;;)
                        pause();
        pthread_join(t, NULL);
        return 0;
}
