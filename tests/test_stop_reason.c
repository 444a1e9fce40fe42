/* vm_set_stop_reason (vm.h): the reason is published only after the
 * detail is whole, and the first caller's reason and detail stay.  No KVM:
 * the function needs only the struct's stop fields and exit_fd. */
#include <check.h>
#include <errno.h>
#include <printf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vm.h"
#include "test_util.h"

static struct vm *vm_fake(void) {
        struct vm *vm = calloc(1, sizeof(*vm));

        ck_assert_ptr_nonnull(vm);
        pthread_mutex_init(&vm->stop_lock, NULL);
        vm->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        ck_assert_int_ge(vm->exit_fd, 0);
        return vm;
}

static void vm_fake_free(struct vm *vm) {
        pthread_mutex_destroy(&vm->stop_lock);
        close(vm->exit_fd);
        free(vm);
}

/* A printf conversion, %W, that looks at the VM's published reason from
 * inside the formatting of the detail: what any other thread could see
 * at that moment. */
static struct vm *watched;
static int reason_while_formatting = -1;

static int print_watch(FILE *f, const struct printf_info *info, const void *const *args) {
        (void)info;
        (void)args;
        reason_while_formatting = atomic_load(&watched->stop_reason);
        return fprintf(f, "middle");
}

static int watch_arginfo(const struct printf_info *info, size_t n, int *argtypes, int *size) {
        (void)info;
        (void)n;
        (void)argtypes;
        (void)size;
        return 0;
}

/* The unknown conversion is ours (register_printf_specifier). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
static void set_watched(struct vm *vm) {
        vm_set_stop_reason(vm, VM_STOP_VCPU_ERROR, "start %W end");
}
#pragma GCC diagnostic pop

/* Deterministic: the old code published the reason (its CAS) before it
 * formatted the detail, so %W saw VM_STOP_VCPU_ERROR while the detail was
 * still half written. */
START_TEST(test_detail_before_reason) {
        struct vm *vm = vm_fake();
        uint64_t n = 0;

        ck_assert_int_eq(register_printf_specifier('W', print_watch, watch_arginfo), 0);
        watched = vm;
        set_watched(vm);
        ck_assert_int_eq(reason_while_formatting, VM_STOP_NONE);
        ck_assert_int_eq(atomic_load(&vm->stop_reason), VM_STOP_VCPU_ERROR);
        ck_assert_str_eq(vm->stop_detail, "start middle end");
        /* The main loop was woken. */
        ck_assert_int_eq(read(vm->exit_fd, &n, sizeof(n)), (ssize_t)sizeof(n));
        ck_assert_uint_eq(n, 1);
        vm_fake_free(vm);
}
END_TEST

START_TEST(test_first_wins) {
        struct vm *vm = vm_fake();

        vm_set_stop_reason(vm, VM_STOP_VCPU_ENDED, "vCPU %u halted", 3u);
        vm_set_stop_reason(vm, VM_STOP_PLUGIN_ERROR, "a later reason %d", 7);
        ck_assert_int_eq(atomic_load(&vm->stop_reason), VM_STOP_VCPU_ENDED);
        ck_assert_str_eq(vm->stop_detail, "vCPU 3 halted");
        vm_fake_free(vm);
}
END_TEST

/* Racing setters, and a reader that reads the detail as soon as it sees
 * a reason: the detail it reads is always the winner's, whole. */
#define RACERS 4
#define DETAIL_LEN 100

static atomic_int go;

static void *racer(void *arg) {
        struct vm *vm = arg;
        char fill[DETAIL_LEN + 1];
        static atomic_int next;
        int me = atomic_fetch_add(&next, 1) % RACERS;

        memset(fill, 'a' + me, DETAIL_LEN);
        fill[DETAIL_LEN] = 0;
        while (!atomic_load(&go))
                ;
        vm_set_stop_reason(vm, (enum vm_stop_reason)(VM_STOP_VCPU_ENDED + me % 3), "%s", fill);
        return NULL;
}

START_TEST(test_racing_setters) {
        for (int round = 0; round < 300; round++) {
                struct vm *vm = vm_fake();
                pthread_t t[RACERS];
                char seen[sizeof(vm->stop_detail)];

                atomic_store(&go, 0);
                for (int i = 0; i < RACERS; i++)
                        ck_assert_int_eq(pthread_create(&t[i], NULL, racer, vm), 0);
                atomic_store(&go, 1);
                while (atomic_load(&vm->stop_reason) == VM_STOP_NONE)
                        ;
                memcpy(seen, vm->stop_detail, sizeof(seen));
                for (int i = 0; i < RACERS; i++)
                        pthread_join(t[i], NULL);
                ck_assert_uint_eq(strnlen(seen, sizeof(seen)), DETAIL_LEN);
                for (int k = 1; k < DETAIL_LEN; k++)
                        ck_assert_int_eq(seen[k], seen[0]);
                ck_assert_str_eq(seen, vm->stop_detail);
                vm_fake_free(vm);
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("stop_reason");
        TCase *tc = tcase_create("stop_reason");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_detail_before_reason);
        tcase_add_test(tc, test_first_wins);
        tcase_add_test(tc, test_racing_setters);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
