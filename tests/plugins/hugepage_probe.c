/* hugepage_probe MIB WANT: offers a MFD_HUGETLB memfd of MIB MiB as guest
 * memory without touching it, and exits 0 when crosvm_create_memory gives
 * WANT: "ok" or an errno name ("ENOMEM").
 * hugepage_probe thp MIB: offers an ordinary memfd named "thp-probe" of MIB
 * MiB, says "hugepage_probe: thp region ready" and waits for the shutdown
 * signal, so the test can look at vmlaunch's mapping of it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crosvm.h"

static int thp(int mib) {
        size_t len = (size_t)mib << 20;
        struct crosvm *c = NULL;
        struct crosvm_memory *m = NULL;
        struct pollfd p = { -1, POLLIN, 0 };
        int fd, r;

        if (crosvm_connect(&c) < 0)
                return 1;
        fd = memfd_create("thp-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, (off_t)len) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
                fprintf(stderr, "hugepage_probe: memfd: %s\n", strerror(errno));
                return 1;
        }
        r = crosvm_create_memory(c, fd, 0, len, 0x100000, false, false, &m);
        close(fd);
        p.fd = crosvm_get_shutdown_eventfd(c);
        if (r < 0 || p.fd < 0) {
                fprintf(stderr, "hugepage_probe: %s\n", strerror(-(r < 0 ? r : p.fd)));
                return 1;
        }
        fprintf(stderr, "hugepage_probe: thp region ready\n");
        fflush(stderr);
        while (poll(&p, 1, -1) < 0 && errno == EINTR)
                ;
        close(p.fd);
        crosvm_destroy_memory(c, &m);
        crosvm_destroy_connection(&c);
        return 0;
}

int main(int argc, char **argv) {
        struct crosvm *c = NULL;
        struct crosvm_memory *m = NULL;
        size_t len;
        int fd, r, want;

        if (argc != 3)
                return 2;
        if (strcmp(argv[1], "thp") == 0)
                return thp(atoi(argv[2]));
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
