/* seccomp_violator: connects, then makes a syscall the plugin policy does
 * not allow (an AF_INET socket): the jail must kill it with SIGSYS. */
#include <stdio.h>
#include <sys/socket.h>

#include "crosvm.h"

int main(void) {
        struct crosvm *c = NULL;

        crosvm_connect(&c);
        fprintf(stderr, "seccomp_violator: opening an AF_INET socket\n");
        fflush(stderr);
        socket(AF_INET, SOCK_STREAM, 0);
        fprintf(stderr, "seccomp_violator: still alive\n");
        return 0;
}
