/* kvm_answers EXPECT...: asks vmlaunch what the test asked KVM itself on
 * the same host, and checks the answers are the same.  Each EXPECT is
 *
 *   ext:N=B          crosvm_check_extension(N) gives has = B (0 or 1)
 *   cpuid:supported=COUNT/HASH, cpuid:emulated=..., msrs=COUNT/HASH
 *                    the list's length and hash (see fnv() below)
 *   hvcpuid=COUNT/HASH or hvcpuid=-ERRNO   crosvm_get_hyperv_cpuid at Init
 *   enable:N=R       crosvm_vcpu_enable_capability(N) at Init returns R
 *                    (0 or -errno), in the order given
 *
 * Exits 0 when every answer matches, 1 naming each one that does not. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define DONE 0x12
#define MAX_ENTRIES 512

static int argc_;
static char **argv_;
static struct guest g;
static int mismatches;

/* FNV-1a over the fields both sides see (the test computes the same). */
static uint64_t fnv(uint64_t h, uint32_t v) {
        for (int i = 0; i < 4; i++) {
                h ^= (v >> (8 * i)) & 0xff;
                h *= 0x100000001b3ull;
        }
        return h;
}

static uint64_t cpuid_hash(const struct kvm_cpuid_entry2 *e, uint32_t n) {
        uint64_t h = 0xcbf29ce484222325ull;

        for (uint32_t i = 0; i < n; i++) {
                uint32_t ebx = e[i].ebx, edx = e[i].edx;

                /* KVM reports the APIC id of the host CPU the ioctl ran
                 * on (leaf 1 EBX[31:24], leaf 0xb EDX): not compared. */
                if (e[i].function == 1)
                        ebx &= 0x00ffffff;
                if (e[i].function == 0xb || e[i].function == 0x1f)
                        edx = 0;
                h = fnv(h, e[i].function);
                h = fnv(h, e[i].index);
                h = fnv(h, e[i].eax);
                h = fnv(h, ebx);
                h = fnv(h, e[i].ecx);
                h = fnv(h, edx);
        }
        return h;
}

static void compare(const char *what, const char *want, const char *got) {
        if (strcmp(want, got) != 0) {
                fprintf(stderr, "kvm_answers: %s: KVM says %s, vmlaunch says %s\n", what, want, got);
                mismatches++;
        }
}

/* "COUNT/HASH" for a successful list call, "-ERRNO" for a failed one. */
static void list_answer(char *buf, size_t size, int r, uint32_t n, uint64_t hash) {
        if (r < 0)
                snprintf(buf, size, "%d", r);
        else
                snprintf(buf, size, "%" PRIu32 "/%016" PRIx64, n, hash);
}

static void check_vm_answers(void) {
        static struct kvm_cpuid_entry2 cpuid[MAX_ENTRIES];
        static uint32_t msrs[MAX_ENTRIES];
        char got[64];

        for (int i = 1; i < argc_; i++) {
                const char *a = argv_[i], *eq = strchr(a, '=');
                uint32_t n = 0;
                int r;

                if (!eq)
                        continue;
                if (strncmp(a, "ext:", 4) == 0) {
                        bool has = false;

                        r = crosvm_check_extension(g.crosvm, (uint32_t)strtoul(a + 4, NULL, 10), &has);
                        snprintf(got, sizeof(got), "%d", r < 0 ? r : (int)has);
                } else if (strncmp(a, "cpuid:supported=", 16) == 0) {
                        r = crosvm_get_supported_cpuid(g.crosvm, MAX_ENTRIES, cpuid, &n);
                        list_answer(got, sizeof(got), r, n, cpuid_hash(cpuid, n));
                } else if (strncmp(a, "cpuid:emulated=", 15) == 0) {
                        r = crosvm_get_emulated_cpuid(g.crosvm, MAX_ENTRIES, cpuid, &n);
                        list_answer(got, sizeof(got), r, n, cpuid_hash(cpuid, n));
                } else if (strncmp(a, "msrs=", 5) == 0) {
                        uint64_t h = 0xcbf29ce484222325ull;

                        r = crosvm_get_msr_index_list(g.crosvm, MAX_ENTRIES, msrs, &n);
                        for (uint32_t k = 0; r >= 0 && k < n; k++)
                                h = fnv(h, msrs[k]);
                        list_answer(got, sizeof(got), r, n, h);
                } else
                        continue;
                compare(a, eq + 1, got);
        }
}

static int on_init(void *u, unsigned id, struct crosvm_vcpu *v) {
        static struct kvm_cpuid_entry2 cpuid[MAX_ENTRIES];
        char got[64];

        (void)u, (void)id;
        for (int i = 1; i < argc_; i++) {
                const char *a = argv_[i], *eq = strchr(a, '=');
                uint64_t args[4] = { 0 };
                uint32_t n = 0;
                int r;

                if (!eq)
                        continue;
                if (strncmp(a, "hvcpuid=", 8) == 0) {
                        r = crosvm_get_hyperv_cpuid(v, MAX_ENTRIES, cpuid, &n);
                        list_answer(got, sizeof(got), r, n, cpuid_hash(cpuid, n));
                } else if (strncmp(a, "enable:", 7) == 0) {
                        r = crosvm_vcpu_enable_capability(v, (uint32_t)strtoul(a + 7, NULL, 10), 0, args);
                        snprintf(got, sizeof(got), "%d", r);
                } else
                        continue;
                compare(a, eq + 1, got);
        }
        return 0;
}

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v;
        if (ev->io_access.address != DONE)
                return 0;
        return mismatches ? 2 : 1;
}

int main(int argc, char **argv) {
        static const uint8_t code[] = { 0xe6, 0x12, 0xf4, 0xeb, 0xfd };  /* out 0x12, al; hlt; jmp hlt */
        static const uint16_t entry[] = { 0x1000 };

        argc_ = argc;
        argv_ = argv;
        if (guest_setup(&g, "kvm_answers", 0x10000) < 0 ||
            crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, DONE, 1) < 0)
                return 1;
        guest_load(&g, 0x1000, code, sizeof(code));
        check_vm_answers();
        g.on_init = on_init;
        return guest_run(&g, 1, entry, on_io, NULL);
}
