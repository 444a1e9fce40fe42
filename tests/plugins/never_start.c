/* never_start: connects and sets up guest memory like any plugin, says
 * "never_start: waiting" on stderr, and never sends Start: it only waits
 * for the host's shutdown eventfd, then exits 0.  vmlaunch's start guard
 * (start_timeout_ms) must stop it as hung. */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "crosvm.h"

int main(void) {
        struct crosvm *c = NULL;
        struct pollfd p = { .events = POLLIN };
        int r = crosvm_connect(&c);

        if (r < 0) {
                fprintf(stderr, "never_start: crosvm_connect: %s\n", strerror(-r));
                return 1;
        }
        p.fd = crosvm_get_shutdown_eventfd(c);
        if (p.fd < 0) {
                fprintf(stderr, "never_start: crosvm_get_shutdown_eventfd: %s\n", strerror(-p.fd));
                return 1;
        }
        fprintf(stderr, "never_start: waiting\n");
        fflush(stderr);
        while (poll(&p, 1, -1) < 0)
                ;
        fprintf(stderr, "never_start: shutdown\n");
        crosvm_destroy_connection(&c);
        return 0;
}
