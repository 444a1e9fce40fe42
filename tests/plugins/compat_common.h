/* The frame of the compat_* plugins: the shape crosvm's own test plugins
 * had, so that the regression guard (tests/test_compat.c) makes the
 * calls those plugins made, and no others.  One vCPU on its own thread;
 * the main thread blocks reading the shutdown eventfd; the vCPU thread
 * ends the run by writing that eventfd, as crosvm's plugins did.  Plain
 * crosvm.h and libc: no poll, no sleep, no tgkill (a crosvm-era policy
 * allows none of them). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crosvm.h"

struct compat;

/* Called for every I/O event.  Return 0 to resume, 1 when the test is
 * over (the run then ends; the event is not resumed). */
typedef int (*compat_io_fn)(struct compat *c, struct crosvm_vcpu *vcpu, struct crosvm_vcpu_event *ev);

/* Called at the vCPU's Init, after the real-mode setup: may change more
 * state.  0 or -errno. */
typedef int (*compat_init_fn)(struct compat *c, struct crosvm_vcpu *vcpu, struct kvm_regs *regs,
                              struct kvm_sregs *sregs);

struct compat {
        const char *name;       /* message prefix */
        struct crosvm *crosvm;
        struct crosvm_memory *memory;
        uint8_t *ram;           /* guest RAM at guest address 0 */
        size_t ram_size;
        int shutdown_fd;
        compat_init_fn init;
        compat_io_fn io;
        void *pause_user;       /* PAUSED events carrying this are counted */
        unsigned paused;
        bool failed;            /* set by compat_fail() */
        void *userdata;
};

/* Connects, gives the guest `ram_size` bytes at 0 (dirty-logged when
 * asked) and copies `code` to 0x1000, where the vCPU starts in real mode
 * with every segment at 0.  Prints and returns -errno on failure. */
int compat_setup(struct compat *c, const char *name, size_t ram_size, bool dirty_log, const uint8_t *code,
                 size_t code_len);

/* Starts the VM and waits until the run ends.  0, or -errno. */
int compat_run(struct compat *c);

/* Prints "NAME: message" and marks the test failed. */
void compat_fail(struct compat *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME: ok" and 0 when nothing failed, else 1. */
int compat_result(struct compat *c);
