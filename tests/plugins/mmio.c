/* mmio: the guest stores 0x77 at 0xd0010 and loads 0xd0020, both in an
 * MMIO range the plugin reserved (no RAM there); the plugin answers the
 * load with 0x99 and checks the guest echoes it to port 0x12. */
#include <stdio.h>

#include "guest.h"

static bool stored, loaded;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v;
        if (ev->io_access.address_space == CROSVM_ADDRESS_SPACE_MMIO) {
                if (ev->io_access.is_write && ev->io_access.address == 0xd0010 && ev->io_access.length == 1 &&
                    ev->io_access.data[0] == 0x77)
                        stored = true;
                else if (!ev->io_access.is_write && ev->io_access.address == 0xd0020 && ev->io_access.length == 1) {
                        ev->io_access.data[0] = 0x99;
                        loaded = true;
                } else {
                        fprintf(stderr, "mmio: unexpected access at 0x%llx (write %d, length %u)\n",
                                (unsigned long long)ev->io_access.address, ev->io_access.is_write,
                                ev->io_access.length);
                        return 2;
                }
                return 0;
        }
        if (ev->io_access.address == 0x12) {
                if (!stored || !loaded || ev->io_access.data[0] != 0x99) {
                        fprintf(stderr, "mmio: stored %d loaded %d echo 0x%02x\n", stored, loaded,
                                ev->io_access.data[0]);
                        return 2;
                }
                return 1;
        }
        return 0;
}

int main(void) {
        static const uint16_t entry[] = { 0x1000 };
        static const uint8_t code[] = {
                0xb8, 0x00, 0xd0,               /* mov ax, 0xd000 */
                0x8e, 0xd8,                     /* mov ds, ax */
                0xc6, 0x06, 0x10, 0x00, 0x77,   /* mov byte [0x10], 0x77 */
                0xa0, 0x20, 0x00,               /* mov al, [0x20] */
                0xe6, 0x12,                     /* out 0x12, al */
                0xf4,                           /* hlt */
                0xeb, 0xfd,                     /* jmp hlt */
        };
        struct guest g;

        if (guest_setup(&g, "mmio", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code, sizeof(code));
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_MMIO, 0xd0000, 0x1000) < 0 ||
            crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x12, 1) < 0)
                return 1;
        return guest_run(&g, 1, entry, on_io, NULL);
}
