/* exit_code [N]: connects, then exits with N (default 3) at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crosvm.h"

int main(int argc, char **argv) {
        struct crosvm *c = NULL;
        int r = crosvm_connect(&c);

        if (r < 0) {
                fprintf(stderr, "exit_code: crosvm_connect: %s\n", strerror(-r));
                return 1;
        }
        crosvm_destroy_connection(&c);
        return argc > 1 ? atoi(argv[1]) : 3;
}
