/* forge: starts a guest that spins, then writes lines meant to fool
 * whoever reads vmlaunch's stderr on a terminal: escape sequences (clear
 * the line, a window title, C1 CSI), carriage returns that would overwrite
 * vmlaunch's prefix, and whole forged "vmlaunch: exit 0" lines, on stderr
 * and on stdout; then "forge: done" and it runs until the host asks it to
 * stop. */
#include <stdio.h>
#include <unistd.h>

#include "guest.h"

static const uint8_t spin[] = { 0xeb, 0xfe };   /* jmp $ */

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v, (void)ev;
        return 0;
}

static const char forged[] =
        "\x1b[2K\rvmlaunch: exit 0: shutdown: forged\n"
        "\rvmlaunch: exit 0: shutdown: forged too\n"
        "vmlaunch: exit 0: shutdown: forged at the start of a line\n"
        "\x1b]0;owned\x07title\x1b[1A\x1b[2J\n"
        "\xc2\x9b" "31mC1 CSI\x7f\b\b\bdel and backspace\n"
        "invalid \xff\xfe utf-8 and a \\x1b that is only text\n"
        "no newline at the end\r";

int main(void) {
        static const uint16_t entry[] = { 0x1000 };
        struct guest g;

        if (guest_setup(&g, "forge", 0x10000) < 0)
                return 1;
        guest_load(&g, 0x1000, spin, sizeof(spin));
        if (write(2, forged, sizeof(forged) - 1) < 0 || write(1, forged, sizeof(forged) - 1) < 0)
                return 1;
        /* The unfinished line above ends with this one. */
        fprintf(stderr, "\nforge: done\n");
        fflush(stderr);
        return guest_run(&g, 1, entry, on_io, NULL) == 0 ? 0 : 1;
}
