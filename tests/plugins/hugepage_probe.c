/* hugepage_probe MIB WANT: offers a MFD_HUGETLB memfd of MIB MiB as guest
 * memory without touching it, and exits 0 when crosvm_create_memory gives
 * WANT: "ok" or an errno name ("ENOMEM"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crosvm.h"

int main(int argc, char **argv) {
        struct crosvm *c = NULL;
        struct crosvm_memory *m = NULL;
        size_t len;
        int fd, r, want;

        if (argc != 3)
                return 2;
        len = (size_t)atoi(argv[1]) << 20;
        want = strcmp(argv[2], "ok") == 0 ? 0 : strcmp(argv[2], "ENOMEM") == 0 ? -ENOMEM : 1;
        if (crosvm_connect(&c) < 0)
                return 1;
        fd = memfd_create("huge", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);
        if (fd < 0 || ftruncate(fd, (off_t)len) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
                fprintf(stderr, "hugepage_probe: memfd: %s\n", strerror(errno));
                return 1;
        }
        r = crosvm_create_memory(c, fd, 0, len, 0x100000, false, false, &m);
        fprintf(stderr, "hugepage_probe: %s MiB of huge pages: %s\n", argv[1], r == 0 ? "ok" : strerror(-r));
        if (m)
                crosvm_destroy_memory(c, &m);
        close(fd);
        crosvm_destroy_connection(&c);
        return r == want ? 0 : 1;
}
