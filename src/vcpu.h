/* vCPU threads: KVM_RUN, forwarding reserved exits to the plugin over the
 * vCPU's pipe pair, serving the plugin's vCPU requests.
 *
 * Pipes (PROTOCOL.md §1): the plugin writes bare VcpuRequests into
 * `req` (we read req_rd), we write varint-prefixed VcpuResponses into
 * `resp` (the plugin reads resp_rd).  We keep all four ends open for the
 * VM's life so that GetVcpus can hand them out again.  A plugin on our own
 * SDK moves to the vCPU's lane after Init (lane.h); then the pipes go
 * quiet. */
#pragma once

#include <linux/kvm.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lane.h"
#include "wire.h"

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

struct vcpu {
        struct vm *vm;
        unsigned id;
        int fd;                 /* KVM vCPU fd, -1 before Start */
        struct kvm_run *run;

        int req_rd, req_wr;     /* plugin -> host */
        int resp_rd, resp_wr;   /* host -> plugin */

        pthread_t thread;
        bool thread_started;
        atomic_bool thread_done;

        atomic_bool pause_pending;
        _Atomic uint64_t pause_user;

        uint8_t *rx;            /* WIRE_PIPE_MAX bytes */
        uint8_t *tx;            /* WIRE_PIPE_MAX bytes */
        struct vcpu_arena arena;
        ProtobufCAllocator allocator;

        struct vcpu_stats stats;
        struct wire_poller poller;      /* for the plugin's next request */

        /* The lane (lane.h): the slot if offered, and whether this vCPU's
         * messages moved to it (set once, by the vCPU thread, after the
         * Resume from Init). */
        struct lane_slot *lane_slot;
        struct lane lane;
        atomic_bool lane_on;
};

/* Allocates the vCPU's pipes and buffers (no KVM vCPU yet). */
int vcpu_new(struct vm *vm, unsigned id, struct vcpu **ret);
void vcpu_free(struct vcpu *v);

/* Creates the KVM vCPU and starts its thread. */
int vcpu_start(struct vcpu *v);

/* Creates the KVM vCPU without a thread (the fuzzer drives it). */
int vcpu_create_kvm(struct vcpu *v);

/* Serves the plugin's requests on req_rd until Resume (0) or Shutdown
 * (-EPIPE), as the thread does; `init_pending` as before the first Wait.
 * Used by the vCPU thread and by the request fuzzer. */
int vcpu_serve(struct vcpu *v, bool init_pending);

/* Makes the thread leave KVM_RUN soon (immediate_exit + SIGRTMIN). */
void vcpu_kick(struct vcpu *v);

/* Installs the process-wide SIGRTMIN handler the kicks use.  Once. */
int vcpu_setup_signals(void);

/* The state sets of VcpuRequest.GetState/SetState: size and ioctls. */
struct vcpu_state_desc {
        size_t size;
        unsigned long get, set;
};
const struct vcpu_state_desc *vcpu_state_desc(unsigned set);

uint64_t vcpu_stat_get(const struct vcpu *v, enum vcpu_stat s);
