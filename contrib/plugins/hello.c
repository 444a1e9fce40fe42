/* hello: the example plugin.  Its guest prints a greeting on the serial
 * port (0x3f8) and then writes to a power-off port (0x501); the plugin
 * turns the serial bytes into lines on its stdout and exits 0 at power-off. */
#include <stdio.h>
#include <string.h>

#include "guest.h"

#define SERIAL 0x3f8
#define POWER_OFF 0x501
#define ENTRY 0x1000

/* Real mode, loaded at 0x1000:
 *   mov si, msg ; mov dx, 0x3f8
 * next:
 *   lodsb ; test al, al ; jz done ; out dx, al ; jmp next
 * done:
 *   mov dx, 0x501 ; out dx, al ; hlt ; jmp $-1
 * msg: "Hello from the guest!\n", 0 */
static const uint8_t code[] = {
        0xbe, 0x15, 0x10,               /* mov si, 0x1015 */
        0xba, 0xf8, 0x03,               /* mov dx, 0x3f8 */
        0xac,                           /* next: lodsb */
        0x84, 0xc0,                     /* test al, al */
        0x74, 0x03,                     /* jz done */
        0xee,                           /* out dx, al */
        0xeb, 0xf8,                     /* jmp next */
        0xba, 0x01, 0x05,               /* done: mov dx, 0x501 */
        0xee,                           /* out dx, al */
        0xf4,                           /* hlt */
        0xeb, 0xfd,                     /* jmp hlt */
        'H', 'e', 'l', 'l', 'o', ' ', 'f', 'r', 'o', 'm', ' ', 't', 'h', 'e', ' ', 'g', 'u', 'e', 's', 't',
        '!', '\n', 0,
};

static char line[256];
static size_t line_len;

static int on_io(void *userdata, unsigned id, struct crosvm_vcpu *vcpu, struct crosvm_vcpu_event *ev) {
        (void)userdata;
        (void)id;
        (void)vcpu;
        if (ev->io_access.address_space != CROSVM_ADDRESS_SPACE_IOPORT || !ev->io_access.is_write)
                return 0;
        if (ev->io_access.address == POWER_OFF)
                return 1;
        if (ev->io_access.address == SERIAL) {
                char c = (char)ev->io_access.data[0];

                if (c == '\n' || line_len == sizeof(line) - 1) {
                        printf("%.*s\n", (int)line_len, line);
                        fflush(stdout);
                        line_len = 0;
                }
                if (c != '\n')
                        line[line_len++] = c;
        }
        return 0;
}

int main(void) {
        static const uint16_t entry[] = { ENTRY };
        struct guest g;
        int r;

        if (guest_setup(&g, "hello", 0x10000) < 0)
                return 1;
        guest_load(&g, ENTRY, code, sizeof(code));
        if ((r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, SERIAL, 8)) < 0 ||
            (r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, POWER_OFF, 1)) < 0) {
                fprintf(stderr, "hello: crosvm_reserve_range: %s\n", strerror(-r));
                return 1;
        }
        return guest_run(&g, 1, entry, on_io, NULL);
}
