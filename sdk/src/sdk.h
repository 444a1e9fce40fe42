/* Internals of libcrosvm_plugin shared by its translation units.
 *
 * The library is split by concern: conn.c holds connections, the id
 * allocator and the main-socket transaction; vm.c the VM-wide calls and
 * the io/memory/irq objects; vcpu.c the per-vCPU pipe, events and register
 * cache.  Nothing declared here leaves the shared object (the version
 * script exports crosvm_* only, and everything else is hidden). */
#pragma once

#include "pb.h"

#include "crosvm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lane.h"
#include "wire.h"

#define EXPORT __attribute__((visibility("default")))

/* KVM hands port I/O data over in one page of the run area, and MMIO
 * accesses are at most 8 bytes; a larger Io event is malformed. */
#define IO_DATA_MAX 4096u

/* Enough for every Wait the host sends during normal running (an Io event
 * with its data and all three eager register sets) to unpack with no call
 * to malloc.  Bigger replies (long CPUID lists) spill to the heap. */
#define VCPU_ARENA_SIZE 16384u

/* What every connection from one crosvm_connect shares.  Freed with the
 * last connection that refers to it. */
struct shared {
        atomic_uint refs;
        pthread_mutex_t id_lock;        /* guards next_id */
        uint32_t next_id;
        struct crosvm_vcpu **vcpus;     /* fixed after connect: read without a lock */
        uint32_t n_vcpus;
        void *lanes;                    /* VMLAUNCH_LANE_FD mapped (lane.h), or NULL */
        size_t lanes_bytes;
        int lanes_fd;                   /* that fd, the library's once mapped, or -1 */
};

struct crosvm {
        int sock;                       /* the main SEQPACKET socket, owned */
        struct shared *shared;
        uint8_t *buf;                   /* WIRE_MAIN_RESPONSE_MAX bytes for replies */
};

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
        int req_fd;             /* plugin -> host: bare VcpuRequest per write() */
        int resp_fd;            /* host -> plugin: varint32 length + VcpuResponse */
        bool wait_sent;         /* the first Wait went out; later events are pushed */
        enum resume_kind resume;
        bool init_event;        /* the event awaiting resume is Init */
        struct lane_slot *lane_slot;    /* offered by the launcher, or NULL */
        bool lane_on;           /* switched (lane.h): every message goes by the lane */
        struct lane lane;
        struct wire_reader reader;
        struct wire_poller poller;      /* VMLAUNCH_POLL_US from the launcher; off elsewhere */
        uint8_t *rx;            /* WIRE_PIPE_MAX, the reader's buffer */
        uint8_t *tx;            /* WIRE_VARINT32_MAX + WIRE_PIPE_MAX: room for a prefix, packed requests */
        uint32_t io_len;
        uint64_t hcall_result;
        _Alignas(8) uint8_t io_data[IO_DATA_MAX];
        struct reg_cache regs, sregs, dregs;
        struct arena arena;
};

/* ids (conn.c): one counter per crosvm_connect, safe across threads. */
uint32_t sdk_id_alloc(struct shared *s);
void sdk_id_free(struct shared *s, uint32_t id);

void sdk_close_fds(const int *fds, size_t n);

/* Sends req on the main socket (with fd_out attached when >= 0) and
 * receives the reply.  Returns 0 or a negative errno: the host's errno
 * negated, -EPROTO for an undecodable reply or one of another case, -EPIPE
 * when the host hung up.  On success *ret_resp (if asked for) must be freed
 * with main_response__free_unpacked, and the fds go to `fds` (room for
 * WIRE_MAX_FDS) with their count in *ret_n_fds; a NULL `fds` closes them.
 * On failure nothing is written and every received fd is closed. */
int sdk_transact(struct crosvm *c, const MainRequest *req, int fd_out, MainResponse **ret_resp, int *fds,
                 size_t *ret_n_fds);

/* Builds the vCPU table of a fresh connection (vcpu.c). */
int sdk_vcpu_new(int req_fd, int resp_fd, struct crosvm_vcpu **ret);
void sdk_vcpu_free(struct crosvm_vcpu *v);
/* Offers the vCPU its lane slot; it switches at its Init resume. */
void sdk_vcpu_attach_lane(struct crosvm_vcpu *v, struct lane_slot *slot);

/* CPUID entries from the wire into the caller's array, shared by the VM
 * and vCPU calls: *out_count is the number the host sent; -E2BIG when it
 * exceeds `count` (then nothing is copied). */
int sdk_copy_cpuid(CpuidEntry *const *entries, size_t n, uint32_t count, struct kvm_cpuid_entry2 *out,
                   uint32_t *out_count);
