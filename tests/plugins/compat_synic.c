/* compat_synic: the Hyper-V SynIC path of crosvm's enable_cap plugin.  At
 * Init the vCPU gets KVM's Hyper-V CPUID leaves (crosvm_get_hyperv_cpuid,
 * crosvm_vcpu_set_cpuid) and SynIC (crosvm_vcpu_enable_capability); the
 * real-mode guest then writes the guest OS id, the hypercall page and the
 * SynIC control, event-flags and message-page MSRs, and requests a kill on
 * port 0x3f9.  Each SynIC write must reach the plugin as a HYPERV_SYNIC
 * event carrying KVM's values, in order.  Prints "compat_synic: ok" and
 * exits 0 when all did.
 *
 * Since Linux 5.12 KVM emulates Hyper-V MSRs for a guest only when its
 * CPUID shows the Hyper-V interface ("Hv#1" in leaf 0x40000001); without
 * it the first wrmsr below is refused.  crosvm's own plugin set no CPUID,
 * so on such kernels it never sees an event: the refusal is a #GP whose
 * delivery reads its IVT and pushes on its stack, neither of them RAM
 * there, and the vCPU never leaves KVM_RUN again.  Here the IVT, the
 * stack and a #GP handler are in RAM, so a refusal ends the run with a
 * message (port 0x3fa) instead of a hang. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crosvm.h"

#define RAM_SIZE 0x5000
#define CODE_ADDRESS 0x1000
#define STACK_TOP 0x1000        /* grows down, below the code */
#define GP_HANDLER 0x1062       /* `gp:` below */
#define HYPERCALL_PAGE 0x2000
#define KILL_PORT 0x3f9
#define GP_PORT 0x3fa
#define CONTROL 0x0506070801020304ull /* edx:eax of the SCONTROL write */
#define EVT_PAGE 0x3001ull      /* bit 0: enabled */
#define MSG_PAGE 0x4001ull
#define MSR_SCONTROL 0x40000080u
#define MSR_SIEFP 0x40000082u
#define MSR_SIMP 0x40000083u
#define MAX_HV_LEAVES 64

/*      mov edx, 0xffffffff
 *      mov eax, 0xffffffff
 *      mov ecx, 0x40000000     ; HV_X64_MSR_GUEST_OS_ID
 *      wrmsr
 *      xor edx, edx
 *      mov eax, 0x2001         ; hypercall page, enabled
 *      mov ecx, 0x40000001     ; HV_X64_MSR_HYPERCALL
 *      wrmsr
 *      mov edx, 0x05060708
 *      mov eax, 0x01020304
 *      mov ecx, 0x40000080     ; SCONTROL
 *      wrmsr
 *      xor edx, edx
 *      mov eax, 0x3001
 *      mov ecx, 0x40000082     ; SIEFP
 *      wrmsr
 *      xor edx, edx
 *      mov eax, 0x4001
 *      mov ecx, 0x40000083     ; SIMP
 *      wrmsr
 *      mov dx, 0x3f9
 *      mov al, 1
 *      out dx, al
 *      hlt
 * gp:  mov dx, 0x3fa           ; the #GP handler (IVT entry 13)
 *      mov al, 13
 *      out dx, al
 *      hlt */
static const uint8_t code[] = {
        0x66, 0xba, 0xff, 0xff, 0xff, 0xff, 0x66, 0xb8, 0xff, 0xff, 0xff, 0xff, 0x66, 0xb9, 0x00,
        0x00, 0x00, 0x40, 0x0f, 0x30, 0x66, 0x31, 0xd2, 0x66, 0xb8, 0x01, 0x20, 0x00, 0x00, 0x66,
        0xb9, 0x01, 0x00, 0x00, 0x40, 0x0f, 0x30, 0x66, 0xba, 0x08, 0x07, 0x06, 0x05, 0x66, 0xb8,
        0x04, 0x03, 0x02, 0x01, 0x66, 0xb9, 0x80, 0x00, 0x00, 0x40, 0x0f, 0x30, 0x66, 0x31, 0xd2,
        0x66, 0xb8, 0x01, 0x30, 0x00, 0x00, 0x66, 0xb9, 0x82, 0x00, 0x00, 0x40, 0x0f, 0x30, 0x66,
        0x31, 0xd2, 0x66, 0xb8, 0x01, 0x40, 0x00, 0x00, 0x66, 0xb9, 0x83, 0x00, 0x00, 0x40, 0x0f,
        0x30, 0xba, 0xf9, 0x03, 0xb0, 0x01, 0xee, 0xf4, 0xba, 0xfa, 0x03, 0xb0, 0x0d, 0xee, 0xf4,
};

/* Prints "compat_synic: MESSAGE" and returns 1, the exit status. */
static int __attribute__((format(printf, 1, 2))) fail(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "compat_synic: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

/* The Hyper-V leaves KVM offers, as this vCPU's whole CPUID: all that
 * KVM's "is Hyper-V enabled" check looks at. */
static int set_hyperv_cpuid(struct crosvm_vcpu *v) {
        struct kvm_cpuid_entry2 leaves[MAX_HV_LEAVES];
        uint32_t n = 0;
        int r;

        r = crosvm_get_hyperv_cpuid(v, MAX_HV_LEAVES, leaves, &n);
        if (r < 0)
                return r;
        return crosvm_vcpu_set_cpuid(v, n, leaves);
}

static int init_vcpu(struct crosvm *c, struct crosvm_vcpu *v) {
        uint64_t args[4] = { 0 };
        struct kvm_sregs sregs;
        struct kvm_regs regs;
        int r;

        /* Only vCPU capabilities exist in the protocol. */
        r = crosvm_enable_capability(c, KVM_CAP_HYPERV_SYNIC, 0, args);
        if (r != -EINVAL)
                return fail("crosvm_enable_capability: %d, want -EINVAL", r);
        r = set_hyperv_cpuid(v);
        if (r < 0)
                return fail("the Hyper-V CPUID leaves: %s", strerror(-r));
        r = crosvm_vcpu_enable_capability(v, KVM_CAP_HYPERV_SYNIC, 0, args);
        if (r < 0)
                return fail("crosvm_vcpu_enable_capability(KVM_CAP_HYPERV_SYNIC): %s", strerror(-r));
        r = crosvm_vcpu_get_sregs(v, &sregs);
        if (r < 0)
                return fail("crosvm_vcpu_get_sregs: %s", strerror(-r));
        sregs.cs.base = sregs.ds.base = sregs.es.base = sregs.ss.base = 0;
        sregs.cs.selector = sregs.ds.selector = sregs.es.selector = sregs.ss.selector = 0;
        crosvm_vcpu_set_sregs(v, &sregs);
        memset(&regs, 0, sizeof(regs));
        regs.rip = CODE_ADDRESS;
        regs.rsp = STACK_TOP;
        regs.rflags = 2;
        crosvm_vcpu_set_regs(v, &regs);
        return 0;
}

/* One SynIC exit: the MSR just written and KVM's SynIC state after it. */
static int expect_synic(struct crosvm_vcpu *v, struct crosvm_vcpu_event *ev, uint32_t msr, uint64_t evt_page,
                        uint64_t msg_page) {
        int r = crosvm_vcpu_wait(v, ev);

        if (r < 0)
                return fail("crosvm_vcpu_wait: %s", strerror(-r));
        if (ev->kind == CROSVM_VCPU_EVENT_KIND_IO_ACCESS && ev->io_access.address == GP_PORT)
                return fail("the guest took #GP on a Hyper-V wrmsr");
        if (ev->kind != CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC)
                return fail("event kind %d, want HYPERV_SYNIC for MSR 0x%x", ev->kind, msr);
        if (ev->hyperv_synic.msr != msr || ev->hyperv_synic._reserved != 0 || ev->hyperv_synic.control != CONTROL ||
            ev->hyperv_synic.evt_page != evt_page || ev->hyperv_synic.msg_page != msg_page)
                return fail("SynIC exit msr 0x%x control 0x%llx evt_page 0x%llx msg_page 0x%llx, "
                            "want 0x%x 0x%llx 0x%llx 0x%llx",
                            ev->hyperv_synic.msr, (unsigned long long)ev->hyperv_synic.control,
                            (unsigned long long)ev->hyperv_synic.evt_page,
                            (unsigned long long)ev->hyperv_synic.msg_page, msr, CONTROL,
                            (unsigned long long)evt_page, (unsigned long long)msg_page);
        r = crosvm_vcpu_resume(v);
        if (r < 0)
                return fail("crosvm_vcpu_resume: %s", strerror(-r));
        return 0;
}

int main(void) {
        struct crosvm_vcpu_event ev = { 0 };
        struct crosvm_memory *mem_obj;
        struct crosvm_vcpu *v;
        struct crosvm *c;
        uint16_t gp_vector[2] = { GP_HANDLER, 0 };
        bool hypercall_page = false;
        uint8_t *ram;
        int fd, r;

        r = crosvm_connect(&c);
        if (r < 0)
                return fail("crosvm_connect: %s", strerror(-r));
        if ((r = crosvm_reserve_range(c, CROSVM_ADDRESS_SPACE_IOPORT, KILL_PORT, 2)) < 0)
                return fail("crosvm_reserve_range: %s", strerror(-r));
        fd = memfd_create("compat-synic", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0 || ftruncate(fd, RAM_SIZE) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
                return fail("guest RAM: %s", strerror(errno));
        ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (ram == MAP_FAILED)
                return fail("mapping guest RAM: %s", strerror(errno));
        memcpy(ram + CODE_ADDRESS, code, sizeof(code));
        memcpy(ram + 13 * 4, gp_vector, sizeof(gp_vector));
        if ((r = crosvm_create_memory(c, fd, 0, RAM_SIZE, 0, false, false, &mem_obj)) < 0)
                return fail("crosvm_create_memory: %s", strerror(-r));
        if ((r = crosvm_get_vcpu(c, 0, &v)) < 0)
                return fail("crosvm_get_vcpu: %s", strerror(-r));
        if ((r = crosvm_start(c)) < 0)
                return fail("crosvm_start: %s", strerror(-r));
        if ((r = crosvm_vcpu_wait(v, &ev)) < 0 || ev.kind != CROSVM_VCPU_EVENT_KIND_INIT)
                return fail("waiting for Init: %d, kind %d", r, ev.kind);
        if (init_vcpu(c, v) != 0)
                return 1;
        if ((r = crosvm_vcpu_resume(v)) < 0)
                return fail("crosvm_vcpu_resume: %s", strerror(-r));
        if (expect_synic(v, &ev, MSR_SCONTROL, 0, 0) != 0)
                return 1;
        /* KVM filled the hypercall page at the guest's second wrmsr. */
        for (size_t i = 0; i < 8; i++)
                hypercall_page |= ram[HYPERCALL_PAGE + i] != 0;
        if (!hypercall_page)
                return fail("the hypercall page is still zero");
        if (expect_synic(v, &ev, MSR_SIEFP, EVT_PAGE, 0) != 0 || expect_synic(v, &ev, MSR_SIMP, EVT_PAGE, MSG_PAGE) != 0)
                return 1;
        if ((r = crosvm_vcpu_wait(v, &ev)) < 0)
                return fail("crosvm_vcpu_wait: %s", strerror(-r));
        if (ev.kind != CROSVM_VCPU_EVENT_KIND_IO_ACCESS || ev.io_access.address != KILL_PORT ||
            !ev.io_access.is_write || ev.io_access.length != 1 || ev.io_access.data[0] != 1) {
                return fail("event kind %d after the SynIC writes, want the kill on 0x%x", ev.kind, KILL_PORT);
        }
        fprintf(stderr, "compat_synic: ok\n");
        return 0;
}
