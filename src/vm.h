/* The VM as the plugin sees it: the KVM VM, its vCPUs, the objects the
 * plugin created (memory, ioevents, irq events), the reserved ranges and
 * the call hint.
 *
 * Threads: everything here is owned by the main thread, except what the
 * vCPU threads read on an exit (ranges and hint, under `lock`), the flags
 * and counters marked atomic, and each vCPU's own struct. */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "kvm.h"
#include "ranges.h"
#include "wire.h"

struct vcpu;

enum vm_object_kind {
        VM_OBJECT_MEMORY,
        VM_OBJECT_IO_EVENT,
        VM_OBJECT_IRQ_EVENT,
};

struct vm_object {
        uint32_t id;                    /* chosen by the plugin */
        enum vm_object_kind kind;
        union {
                struct {
                        uint32_t slot;
                        uint64_t start, length;
                        void *host;     /* our mapping, munmapped on destroy */
                        bool dirty_log;
                } memory;
                struct {
                        int fd;
                        uint32_t space;
                        uint64_t address;
                        uint32_t length;
                        uint64_t datamatch;
                } io_event;
                struct {
                        int fd, resample_fd;
                        uint32_t gsi;
                } irq_event;
        };
};

#define VM_MAX_HINT_DETAILS 32

/* The largest dirty bitmap a main response carries: the wire's limit
 * less room for the response's own fields (errno, case, lengths). */
#define VM_DIRTY_LOG_MAX (WIRE_MAIN_RESPONSE_MAX - 64u)

/* The fds vmlaunch may hold at once for one VM under config->limits:
 * connections (one socket each), events (an irq event holds two), the
 * vCPUs' pipes and KVM fds, and room for everything else (epoll, timers,
 * the plugin's pipes, a tap, a request's fd in flight). */
uint64_t vm_fds_needed(const struct vm_config *config);

struct vm_hint_detail {
        bool match[4];          /* rax, rbx, rcx, rdx */
        uint64_t value[4];
        bool send_sregs, send_debugregs;
};

struct vm_hint {
        bool set;
        uint32_t space;
        uint64_t address;
        bool on_write;
        unsigned n_details;
        struct vm_hint_detail details[VM_MAX_HINT_DETAILS];
};

/* Why the VM is stopping; the first reason recorded wins. */
enum vm_stop_reason {
        VM_STOP_NONE,
        VM_STOP_VCPU_ENDED,       /* a vCPU thread ended (HLT, shutdown...) */
        VM_STOP_VCPU_ERROR,       /* KVM internal error / failed entry */
        VM_STOP_PLUGIN_ERROR,     /* the plugin broke its side of a vCPU's lane */
};

struct vm {
        const struct vm_config *config;
        struct kvm_vm kvm;
        unsigned n_vcpus;
        struct vcpu **vcpus;

        /* Guards ranges and hint: written by the main thread, read by the
         * vCPU threads on every exit. */
        pthread_rwlock_t lock;
        struct range_set ranges[2];     /* indexed by AddressSpace */
        struct vm_hint hint;

        struct vm_object *objects;
        size_t n_objects, cap_objects;
        /* What the objects hold, against config->limits. */
        unsigned n_memory;              /* memory regions */
        uint64_t memory_bytes;          /* their total length */
        unsigned n_events;              /* ioevents + irq events */
        uint8_t *slot_used;             /* one byte per KVM memory slot */

        int kill_fd;    /* the shutdown eventfd; dups go to the plugin */
        int exit_fd;    /* written by a vCPU thread when it ends */

        /* The lanes (lane.h), when config->lane: a sealed memfd of one
         * slot per vCPU, inherited by the plugin; -1 and NULL otherwise. */
        int lane_fd;
        void *lanes;    /* lane_slot_at() */

        bool started;
        atomic_bool dying;

        /* The Init barrier: no vCPU runs until every one is resumed from
         * Init.  Unlike pthread_barrier it gives way when the VM dies. */
        pthread_mutex_t barrier_lock;
        pthread_cond_t barrier_cond;
        unsigned barrier_count;

        /* vm_hold_vcpus: the vCPUs wait outside KVM_RUN on barrier_cond. */
        atomic_bool held;

        /* Why the VM stops.  stop_detail is written once, by the first
         * setter, before stop_reason is published (a release store): read
         * it only after an atomic load of stop_reason found a reason. */
        atomic_int stop_reason;         /* enum vm_stop_reason */
        char stop_detail[128];
        pthread_mutex_t stop_lock;      /* orders the setters */
};

/* Builds the VM: opens the device, creates the VM, the vCPUs' channels and
 * the eventfds.  vCPU threads start later, with vm_start().  On failure
 * errbuf (errlen bytes; NULL is fine) says which step failed, and -E2BIG
 * means config->vcpus is past what the KVM device allows (a config error,
 * with the numbers in errbuf). */
int vm_new(const struct vm_config *config, struct vm **ret_vm, char *errbuf, size_t errlen);

/* Tears everything down in reverse order.  The vCPU threads must have been
 * stopped with vm_stop_vcpus() first.  NULL is fine. */
void vm_free(struct vm *vm);
/* The same, but the kernel's release of the VM (its memory slots, ioevents
 * and irq events: a grace period per irq event) finishes in a detached
 * short-lived process, named VM_CLOSER_COMM, instead of delaying the
 * caller: it ends by itself once the kernel has released the VM.  For the
 * launcher, whose exit must not wait on it; the caller must hold no other
 * reference to the VM's fd. */
void vm_free_detached(struct vm *vm);
#define VM_CLOSER_COMM "vmlaunch-close"

/* The in-kernel irqchip and PIT, created on first use: by vm_start, or
 * by the first request that needs them (an irq line, irq routing, an irq
 * event, irqchip or PIT state).  To the plugin they always exist; made
 * late, they leave the plugin's memory slots fast (kvm.h).  0 or -errno
 * (logged). */
int vm_irqchip(struct vm *vm);

/* Start: the irqchip if not yet made, then the KVM vCPUs and their
 * threads.  -EINVAL if already started. */
int vm_start(struct vm *vm);

/* Begins the shutdown: sets `dying`, signals the shutdown eventfd, and
 * stops every vCPU thread's wait (vcpu_signal_stop).  Idempotent. */
void vm_signal_kill(struct vm *vm);

/* Stops and joins every vCPU thread (after vm_signal_kill). */
void vm_stop_vcpus(struct vm *vm);

/* Records why the VM stops (first caller wins) and wakes the main loop.
 * From any thread. */
void vm_set_stop_reason(struct vm *vm, enum vm_stop_reason reason, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Pause: for each set bit below n_vcpus, stores `user` and kicks the vCPU;
 * it answers its next Wait with User{user}.  Before Start the value waits
 * for the vCPU to run (crosvm dropped it). */
void vm_pause_vcpus(struct vm *vm, uint64_t mask, uint64_t user);

/* Holds every vCPU outside KVM_RUN, or lets them run again: the control
 * socket's pause, which the guest and the plugin do not see (unlike
 * vm_pause_vcpus).  A vCPU waiting for the plugin's answer is held once it
 * has it.  The shutdown (vm_signal_kill) ends every hold.  Main thread. */
void vm_hold_vcpus(struct vm *vm, bool hold);
/* For a vCPU thread before KVM_RUN: waits while the VM is held and not
 * dying. */
void vm_hold_wait(struct vm *vm);

/* Objects.  Each kind has a cap from config->limits; over it the request
 * fails and nothing is allocated: -ENOSPC past limits.memory_regions,
 * -E2BIG past limits.guest_memory_mib (checked before KVM maps anything,
 * so a huge sparse region costs no kernel memory), -EMFILE past
 * limits.irq_events (ioevents and irq events together: each holds our
 * fds). */
struct vm_object *vm_object_find(struct vm *vm, uint32_t id);
int vm_create_memory(struct vm *vm, uint32_t id, int fd, uint64_t offset, uint64_t start,
                     uint64_t length, bool read_only, bool dirty_log);
int vm_create_io_event(struct vm *vm, uint32_t id, uint32_t space, uint64_t address,
                       uint32_t length, uint64_t datamatch, int *ret_fd);
int vm_create_irq_event(struct vm *vm, uint32_t id, uint32_t gsi, int *ret_fd, int *ret_resample_fd);
int vm_destroy_object(struct vm *vm, uint32_t id);
/* The dirty bitmap of a memory object: ceil(pages/8) bytes into buf.
 * -E2BIG, before allocating, if the bitmap would not fit in one main
 * response (VM_DIRTY_LOG_MAX). */
int vm_dirty_log(struct vm *vm, uint32_t id, uint8_t **ret_bitmap, size_t *ret_len);

/* Reserved ranges (length 0 unreserves the range starting at start).
 * -ENOSPC past limits.ranges (both spaces together). */
int vm_reserve_range(struct vm *vm, uint32_t space, uint64_t start, uint64_t length, bool async_write);
int vm_set_hint(struct vm *vm, const struct vm_hint *hint);

/* For the vCPU threads.  vm_lookup_access: whether the access at addr in
 * `space` (an AddressSpace) is reserved; *ret_async whether the range
 * takes async writes; *ret_hinted, with a copy of the hint in *ret_hint,
 * whether the call hint matches it.  vm_wait_vcpus_resumed: the Init
 * barrier; returns once every vCPU was resumed from Init, or the VM is
 * dying. */
bool vm_lookup_access(struct vm *vm, uint32_t space, uint64_t addr, bool is_write, bool *ret_async,
                      struct vm_hint *ret_hint, bool *ret_hinted);
void vm_wait_vcpus_resumed(struct vm *vm);

/* The plugin's ends of vCPU i's pipes (i < n_vcpus), for GetVcpus; they
 * stay the VM's. */
void vm_vcpu_peer_fds(const struct vm *vm, unsigned i, int *ret_req_wr, int *ret_resp_rd);

/* VM-wide KVM calls, 0 or -errno.  Those on the irqchip, the PIT, irq
 * lines and GSI routing make the irqchip first (vm_irqchip). */
bool vm_check_extension(struct vm *vm, uint32_t extension);
/* c->nent in: room in c->entries; out: entries written. */
int vm_get_cpuid(struct vm *vm, bool emulated, struct kvm_cpuid2 *c);
/* l->nmsrs in: room in l->indices; out: indices written. */
int vm_get_msr_index_list(struct vm *vm, struct kvm_msr_list *l);
int vm_set_gsi_routing(struct vm *vm, const struct kvm_irq_routing *t);
int vm_set_irq_line(struct vm *vm, uint32_t irq, bool active);
/* chip->chip_id selects PIC0, PIC1 or the IOAPIC. */
int vm_get_irqchip(struct vm *vm, struct kvm_irqchip *chip);
int vm_set_irqchip(struct vm *vm, const struct kvm_irqchip *chip);
int vm_get_pit(struct vm *vm, struct kvm_pit_state2 *pit);
int vm_set_pit(struct vm *vm, const struct kvm_pit_state2 *pit);
int vm_get_clock(struct vm *vm, struct kvm_clock_data *clock);
int vm_set_clock(struct vm *vm, const struct kvm_clock_data *clock);
int vm_set_identity_map_addr(struct vm *vm, uint64_t addr);
