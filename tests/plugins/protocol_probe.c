/* protocol_probe MODE: one protocol area per mode, each with its own
 * guest code, proving the effect where it happens.  Exits 0 on success,
 * 1 with a line on stderr saying what did not hold.
 *
 *  ioevent  a write matching an ioeventfd signals the eventfd and never
 *           reaches the plugin as a Wait;
 *  async    writes to an async-write range arrive as no_resume events and
 *           never block the guest (it runs on without a resume);
 *  dirty    the dirty log marks exactly the pages the guest wrote;
 *  pause    PauseVcpus, sent from a second connection on another thread,
 *           reaches exactly the masked vCPU with its value, which runs on;
 *  state    every vCPU and VM state set round-trips through get/set;
 *  regs     an MSR, a CPUID leaf and DR0 the plugin set at Init are what
 *           rdmsr, cpuid and mov-from-dr0 read in the guest;
 *  errors   bad requests get clean errnos: overlapping ranges (even by
 *           one byte), overlapping memory, unknown ranges, bad ioevent
 *           lengths, vCPU ids out of range, a second Start. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"

#define DONE 0x12

static const char *mode;
static struct guest g;
static struct crosvm_io *ioev;
static struct crosvm_memory *dirty_mem;
static unsigned async_seen, after_pause[2];
static void *paused_user[2];
static bool fail_seen;

static int failf(const char *msg, long a, long b) {
        fprintf(stderr, "protocol_probe %s: %s (%ld, %ld)\n", mode, msg, a, b);
        return 2;
}

static int on_io(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        uint64_t addr = ev->io_access.address;

        (void)u, (void)v;
        if (strcmp(mode, "ioevent") == 0) {
                struct pollfd p = { crosvm_io_event_fd(ioev), POLLIN, 0 };
                uint64_t count = 0;

                if (addr == 0x70)
                        return failf("the ioeventfd write reached the plugin", (long)addr, 0);
                if (addr != DONE)
                        return 0;
                if (poll(&p, 1, 1000) != 1 || read(p.fd, &count, 8) != 8 || count != 1)
                        return failf("the ioeventfd did not fire once", (long)count, 0);
                return 1;
        }
        if (strcmp(mode, "async") == 0) {
                if (addr == 0x50) {
                        if (!ev->io_access.no_resume || !ev->io_access.is_write)
                                return failf("an async write without no_resume", ev->io_access.no_resume, 0);
                        async_seen++;
                        return 0;       /* guest.c does not resume no_resume events */
                }
                if (addr == DONE)
                        return async_seen == 5 ? 1 : failf("async writes seen", async_seen, 5);
                return 0;
        }
        if (strcmp(mode, "dirty") == 0) {
                uint8_t log[2] = { 0xff, 0xff };
                int r;

                if (addr != DONE)
                        return 0;
                r = crosvm_memory_get_dirty_log(g.crosvm, dirty_mem, log);
                if (r < 0)
                        return failf("crosvm_memory_get_dirty_log", r, 0);
                /* Pages 1, 3 and 8 of the region, LSB first. */
                if (log[0] != 0x0a || log[1] != 0x01)
                        return failf("dirty bitmap", log[0], log[1]);
                return 1;
        }
        if (strcmp(mode, "pause") == 0) {
                if (addr == 0x10 && paused_user[id] && ++after_pause[id] > 100) {
                        if (id != 1 || paused_user[0])
                                return failf("pause reached the wrong vCPU", id, 0);
                        if (paused_user[1] != (void *)0x1234)
                                return failf("pause value", (long)(uintptr_t)paused_user[1], 0x1234);
                        return 1;
                }
                return 0;
        }
        return fail_seen ? 2 : 1;
}

static void on_pause(void *u, unsigned id, void *user) {
        (void)u;
        if (id < 2)
                paused_user[id] = user;
}

static void *pauser(void *arg) {
        struct crosvm *c2 = NULL;
        int r;

        (void)arg;
        usleep(300 * 1000);
        r = crosvm_new_connection(g.crosvm, &c2);
        if (r == 0)
                r = crosvm_pause_vcpus(c2, 0x2, (void *)0x1234);
        if (r < 0)
                fprintf(stderr, "protocol_probe pause: %s\n", strerror(-r));
        crosvm_destroy_connection(&c2);
        return NULL;
}

/* Get, set back, get again: the bytes must not change. */
#define ROUND_TRIP(type, get, set, obj)                                                      \
        do {                                                                                   \
                type a, b;                                                                     \
                memset(&a, 0, sizeof(a));                                                      \
                memset(&b, 0xa5, sizeof(b));                                                   \
                if (get(obj, &a) < 0 || set(obj, &a) < 0 || get(obj, &b) < 0 ||              \
                    memcmp(&a, &b, sizeof(a)) != 0) {                                          \
                        fprintf(stderr, "protocol_probe state: %s round trip\n", #type);       \
                        fail_seen = true;                                                      \
                }                                                                              \
        } while (0)

static int pic_get1(struct crosvm *c, struct kvm_pic_state *s) { return crosvm_get_pic_state(c, true, s); }
static int pic_set1(struct crosvm *c, const struct kvm_pic_state *s) { return crosvm_set_pic_state(c, true, s); }
static int pic_get2(struct crosvm *c, struct kvm_pic_state *s) { return crosvm_get_pic_state(c, false, s); }
static int pic_set2(struct crosvm *c, const struct kvm_pic_state *s) { return crosvm_set_pic_state(c, false, s); }

static int state_checks(struct crosvm_vcpu *v) {
        ROUND_TRIP(struct kvm_fpu, crosvm_vcpu_get_fpu, crosvm_vcpu_set_fpu, v);
        ROUND_TRIP(struct kvm_lapic_state, crosvm_vcpu_get_lapic_state, crosvm_vcpu_set_lapic_state, v);
        ROUND_TRIP(struct kvm_mp_state, crosvm_vcpu_get_mp_state, crosvm_vcpu_set_mp_state, v);
        ROUND_TRIP(struct kvm_xcrs, crosvm_vcpu_get_xcrs, crosvm_vcpu_set_xcrs, v);
        ROUND_TRIP(struct kvm_vcpu_events, crosvm_vcpu_get_vcpu_events, crosvm_vcpu_set_vcpu_events, v);
        ROUND_TRIP(struct kvm_debugregs, crosvm_vcpu_get_debugregs, crosvm_vcpu_set_debugregs, v);
        ROUND_TRIP(struct kvm_pic_state, pic_get1, pic_set1, g.crosvm);
        ROUND_TRIP(struct kvm_pic_state, pic_get2, pic_set2, g.crosvm);
        ROUND_TRIP(struct kvm_ioapic_state, crosvm_get_ioapic_state, crosvm_set_ioapic_state, g.crosvm);
        /* The PIT's load times move on between calls: compare the rest. */
        {
                struct kvm_pit_state2 a, b;

                if (crosvm_get_pit_state(g.crosvm, &a) < 0 || crosvm_set_pit_state(g.crosvm, &a) < 0 ||
                    crosvm_get_pit_state(g.crosvm, &b) < 0) {
                        fprintf(stderr, "protocol_probe state: PIT get/set failed\n");
                        fail_seen = true;
                }
                for (int i = 0; i < 3; i++)
                        if (a.channels[i].count != b.channels[i].count || a.channels[i].mode != b.channels[i].mode ||
                            a.channels[i].gate != b.channels[i].gate) {
                                fprintf(stderr, "protocol_probe state: PIT channel %d changed\n", i);
                                fail_seen = true;
                        }
        }
        return fail_seen ? 2 : 1;
}

static const uint32_t want_regs[] = { 0x1234, 0x11223344, 0x5678 };
static unsigned regs_seen;

static int on_init_regs(void *u, unsigned id, struct crosvm_vcpu *v) {
        struct kvm_msr_entry msr = { .index = 0x174, .data = 0x1234 };  /* IA32_SYSENTER_CS */
        static struct kvm_cpuid_entry2 cpuid[256];
        struct kvm_debugregs dregs;
        uint32_t n = 0;
        int r;

        (void)u, (void)id;
        if ((r = crosvm_vcpu_set_msrs(v, 1, &msr)) < 0 ||
            (r = crosvm_get_supported_cpuid(g.crosvm, 256, cpuid, &n)) < 0)
                return r;
        for (uint32_t i = 0; i < n; i++)
                if (cpuid[i].function == 0)
                        cpuid[i].ebx = 0x11223344;
        if ((r = crosvm_vcpu_set_cpuid(v, n, cpuid)) < 0 || (r = crosvm_vcpu_get_debugregs(v, &dregs)) < 0)
                return r;
        dregs.db[0] = 0x5678;
        return crosvm_vcpu_set_debugregs(v, &dregs);
}

static int on_io_regs(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        uint32_t val;

        (void)u, (void)id, (void)v;
        if (ev->io_access.address == 0x14) {
                memcpy(&val, ev->io_access.data, sizeof(val));
                if (regs_seen >= 3 || val != want_regs[regs_seen])
                        return failf("guest read", (long)val, regs_seen < 3 ? (long)want_regs[regs_seen] : -1);
                regs_seen++;
        } else if (ev->io_access.address == DONE)
                return regs_seen == 3 ? 1 : failf("values seen", regs_seen, 3);
        return 0;
}

static int errors_checks(void) {
        struct crosvm_memory *m = NULL;
        struct crosvm_io *io = NULL;
        struct crosvm_vcpu *v = NULL;
        uint32_t match = 0;
        bool has = false;
        int fd, bad = 0;

#define EXPECT(call, want)                                                                      \
        do {                                                                                    \
                int got_ = (call);                                                              \
                if (got_ != (want)) {                                                           \
                        fprintf(stderr, "protocol_probe errors: %s gave %d, want %d\n", #call,    \
                                got_, (want));                                                  \
                        bad++;                                                                  \
                }                                                                               \
        } while (0)
        EXPECT(crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x100, 0x10), 0);
        EXPECT(crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x108, 0x10), -EPERM);
        /* Its last byte is the first of the existing range: crosvm took it. */
        EXPECT(crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0xf9, 8), -EPERM);
        EXPECT(crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x101, 0), -ENOENT);
        EXPECT(crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x100, 0), 0);
        EXPECT(crosvm_reserve_range(g.crosvm, 7, 0x100, 1), -EINVAL);
        EXPECT(crosvm_create_io_event(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x300, 3, (uint8_t *)&match, &io),
               -EINVAL);
        fd = memfd_create("overlap", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd >= 0 && ftruncate(fd, 0x10000) == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0)
                EXPECT(crosvm_create_memory(g.crosvm, fd, 0, 0x10000, 0x8000, false, false, &m), -EEXIST);
        else
                bad++;
        close(fd);
        /* Without F_SEAL_SHRINK the host refuses the fd. */
        fd = memfd_create("unsealed", MFD_CLOEXEC);
        if (fd >= 0 && ftruncate(fd, 0x1000) == 0)
                EXPECT(crosvm_create_memory(g.crosvm, fd, 0, 0x1000, 0x40000, false, false, &m), -EPERM);
        close(fd);
        EXPECT(crosvm_get_vcpu(g.crosvm, 99, &v), -ENOENT);
        EXPECT(crosvm_check_extension(g.crosvm, KVM_CAP_IRQCHIP, &has), 0);
        if (!has)
                bad++;
        EXPECT(crosvm_check_extension(g.crosvm, 0xffff, &has), 0);
        if (has)
                bad++;
        EXPECT(crosvm_start(g.crosvm), 0);
        EXPECT(crosvm_start(g.crosvm), -EINVAL);
#undef EXPECT
        return bad ? 1 : 0;
}

static int on_io_state(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id;
        return ev->io_access.address == DONE ? state_checks(v) : 0;
}

int main(int argc, char **argv) {
        static const uint8_t code_ioevent[] = { 0xb0, 0x33, 0xe6, 0x70, 0xe6, 0x12, 0xf4, 0xeb, 0xfd };
        static const uint8_t code_async[] = { 0xb9, 0x05, 0x00, 0xe6, 0x50, 0xe2, 0xfc, 0xe6, 0x12, 0xf4, 0xeb, 0xfd };
        static const uint8_t code_dirty[] = {
                0xb8, 0x00, 0x20,                       /* mov ax, 0x2000 */
                0x8e, 0xc0,                             /* mov es, ax */
                0x26, 0xc6, 0x06, 0x00, 0x10, 0x01,     /* mov byte es:[0x1000], 1 */
                0x26, 0xc6, 0x06, 0x00, 0x30, 0x01,     /* mov byte es:[0x3000], 1 */
                0x26, 0xc6, 0x06, 0x00, 0x80, 0x01,     /* mov byte es:[0x8000], 1 */
                0xe6, 0x12, 0xf4, 0xeb, 0xfd,           /* out 0x12, al; hlt; jmp hlt */
        };
        static const uint8_t code_spin[] = { 0xe6, 0x10, 0xeb, 0xfc };  /* l: out 0x10, al; jmp l */
        static const uint16_t entry[] = { 0x1000, 0x1000 };
        pthread_t t;
        int r;

        if (argc < 2)
                return 2;
        mode = argv[1];
        if (guest_setup(&g, "protocol_probe", 0x10000) < 0)
                return 1;
        if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, DONE, 1) < 0)
                return 1;
        if (strcmp(mode, "ioevent") == 0) {
                uint8_t match = 0x33;

                guest_load(&g, 0x1000, code_ioevent, sizeof(code_ioevent));
                r = crosvm_create_io_event(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x70, 1, &match, &ioev);
                /* The port is reserved too: only the ioeventfd may take it. */
                if (r < 0 || crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x70, 1) < 0)
                        return 1;
        } else if (strcmp(mode, "async") == 0) {
                guest_load(&g, 0x1000, code_async, sizeof(code_async));
                if (crosvm_reserve_async_write_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x50, 1) < 0)
                        return 1;
        } else if (strcmp(mode, "dirty") == 0) {
                int fd = memfd_create("dirty", MFD_CLOEXEC | MFD_ALLOW_SEALING);

                guest_load(&g, 0x1000, code_dirty, sizeof(code_dirty));
                if (fd < 0 || ftruncate(fd, 0x10000) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0 ||
                    crosvm_create_memory(g.crosvm, fd, 0, 0x10000, 0x20000, false, true, &dirty_mem) < 0)
                        return 1;
                close(fd);
        } else if (strcmp(mode, "pause") == 0) {
                guest_load(&g, 0x1000, code_spin, sizeof(code_spin));
                if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x10, 1) < 0)
                        return 1;
                g.on_pause = on_pause;
                pthread_create(&t, NULL, pauser, NULL);
                pthread_detach(t);
                return guest_run(&g, 2, entry, on_io, NULL);
        } else if (strcmp(mode, "regs") == 0) {
                static const uint8_t code_regs[] = {
                        0x66, 0xb9, 0x74, 0x01, 0x00, 0x00,     /* mov ecx, 0x174 */
                        0x0f, 0x32,                             /* rdmsr */
                        0x66, 0xe7, 0x14,                       /* out 0x14, eax */
                        0x66, 0x31, 0xc0,                       /* xor eax, eax */
                        0x0f, 0xa2,                             /* cpuid */
                        0x66, 0x89, 0xd8,                       /* mov eax, ebx */
                        0x66, 0xe7, 0x14,                       /* out 0x14, eax */
                        0x0f, 0x21, 0xc0,                       /* mov eax, dr0 */
                        0x66, 0xe7, 0x14,                       /* out 0x14, eax */
                        0xe6, 0x12, 0xf4, 0xeb, 0xfd,           /* out 0x12, al; hlt; jmp hlt */
                };

                guest_load(&g, 0x1000, code_regs, sizeof(code_regs));
                if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x14, 1) < 0)
                        return 1;
                g.on_init = on_init_regs;
                return guest_run(&g, 1, entry, on_io_regs, NULL);
        } else if (strcmp(mode, "errors") == 0) {
                r = errors_checks();

                crosvm_destroy_memory(g.crosvm, &g.memory);
                crosvm_destroy_connection(&g.crosvm);
                return r;
        } else if (strcmp(mode, "state") == 0) {
                static const uint8_t code_done[] = { 0xe6, 0x12, 0xf4, 0xeb, 0xfd };

                guest_load(&g, 0x1000, code_done, sizeof(code_done));
                return guest_run(&g, 1, entry, on_io_state, NULL);
        } else {
                fprintf(stderr, "protocol_probe: unknown mode %s\n", mode);
                return 2;
        }
        return guest_run(&g, 1, entry, on_io, NULL);
}
