/* compat_kill: what crosvm's hint test does to its parent, and worse,
 * under nothing but the default policy (which allows getppid and kill
 * for it): kill(getppid(), SIGSTOP) and SIGCONT, kill(0, SIGKILL) and
 * kill(-1, SIGKILL).  Jailed, getppid() is 0 and the plugin is pid 1 of
 * its own pid namespace and leads its own session, so each reaches the
 * plugin alone, and the kernel drops a SIGKILL or SIGSTOP that pid 1
 * sends itself.  Says what each call returned, then idles until the
 * host stops it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "jail_idle.h"

static void report(const char *what, int r) {
        fprintf(stderr, "compat_kill: %s = %d (%s)\n", what, r, r ? strerror(errno) : "sent");
}

int main(void) {
        pid_t parent = getppid();

        fprintf(stderr, "compat_kill: pid %d parent %d\n", getpid(), parent);
        report("kill(getppid(), SIGSTOP)", kill(parent, SIGSTOP));
        report("kill(getppid(), SIGCONT)", kill(parent, SIGCONT));
        report("kill(0, SIGKILL)", kill(0, SIGKILL));
        report("kill(-1, SIGKILL)", kill(-1, SIGKILL));
        fprintf(stderr, "compat_kill: attacks done\n");
        fflush(stderr);
        return jail_idle("compat_kill");
}
