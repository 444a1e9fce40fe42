/* vCPU handles (vcpu.c): the per-vCPU channel, events and resumes, the
 * register cache.  Needs nothing of the other parts of the library. */
#pragma once

#include "sdk.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"

/* KVM hands port I/O data over in one page of the run area, and MMIO
 * accesses are at most 8 bytes; a larger Io event is malformed. */
#define IO_DATA_MAX 4096u

/* Enough for every Wait the host sends during normal running (an Io event
 * with its data and all three eager register sets) to unpack with no call
 * to malloc.  Bigger replies (long CPUID lists) spill to the heap. */
#define VCPU_ARENA_SIZE 16384u

/* A bump allocator for unpacking vCPU replies.  Reset before each unpack;
 * what does not fit comes from malloc and is freed normally. */
struct arena {
        ProtobufCAllocator alloc;       /* allocator_data points back here */
        size_t used;
        bool spilled;                   /* something came from malloc since the reset */
        _Alignas(max_align_t) uint8_t buf[VCPU_ARENA_SIZE];
};

/* A register set that an Io event may carry eagerly (valid) and that a set
 * call defers into the next Resume (pending).  Never both at once. */
struct reg_cache {
        bool valid;
        bool pending;
        uint32_t size;                  /* sizeof the kvm struct */
        _Alignas(8) uint8_t data[512];  /* kvm_sregs, the largest, is 312 */
};

enum resume_kind {
        RESUME_NONE,            /* no event awaits a resume */
        RESUME_PLAIN,           /* Resume with no data */
        RESUME_IO_READ,         /* Resume with the read data */
        RESUME_HCALL,           /* Resume with the 8-byte hypercall result */
};

struct crosvm_vcpu {
        struct channel chan;    /* its pipes, or after Init its lane (channel.h) */
        bool wait_sent;         /* the first Wait went out; later events are pushed */
        enum resume_kind resume;
        bool init_event;        /* the event awaiting resume is Init */
        uint32_t io_len;
        uint64_t hcall_result;
        _Alignas(8) uint8_t io_data[IO_DATA_MAX];
        struct reg_cache regs, sregs, dregs;
        struct arena arena;
};

/* A vCPU over the two fds GetVcpus gave (owned from now on, even on
 * failure).  0 or -ENOMEM. */
int sdk_vcpu_new(int req_fd, int resp_fd, struct crosvm_vcpu **ret);
void sdk_vcpu_free(struct crosvm_vcpu *v);
/* Offers the vCPU its lane slot; it switches at its Init resume. */
void sdk_vcpu_attach_lane(struct crosvm_vcpu *v, struct lane_slot *slot);

