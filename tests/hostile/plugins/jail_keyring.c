/* jail_keyring DESCRIPTION SERIAL: looks for the launcher's caller's key
 * (a "user" key DESCRIPTION, id SERIAL, that the test put in its session
 * keyring) and tries to read it.  Prints "LEAKED: payload" if it can.
 * Needs keyctl in the policy. */
#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "jail_idle.h"

static void try_read(const char *how, long id) {
        char buf[256];
        long n = syscall(SYS_keyctl, KEYCTL_READ, id, buf, sizeof(buf) - 1);

        if (n < 0) {
                fprintf(stderr, "jail_keyring: %s: read refused: %s\n", how, strerror(errno));
                return;
        }
        buf[n < (long)sizeof(buf) ? n : (long)sizeof(buf) - 1] = '\0';
        fprintf(stderr, "jail_keyring: %s: LEAKED: %s\n", how, buf);
}

int main(int argc, char **argv) {
        long id;

        if (argc < 3)
                return 2;
        id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, "user", argv[1], 0);
        if (id < 0)
                fprintf(stderr, "jail_keyring: search: not found: %s\n", strerror(errno));
        else
                try_read("search", id);
        try_read("by id", strtol(argv[2], NULL, 10));
        fprintf(stderr, "jail_keyring: attacks done\n");
        fflush(stderr);
        return jail_idle("jail_keyring");
}
