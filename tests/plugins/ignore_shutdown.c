/* ignore_shutdown: starts a guest that spins (jmp $) and then ignores the
 * shutdown eventfd and SIGTERM: vmlaunch must kill it at the deadline. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "guest.h"

static const uint8_t spin[] = { 0xeb, 0xfe };   /* jmp $ */

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v, (void)ev;
        return 0;
}

static void *run(void *p) {
        static const uint16_t entry[] = { 0x1000 };

        guest_run(p, 1, entry, on_io, NULL);
        return NULL;
}

int main(void) {
        struct guest g;
        pthread_t t;

        signal(SIGTERM, SIG_IGN);
        if (guest_setup(&g, "ignore_shutdown", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, spin, sizeof(spin));
        pthread_create(&t, NULL, run, &g);
        for (;;)
                pause();
}
