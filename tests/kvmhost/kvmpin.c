/* kvmpin: holds two idle VMs for the life of the kvmhost guest, so that the
 * guest kernel's KVM static keys never go back to zero and are never
 * patched again while the tests run.
 *
 * Why: x86 Linux flips a static key by patching its own text with int3
 * (text_poke_bp).  KVM flips kvm_has_noapic_vcpu when the first vCPU
 * without an in-kernel local APIC is created and the last one destroyed,
 * and apic_sw_disabled around every local APIC that the guest has not
 * enabled yet.  Every test that starts and ends VMs therefore patched the
 * guest kernel, and QEMU's multi-threaded TCG (7.2) now and then leaves a
 * vCPU executing the stale int3: both CPUs were sampled (QEMU monitor,
 * `info registers`, against the guest's /proc/kallsyms) looping in
 * asm_exc_int3/exc_int3 for minutes, with no heartbeat and no console
 * message.  With these two VMs held, no VM a test starts or ends takes a
 * key across zero.
 *
 * The patching was traced in the guest (ftrace on jump_label_update with
 * stack traces, one test_e2e): 123 updates, every one from KVM (VM
 * creation and destruction, kvm_create_lapic, the deferred decrement);
 * with these VMs held, none.  test_e2e froze in 4 of 5 boots without them.
 *
 * Built static by setup.sh into the initrd; init runs it once the modules
 * are in, and goes on when it returns (the VMs exist then). */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <unistd.h>

static int vm_with_vcpu(int kvm, int irqchip) {
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);

        if (vm < 0)
                return -1;
        if (irqchip && ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
                return -1;
        return ioctl(vm, KVM_CREATE_VCPU, 0) < 0 ? -1 : 0;
}

int main(void) {
        int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

        if (kvm < 0) {
                perror("kvmpin: /dev/kvm");
                return 1;
        }
        /* A vCPU without a local APIC: kvm_has_noapic_vcpu.  A vCPU with
         * one that never runs, so its APIC stays software-disabled:
         * apic_sw_disabled. */
        if (vm_with_vcpu(kvm, 0) < 0 || vm_with_vcpu(kvm, 1) < 0) {
                perror("kvmpin: creating the held VMs");
                return 1;
        }
        /* The VMs exist before init goes on: the parent returns now, the
         * child holds them. */
        switch (fork()) {
        case -1:
                perror("kvmpin: fork");
                return 1;
        case 0:
                for (;;)
                        pause();
        default:
                return 0;
        }
}
