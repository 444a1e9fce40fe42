/* io_roundtrip [N [block]]: the guest writes 0, 1, 2... to port 0x10 N
 * times, reads port 0x11 (the plugin answers 0x5a), echoes it to port 0x12
 * and powers off through 0x501.  The plugin checks every value, reads rax
 * during an event, and exits 0 only if everything matched.  With "block",
 * the SDK behaves as crosvm's own library did: it never polls its pipes
 * and never takes the lane the launcher offers (lane.h), so the launcher
 * must notice and keep the pipes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

static unsigned n, seen;
static bool echoed;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        uint64_t port = ev->io_access.address;

        (void)u, (void)id;
        if (port == 0x10) {
                struct kvm_regs regs;

                if (!ev->io_access.is_write || ev->io_access.length != 1 ||
                    ev->io_access.data[0] != (uint8_t)seen) {
                        fprintf(stderr, "io_roundtrip: write %u: got %u, want %u\n", seen, ev->io_access.data[0],
                                (uint8_t)seen);
                        return 2;
                }
                if (crosvm_vcpu_get_regs(v, &regs) < 0 || (uint8_t)regs.rax != (uint8_t)seen) {
                        fprintf(stderr, "io_roundtrip: rax does not hold the written value\n");
                        return 2;
                }
                seen++;
        } else if (port == 0x11) {
                if (ev->io_access.is_write) {
                        fprintf(stderr, "io_roundtrip: port 0x11 should be read\n");
                        return 2;
                }
                ev->io_access.data[0] = 0x5a;
        } else if (port == 0x12) {
                if (ev->io_access.data[0] != 0x5a) {
                        fprintf(stderr, "io_roundtrip: the guest read 0x%02x, want 0x5a\n", ev->io_access.data[0]);
                        return 2;
                }
                echoed = true;
        } else if (port == 0x501) {
                if (seen != n || !echoed) {
                        fprintf(stderr, "io_roundtrip: saw %u writes of %u, echo %s\n", seen, n,
                                echoed ? "ok" : "missing");
                        return 2;
                }
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        static const uint16_t entry[] = { 0x1000 };
        uint8_t code[] = {
                0xb9, 0, 0,             /* mov cx, N */
                0x30, 0xc0,             /* xor al, al */
                0xe6, 0x10,             /* l: out 0x10, al */
                0xfe, 0xc0,             /* inc al */
                0xe2, 0xfa,             /* loop l */
                0xe4, 0x11,             /* in al, 0x11 */
                0xe6, 0x12,             /* out 0x12, al */
                0xba, 0x01, 0x05,       /* mov dx, 0x501 */
                0xee,                   /* out dx, al */
                0xf4,                   /* hlt */
                0xeb, 0xfd,             /* jmp hlt */
        };
        struct guest g;

        n = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
        if (n < 1 || n > 65535) {
                fprintf(stderr, "io_roundtrip: N must be 1..65535\n");
                return 1;
        }
        code[1] = (uint8_t)n;
        code[2] = (uint8_t)(n >> 8);
        if (argc > 2 && strcmp(argv[2], "block") == 0) {
                setenv("VMLAUNCH_POLL_US", "0", 1);
                unsetenv("VMLAUNCH_LANE_FD");
        }
        if (guest_setup(&g, "io_roundtrip", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code, sizeof(code));
        for (uint64_t port = 0x10; port <= 0x12; port++)
                if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, port, 1) < 0)
                        return 1;
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x501, 1) < 0)
                return 1;
        return guest_run(&g, 1, entry, on_io, NULL);
}
