/* compat_io: the device side of crosvm's suite (its adder, mmio, ioevent
 * and dirty_log plugins): an I/O port read answered by the plugin, an
 * MMIO write and read, an ioevent with a datamatch that KVM signals
 * without a round trip, and the dirty log of guest RAM.  Prints
 * "compat_io: ok" and exits 0 when every value arrived as sent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat_common.h"

#define PORT_IN 0x10            /* the plugin answers ANSWER */
#define PORT_EVENT 0xe4         /* ioevent, matching ANSWER + 1 (no in-kernel device) */
#define PORT_DONE 0x50
#define MMIO_BASE 0x3000        /* just past RAM */
#define ANSWER 0x33
#define MMIO_ANSWER 0x77

/*      in al, PORT_IN
 *      inc al                  ; ANSWER + 1
 *      mov [MMIO_BASE], al
 *      out PORT_EVENT, al      ; KVM signals the ioevent
 *      mov byte [0x2000], 0x5a ; dirties RAM page 2
 *      mov al, [MMIO_BASE + 8] ; MMIO_ANSWER
 *      out PORT_DONE, al
 *      hlt */
static const uint8_t code[] = { 0xe4, 0x10, 0xfe, 0xc0, 0xa2, 0x00, 0x30, 0xe6, 0xe4, 0xc6,
                                0x06, 0x00, 0x20, 0x5a, 0xa0, 0x08, 0x30, 0xe6, 0x50, 0xf4 };

struct seen {
        int mmio_write;         /* the byte written to MMIO_BASE, or -1 */
        int done_value;         /* al at PORT_DONE, or -1 */
};

static int on_io(struct compat *c, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        struct seen *s = c->userdata;
        uint32_t space = ev->io_access.address_space;
        uint64_t addr = ev->io_access.address;

        (void)v;
        if (space == CROSVM_ADDRESS_SPACE_IOPORT && addr == PORT_IN && !ev->io_access.is_write) {
                ev->io_access.data[0] = ANSWER;
                return 0;
        }
        if (space == CROSVM_ADDRESS_SPACE_MMIO && addr == MMIO_BASE && ev->io_access.is_write) {
                s->mmio_write = ev->io_access.data[0];
                return 0;
        }
        if (space == CROSVM_ADDRESS_SPACE_MMIO && addr == MMIO_BASE + 8 && !ev->io_access.is_write) {
                memset(ev->io_access.data, 0, ev->io_access.length);
                ev->io_access.data[0] = MMIO_ANSWER;
                return 0;
        }
        if (space == CROSVM_ADDRESS_SPACE_IOPORT && addr == PORT_DONE && ev->io_access.is_write) {
                s->done_value = ev->io_access.data[0];
                return 1;
        }
        compat_fail(c, "unexpected access: space %u address 0x%llx", space, (unsigned long long)addr);
        return 1;
}

int main(void) {
        struct seen s = { -1, -1 };
        struct compat c = { .io = on_io, .userdata = &s };
        const uint8_t match = ANSWER + 1;
        struct crosvm_io *event = NULL;
        uint8_t log[1] = { 0 };
        uint64_t count = 0;
        int r, fd;

        if (compat_setup(&c, "compat_io", 0x3000, true, code, sizeof(code)) < 0)
                return 1;
        if ((r = crosvm_reserve_range(c.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, PORT_IN, 1)) < 0 ||
            (r = crosvm_reserve_range(c.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, PORT_DONE, 1)) < 0 ||
            (r = crosvm_reserve_range(c.crosvm, CROSVM_ADDRESS_SPACE_MMIO, MMIO_BASE, 0x10)) < 0) {
                compat_fail(&c, "crosvm_reserve_range: %s", strerror(-r));
                return 1;
        }
        r = crosvm_create_io_event(c.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, PORT_EVENT, 1, &match, &event);
        if (r < 0) {
                compat_fail(&c, "crosvm_create_io_event: %s", strerror(-r));
                return 1;
        }
        if (compat_run(&c) < 0)
                return 1;

        if (s.mmio_write != ANSWER + 1)
                compat_fail(&c, "MMIO write: got %d, want %d", s.mmio_write, ANSWER + 1);
        if (s.done_value != MMIO_ANSWER)
                compat_fail(&c, "MMIO read: the guest got %d, want %d", s.done_value, MMIO_ANSWER);
        /* Non-blocking: an ioevent KVM never signalled must fail the
         * test, not hang it. */
        fd = crosvm_io_event_fd(event);
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || read(fd, &count, sizeof(count)) != sizeof(count) || count != 1)
                compat_fail(&c, "ioevent: count %llu (%s)", (unsigned long long)count, strerror(errno));
        r = crosvm_memory_get_dirty_log(c.crosvm, c.memory, log);
        if (r < 0)
                compat_fail(&c, "crosvm_memory_get_dirty_log: %s", strerror(-r));
        else if (!(log[0] & 0x4) || (log[0] & 0x1))
                compat_fail(&c, "dirty log 0x%02x: want page 2 dirty, page 0 clean", log[0]);
        r = crosvm_destroy_io_event(c.crosvm, &event);
        if (r < 0)
                compat_fail(&c, "crosvm_destroy_io_event: %s", strerror(-r));
        if (c.ram[0x2000] != 0x5a)
                compat_fail(&c, "guest write to RAM: 0x%02x", c.ram[0x2000]);
        return compat_result(&c);
}
