/* The KVM device and VM: open, create, the in-kernel irqchip and PIT,
 * vCPU creation.  Thin wrappers; every function returns 0 or -errno and
 * logs nothing. */
#pragma once

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>

struct kvm_vm {
        int sys_fd;             /* the device (/dev/kvm), CLOEXEC */
        int vm_fd;              /* KVM_CREATE_VM, CLOEXEC */
        size_t run_size;        /* KVM_GET_VCPU_MMAP_SIZE */
        unsigned max_vcpus;     /* KVM_CAP_MAX_VCPUS (or NR_VCPUS, or 4) */
        unsigned n_memslots;    /* KVM_CAP_NR_MEMSLOTS */
        bool immediate_exit;    /* KVM_CAP_IMMEDIATE_EXIT */
        bool irqchip, pit;      /* created (kvm_create_irqchip) */
};

#define KVM_VM_INIT { .sys_fd = -1, .vm_fd = -1 }

/* Opens `device`, checks the API version (12), reads the limits.  On
 * failure nothing is left open and *vm is untouched; *ret_step names the
 * step that failed (for the caller's message). */
int kvm_open(const char *device, struct kvm_vm *vm, const char **ret_step);

/* Creates the VM, after checking that KVM offers the in-kernel irqchip and
 * PIT (KVM_CAP_IRQCHIP, KVM_CAP_PIT2) that kvm_create_irqchip makes. */
int kvm_create_vm(struct kvm_vm *vm, const char **ret_step);

/* KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2 (flags 0), as crosvm's plugin mode
 * does; a no-op once done.  Separate from kvm_create_vm because KVM starts
 * a grace period with the irqchip, and any memory-slot change made before
 * it ends waits for it: 5 to 10 ms on this kind of machine, 0.03 ms
 * after (README, Benchmarks). */
int kvm_create_irqchip(struct kvm_vm *vm, const char **ret_step);

/* Closes both fds; safe on a half-built or closed struct. */
void kvm_close(struct kvm_vm *vm);

/* KVM_CHECK_EXTENSION on fd: the ioctl's value (>= 0) or -errno. */
int kvm_check_extension(int fd, unsigned long ext);

/* KVM_CREATE_VCPU `id` and maps its kvm_run.  The fd is CLOEXEC. */
int kvm_create_vcpu(const struct kvm_vm *vm, unsigned id, int *ret_fd, struct kvm_run **ret_run);
