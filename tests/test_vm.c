/* The VM core on its own, as the fuzzers and benchmarks embed it: no
 * launcher around it to set anything up first.  Needs /dev/kvm. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "vm.h"

static struct vm_config config = { .vcpus = 2, .kvm_device = (char *)"/dev/kvm" };

/* PauseVcpus after Start kicks the vCPU threads with a real-time signal.
 * The core installs its handler itself: with the default action, the
 * signal killed the whole process (the main-request fuzzer found it). */
START_TEST(test_pause_after_start_in_a_bare_process) {
        struct vm *vm = NULL;
        const char *step = NULL;
        int r;

        signal(SIGRTMIN, SIG_DFL);
        r = vm_new(&config, &vm, &step);
        ck_assert_msg(r == 0, "vm_new: %s: %s", step, strerror(-r));
        ck_assert_int_eq(vm_start(vm), 0);
        vm_pause_vcpus(vm, 0x3, 42);
        usleep(50 * 1000);      /* time for the signals to land */
        vm_signal_kill(vm);
        vm_stop_vcpus(vm);
        vm_free(vm);
}
END_TEST

/* The irqchip and PIT are made late (vm.h): not by vm_new, so that the
 * plugin's memory slots do not wait for the grace period KVM starts with
 * them (kvm.h); by vm_start at the latest, before the vCPUs; once. */
START_TEST(test_irqchip_made_late_and_once) {
        struct vm *vm = NULL;
        const char *step = NULL;
        int r;

        r = vm_new(&config, &vm, &step);
        ck_assert_msg(r == 0, "vm_new: %s: %s", step, strerror(-r));
        ck_assert(!vm->kvm.irqchip && !vm->kvm.pit);
        ck_assert_int_eq(vm_start(vm), 0);
        ck_assert(vm->kvm.irqchip && vm->kvm.pit);
        ck_assert_int_eq(vm_irqchip(vm), 0);    /* a second KVM_CREATE_IRQCHIP would be EEXIST */
        vm_signal_kill(vm);
        vm_stop_vcpus(vm);
        vm_free(vm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("vm");
        TCase *tc = tcase_create("core");

        test_require(test_have_kvm(), "/dev/kvm");
        tcase_add_test(tc, test_pause_after_start_in_a_bare_process);
        tcase_add_test(tc, test_irqchip_made_late_and_once);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
