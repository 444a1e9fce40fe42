/* crash: connects, says so on stderr, and dies of SIGSEGV. */
#include <signal.h>
#include <stdio.h>

#include "crosvm.h"

int main(void) {
        struct crosvm *c = NULL;

        crosvm_connect(&c);
        fprintf(stderr, "crash: about to crash\n");
        fflush(stderr);
        raise(SIGSEGV);
        return 0;
}
