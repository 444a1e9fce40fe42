/* two_vcpus: each of two vCPUs writes its id to port 0x60 (not 0x20: the
 * in-kernel PIC answers that one without an exit); vCPU 1 must be made
 * runnable at Init (it starts halted under the in-kernel irqchip).
 * Exits 0 once both ids arrived, each from its own vCPU. */
#include <stdio.h>

#include "guest.h"

static unsigned seen_mask;

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)v;
        if (ev->io_access.address != 0x60)
                return 0;
        if (ev->io_access.data[0] != id) {
                fprintf(stderr, "two_vcpus: vCPU %u wrote %u\n", id, ev->io_access.data[0]);
                return 2;
        }
        if (__atomic_or_fetch(&seen_mask, 1u << id, __ATOMIC_SEQ_CST) == 3)
                return 1;
        return 0;
}

int main(void) {
        static const uint16_t entry[] = { 0x1000, 0x1100 };
        static const uint8_t code0[] = { 0xb0, 0x00, 0xe6, 0x60, 0xf4, 0xeb, 0xfd };    /* mov al,0; out 0x60,al; hlt */
        /* mov al,1; out 0x60,al; jmp $: vCPU 1 then runs guest code without
         * exits, so it is surely running when the plugin ends and destroys
         * the memory (guest.c must park it first). */
        static const uint8_t code1[] = { 0xb0, 0x01, 0xe6, 0x60, 0xeb, 0xfe };
        struct guest g;

        if (guest_setup(&g, "two_vcpus", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, code0, sizeof(code0));
        guest_load(&g, 0x1100, code1, sizeof(code1));
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x60, 1) < 0)
                return 1;
        return guest_run(&g, 2, entry, on_io, NULL);
}
