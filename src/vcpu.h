/* vCPU threads: KVM_RUN, forwarding reserved exits to the plugin over the
 * vCPU's channel (proto/channel.h: its pipe pair, or after Init its lane),
 * serving the plugin's vCPU requests.
 *
 * A vCPU knows its VM only through vm.h's functions and what its link
 * lends it; the VM reaches a vCPU only through the functions here. */
#pragma once

#include <linux/kvm.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "kvm.h"

struct vm;

/* Exit counters, bumped by the vCPU thread alone with relaxed atomics;
 * readers take snapshots.  One cache line per vCPU. */
enum vcpu_stat {
        VCPU_STAT_IO_IN,
        VCPU_STAT_IO_OUT,
        VCPU_STAT_MMIO_READ,
        VCPU_STAT_MMIO_WRITE,
        VCPU_STAT_HYPERV,
        VCPU_STAT_USER,
        VCPU_STAT_OTHER,
        _VCPU_STAT_MAX,
};

struct vcpu_stats {
        _Alignas(64) _Atomic uint64_t count[_VCPU_STAT_MAX];
};

/* A bump allocator for protobuf-c, reset after every message, so that the
 * exit path allocates nothing. */
struct vcpu_arena {
        uint8_t *base;
        size_t size, used;
};

/* What a vCPU borrows from its VM, fixed at vcpu_new; all of it outlives
 * the vCPU. */
struct vcpu_link {
        struct vm *vm;                  /* for vm.h's calls only */
        const struct kvm_vm *kvm;
        const atomic_bool *dying;       /* the VM is stopping */
        const atomic_bool *held;        /* vm_hold_vcpus: wait in vm_hold_wait */
        int exit_fd;                    /* written when the thread ends */
        uint32_t poll_ns;               /* the poller's ceiling */
        unsigned reply_timeout_ms;      /* config vcpu_reply_timeout_ms: 0, no wait marks */
        struct lane_slot *lane_slot;    /* this vCPU's lane, or NULL */
};

struct vcpu {
        struct vcpu_link link;
        unsigned id;
        int fd;                 /* KVM vCPU fd, -1 before Start */
        struct kvm_run *run;

        /* The channel keeps all four pipe ends open for the VM's life, so
         * that GetVcpus can hand the plugin's out again. */
        struct channel chan;

        pthread_t thread;
        bool thread_started;
        atomic_bool thread_done;

        atomic_bool pause_pending;
        _Atomic uint64_t pause_user;

        struct vcpu_arena arena;
        ProtobufCAllocator allocator;

        struct vcpu_stats stats;
        /* The reply watchdog (config vcpu_reply_timeout_ms; off: never
         * written): while the thread waits for the plugin's answer to an
         * access, when it began (CLOCK_MONOTONIC usec; 0: not waiting) and
         * on what.  The thread writes them; vcpu_waiting reads them. */
        _Atomic uint64_t wait_since_usec;
        _Atomic uint64_t wait_addr;
        _Atomic uint32_t wait_space;    /* AddressSpace, | VCPU_WAIT_WRITE */
};

#define VCPU_WAIT_WRITE 0x100u

/* Allocates the vCPU's channel and buffers (no KVM vCPU yet). */
int vcpu_new(const struct vcpu_link *link, unsigned id, struct vcpu **ret);
void vcpu_free(struct vcpu *v);

/* The plugin's ends of the vCPU's pipes, for GetVcpus; still ours. */
void vcpu_peer_fds(const struct vcpu *v, int *ret_req_wr, int *ret_resp_rd);

/* Creates the KVM vCPU and starts its thread. */
int vcpu_start(struct vcpu *v);

/* Creates the KVM vCPU without a thread (the fuzzer drives it). */
int vcpu_create_kvm(struct vcpu *v);

/* Serves the plugin's requests on the channel until Resume (0) or Shutdown
 * (-EPIPE), as the thread does; `init_pending` as before the first Wait.
 * Used by the vCPU thread and by the request fuzzer. */
int vcpu_serve(struct vcpu *v, bool init_pending);

/* Makes the thread leave KVM_RUN or a wait on the channel soon
 * (immediate_exit, the lane's bells, SIGRTMIN). */
void vcpu_kick(struct vcpu *v);

/* For the VM's stop, after it set the dying flag: injects Shutdown into the
 * channel and kicks the thread, if it runs.  From any thread. */
void vcpu_signal_stop(struct vcpu *v);

/* Joins the thread (after vcpu_signal_stop), kicking it and draining its
 * response pipe until it ends.  No-op without a thread. */
void vcpu_join(struct vcpu *v);

/* Stores `user` and kicks the vCPU: it answers its next Wait with
 * User{user}. */
void vcpu_pause(struct vcpu *v, uint64_t user);

/* Installs the process-wide SIGRTMIN handler the kicks use.  Once. */
int vcpu_setup_signals(void);

/* The state sets of VcpuRequest.GetState/SetState: size and ioctls. */
struct vcpu_state_desc {
        size_t size;
        unsigned long get, set;
};
const struct vcpu_state_desc *vcpu_state_desc(unsigned set);

/* For the reply watchdog, from any thread: true if the vCPU waits for the
 * plugin's answer to an access, then since when (CLOCK_MONOTONIC usec),
 * its address space (0 I/O port, 1 MMIO), address and direction.  A
 * consistent snapshot: a wait that ended while being read reads as none. */
bool vcpu_waiting(const struct vcpu *v, uint64_t *ret_since_usec, uint32_t *ret_space, uint64_t *ret_addr,
                  bool *ret_write);

uint64_t vcpu_stat_get(const struct vcpu *v, enum vcpu_stat s);
