/* Connections (conn.c): what one crosvm_connect's connections share, the
 * id allocator and the request/response transaction on the main socket. */
#pragma once

#include "sdk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

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

