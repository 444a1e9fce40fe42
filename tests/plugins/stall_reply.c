/* stall_reply: the guest writes port 0x10 three times (each answered at
 * once), then writes port 0x77, which the plugin never answers: its vCPU
 * callback blocks until the host signals shutdown, then the plugin exits
 * 0.  With vcpu_reply_timeout_ms, vmlaunch must stop the VM and name
 * vCPU 0 and port 0x77. */
#include <poll.h>
#include <stdio.h>

#include "guest.h"

static struct guest g;
static unsigned answered;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        struct pollfd p = { .fd = g.shutdown_fd, .events = POLLIN };

        (void)u, (void)id, (void)v;
        if (ev->io_access.address == 0x10) {
                answered++;
                return 0;
        }
        if (ev->io_access.address == 0x77) {
                fprintf(stderr, "stall_reply: %u answered; not answering port 0x77\n", answered);
                fflush(stderr);
                while (poll(&p, 1, -1) < 0)
                        ;
                return 1;
        }
        return 0;
}

int main(void) {
        static const uint16_t entry[] = { 0x1000 };
        static const uint8_t code[] = {
                0xe6, 0x10,     /* out 0x10, al */
                0xe6, 0x10,     /* out 0x10, al */
                0xe6, 0x10,     /* out 0x10, al */
                0xe6, 0x77,     /* out 0x77, al */
                0xf4,           /* hlt */
                0xeb, 0xfd,     /* jmp hlt */
        };

        if (guest_setup(&g, "stall_reply", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code, sizeof(code));
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x10, 1) < 0 ||
            crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x77, 1) < 0)
                return 1;
        return guest_run(&g, 1, entry, on_io, NULL) == 0 ? 0 : 1;
}
