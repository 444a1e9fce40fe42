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
 *  regs     an MSR, a CPUID leaf, DR0 and XCR0 the plugin set at Init are
 *           what rdmsr, cpuid and mov-from-dr0 read in the guest, and XCR0
 *           shows in the XSAVE area size that CPUID leaf 0xd reports;
 *  errors   bad requests get clean errnos: overlapping ranges (even by
 *           one byte), overlapping memory, unknown ranges, bad ioevent
 *           lengths, vCPU ids out of range, a second Start;
 *  irq      with a routing table of two PIC routes and two MSI routes,
 *           SetIrq and an irqfd each raise an interrupt through the PIC
 *           and through an MSI, and the guest's handlers see all four
 *           vectors in order; the guest's EOI signals the resample fd;
 *  hint     an I/O matching the call hint carries regs, sregs and debug
 *           registers: reading them makes no request (the process's
 *           write count in /proc/self/io stands still), a register set
 *           then rides on the resume and the guest sees it; an access
 *           whose registers match no hint detail carries regs only, and
 *           reading sregs then does make a request;
 *  flood    the guest writes an async port in a loop while the plugin
 *           takes no event after the first: the launcher's vCPU thread
 *           fills the lane (or, with lane = false, the pipe) and blocks
 *           writing.  Once it is full (on the lane, seen in the slot; on
 *           the pipe, after a second) prints "flood: full" and waits for
 *           the host to stop the VM, which must not hang on that thread;
 *  vandal   once vCPU 0 is on the lane, writes an impossible head into its
 *           request ring, as a broken or hostile plugin might: the
 *           launcher must end the VM saying so (the test checks that), not
 *           crash, hang or read past the ring. */
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
#include "lane.h"

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
                r = crosvm_memory_get_dirty_log(g.conns[id], dirty_mem, log);
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

static int state_checks(struct crosvm *c, struct crosvm_vcpu *v) {
        ROUND_TRIP(struct kvm_fpu, crosvm_vcpu_get_fpu, crosvm_vcpu_set_fpu, v);
        ROUND_TRIP(struct kvm_lapic_state, crosvm_vcpu_get_lapic_state, crosvm_vcpu_set_lapic_state, v);
        ROUND_TRIP(struct kvm_mp_state, crosvm_vcpu_get_mp_state, crosvm_vcpu_set_mp_state, v);
        ROUND_TRIP(struct kvm_xcrs, crosvm_vcpu_get_xcrs, crosvm_vcpu_set_xcrs, v);
        ROUND_TRIP(struct kvm_vcpu_events, crosvm_vcpu_get_vcpu_events, crosvm_vcpu_set_vcpu_events, v);
        ROUND_TRIP(struct kvm_debugregs, crosvm_vcpu_get_debugregs, crosvm_vcpu_set_debugregs, v);
        ROUND_TRIP(struct kvm_pic_state, pic_get1, pic_set1, c);
        ROUND_TRIP(struct kvm_pic_state, pic_get2, pic_set2, c);
        ROUND_TRIP(struct kvm_ioapic_state, crosvm_get_ioapic_state, crosvm_set_ioapic_state, c);
        /* The PIT's load times move on between calls: compare the rest. */
        {
                struct kvm_pit_state2 a, b;

                if (crosvm_get_pit_state(c, &a) < 0 || crosvm_set_pit_state(c, &a) < 0 ||
                    crosvm_get_pit_state(c, &b) < 0) {
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

/* The last: CPUID.(0xd,0).EBX, the XSAVE area size for the current XCR0,
 * which KVM recomputes when XCR0 changes.  The plugin sets XCR0 to
 * x87|SSE|AVX (reset: x87), so it is the AVX state's end, from leaf
 * (0xd,2).  Not xgetbv: where KVM emulates real mode (kvm_pvm hosts, as
 * CI's) its instruction emulator has no xgetbv. */
static uint32_t want_regs[] = { 0x1234, 0x11223344, 0x5678, 0 };
#define N_WANT_REGS (sizeof(want_regs) / sizeof(want_regs[0]))
static unsigned regs_seen;

static int on_init_regs(void *u, unsigned id, struct crosvm_vcpu *v) {
        struct kvm_msr_entry msr = { .index = 0x174, .data = 0x1234 };  /* IA32_SYSENTER_CS */
        static struct kvm_cpuid_entry2 cpuid[256];
        struct kvm_debugregs dregs;
        struct kvm_xcrs xcrs;
        uint32_t n = 0;
        int r;

        (void)u;
        if ((r = crosvm_vcpu_set_msrs(v, 1, &msr)) < 0 ||
            (r = crosvm_get_supported_cpuid(g.conns[id], 256, cpuid, &n)) < 0)
                return r;
        for (uint32_t i = 0; i < n; i++) {
                if (cpuid[i].function == 0)
                        cpuid[i].ebx = 0x11223344;
                if (cpuid[i].function == 0xd && cpuid[i].index == 2)
                        want_regs[3] = cpuid[i].ebx + cpuid[i].eax;
        }
        if (!want_regs[3]) {
                fprintf(stderr, "protocol_probe regs: KVM offers no AVX state (CPUID 0xd.2)\n");
                return -ENOTSUP;
        }
        if ((r = crosvm_vcpu_set_cpuid(v, n, cpuid)) < 0 || (r = crosvm_vcpu_get_debugregs(v, &dregs)) < 0)
                return r;
        dregs.db[0] = 0x5678;
        if ((r = crosvm_vcpu_set_debugregs(v, &dregs)) < 0)
                return r;
        memset(&xcrs, 0, sizeof(xcrs));
        xcrs.nr_xcrs = 1;
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = 0x7;
        return crosvm_vcpu_set_xcrs(v, &xcrs);
}

static int on_io_regs(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        uint32_t val;

        (void)u, (void)id, (void)v;
        if (ev->io_access.address == 0x14) {
                memcpy(&val, ev->io_access.data, sizeof(val));
                if (regs_seen >= N_WANT_REGS || val != want_regs[regs_seen])
                        return failf("guest read", (long)val,
                                     regs_seen < N_WANT_REGS ? (long)want_regs[regs_seen] : -1);
                regs_seen++;
        } else if (ev->io_access.address == DONE)
                return regs_seen == N_WANT_REGS ? 1 : failf("values seen", regs_seen, N_WANT_REGS);
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
        /* The irqchip and PIT are there before Start, as in crosvm (vmlaunch
         * makes them on first use): their state, and an irq line. */
        {
                struct kvm_pic_state pic;
                struct kvm_ioapic_state ioapic;
                struct kvm_pit_state2 pit;

                EXPECT(crosvm_get_pic_state(g.crosvm, true, &pic), 0);
                EXPECT(crosvm_get_ioapic_state(g.crosvm, &ioapic), 0);
                EXPECT(crosvm_get_pit_state(g.crosvm, &pit), 0);
                EXPECT(crosvm_set_irq(g.crosvm, 3, false), 0);
        }
        EXPECT(crosvm_start(g.crosvm), 0);
        EXPECT(crosvm_start(g.crosvm), -EINVAL);
#undef EXPECT
        return bad ? 1 : 0;
}

/* irq: the interrupts raised one after another, each once the guest's
 * handler has reported the one before.  GSIs 5 and 6 are PIC pins 5 and 6
 * (vectors 0x25, 0x26 after the guest's ICW2 of 0x20); GSIs 24 and 25 are
 * MSIs to vCPU 0's LAPIC with vectors 0x40 and 0x50.  The MSI handlers
 * cannot reach the LAPIC's EOI register from real mode, so 0x50 is picked
 * above 0x40's priority class to get through with 0x40 still in service. */
static struct crosvm_irq *irqfd_pic, *irqfd_msi;
static unsigned irq_stage;

static int irq_fire(unsigned stage) {
        uint64_t one = 1;

        switch (stage) {
        case 0:
                return crosvm_set_irq(g.conns[0], 5, true) < 0 || crosvm_set_irq(g.conns[0], 5, false) < 0 ? -1 : 0;
        case 1:
                return write(crosvm_irq_event_get_fd(irqfd_pic), &one, 8) == 8 ? 0 : -1;
        case 2:
                return write(crosvm_irq_event_get_fd(irqfd_msi), &one, 8) == 8 ? 0 : -1;
        case 3:
                return crosvm_set_irq(g.conns[0], 25, true) < 0 ? -1 : 0;
        }
        return -1;
}

static int on_init_irq(void *u, unsigned id, struct crosvm_vcpu *v) {
        struct kvm_lapic_state lapic;
        uint32_t svr;
        int r;

        (void)u, (void)id;
        /* Software-enable the LAPIC (SVR bit 8): a disabled one drops MSIs. */
        if ((r = crosvm_vcpu_get_lapic_state(v, &lapic)) < 0)
                return r;
        memcpy(&svr, &lapic.regs[0xf0], 4);
        svr |= 0x100;
        memcpy(&lapic.regs[0xf0], &svr, 4);
        return crosvm_vcpu_set_lapic_state(v, &lapic);
}

static int on_io_irq(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        static const uint8_t want[] = { 0x25, 0x26, 0x40, 0x50 };
        uint64_t addr = ev->io_access.address;

        (void)u, (void)id, (void)v;
        if (addr == 0x18)       /* the guest is ready: the first one */
                return irq_fire(0) < 0 ? failf("raising the first interrupt", 0, 0) : 0;
        if (addr != 0x16)
                return 0;
        if (irq_stage >= sizeof(want) || ev->io_access.data[0] != want[irq_stage])
                return failf("the guest's handler saw vector", ev->io_access.data[0],
                             irq_stage < sizeof(want) ? want[irq_stage] : -1);
        if (irq_stage == 1) {
                /* The handler sent the PIC its EOI before reporting. */
                struct pollfd p = { crosvm_irq_event_get_resample_fd(irqfd_pic), POLLIN, 0 };
                uint64_t n;

                if (poll(&p, 1, 1000) != 1 || read(p.fd, &n, 8) != 8)
                        return failf("no resample after the EOI of the irqfd's interrupt", 0, 0);
        }
        if (++irq_stage == sizeof(want)) {
                if (crosvm_destroy_irq_event(g.conns[0], &irqfd_pic) < 0 ||
                    crosvm_destroy_irq_event(g.conns[0], &irqfd_msi) < 0 || irqfd_pic || irqfd_msi)
                        return failf("destroying the irqfds", 0, 0);
                return 1;
        }
        return irq_fire(irq_stage) < 0 ? failf("raising interrupt", irq_stage, 0) : 0;
}

static int irq_setup(void) {
        /* Two PIC pins (irqchip 0 is the primary PIC) and two MSIs. */
        struct crosvm_irq_route routes[4] = {
                { .irq_id = 5, .kind = CROSVM_IRQ_ROUTE_IRQCHIP, .irqchip = { .irqchip = 0, .pin = 5 } },
                { .irq_id = 6, .kind = CROSVM_IRQ_ROUTE_IRQCHIP, .irqchip = { .irqchip = 0, .pin = 6 } },
                { .irq_id = 24, .kind = CROSVM_IRQ_ROUTE_MSI, .msi = { .address = 0xfee00000, .data = 0x40 } },
                { .irq_id = 25, .kind = CROSVM_IRQ_ROUTE_MSI, .msi = { .address = 0xfee00000, .data = 0x50 } },
        };
        int r;

        if ((r = crosvm_set_irq_routing(g.crosvm, 4, routes)) < 0 ||
            (r = crosvm_create_irq_event(g.crosvm, 6, &irqfd_pic)) < 0 ||
            (r = crosvm_create_irq_event(g.crosvm, 24, &irqfd_msi)) < 0 ||
            (r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x16, 3)) < 0) {
                fprintf(stderr, "protocol_probe irq: setup: %s\n", strerror(-r));
                return r;
        }
        return 0;
}

/* hint: the write count of this process (all threads), from the kernel's
 * own I/O accounting; every request the library sends is a write. */
static int io_fd = -1;

/* vCPU 0's lane, when the launcher offers one: requests go there instead
 * of the pipe once the vCPU left Init (lane.h). */
static const struct lane_slot *lane0;

/* Grows with every request the plugin sends, on either transport: write
 * syscalls for the pipe, bytes for the lane. */
static long writes_so_far(void) {
        char buf[512];
        ssize_t n = pread(io_fd, buf, sizeof(buf) - 1, 0);
        const char *w;
        long lane_bytes = lane0 ? (long)atomic_load(&lane0->to_host.head) : 0;

        if (n <= 0)
                return -1;
        buf[n] = 0;
        w = strstr(buf, "syscw: ");
        return w ? strtol(w + 7, NULL, 10) + lane_bytes : -1;
}

static struct lane_slot *vandal_slot;
static struct guest *flood_guest;
static struct lane_slot *flood_slot;

static int on_io_flood(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v, (void)ev;
        if (flood_slot) {
                /* Full: no room for another Io event of ~20 bytes. */
                for (int i = 0; LANE_RING_BYTES - (atomic_load(&flood_slot->to_plugin.head) -
                                                  atomic_load(&flood_slot->to_plugin.tail)) >= 64;
                     i++) {
                        if (i == 10000)
                                return failf("the lane never filled (bytes in it)",
                                             (long)(atomic_load(&flood_slot->to_plugin.head) -
                                                    atomic_load(&flood_slot->to_plugin.tail)),
                                             LANE_RING_BYTES);
                        usleep(1000);
                }
        } else
                sleep(1);
        fprintf(stderr, "protocol_probe flood: full\n");
        while (!__atomic_load_n(&flood_guest->stopping, __ATOMIC_SEQ_CST))
                usleep(1000);
        return 1;
}

static int on_io_vandal(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u, (void)id, (void)v, (void)ev;
        atomic_fetch_add(&vandal_slot->to_host.head, 100000u);
        return 0;
}

static unsigned hint_stage;

static int on_init_hint(void *u, unsigned id, struct crosvm_vcpu *v) {
        struct kvm_debugregs d;
        int r;

        (void)u, (void)id;
        if ((r = crosvm_vcpu_get_debugregs(v, &d)) < 0)
                return r;
        d.db[0] = 0x5678;
        return crosvm_vcpu_set_debugregs(v, &d);
}

static int on_io_hint(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        struct kvm_debugregs d;
        long before, after;

        (void)u, (void)id;
        if (ev->io_access.address == 0x32) {
                if (hint_stage != 1 || ev->io_access.data[0] != 0x77)
                        return failf("the deferred rbx the guest read", ev->io_access.data[0], 0x77);
                hint_stage++;
                return 0;
        }
        if (ev->io_access.address == DONE)
                return hint_stage == 3 ? 1 : failf("hinted accesses seen", hint_stage, 3);
        if (ev->io_access.address != 0x30)
                return 0;
        if (hint_stage == 0) {
                before = writes_so_far();
                if (crosvm_vcpu_get_regs(v, &regs) < 0 || crosvm_vcpu_get_sregs(v, &sregs) < 0 ||
                    crosvm_vcpu_get_debugregs(v, &d) < 0)
                        return failf("reading the hinted registers", 0, 0);
                regs.rbx = 0x77;
                if (crosvm_vcpu_set_regs(v, &regs) < 0)
                        return failf("setting rbx", 0, 0);
                after = writes_so_far();
                if (before < 0 || after != before)
                        return failf("requests made while serving a hinted access (writes before, after)",
                                     before, after);
                if (regs.rax != 0x1234 || sregs.cs.selector != 0 || !(sregs.cr0 & 0x10) || d.db[0] != 0x5678)
                        return failf("hinted values (rax, db0)", (long)regs.rax, (long)d.db[0]);
        } else if (hint_stage == 2) {
                before = writes_so_far();
                if (crosvm_vcpu_get_regs(v, &regs) < 0)
                        return failf("reading regs", 0, 0);
                after = writes_so_far();
                if (after != before || regs.rax != 0x5555)
                        return failf("regs of an unmatched hinted access (writes, rax)", after - before,
                                     (long)regs.rax);
                if (crosvm_vcpu_get_sregs(v, &sregs) < 0)
                        return failf("reading sregs", 0, 0);
                if (writes_so_far() <= after)
                        return failf("sregs of an unmatched detail came without a request", 0, 0);
        } else
                return failf("a hinted access out of order", hint_stage, 0);
        hint_stage++;
        return 0;
}

static int hint_setup(void) {
        struct crosvm_hint_detail detail = {
                .match_rax = true, .rax = 0x1234, .send_sregs = true, .send_debugregs = true,
        };
        struct crosvm_hint hint = {
                .address_space = CROSVM_ADDRESS_SPACE_IOPORT,
                .address_flags = CROSVM_HINT_ON_WRITE,
                .details_count = 1,
                .address = 0x30,
                .details = &detail,
        };
        int r;

        if (getenv(LANE_ENV)) {
                void *p = mmap(NULL, LANE_SLOT_BYTES, PROT_READ, MAP_SHARED, atoi(getenv(LANE_ENV)), 0);

                if (p == MAP_FAILED) {
                        fprintf(stderr, "protocol_probe hint: mapping the lane: %m\n");
                        return -1;
                }
                lane0 = p;
        }
        io_fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
        if (io_fd < 0 || writes_so_far() < 0) {
                fprintf(stderr, "protocol_probe hint: /proc/self/io: %m\n");
                return -1;
        }
        if ((r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x30, 3)) < 0 ||
            (r = crosvm_set_hypercall_hint(g.crosvm, 1, &hint)) < 0) {
                fprintf(stderr, "protocol_probe hint: setup: %s\n", strerror(-r));
                return -1;
        }
        return 0;
}

static int on_io_state(void *u, unsigned id, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        (void)u;
        return ev->io_access.address == DONE ? state_checks(g.conns[id], v) : 0;
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
        if ((r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, DONE, 1)) < 0)
                return failf("reserving the done port", r, 0), 1;
        if (strcmp(mode, "ioevent") == 0) {
                uint8_t match = 0x33;

                guest_load(&g, 0x1000, code_ioevent, sizeof(code_ioevent));
                r = crosvm_create_io_event(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x70, 1, &match, &ioev);
                if (r < 0)
                        return failf("crosvm_create_io_event", r, 0), 1;
                /* The port is reserved too: only the ioeventfd may take it. */
                if ((r = crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x70, 1)) < 0)
                        return failf("reserving the ioevent port", r, 0), 1;
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
                        0x66, 0xb8, 0x0d, 0x00, 0x00, 0x00,     /* mov eax, 0xd */
                        0x66, 0x31, 0xc9,                       /* xor ecx, ecx */
                        0x0f, 0xa2,                             /* cpuid */
                        0x66, 0x89, 0xd8,                       /* mov eax, ebx */
                        0x66, 0xe7, 0x14,                       /* out 0x14, eax */
                        0xe6, 0x12, 0xf4, 0xeb, 0xfd,           /* out 0x12, al; hlt; jmp hlt */
                };

                guest_load(&g, 0x1000, code_regs, sizeof(code_regs));
                if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x14, 1) < 0)
                        return 1;
                g.on_init = on_init_regs;
                return guest_run(&g, 1, entry, on_io_regs, NULL);
        } else if (strcmp(mode, "flood") == 0) {
                static const uint8_t code_loop[] = { 0xe6, 0x50, 0xeb, 0xfc };  /* out 0x50, al; jmp $-4 */
                const char *fd = getenv(LANE_ENV);

                if (fd) {
                        void *p = mmap(NULL, LANE_SLOT_BYTES, PROT_READ, MAP_SHARED, atoi(fd), 0);

                        if (p == MAP_FAILED)
                                return 1;
                        flood_slot = p;
                }
                flood_guest = &g;
                guest_load(&g, 0x1000, code_loop, sizeof(code_loop));
                if (crosvm_reserve_async_write_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x50, 1) < 0)
                        return 1;
                return guest_run(&g, 1, entry, on_io_flood, NULL);
        } else if (strcmp(mode, "vandal") == 0) {
                static const uint8_t code_loop[] = { 0xe6, 0x30, 0xeb, 0xfc };  /* out 0x30, al; jmp $-4 */
                const char *fd = getenv(LANE_ENV);
                void *p;

                if (!fd) {
                        fprintf(stderr, "protocol_probe vandal: no %s: the launcher offered no lane\n", LANE_ENV);
                        return 1;
                }
                p = mmap(NULL, LANE_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, atoi(fd), 0);
                if (p == MAP_FAILED)
                        return 1;
                vandal_slot = p;
                guest_load(&g, 0x1000, code_loop, sizeof(code_loop));
                if (crosvm_reserve_range(g.crosvm, CROSVM_ADDRESS_SPACE_IOPORT, 0x30, 1) < 0)
                        return 1;
                return guest_run(&g, 1, entry, on_io_vandal, NULL);
        } else if (strcmp(mode, "errors") == 0) {
                r = errors_checks();

                crosvm_destroy_memory(g.crosvm, &g.memory);
                crosvm_destroy_connection(&g.crosvm);
                return r;
        } else if (strcmp(mode, "state") == 0) {
                static const uint8_t code_done[] = { 0xe6, 0x12, 0xf4, 0xeb, 0xfd };

                guest_load(&g, 0x1000, code_done, sizeof(code_done));
                return guest_run(&g, 1, entry, on_io_state, NULL);
        } else if (strcmp(mode, "irq") == 0) {
                static const uint8_t code_irq[] = {
                        0xfa,                                   /* cli */
                        0x31, 0xc0, 0x8e, 0xd8,                 /* xor ax, ax; mov ds, ax */
                        /* The IVT: vectors 0x25, 0x26, 0x40, 0x50 to h25..h50. */
                        0xc7, 0x06, 0x94, 0x00, 0x4f, 0x10, 0xc7, 0x06, 0x96, 0x00, 0x00, 0x00,
                        0xc7, 0x06, 0x98, 0x00, 0x58, 0x10, 0xc7, 0x06, 0x9a, 0x00, 0x00, 0x00,
                        0xc7, 0x06, 0x00, 0x01, 0x61, 0x10, 0xc7, 0x06, 0x02, 0x01, 0x00, 0x00,
                        0xc7, 0x06, 0x40, 0x01, 0x66, 0x10, 0xc7, 0x06, 0x42, 0x01, 0x00, 0x00,
                        /* PIC: ICW1 0x11, ICW2 base 0x20, ICW3 0x04, ICW4 0x01,
                         * then the mask 0x9f (IRQs 5 and 6 open). */
                        0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x20, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21,
                        0xb0, 0x01, 0xe6, 0x21, 0xb0, 0x9f, 0xe6, 0x21,
                        0xfb,                                   /* sti */
                        0xe6, 0x18,                             /* out 0x18, al: ready */
                        0xf4, 0xeb, 0xfd,                       /* 0x104c: hlt; jmp 0x104c */
                        /* 0x104f h25 and 0x1058 h26: EOI to the PIC, report, iret */
                        0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x25, 0xe6, 0x16, 0xcf,
                        0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x26, 0xe6, 0x16, 0xcf,
                        /* 0x1061 h40 and 0x1066 h50: report, iret */
                        0xb0, 0x40, 0xe6, 0x16, 0xcf,
                        0xb0, 0x50, 0xe6, 0x16, 0xcf,
                };

                guest_load(&g, 0x1000, code_irq, sizeof(code_irq));
                if (irq_setup() < 0)
                        return 1;
                g.on_init = on_init_irq;
                return guest_run(&g, 1, entry, on_io_irq, NULL);
        } else if (strcmp(mode, "hint") == 0) {
                static const uint8_t code_hint[] = {
                        0xb8, 0x34, 0x12, 0xe6, 0x30,   /* mov ax, 0x1234; out 0x30, al: matches */
                        0x88, 0xd8, 0xe6, 0x32,         /* mov al, bl; out 0x32, al */
                        0xb8, 0x55, 0x55, 0xe6, 0x30,   /* mov ax, 0x5555; out 0x30, al: no detail */
                        0xe6, 0x12, 0xf4, 0xeb, 0xfd,   /* out 0x12, al; hlt; jmp hlt */
                };

                guest_load(&g, 0x1000, code_hint, sizeof(code_hint));
                if (hint_setup() < 0)
                        return 1;
                g.on_init = on_init_hint;
                r = guest_run(&g, 1, entry, on_io_hint, NULL);
                close(io_fd);
                return r;
        } else {
                fprintf(stderr, "protocol_probe: unknown mode %s\n", mode);
                return 2;
        }
        return guest_run(&g, 1, entry, on_io, NULL);
}
