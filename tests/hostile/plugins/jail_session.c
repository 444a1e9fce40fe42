/* jail_session [--jailed]: signals its whole process group, and with
 * --jailed every process it can reach (kill(-1, SIGKILL): only its own
 * pid namespace, if the jail holds).  vmlaunch, the test and their
 * siblings must not notice.  Says its pid and session first (jailed: both
 * 1; unsandboxed: equal, its own session).  Needs kill and getpgrp in
 * the policy. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "jail_idle.h"

int main(int argc, char **argv) {
        int jailed = argc > 1 && strcmp(argv[1], "--jailed") == 0;
        int r;

        /* Our own signals must not end us. */
        signal(SIGTERM, SIG_IGN);
        fprintf(stderr, "jail_session: pid %d sid %d pgrp %d\n", getpid(), getsid(0), getpgrp());
        r = kill(0, SIGTERM);
        fprintf(stderr, "jail_session: kill(0, SIGTERM) = %d (%s)\n", r, r ? strerror(errno) : "sent");
        if (getpgrp() > 1) {
                r = kill(-getpgrp(), SIGTERM);
                fprintf(stderr, "jail_session: kill(-%d, SIGTERM) = %d\n", getpgrp(), r);
        }
        if (jailed) {
                r = kill(-1, SIGKILL);
                fprintf(stderr, "jail_session: kill(-1, SIGKILL) = %d (%s)\n", r, r ? strerror(errno) : "sent");
        }
        fprintf(stderr, "jail_session: attacks done\n");
        fflush(stderr);
        return jail_idle("jail_session");
}
