/* jail_ptrace: makes vmlaunch its tracer (PTRACE_TRACEME) and raises
 * SIGCHLD, which stops it in a signal-delivery-stop that waitpid reports
 * to the tracer whatever the flags.  vmlaunch must not take that for an
 * exit: the VM must go on running until it is stopped.  Needs ptrace in
 * the policy. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>

#include "jail_idle.h"

int main(void) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
                fprintf(stderr, "jail_ptrace: PTRACE_TRACEME: %s\n", strerror(errno));
                return 1;
        }
        raise(SIGCHLD);
        fprintf(stderr, "jail_ptrace: running on after the stop\n");
        fflush(stderr);
        return jail_idle("jail_ptrace");
}
