/* crash: connects, says so on stderr, and dies of a real SIGSEGV (a bad
 * store, not raise(): in the jail the plugin is PID 1 of its namespace,
 * and the kernel drops signals an init sends itself with no handler). */
#include <stdint.h>
#include <stdio.h>

#include "crosvm.h"

int main(void) {
        struct crosvm *c = NULL;
        volatile uintptr_t bad = 16;   /* unmapped, not NULL: UBSan would catch NULL */

        crosvm_connect(&c);
        fprintf(stderr, "crash: about to crash\n");
        fflush(stderr);
        *(volatile int *)bad = 1;
        return 0;
}
