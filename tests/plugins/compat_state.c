/* compat_state: the state calls of crosvm's suite (its mini-plugin guests
 * for debug registers, XCRs, MSRs, CPUID and vCPU state, and its
 * supported_cpuid, msr_index_list, extensions, vm_state, irqfd and
 * enable_cap plugins).  The vCPU's state is set at Init, the guest reads
 * it back into RAM, the plugin reads it back through the API.  Prints
 * "compat_state: ok" and exits 0 when every value round-tripped. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat_common.h"

#define DONE_ADDRESS 0x3000     /* MMIO, just past RAM */
#define RBX_VALUE 0xabcdef00u   /* copied to dr0 by the guest */
#define DR1_VALUE 0x12u         /* read by the guest */
#define MSR_INDEX 0x174u        /* IA32_SYSENTER_CS */
#define MSR_VALUE 0x1234u
#define CPUID0_EBX 0x50515253u
#define IRQ 4

/*      mov dr0, ebx
 *      mov eax, dr1
 *      mov [0x0], eax
 *      rdmsr                   ; ecx = MSR_INDEX
 *      mov [0x4], eax
 *      xor eax, eax
 *      cpuid
 *      mov [0x8], ebx
 *      mov byte [DONE_ADDRESS], 1
 *      hlt */
static const uint8_t code[] = { 0x0f, 0x23, 0xc3, 0x0f, 0x21, 0xc8, 0x66, 0xa3, 0x00, 0x00, 0x0f,
                                0x32, 0x66, 0xa3, 0x04, 0x00, 0x66, 0x31, 0xc0, 0x0f, 0xa2, 0x66,
                                0x89, 0x1e, 0x08, 0x00, 0xc6, 0x06, 0x00, 0x30, 0x01, 0xf4 };

struct after {
        bool done;
        struct kvm_debugregs dregs;
        struct kvm_xcrs xcrs;
        struct kvm_msr_entry msr;
        uint32_t n_msrs;
};

static int on_init(struct compat *c, struct crosvm_vcpu *v, struct kvm_regs *regs, struct kvm_sregs *sregs) {
        struct kvm_cpuid_entry2 cpuid = { .function = 0, .eax = 1, .ebx = CPUID0_EBX };
        struct kvm_msr_entry msr = { .index = MSR_INDEX, .data = MSR_VALUE };
        struct kvm_xcrs xcrs = { .nr_xcrs = 1 };
        struct kvm_vcpu_events events;
        struct kvm_lapic_state lapic;
        struct kvm_mp_state mp;
        struct kvm_debugregs dregs;
        struct kvm_fpu fpu;
        int r;

        (void)sregs;
        regs->rbx = RBX_VALUE;
        regs->rcx = MSR_INDEX;
        if ((r = crosvm_vcpu_get_debugregs(v, &dregs)) < 0)
                return r;
        dregs.db[1] = DR1_VALUE;
        xcrs.xcrs[0].value = 1;        /* x87 only: always valid */
        if ((r = crosvm_vcpu_set_debugregs(v, &dregs)) < 0 || (r = crosvm_vcpu_set_xcrs(v, &xcrs)) < 0 ||
            (r = crosvm_vcpu_set_msrs(v, 1, &msr)) < 0 || (r = crosvm_vcpu_set_cpuid(v, 1, &cpuid)) < 0)
                return r;
        /* What crosvm's vcpu_state test did: each state out and back in. */
        if ((r = crosvm_vcpu_get_lapic_state(v, &lapic)) < 0 || (r = crosvm_vcpu_set_lapic_state(v, &lapic)) < 0 ||
            (r = crosvm_vcpu_get_mp_state(v, &mp)) < 0 || (r = crosvm_vcpu_set_mp_state(v, &mp)) < 0 ||
            (r = crosvm_vcpu_get_vcpu_events(v, &events)) < 0 ||
            (r = crosvm_vcpu_set_vcpu_events(v, &events)) < 0 || (r = crosvm_vcpu_get_fpu(v, &fpu)) < 0 ||
            (r = crosvm_vcpu_set_fpu(v, &fpu)) < 0)
                compat_fail(c, "vCPU state round trip: %s", strerror(-r));
        return 0;
}

static int on_io(struct compat *c, struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev) {
        struct after *a = c->userdata;
        int r;

        if (ev->io_access.address_space != CROSVM_ADDRESS_SPACE_MMIO || ev->io_access.address != DONE_ADDRESS) {
                compat_fail(c, "unexpected access at 0x%llx", (unsigned long long)ev->io_access.address);
                return 1;
        }
        a->msr.index = MSR_INDEX;
        if ((r = crosvm_vcpu_get_debugregs(v, &a->dregs)) < 0 || (r = crosvm_vcpu_get_xcrs(v, &a->xcrs)) < 0 ||
            (r = crosvm_vcpu_get_msrs(v, 1, &a->msr, &a->n_msrs)) < 0)
                compat_fail(c, "reading the vCPU back: %s", strerror(-r));
        a->done = true;
        return 1;
}

/* The VM-wide calls, before the start: queries, and each state out and
 * back in. */
static void vm_calls(struct compat *c) {
        struct kvm_cpuid_entry2 cpuid[256];
        uint32_t msrs[1024], n = 0;
        struct kvm_pic_state pic;
        struct kvm_ioapic_state ioapic;
        struct kvm_pit_state2 pit;
        struct kvm_clock_data clock;
        struct crosvm_irq *irq = NULL;
        uint64_t one = 1, args[4] = { 0 };
        bool has = false;
        int r;

        if ((r = crosvm_check_extension(c->crosvm, KVM_CAP_IRQCHIP, &has)) < 0 || !has)
                compat_fail(c, "crosvm_check_extension(KVM_CAP_IRQCHIP): %d, %d", r, has);
        if ((r = crosvm_get_supported_cpuid(c->crosvm, 256, cpuid, &n)) < 0 || n == 0)
                compat_fail(c, "crosvm_get_supported_cpuid: %d, %u entries", r, n);
        if ((r = crosvm_get_msr_index_list(c->crosvm, 1024, msrs, &n)) < 0 || n == 0)
                compat_fail(c, "crosvm_get_msr_index_list: %d, %u entries", r, n);
        if ((r = crosvm_get_pic_state(c->crosvm, true, &pic)) < 0 ||
            (r = crosvm_set_pic_state(c->crosvm, true, &pic)) < 0 ||
            (r = crosvm_get_ioapic_state(c->crosvm, &ioapic)) < 0 ||
            (r = crosvm_set_ioapic_state(c->crosvm, &ioapic)) < 0 || (r = crosvm_get_pit_state(c->crosvm, &pit)) < 0 ||
            (r = crosvm_set_pit_state(c->crosvm, &pit)) < 0 || (r = crosvm_get_clock(c->crosvm, &clock)) < 0)
                compat_fail(c, "VM state round trip: %s", strerror(-r));
        /* An irqfd: KVM raises the line on each write. */
        r = crosvm_create_irq_event(c->crosvm, IRQ, &irq);
        if (r < 0)
                compat_fail(c, "crosvm_create_irq_event: %s", strerror(-r));
        else {
                if (write(crosvm_irq_event_get_fd(irq), &one, sizeof(one)) != sizeof(one) ||
                    crosvm_irq_event_get_resample_fd(irq) < 0)
                        compat_fail(c, "irq event fds: %s", strerror(errno));
                if ((r = crosvm_destroy_irq_event(c->crosvm, &irq)) < 0)
                        compat_fail(c, "crosvm_destroy_irq_event: %s", strerror(-r));
        }
        if ((r = crosvm_set_irq(c->crosvm, IRQ, false)) < 0)
                compat_fail(c, "crosvm_set_irq: %s", strerror(-r));
        /* crosvm's enable_cap asked for Hyper-V SynIC, which only some
         * hosts' KVM has: the call must come back, either way. */
        r = crosvm_enable_capability(c->crosvm, KVM_CAP_HYPERV_SYNIC, 0, args);
        if (r < 0 && r != -EINVAL)
                compat_fail(c, "crosvm_enable_capability: %s", strerror(-r));
}

int main(void) {
        struct after a = { 0 };
        struct compat c = { .init = on_init, .io = on_io, .userdata = &a };
        int r;

        if (compat_setup(&c, "compat_state", 0x3000, false, code, sizeof(code)) < 0)
                return 1;
        r = crosvm_reserve_range(c.crosvm, CROSVM_ADDRESS_SPACE_MMIO, DONE_ADDRESS, 1);
        if (r < 0) {
                compat_fail(&c, "crosvm_reserve_range: %s", strerror(-r));
                return 1;
        }
        vm_calls(&c);
        if (compat_run(&c) < 0)
                return 1;

        if (!a.done)
                compat_fail(&c, "the guest never finished");
        if (a.dregs.db[0] != RBX_VALUE)
                compat_fail(&c, "dr0 0x%llx, want 0x%x", (unsigned long long)a.dregs.db[0], RBX_VALUE);
        if (a.xcrs.nr_xcrs < 1 || a.xcrs.xcrs[0].value != 1)
                compat_fail(&c, "xcr0 0x%llx (%u XCRs), want 1", (unsigned long long)a.xcrs.xcrs[0].value,
                            a.xcrs.nr_xcrs);
        if (a.n_msrs != 1 || a.msr.data != MSR_VALUE)
                compat_fail(&c, "MSR 0x%x: 0x%llx (%u), want 0x%x", MSR_INDEX, (unsigned long long)a.msr.data,
                            a.n_msrs, MSR_VALUE);
        if (*(uint32_t *)c.ram != DR1_VALUE)
                compat_fail(&c, "the guest read dr1 = 0x%x", *(uint32_t *)c.ram);
        if (*(uint32_t *)(c.ram + 4) != MSR_VALUE)
                compat_fail(&c, "the guest read the MSR = 0x%x", *(uint32_t *)(c.ram + 4));
        if (*(uint32_t *)(c.ram + 8) != CPUID0_EBX)
                compat_fail(&c, "the guest's CPUID 0 ebx = 0x%x", *(uint32_t *)(c.ram + 8));
        return compat_result(&c);
}
