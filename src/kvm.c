#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "util.h"

int kvm_check_extension(int fd, unsigned long ext) {
        int r = ioctl(fd, KVM_CHECK_EXTENSION, ext);

        return r < 0 ? -errno : r;
}

int kvm_open(const char *device, struct kvm_vm *vm, const char **ret_step) {
        _cleanup_close_ int fd = -1;
        int r;

        fd = open(device, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                *ret_step = "opening the KVM device";
                return -errno;
        }
        r = ioctl(fd, KVM_GET_API_VERSION, 0);
        if (r != KVM_API_VERSION) {
                *ret_step = "checking the KVM API version (want 12)";
                return r < 0 ? -errno : -ENOTSUP;
        }
        r = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (r <= 0) {
                *ret_step = "reading the vCPU mmap size";
                return r < 0 ? -errno : -EINVAL;
        }
        vm->run_size = (size_t)r;

        /* MAX_VCPUS is the hard limit; old kernels only know NR_VCPUS, and
         * older ones neither, which the KVM API documents as 4. */
        r = kvm_check_extension(fd, KVM_CAP_MAX_VCPUS);
        if (r <= 0)
                r = kvm_check_extension(fd, KVM_CAP_NR_VCPUS);
        vm->max_vcpus = r > 0 ? (unsigned)r : 4;
        r = kvm_check_extension(fd, KVM_CAP_NR_MEMSLOTS);
        vm->n_memslots = r > 0 ? (unsigned)r : 32;
        vm->immediate_exit = kvm_check_extension(fd, KVM_CAP_IMMEDIATE_EXIT) > 0;
        vm->sys_fd = TAKE_FD(fd);
        return 0;
}

int kvm_create_vm(struct kvm_vm *vm, const char **ret_step) {
        int fd;

        if (kvm_check_extension(vm->sys_fd, KVM_CAP_IRQCHIP) <= 0) {
                *ret_step = "checking for the in-kernel irqchip (KVM_CAP_IRQCHIP)";
                return -ENOTSUP;
        }
        if (kvm_check_extension(vm->sys_fd, KVM_CAP_PIT2) <= 0) {
                *ret_step = "checking for the in-kernel PIT (KVM_CAP_PIT2)";
                return -ENOTSUP;
        }
        /* KVM hands out the VM fd with O_CLOEXEC already (anon inode). */
        fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
        if (fd < 0) {
                *ret_step = "KVM_CREATE_VM";
                return -errno;
        }
        vm->vm_fd = fd;
        return 0;
}

int kvm_create_irqchip(struct kvm_vm *vm, const char **ret_step) {
        struct kvm_pit_config pit = { .flags = 0 };

        if (!vm->irqchip) {
                if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
                        *ret_step = "KVM_CREATE_IRQCHIP";
                        return -errno;
                }
                vm->irqchip = true;
        }
        if (!vm->pit) {
                if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
                        *ret_step = "KVM_CREATE_PIT2";
                        return -errno;
                }
                vm->pit = true;
        }
        return 0;
}

void kvm_close(struct kvm_vm *vm) {
        vm->vm_fd = safe_close(vm->vm_fd);
        vm->sys_fd = safe_close(vm->sys_fd);
}

int kvm_create_vcpu(const struct kvm_vm *vm, unsigned id, int *ret_fd, struct kvm_run **ret_run) {
        _cleanup_close_ int fd = -1;
        void *run;

        fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
        if (fd < 0)
                return -errno;
        run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (run == MAP_FAILED)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        *ret_run = run;
        return 0;
}
