/* Framing of the crosvm plugin protocol, shared by vmlaunch and the SDK.
 *
 * Three framings exist on the wire (PROTOCOL.md §1):
 *  - main socket (SOCK_SEQPACKET): one protobuf message per datagram, no
 *    prefix, fds in one SCM_RIGHTS message;
 *  - vCPU pipe, host -> plugin: varint32 length, then a VcpuResponse; several
 *    may sit in the pipe together;
 *  - vCPU pipe, plugin -> host: a bare VcpuRequest, one write() each.
 *
 * Nothing here allocates: callers own every buffer.  Every fd received is
 * CLOEXEC. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest message either side accepts on a pipe, and the pipe size asked
 * for (crosvm's 0x40000). */
#define WIRE_PIPE_MAX 0x40000u
/* The host reads main-socket requests into a buffer of this size. */
#define WIRE_MAIN_REQUEST_MAX 4096u
/* The SDK's buffer for main-socket responses. */
#define WIRE_MAIN_RESPONSE_MAX 0x40000u
/* Most fds one message may carry: the kernel's SCM_MAX_FD.  crosvm's library
 * stopped at 32 (16 vCPUs, PROTOCOL.md §8); GetVcpus sends 2 per vCPU, so
 * this allows 126 vCPUs per plugin.  A peer that accepts fewer still gets a
 * well-formed message, only with its fds cut. */
#define WIRE_MAX_FDS 253u
#define WIRE_VARINT32_MAX 5u

/* Sends one datagram of `len` bytes with `n_fds` fds attached.  Retries
 * EINTR.  Returns 0 or -errno (-EMSGSIZE if the kernel cut it short). */
int wire_send(int sock, const void *buf, size_t len, const int *fds, size_t n_fds);

/* Receives one datagram into buf (cap bytes) and up to `max_fds` fds, which
 * arrive CLOEXEC.  Returns the length (0 means the peer hung up; no fds are
 * kept then) or -errno.  A datagram longer than `cap` or with more fds than
 * `max_fds` gives -EMSGSIZE and every fd that did arrive is closed: a
 * message cut short is a malformed message, never half-processed.
 * *ret_n_fds is written on success only. */
ssize_t wire_recv(int sock, void *buf, size_t cap, int *fds, size_t max_fds, size_t *ret_n_fds);

/* Writes all of buf to fd, retrying EINTR and short writes.  0 or -errno. */
int wire_write_all(int fd, const void *buf, size_t len);

/* Encodes v as a protobuf varint; returns the bytes used (1..5). */
size_t wire_varint32_encode(uint32_t v, uint8_t out[WIRE_VARINT32_MAX]);

/* Decodes a varint32 at the start of buf.  Returns the bytes used, 0 if buf
 * holds only a prefix of one (need more), or -EBADMSG if it is longer than 5
 * bytes or does not fit 32 bits. */
int wire_varint32_decode(const uint8_t *buf, size_t len, uint32_t *ret_v);

/* Reassembles varint-length-prefixed messages from a pipe.  Unlike crosvm's
 * library, a message split over two reads is put back together. */
struct wire_reader {
        uint8_t *buf;   /* caller's buffer, `cap` bytes */
        size_t cap;
        size_t start;   /* first unconsumed byte */
        size_t end;     /* one past the last byte read */
};

struct wire_poller;

void wire_reader_init(struct wire_reader *r, uint8_t *buf, size_t cap);

/* Returns the next message in *ret_msg and *ret_len, valid until the next
 * call.
 * Reads from fd only when no complete message is buffered: through
 * `poller` if not NULL, else with a plain (blocking) read().
 * Returns 0, -EPIPE at end of file, -EMSGSIZE for a length beyond the
 * buffer, -EBADMSG for a bad prefix, -EINTR when a signal interrupted the
 * read (nothing is lost; call again), or another -errno. */
int wire_reader_next(struct wire_reader *r, int fd, struct wire_poller *poller, const uint8_t **ret_msg,
                     size_t *ret_len);

/* Polling before blocking on a vCPU pipe, for both ends.  A blocked
 * reader woken from another core costs ~22 us here (nested KVM); a reader
 * that looks again for a few microseconds catches a quick reply without
 * sleeping.  The window adapts the way KVM's halt polling does: it grows
 * while replies arrive within `max_ns` of the wait starting, and halves
 * down to off while they take longer (a slow peer, or a peer sharing this
 * CPU, which a spinning reader would only delay).  A window of 0 never
 * polls.
 *
 * Each look is a read() of the fd, made non-blocking for the purpose:
 * that is the one syscall a reply costs to find and fetch, where a
 * zero-timeout poll() and then a read() cost two on every reply. */
struct wire_poller {
        uint32_t ns;            /* the current window */
        uint32_t max_ns;        /* its ceiling; 0: polling off */
};

/* Windows start here when growing from off. */
#define WIRE_POLL_START_NS 2000u
/* For this long a wait spins; after that it yields the CPU between looks. */
#define WIRE_POLL_SPIN_NS 3000u

void wire_poller_init(struct wire_poller *p, uint32_t max_ns);

/* Makes fd, which this poller is to read, non-blocking, unless polling is
 * off (then reads block, as in crosvm).  The flag belongs to the open file
 * description: only for an end nobody else reads blocking.  0 or -errno. */
int wire_poller_attach(const struct wire_poller *p, int fd);

/* One read() of fd as wire_poller_attach left it: looks for data for at
 * most the current window, then blocks in poll() until some comes, and
 * adapts the window to how long that took.  Returns the byte count (0 at
 * end of file) or -errno: -EINTR when a signal interrupted the blocking
 * part (nothing read; call again). */
ssize_t wire_poller_read(struct wire_poller *p, int fd, void *buf, size_t cap);

/* The window's adaptation, on its own for tests: `polled` if the data came
 * inside the window, else how long the reader waited for it. */
void wire_poller_adapt(struct wire_poller *p, bool polled, uint64_t waited_ns);

/* The ceiling the launcher hands the plugin in VMLAUNCH_POLL_US, in ns
 * (0 if unset or malformed). */
uint32_t wire_poll_ns_from_env(void);
