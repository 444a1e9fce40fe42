/* libcrosvm_plugin against a scripted host: every test plays the host's
 * side of the protocol in a thread, from the generated protobuf code, and
 * checks what the library puts on the wire and what it makes of replies.
 *
 * The host side follows PROTOCOL.md §1: one bare message per SEQPACKET
 * datagram on the main socket; on a vCPU's pipes a bare VcpuRequest per
 * write() towards the host and varint32-prefixed VcpuResponses back; and,
 * where the test offers lanes (lane.h), varint32-prefixed messages both
 * ways through a vCPU's lane once it has left Init. */
#include "pb.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crosvm.h"
#include "lane.h"
#include "wire.h"
#include "test_util.h"

#define N_VCPUS 2

struct host {
        int sock;                       /* host end of the main socket */
        int sock2;                      /* host end of a NewConnection socket */
        int vreq[N_VCPUS][2];           /* plugin -> host pipes */
        int vresp[N_VCPUS][2];          /* host -> plugin pipes */
        void (*script)(struct host *);
        pthread_t thread;
};

static struct host H;

/* ---- the host's half of the wire ---- */

/* One main-socket request; its fd (if any) goes to *ret_fd. */
static MainRequest *host_recv(int sock, int *ret_fd) {
        static uint8_t buf[WIRE_MAIN_REQUEST_MAX];
        int fds[WIRE_MAX_FDS];
        size_t n_fds = 0;
        ssize_t n = wire_recv(sock, buf, sizeof(buf), fds, WIRE_MAX_FDS, &n_fds);
        MainRequest *req;

        ck_assert_int_gt(n, 0);
        req = main_request__unpack(NULL, (size_t)n, buf);
        ck_assert_ptr_nonnull(req);
        if (ret_fd) {
                ck_assert_uint_eq(n_fds, 1);
                *ret_fd = fds[0];
        } else
                ck_assert_uint_eq(n_fds, 0);
        return req;
}

/* A request of case `want` with no fd. */
static MainRequest *host_expect(int sock, MainRequest__MessageCase want) {
        MainRequest *req = host_recv(sock, NULL);

        ck_assert_int_eq(req->message_case, want);
        return req;
}

static void host_reply(int sock, const MainResponse *resp, const int *fds, size_t n_fds) {
        uint8_t buf[WIRE_MAIN_RESPONSE_MAX / 16];
        size_t len = main_response__get_packed_size(resp);

        ck_assert_uint_le(len, sizeof(buf));
        main_response__pack(resp, buf);
        ck_assert_int_eq(wire_send(sock, buf, len, fds, n_fds), 0);
}

/* A reply of case `c` with an empty payload, or errno `e` (positive, as
 * on the wire). */
static void host_reply_empty(int sock, MainResponse__MessageCase c, int e) {
        MainResponse resp = MAIN_RESPONSE__INIT;
        MainResponse__Start empty = MAIN_RESPONSE__START__INIT;

        resp.message_case = c;
        resp.start = &empty;    /* every empty reply has the same shape */
        if (c == MAIN_RESPONSE__MESSAGE__NOT_SET)
                resp.start = NULL;
        pb_main_response_set_errno(&resp, e);
        host_reply(sock, &resp, NULL, 0);
}

static VcpuRequest *vhost_recv(int vcpu) {
        static uint8_t buf[WIRE_PIPE_MAX];
        ssize_t n = read(H.vreq[vcpu][0], buf, sizeof(buf));
        VcpuRequest *req;

        ck_assert_int_gt(n, 0);
        req = vcpu_request__unpack(NULL, (size_t)n, buf);
        ck_assert_ptr_nonnull(req);     /* one write() held one whole request */
        return req;
}

static VcpuRequest *vhost_expect(int vcpu, VcpuRequest__MessageCase want) {
        VcpuRequest *req = vhost_recv(vcpu);

        ck_assert_int_eq(req->message_case, want);
        return req;
}

/* Frames resp into buf; returns the length. */
static size_t vhost_frame(const VcpuResponse *resp, uint8_t *buf) {
        size_t k = wire_varint32_encode((uint32_t)vcpu_response__get_packed_size(resp), buf);

        return k + vcpu_response__pack(resp, buf + k);
}

/* Waits until the plugin has read everything in the pipe `fd` (either
 * end): FIONREAD counts the bytes still queued in it.  Bounded: a reader
 * that never reads fails the test. */
static void vhost_wait_drained(int fd) {
        for (int i = 0; i < 10000; i++) {
                int queued = -1;

                ck_assert_int_eq(ioctl(fd, FIONREAD, &queued), 0);
                if (queued == 0)
                        return;
                usleep(1000);
        }
        ck_abort_msg("the plugin never read the first part of a split response");
}

/* Sends resp; with `split`, in two writes, the cut in the middle of the
 * message.  The second part is written only once the plugin has taken the
 * first out of the pipe, so it holds half a message and must reassemble
 * it: a reader that decoded each read alone would fail here, whatever the
 * scheduling (a timed pause let a late reader find both halves at once). */
static void vhost_send(int vcpu, const VcpuResponse *resp, bool split) {
        static uint8_t buf[WIRE_PIPE_MAX];
        size_t len = vhost_frame(resp, buf);
        int fd = H.vresp[vcpu][1];

        if (split) {
                ck_assert_int_eq(wire_write_all(fd, buf, len / 2), 0);
                vhost_wait_drained(fd);
                ck_assert_int_eq(wire_write_all(fd, buf + len / 2, len - len / 2), 0);
        } else
                ck_assert_int_eq(wire_write_all(fd, buf, len), 0);
}

static void vhost_send_wait(int vcpu, VcpuResponse__Wait *w, bool split) {
        VcpuResponse resp = VCPU_RESPONSE__INIT;

        resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
        resp.wait = w;
        vhost_send(vcpu, &resp, split);
}

static void vhost_send_state(int vcpu, const void *state, size_t len) {
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__GetState gs = VCPU_RESPONSE__GET_STATE__INIT;

        gs.state.data = (uint8_t *)state;
        gs.state.len = len;
        resp.message_case = VCPU_RESPONSE__MESSAGE_GET_STATE;
        resp.get_state = &gs;
        vhost_send(vcpu, &resp, false);
}

/* Answers GetVcpus with both vCPUs' pipe ends, in the host's order. */
static void host_serve_get_vcpus(void) {
        MainResponse resp = MAIN_RESPONSE__INIT;
        MainResponse__GetVcpus gv = MAIN_RESPONSE__GET_VCPUS__INIT;
        int fds[2 * N_VCPUS];

        main_request__free_unpacked(host_expect(H.sock, MAIN_REQUEST__MESSAGE_GET_VCPUS), NULL);
        for (int i = 0; i < N_VCPUS; i++) {
                fds[2 * i] = H.vreq[i][1];
                fds[2 * i + 1] = H.vresp[i][0];
        }
        resp.message_case = MAIN_RESPONSE__MESSAGE_GET_VCPUS;
        resp.get_vcpus = &gv;
        host_reply(H.sock, &resp, fds, 2 * N_VCPUS);
}

static void *host_main(void *arg) {
        struct host *h = arg;

        h->script(h);
        return NULL;
}

/* The VM side as vmlaunch sets it up: the plugin's end of the socket is
 * inheritable and named by CROSVM_SOCKET; the pipes are CLOEXEC. */
static void host_start(void (*script)(struct host *)) {
        int sv[2];
        char num[16];

        memset(&H, 0, sizeof(H));
        H.sock2 = -1;
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
        ck_assert_int_eq(fcntl(sv[0], F_SETFD, FD_CLOEXEC), 0);
        H.sock = sv[0];
        for (int i = 0; i < N_VCPUS; i++) {
                ck_assert_int_eq(pipe2(H.vreq[i], O_CLOEXEC), 0);
                ck_assert_int_eq(pipe2(H.vresp[i], O_CLOEXEC), 0);
        }
        snprintf(num, sizeof(num), "%d", sv[1]);
        setenv("CROSVM_SOCKET", num, 1);
        H.script = script;
        ck_assert_int_eq(pthread_create(&H.thread, NULL, host_main, &H), 0);
}

static void host_join(void) {
        ck_assert_int_eq(pthread_join(H.thread, NULL), 0);
}

static int count_inheritable_fds(void) {
        int n = 0;

        for (int fd = 0; fd < 1024; fd++) {
                int f = fcntl(fd, F_GETFD);

                n += f >= 0 && !(f & FD_CLOEXEC);
        }
        return n;
}

static bool is_cloexec(int fd) {
        int f = fcntl(fd, F_GETFD);

        return f >= 0 && (f & FD_CLOEXEC);
}

static struct crosvm *connect_ok(void) {
        struct crosvm *c = NULL;

        ck_assert_int_eq(crosvm_connect(&c), 0);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* ---- connect ---- */

START_TEST(test_connect_env) {
        struct crosvm *c = NULL;

        unsetenv("CROSVM_SOCKET");
        ck_assert_int_eq(crosvm_connect(&c), -ENOTCONN);
        setenv("CROSVM_SOCKET", "seven", 1);
        ck_assert_int_eq(crosvm_connect(&c), -EINVAL);
        setenv("CROSVM_SOCKET", "-3", 1);
        ck_assert_int_eq(crosvm_connect(&c), -EINVAL);
        setenv("CROSVM_SOCKET", "12x", 1);
        ck_assert_int_eq(crosvm_connect(&c), -EINVAL);
        ck_assert_ptr_null(c);
}
END_TEST

static void script_connect(struct host *h) {
        (void)h;
        host_serve_get_vcpus();
}

START_TEST(test_connect_vcpus) {
        struct crosvm *c;
        struct crosvm_vcpu *v0 = NULL, *v1 = NULL, *vx = NULL;
        int before;

        host_start(script_connect);
        before = count_inheritable_fds();       /* counts the plugin's socket */
        c = connect_ok();
        host_join();
        /* The 4 pipe ends arrived CLOEXEC, and the socket became so. */
        ck_assert_int_eq(count_inheritable_fds(), before - 1);
        ck_assert_int_eq(crosvm_get_vcpu(c, 0, &v0), 0);
        ck_assert_int_eq(crosvm_get_vcpu(c, 1, &v1), 0);
        ck_assert_ptr_nonnull(v0);
        ck_assert_ptr_ne(v0, v1);
        ck_assert_int_eq(crosvm_get_vcpu(c, N_VCPUS, &vx), -ENOENT);
        ck_assert_ptr_null(vx);
        ck_assert_int_eq(crosvm_destroy_connection(&c), 0);
        ck_assert_ptr_null(c);
}
END_TEST

static void script_connect_odd(struct host *h) {
        MainResponse resp = MAIN_RESPONSE__INIT;
        MainResponse__GetVcpus gv = MAIN_RESPONSE__GET_VCPUS__INIT;

        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_VCPUS), NULL);
        resp.message_case = MAIN_RESPONSE__MESSAGE_GET_VCPUS;
        resp.get_vcpus = &gv;
        host_reply(h->sock, &resp, (int[]){ h->vreq[0][1], h->vresp[0][0], h->vreq[1][1] }, 3);
}

START_TEST(test_connect_odd_fds) {
        struct crosvm *c = NULL;
        int before;

        host_start(script_connect_odd);
        before = count_inheritable_fds();
        ck_assert_int_eq(crosvm_connect(&c), -EPROTO);
        host_join();
        ck_assert_ptr_null(c);
        ck_assert_int_eq(count_inheritable_fds(), before);
}
END_TEST

/* ---- memory, ranges, dirty log, ids ---- */

static void script_memory(struct host *h) {
        MainRequest *req;
        MainResponse resp = MAIN_RESPONSE__INIT;
        MainResponse__MemoryDirtyLog dl = MAIN_RESPONSE__MEMORY_DIRTY_LOG__INIT;
        uint8_t bitmap[2] = { 0xa5, 0x01 };
        struct stat st;
        int fd = -1;

        host_serve_get_vcpus();

        req = host_recv(h->sock, &fd);
        ck_assert_int_eq(req->message_case, MAIN_REQUEST__MESSAGE_CREATE);
        ck_assert_uint_eq(req->create->id, 0);
        ck_assert_int_eq(req->create->constructor_case, MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY);
        ck_assert_uint_eq(req->create->memory->offset, 0x1000);
        ck_assert_uint_eq(req->create->memory->start, 0x100000);
        ck_assert_uint_eq(req->create->memory->length, 9 * 0x1000);
        ck_assert(!req->create->memory->read_only);
        ck_assert(req->create->memory->dirty_log);
        ck_assert(is_cloexec(fd));
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert_int_eq(st.st_size, 16 * 0x1000);      /* the plugin's memfd */
        close(fd);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_CREATE, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_RESERVE_RANGE);
        ck_assert_int_eq(req->reserve_range->space, ADDRESS_SPACE__MMIO);
        ck_assert_uint_eq(req->reserve_range->start, 0x200000);
        ck_assert_uint_eq(req->reserve_range->length, 0x1000);
        ck_assert(!req->reserve_range->async_write);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_RESERVE_RANGE, EPERM);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_RESERVE_RANGE);
        ck_assert_int_eq(req->reserve_range->space, ADDRESS_SPACE__IOPORT);
        ck_assert_uint_eq(req->reserve_range->start, 0x3f8);
        ck_assert_uint_eq(req->reserve_range->length, 8);
        ck_assert(req->reserve_range->async_write);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_RESERVE_RANGE, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_DIRTY_LOG);
        ck_assert_uint_eq(req->dirty_log->id, 0);
        main_request__free_unpacked(req, NULL);
        dl.bitmap.data = bitmap;
        dl.bitmap.len = sizeof(bitmap);         /* 9 pages: 2 bytes */
        resp.message_case = MAIN_RESPONSE__MESSAGE_DIRTY_LOG;
        resp.dirty_log = &dl;
        host_reply(h->sock, &resp, NULL, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_DIRTY_LOG);
        main_request__free_unpacked(req, NULL);
        dl.bitmap.len = 1;                      /* the wrong size */
        host_reply(h->sock, &resp, NULL, 0);

        /* A failed create hands its id back. */
        req = host_recv(h->sock, &fd);
        ck_assert_uint_eq(req->create->id, 1);
        close(fd);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_CREATE, EEXIST);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_DESTROY);
        ck_assert_uint_eq(req->destroy->id, 0);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_DESTROY, ENOENT);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_DESTROY);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_DESTROY, 0);

        /* Id 0 was the newest again once 1 came back, so it is reused. */
        req = host_recv(h->sock, &fd);
        ck_assert_uint_eq(req->create->id, 0);
        ck_assert(req->create->memory->read_only);
        close(fd);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_CREATE, 0);
}

START_TEST(test_memory) {
        struct crosvm *c;
        struct crosvm_memory *mem = NULL, *mem2 = NULL;
        uint8_t log[2] = { 0 };
        int fd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, 16 * 0x1000), 0);
        host_start(script_memory);
        c = connect_ok();
        /* Refused before anything is sent. */
        ck_assert_int_eq(crosvm_create_memory(c, fd, 0x10, 0x1000, 0, false, false, &mem), -EINVAL);
        ck_assert_int_eq(crosvm_create_memory(c, fd, 0, 0x1001, 0, false, false, &mem), -EINVAL);
        ck_assert_int_eq(crosvm_reserve_range(c, 2, 0, 1), -EINVAL);

        ck_assert_int_eq(crosvm_create_memory(c, fd, 0x1000, 9 * 0x1000, 0x100000, false, true, &mem), 0);
        ck_assert_ptr_nonnull(mem);
        ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);       /* still the caller's */
        ck_assert_int_eq(crosvm_reserve_range(c, CROSVM_ADDRESS_SPACE_MMIO, 0x200000, 0x1000), -EPERM);
        ck_assert_int_eq(crosvm_reserve_async_write_range(c, CROSVM_ADDRESS_SPACE_IOPORT, 0x3f8, 8), 0);
        ck_assert_int_eq(crosvm_memory_get_dirty_log(c, mem, log), 0);
        ck_assert_uint_eq(log[0], 0xa5);
        ck_assert_uint_eq(log[1], 0x01);
        ck_assert_int_eq(crosvm_memory_get_dirty_log(c, mem, log), -EPROTO);
        ck_assert_int_eq(crosvm_create_memory(c, fd, 0, 0x1000, 0, false, false, &mem2), -EEXIST);
        ck_assert_ptr_null(mem2);
        ck_assert_int_eq(crosvm_destroy_memory(c, &mem), -ENOENT);
        ck_assert_ptr_nonnull(mem);     /* kept on failure */
        ck_assert_int_eq(crosvm_destroy_memory(c, &mem), 0);
        ck_assert_ptr_null(mem);
        ck_assert_int_eq(crosvm_create_memory(c, fd, 0, 0x1000, 0, true, false, &mem2), 0);
        host_join();
        free(mem2);     /* the host is gone; the handle is plain memory */
        crosvm_destroy_connection(&c);
        close(fd);
}
END_TEST

/* ---- objects over two connections: the shared id counter ---- */

static void script_objects(struct host *h) {
        MainRequest *req;
        MainResponse resp = MAIN_RESPONSE__INIT;
        MainResponse__NewConnection nc = MAIN_RESPONSE__NEW_CONNECTION__INIT;
        MainResponse__Create cr = MAIN_RESPONSE__CREATE__INIT;
        int sv[2], efd[3];

        host_serve_get_vcpus();

        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_NEW_CONNECTION), NULL);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        h->sock2 = sv[0];
        resp.message_case = MAIN_RESPONSE__MESSAGE_NEW_CONNECTION;
        resp.new_connection = &nc;
        host_reply(h->sock, &resp, &sv[1], 1);
        close(sv[1]);

        for (int i = 0; i < 3; i++)
                efd[i] = eventfd(0, 0);         /* not CLOEXEC, as crosvm makes them */

        req = host_expect(h->sock2, MAIN_REQUEST__MESSAGE_CREATE);
        ck_assert_uint_eq(req->create->id, 0);
        ck_assert_int_eq(req->create->constructor_case, MAIN_REQUEST__CREATE__CONSTRUCTOR_IO_EVENT);
        ck_assert_int_eq(req->create->io_event->space, ADDRESS_SPACE__IOPORT);
        ck_assert_uint_eq(req->create->io_event->address, 0x80);
        ck_assert_uint_eq(req->create->io_event->length, 4);
        ck_assert_uint_eq(req->create->io_event->datamatch, 0xdeadbeef);
        main_request__free_unpacked(req, NULL);
        resp.message_case = MAIN_RESPONSE__MESSAGE_CREATE;
        resp.create = &cr;
        host_reply(h->sock2, &resp, &efd[0], 1);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_CREATE);
        ck_assert_uint_eq(req->create->id, 1);
        ck_assert_int_eq(req->create->constructor_case, MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT);
        ck_assert_uint_eq(req->create->irq_event->irq_id, 5);
        ck_assert(req->create->irq_event->resample);
        main_request__free_unpacked(req, NULL);
        host_reply(h->sock, &resp, &efd[1], 2);

        req = host_expect(h->sock2, MAIN_REQUEST__MESSAGE_DESTROY);
        ck_assert_uint_eq(req->destroy->id, 0);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock2, MAIN_RESPONSE__MESSAGE_DESTROY, 0);

        /* 0 was freed but was not the newest: the counter goes on. */
        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_CREATE);
        ck_assert_uint_eq(req->create->id, 2);
        ck_assert_uint_eq(req->create->io_event->length, 0);
        ck_assert_uint_eq(req->create->io_event->datamatch, 0);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_CREATE, 0);    /* no fd */

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_CREATE);
        ck_assert_uint_eq(req->create->id, 2);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_CREATE, 0);    /* one fd short */

        for (int i = 0; i < 3; i++)
                close(efd[i]);
}

START_TEST(test_objects) {
        struct crosvm *c, *c2 = NULL;
        struct crosvm_vcpu *v, *v2;
        struct crosvm_io *io = NULL, *io2 = NULL;
        struct crosvm_irq *irq = NULL, *irq2 = NULL;
        const uint8_t match[5] = { 0, 0xef, 0xbe, 0xad, 0xde };        /* unaligned */
        uint64_t one = 1;

        host_start(script_objects);
        c = connect_ok();
        ck_assert_int_eq(crosvm_create_io_event(c, 0, 0, 3, match, &io), -EINVAL);
        ck_assert_int_eq(crosvm_new_connection(c, &c2), 0);
        ck_assert_int_eq(crosvm_get_vcpu(c, 1, &v), 0);
        ck_assert_int_eq(crosvm_get_vcpu(c2, 1, &v2), 0);
        ck_assert_ptr_eq(v, v2);
        ck_assert_int_eq(crosvm_create_io_event(c2, CROSVM_ADDRESS_SPACE_IOPORT, 0x80, 4, match + 1, &io), 0);
        ck_assert(is_cloexec(crosvm_io_event_fd(io)));
        ck_assert_int_eq(crosvm_create_irq_event(c, 5, &irq), 0);
        ck_assert(is_cloexec(crosvm_irq_event_get_fd(irq)));
        ck_assert(is_cloexec(crosvm_irq_event_get_resample_fd(irq)));
        ck_assert_int_ne(crosvm_irq_event_get_fd(irq), crosvm_irq_event_get_resample_fd(irq));
        /* The trigger fd is the first of the two the host sent. */
        ck_assert_int_eq(write(crosvm_irq_event_get_fd(irq), &one, sizeof(one)), sizeof(one));
        ck_assert_int_eq(crosvm_destroy_io_event(c2, &io), 0);
        ck_assert_ptr_null(io);
        ck_assert_int_eq(crosvm_create_io_event(c, CROSVM_ADDRESS_SPACE_MMIO, 0x1000, 0, NULL, &io2), -EPROTO);
        ck_assert_int_eq(crosvm_create_irq_event(c, 6, &irq2), -EPROTO);
        ck_assert_ptr_null(io2);
        ck_assert_ptr_null(irq2);
        host_join();
        ck_assert_int_eq(crosvm_destroy_connection(&c), 0);
        /* The vCPU handles live on with the second connection. */
        ck_assert_int_eq(crosvm_get_vcpu(c2, 0, &v2), 0);
        ck_assert_int_eq(crosvm_destroy_connection(&c2), 0);
        free(irq);
}
END_TEST

/* ---- the other VM-wide calls ---- */

static void script_vm_calls(struct host *h) {
        MainRequest *req;
        MainResponse resp = MAIN_RESPONSE__INIT;
        MainResponse__CheckExtension ce = MAIN_RESPONSE__CHECK_EXTENSION__INIT;
        MainResponse__CpuidResponse cr = MAIN_RESPONSE__CPUID_RESPONSE__INIT;
        MainResponse__MsrListResponse ml = MAIN_RESPONSE__MSR_LIST_RESPONSE__INIT;
        MainResponse__GetNetConfig nc = MAIN_RESPONSE__GET_NET_CONFIG__INIT;
        MainResponse__GetState gs = MAIN_RESPONSE__GET_STATE__INIT;
        CpuidEntry e[3], *ep[3];
        uint32_t msrs[2] = { 0x10, 0xc0000080 };
        uint8_t mac[6] = { 0xde, 0x21, 0xe8, 0x47, 0x6b, 0x6a }, pic[sizeof(struct kvm_pic_state)];
        int efd = eventfd(0, 0), tap = eventfd(0, 0);

        host_serve_get_vcpus();

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_CHECK_EXTENSION);
        ck_assert_uint_eq(req->check_extension->extension, KVM_CAP_IRQCHIP);
        main_request__free_unpacked(req, NULL);
        ce.has_extension = true;
        resp.message_case = MAIN_RESPONSE__MESSAGE_CHECK_EXTENSION;
        resp.check_extension = &ce;
        host_reply(h->sock, &resp, NULL, 0);

        for (int i = 0; i < 3; i++) {
                cpuid_entry__init(&e[i]);
                e[i].function = 0x40000000u + (uint32_t)i;
                e[i].has_index = i == 1;
                e[i].index = (uint32_t)i;
                e[i].eax = 0x1000u + (uint32_t)i;
                e[i].edx = 7;
                ep[i] = &e[i];
        }
        cr.n_entries = 3;
        cr.entries = ep;
        for (int round = 0; round < 2; round++) {
                req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID);
                main_request__free_unpacked(req, NULL);
                resp.message_case = MAIN_RESPONSE__MESSAGE_GET_SUPPORTED_CPUID;
                resp.get_supported_cpuid = &cr;
                host_reply(h->sock, &resp, NULL, 0);
        }
        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID);
        main_request__free_unpacked(req, NULL);
        resp.message_case = MAIN_RESPONSE__MESSAGE_GET_EMULATED_CPUID;
        resp.get_emulated_cpuid = &cr;
        host_reply(h->sock, &resp, NULL, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST);
        main_request__free_unpacked(req, NULL);
        ml.n_indices = 2;
        ml.indices = msrs;
        resp.message_case = MAIN_RESPONSE__MESSAGE_GET_MSR_INDEX_LIST;
        resp.get_msr_index_list = &ml;
        host_reply(h->sock, &resp, NULL, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_NET_CONFIG);
        main_request__free_unpacked(req, NULL);
        nc.host_mac_address.data = mac;
        nc.host_mac_address.len = 6;
        nc.host_ipv4_address = 0x0132a8c0;      /* 192.168.50.1 as s_addr on x86 */
        nc.netmask = 0x00ffffff;
        resp.message_case = MAIN_RESPONSE__MESSAGE_GET_NET_CONFIG;
        resp.get_net_config = &nc;
        host_reply(h->sock, &resp, &tap, 1);
        /* No tap: errno only, no case (PROTOCOL.md §2). */
        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_NET_CONFIG), NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE__NOT_SET, ENODATA);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_SET_IRQ);
        ck_assert_uint_eq(req->set_irq->irq_id, 4);
        ck_assert(req->set_irq->active);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_SET_IRQ, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_SET_IRQ_ROUTING);
        ck_assert_uint_eq(req->set_irq_routing->n_routes, 2);
        ck_assert_int_eq(req->set_irq_routing->routes[0]->route_case,
                         MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_IRQCHIP);
        ck_assert_uint_eq(req->set_irq_routing->routes[0]->irq_id, 9);
        ck_assert_uint_eq(req->set_irq_routing->routes[0]->irqchip->irqchip, 2);
        ck_assert_uint_eq(req->set_irq_routing->routes[0]->irqchip->pin, 9);
        ck_assert_int_eq(req->set_irq_routing->routes[1]->route_case,
                         MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_MSI);
        ck_assert_uint_eq(req->set_irq_routing->routes[1]->msi->address, 0xfee00000);
        ck_assert_uint_eq(req->set_irq_routing->routes[1]->msi->data, 0x4021);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_SET_IRQ_ROUTING, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_SET_CALL_HINT);
        ck_assert_int_eq(req->set_call_hint->space, ADDRESS_SPACE__IOPORT);
        ck_assert_uint_eq(req->set_call_hint->address, 0xb0);
        ck_assert(req->set_call_hint->on_write);
        ck_assert_uint_eq(req->set_call_hint->n_hints, 2);
        ck_assert(req->set_call_hint->hints[0]->match_rax);
        ck_assert_uint_eq(req->set_call_hint->hints[0]->rax, 0x77);
        ck_assert(req->set_call_hint->hints[0]->send_sregs);
        ck_assert(!req->set_call_hint->hints[1]->match_rax);
        ck_assert(req->set_call_hint->hints[1]->send_debugregs);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_SET_CALL_HINT, 0);
        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_SET_CALL_HINT);       /* the clear */
        ck_assert_uint_eq(req->set_call_hint->address, 0);
        ck_assert_uint_eq(req->set_call_hint->n_hints, 0);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_SET_CALL_HINT, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_STATE);
        ck_assert_int_eq(req->get_state->set, MAIN_REQUEST__STATE_SET__PIC1);
        main_request__free_unpacked(req, NULL);
        memset(pic, 0x5a, sizeof(pic));
        gs.state.data = pic;
        gs.state.len = sizeof(pic);
        resp.message_case = MAIN_RESPONSE__MESSAGE_GET_STATE;
        resp.get_state = &gs;
        host_reply(h->sock, &resp, NULL, 0);
        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_STATE), NULL);
        gs.state.len = sizeof(pic) - 1;
        host_reply(h->sock, &resp, NULL, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_SET_STATE);
        ck_assert_int_eq(req->set_state->set, MAIN_REQUEST__STATE_SET__CLOCK);
        ck_assert_uint_eq(req->set_state->state.len, sizeof(struct kvm_clock_data));
        ck_assert_uint_eq(((struct kvm_clock_data *)req->set_state->state.data)->clock, 123456789);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_SET_STATE, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_SET_IDENTITY_MAP_ADDR);
        ck_assert_uint_eq(req->set_identity_map_addr->address, 0xfeffc000);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_SET_IDENTITY_MAP_ADDR, 0);

        req = host_expect(h->sock, MAIN_REQUEST__MESSAGE_PAUSE_VCPUS);
        ck_assert_uint_eq(req->pause_vcpus->cpu_mask, 3);
        ck_assert_uint_eq(req->pause_vcpus->user, 0xc0ffee);
        main_request__free_unpacked(req, NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_PAUSE_VCPUS, 0);

        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_GET_SHUTDOWN_EVENTFD), NULL);
        resp.message_case = MAIN_RESPONSE__MESSAGE_GET_SHUTDOWN_EVENTFD;
        resp.get_shutdown_eventfd = &(MainResponse__GetShutdownEventfd)MAIN_RESPONSE__GET_SHUTDOWN_EVENTFD__INIT;
        host_reply(h->sock, &resp, &efd, 1);

        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_START), NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_START, 0);
        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_START), NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_START, EINVAL);
        /* A reply of the wrong case. */
        main_request__free_unpacked(host_expect(h->sock, MAIN_REQUEST__MESSAGE_START), NULL);
        host_reply_empty(h->sock, MAIN_RESPONSE__MESSAGE_SET_IRQ, 0);

        close(efd);
        close(tap);
}

START_TEST(test_vm_calls) {
        struct crosvm *c;
        bool has = false;
        struct kvm_cpuid_entry2 cpuid[3];
        uint32_t n = 99, msrs[2];
        struct crosvm_net_config net;
        struct crosvm_irq_route routes[2] = {
                { .irq_id = 9, .kind = CROSVM_IRQ_ROUTE_IRQCHIP, .irqchip = { .irqchip = 2, .pin = 9 } },
                { .irq_id = 10, .kind = CROSVM_IRQ_ROUTE_MSI, .msi = { .address = 0xfee00000, .data = 0x4021 } },
        };
        struct crosvm_irq_route bad = { .irq_id = 1, .kind = 7 };
        struct crosvm_hint_detail details[2] = {
                { .match_rax = true, .rax = 0x77, .send_sregs = true },
                { .send_debugregs = true },
        };
        struct crosvm_hint hint = {
                .address_space = CROSVM_ADDRESS_SPACE_IOPORT,
                .address_flags = CROSVM_HINT_ON_WRITE,
                .details_count = 2,
                .address = 0xb0,
                .details = details,
        };
        struct crosvm_hint bad_hint = hint;
        struct kvm_pic_state pic;
        struct kvm_clock_data clock = { .clock = 123456789 };
        uint64_t args[4] = { 0 };
        int efd;

        host_start(script_vm_calls);
        c = connect_ok();
        ck_assert_int_eq(crosvm_check_extension(c, KVM_CAP_IRQCHIP, &has), 0);
        ck_assert(has);

        ck_assert_int_eq(crosvm_get_supported_cpuid(c, 2, cpuid, &n), -E2BIG);
        ck_assert_uint_eq(n, 3);
        ck_assert_int_eq(crosvm_get_supported_cpuid(c, 3, cpuid, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_uint_eq(cpuid[1].function, 0x40000001);
        ck_assert_uint_eq(cpuid[1].flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
        ck_assert_uint_eq(cpuid[1].index, 1);
        ck_assert_uint_eq(cpuid[0].flags, 0);
        ck_assert_uint_eq(cpuid[2].eax, 0x1002);
        ck_assert_uint_eq(cpuid[2].edx, 7);
        memset(cpuid, 0, sizeof(cpuid));
        ck_assert_int_eq(crosvm_get_emulated_cpuid(c, 3, cpuid, &n), 0);
        ck_assert_uint_eq(cpuid[2].function, 0x40000002);

        ck_assert_int_eq(crosvm_get_msr_index_list(c, 2, msrs, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(msrs[1], 0xc0000080);

        ck_assert_int_eq(crosvm_net_get_config(c, &net), 0);
        ck_assert(is_cloexec(net.tap_fd));
        ck_assert_uint_eq(net.host_ip, 0x0132a8c0);
        ck_assert_uint_eq(net.netmask, 0x00ffffff);
        ck_assert_uint_eq(net.host_mac_address[0], 0xde);
        ck_assert_uint_eq(net.host_mac_address[5], 0x6a);
        close(net.tap_fd);
        ck_assert_int_eq(crosvm_net_get_config(c, &net), -ENODATA);

        ck_assert_int_eq(crosvm_set_irq(c, 4, true), 0);
        ck_assert_int_eq(crosvm_set_irq_routing(c, 1, &bad), -EINVAL);
        ck_assert_int_eq(crosvm_set_irq_routing(c, 2, routes), 0);

        bad_hint.address = 0;
        ck_assert_int_eq(crosvm_set_hypercall_hint(c, 1, &bad_hint), -EINVAL);
        bad_hint = hint;
        bad_hint.details_count = CROSVM_MAX_HINT_DETAIL_COUNT + 1;
        ck_assert_int_eq(crosvm_set_hypercall_hint(c, 1, &bad_hint), -EINVAL);
        bad_hint = hint;
        bad_hint.address_flags = 2;
        ck_assert_int_eq(crosvm_set_hypercall_hint(c, 1, &bad_hint), -EINVAL);
        ck_assert_int_eq(crosvm_set_hypercall_hint(c, 2, &hint), -EINVAL);
        ck_assert_int_eq(crosvm_set_hypercall_hint(c, 1, &hint), 0);
        ck_assert_int_eq(crosvm_set_hypercall_hint(c, 0, NULL), 0);

        ck_assert_int_eq(crosvm_get_pic_state(c, false, &pic), 0);
        ck_assert_uint_eq(pic.irr, 0x5a);
        ck_assert_int_eq(crosvm_get_pic_state(c, true, &pic), -EPROTO);
        ck_assert_int_eq(crosvm_set_clock(c, &clock), 0);
        ck_assert_int_eq(crosvm_set_identity_map_addr(c, 0xfeffc000), 0);
        ck_assert_int_eq(crosvm_pause_vcpus(c, 3, (void *)(uintptr_t)0xc0ffee), 0);
        efd = crosvm_get_shutdown_eventfd(c);
        ck_assert_int_ge(efd, 0);
        ck_assert(is_cloexec(efd));
        close(efd);
        ck_assert_int_eq(crosvm_enable_capability(c, 0, 0, args), -EINVAL);
        ck_assert_int_eq(crosvm_start(c), 0);
        ck_assert_int_eq(crosvm_start(c), -EINVAL);
        ck_assert_int_eq(crosvm_start(c), -EPROTO);
        host_join();
        crosvm_destroy_connection(&c);
}
END_TEST

START_TEST(test_hangup) {
        struct crosvm *c;

        host_start(script_connect);
        c = connect_ok();
        host_join();
        close(H.sock);
        ck_assert_int_eq(crosvm_start(c), -EPIPE);
        crosvm_destroy_connection(&c);
}
END_TEST

/* ---- vCPU events, resume and the register cache ---- */

static struct kvm_regs plugin_regs, eager_regs;
static struct kvm_sregs host_sregs;
static struct kvm_debugregs plugin_dregs;

static void script_vcpu(struct host *h) {
        VcpuRequest *req;
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuResponse__Wait__Init init = VCPU_RESPONSE__WAIT__INIT__INIT;
        VcpuResponse__Wait__Io io = VCPU_RESPONSE__WAIT__IO__INIT;
        VcpuResponse__Wait__User user = VCPU_RESPONSE__WAIT__USER__INIT;
        VcpuResponse__Wait__HypervCall hc = VCPU_RESPONSE__WAIT__HYPERV_CALL__INIT;
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__GetMsrs gm = VCPU_RESPONSE__GET_MSRS__INIT;
        uint8_t zeros[4] = { 0 }, out[2] = { 0x12, 0x34 }, pair[2 * 512];
        uint64_t msr_data[2] = { 0xaa, 0xbb }, result;
        size_t len;

        (void)h;
        host_serve_get_vcpus();

        /* Init: asked for by the first wait. */
        vcpu_request__free_unpacked(vhost_expect(1, VCPU_REQUEST__MESSAGE_WAIT), NULL);
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_INIT;
        w.init = &init;
        vhost_send_wait(1, &w, false);

        /* The regs the plugin set during Init ride on the Resume. */
        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_RESUME);
        ck_assert_uint_eq(req->resume->regs.len, sizeof(struct kvm_regs));
        ck_assert_mem_eq(req->resume->regs.data, &plugin_regs, sizeof(plugin_regs));
        ck_assert_uint_eq(req->resume->data.len, 0);
        ck_assert_uint_eq(req->resume->sregs.len, 0);
        vcpu_request__free_unpacked(req, NULL);

        /* An MMIO read carrying regs eagerly, split across two writes. */
        io.space = ADDRESS_SPACE__MMIO;
        io.address = 0xd0000000;
        io.is_write = false;
        io.data.data = zeros;
        io.data.len = 4;
        io.regs.data = (uint8_t *)&eager_regs;
        io.regs.len = sizeof(eager_regs);
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_IO;
        w.io = &io;
        vhost_send_wait(1, &w, true);

        /* get_regs came from the cache: the next message is the Resume. */
        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_RESUME);
        ck_assert_uint_eq(req->resume->data.len, 4);
        ck_assert_mem_eq(req->resume->data.data, "\x44\x33\x22\x11", 4);
        ck_assert_uint_eq(req->resume->regs.len, 0);
        vcpu_request__free_unpacked(req, NULL);

        /* A port write without registers. */
        io.space = ADDRESS_SPACE__IOPORT;
        io.address = 0x3f8;
        io.is_write = true;
        io.data.data = out;
        io.data.len = 2;
        io.regs.len = 0;
        io.regs.data = NULL;
        vhost_send_wait(1, &w, false);

        /* No eager sregs: a round trip. */
        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_GET_STATE);
        ck_assert_int_eq(req->get_state->set, VCPU_REQUEST__STATE_SET__SREGS);
        vcpu_request__free_unpacked(req, NULL);
        vhost_send_state(1, &host_sregs, sizeof(host_sregs));

        /* A pending debugregs set is flushed before it is read back. */
        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_SET_STATE);
        ck_assert_int_eq(req->set_state->set, VCPU_REQUEST__STATE_SET__DEBUGREGS);
        ck_assert_mem_eq(req->set_state->state.data, &plugin_dregs, sizeof(plugin_dregs));
        vcpu_request__free_unpacked(req, NULL);
        resp.message_case = VCPU_RESPONSE__MESSAGE_SET_STATE;
        resp.set_state = &(VcpuResponse__SetState)VCPU_RESPONSE__SET_STATE__INIT;
        vhost_send(1, &resp, false);
        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_GET_STATE);
        ck_assert_int_eq(req->get_state->set, VCPU_REQUEST__STATE_SET__DEBUGREGS);
        vcpu_request__free_unpacked(req, NULL);
        vhost_send_state(1, &plugin_dregs, sizeof(plugin_dregs));

        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_RESUME);
        ck_assert_uint_eq(req->resume->debugregs.len, 0);       /* already flushed */
        vcpu_request__free_unpacked(req, NULL);

        /* An async write (no resume follows) and a pause, in one write():
         * the host does not wait after the first, so both can be queued. */
        io.no_resume = true;
        resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
        resp.wait = &w;
        len = vhost_frame(&resp, pair);
        user.user = 0x1234;
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_USER;
        w.user = &user;
        len += vhost_frame(&resp, pair + len);
        ck_assert_int_eq(wire_write_all(h->vresp[1][1], pair, len), 0);
        vcpu_request__free_unpacked(vhost_expect(1, VCPU_REQUEST__MESSAGE_RESUME), NULL);

        /* A hypercall: the result comes back as 8 bytes. */
        hc.input = 0x10001;
        hc.params0 = 5;
        hc.params1 = 6;
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_HYPERV_CALL;
        w.hyperv_call = &hc;
        vhost_send_wait(1, &w, false);
        /* Requests are served while the vCPU waits, as the host does. */
        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_GET_MSRS);
        ck_assert_uint_eq(req->get_msrs->n_entry_indices, 3);
        ck_assert_uint_eq(req->get_msrs->entry_indices[2], 0x10);
        vcpu_request__free_unpacked(req, NULL);
        gm.n_entry_data = 2;                    /* KVM stopped at the third */
        gm.entry_data = msr_data;
        resp.message_case = VCPU_RESPONSE__MESSAGE_GET_MSRS;
        resp.get_msrs = &gm;
        vhost_send(1, &resp, false);

        /* The host's errno, positive on the wire. */
        vcpu_request__free_unpacked(vhost_expect(1, VCPU_REQUEST__MESSAGE_GET_STATE), NULL);
        resp.message_case = VCPU_RESPONSE__MESSAGE_GET_STATE;
        resp.get_state = &(VcpuResponse__GetState)VCPU_RESPONSE__GET_STATE__INIT;
        pb_vcpu_response_set_errno(&resp, ENOENT);
        vhost_send(1, &resp, false);
        pb_vcpu_response_set_errno(&resp, 0);

        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY);
        ck_assert_uint_eq(req->enable_capability->capability, KVM_CAP_HYPERV_SYNIC);
        vcpu_request__free_unpacked(req, NULL);
        resp.message_case = VCPU_RESPONSE__MESSAGE_ENABLE_CAPABILITY;
        resp.enable_capability = &(VcpuResponse__EnableCapability)VCPU_RESPONSE__ENABLE_CAPABILITY__INIT;
        vhost_send(1, &resp, false);

        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_SET_CPUID);
        ck_assert_uint_eq(req->set_cpuid->n_entries, 1);
        ck_assert(req->set_cpuid->entries[0]->has_index);
        ck_assert_uint_eq(req->set_cpuid->entries[0]->index, 3);
        ck_assert_uint_eq(req->set_cpuid->entries[0]->ebx, 0x42);
        vcpu_request__free_unpacked(req, NULL);
        resp.message_case = VCPU_RESPONSE__MESSAGE_SET_CPUID;
        resp.set_cpuid = &(VcpuResponse__SetCpuid)VCPU_RESPONSE__SET_CPUID__INIT;
        vhost_send(1, &resp, false);

        req = vhost_expect(1, VCPU_REQUEST__MESSAGE_RESUME);
        ck_assert_uint_eq(req->resume->data.len, 8);
        memcpy(&result, req->resume->data.data, 8);
        ck_assert_uint_eq(result, 0xfeedface);
        vcpu_request__free_unpacked(req, NULL);

        /* The pipe closes: the next wait reports it. */
        close(h->vresp[1][1]);
}

START_TEST(test_vcpu) {
        struct crosvm *c;
        struct crosvm_vcpu *v;
        struct crosvm_vcpu_event ev;
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        struct kvm_debugregs dregs;
        struct kvm_fpu fpu;
        struct kvm_msr_entry msrs[3] = { { .index = 0x174 }, { .index = 0x175 }, { .index = 0x10 } };
        struct kvm_cpuid_entry2 cpuid = { .function = 7, .index = 3, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                                          .ebx = 0x42 };
        uint64_t args[4] = { 0 };
        uint32_t n = 0;

        memset(&plugin_regs, 0x11, sizeof(plugin_regs));
        memset(&eager_regs, 0x22, sizeof(eager_regs));
        memset(&host_sregs, 0x33, sizeof(host_sregs));
        memset(&plugin_dregs, 0x44, sizeof(plugin_dregs));
        host_start(script_vcpu);
        c = connect_ok();
        ck_assert_int_eq(crosvm_get_vcpu(c, 1, &v), 0);
        ck_assert_int_eq(crosvm_vcpu_resume(v), -EINVAL);       /* nothing to resume */

        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_INIT);
        ck_assert_int_eq(crosvm_vcpu_set_regs(v, &plugin_regs), 0);
        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), -EINVAL);    /* not resumed yet */
        ck_assert_int_eq(crosvm_vcpu_resume(v), 0);
        ck_assert_int_eq(crosvm_vcpu_resume(v), -EINVAL);

        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_IO_ACCESS);
        ck_assert_uint_eq(ev.io_access.address_space, CROSVM_ADDRESS_SPACE_MMIO);
        ck_assert_uint_eq(ev.io_access.address, 0xd0000000);
        ck_assert_uint_eq(ev.io_access.length, 4);
        ck_assert(!ev.io_access.is_write);
        ck_assert(!ev.io_access.no_resume);
        ck_assert_int_eq(crosvm_vcpu_get_regs(v, &regs), 0);
        ck_assert_mem_eq(&regs, &eager_regs, sizeof(regs));
        memcpy(ev.io_access.data, "\x44\x33\x22\x11", 4);
        ck_assert_int_eq(crosvm_vcpu_resume(v), 0);

        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_IO_ACCESS);
        ck_assert_uint_eq(ev.io_access.address_space, CROSVM_ADDRESS_SPACE_IOPORT);
        ck_assert_uint_eq(ev.io_access.address, 0x3f8);
        ck_assert(ev.io_access.is_write);
        ck_assert_uint_eq(ev.io_access.length, 2);
        ck_assert_mem_eq(ev.io_access.data, "\x12\x34", 2);
        ck_assert_int_eq(crosvm_vcpu_get_sregs(v, &sregs), 0);
        ck_assert_mem_eq(&sregs, &host_sregs, sizeof(sregs));
        ck_assert_int_eq(crosvm_vcpu_set_debugregs(v, &plugin_dregs), 0);
        ck_assert_int_eq(crosvm_vcpu_get_debugregs(v, &dregs), 0);
        ck_assert_mem_eq(&dregs, &plugin_dregs, sizeof(dregs));
        ck_assert_int_eq(crosvm_vcpu_resume(v), 0);

        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_IO_ACCESS);
        ck_assert(ev.io_access.no_resume);
        ck_assert_int_eq(crosvm_vcpu_resume(v), -EINVAL);
        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_PAUSED);
        ck_assert_ptr_eq(ev.user, (void *)(uintptr_t)0x1234);
        ck_assert_int_eq(crosvm_vcpu_resume(v), 0);

        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL);
        ck_assert_uint_eq(ev.hyperv_call.input, 0x10001);
        ck_assert_uint_eq(ev.hyperv_call.params[0], 5);
        ck_assert_uint_eq(ev.hyperv_call.params[1], 6);

        ck_assert_int_eq(crosvm_vcpu_get_msrs(v, 3, msrs, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(msrs[0].data, 0xaa);
        ck_assert_uint_eq(msrs[1].data, 0xbb);
        ck_assert_uint_eq(msrs[2].data, 0);
        ck_assert_int_eq(crosvm_vcpu_get_fpu(v, &fpu), -ENOENT);
        args[1] = 1;
        ck_assert_int_eq(crosvm_vcpu_enable_capability(v, KVM_CAP_HYPERV_SYNIC, 0, args), -EINVAL);
        ck_assert_int_eq(crosvm_vcpu_enable_capability(v, KVM_CAP_HYPERV_SYNIC, 1, NULL), -EINVAL);
        args[1] = 0;
        ck_assert_int_eq(crosvm_vcpu_enable_capability(v, KVM_CAP_HYPERV_SYNIC, 0, args), 0);
        ck_assert_int_eq(crosvm_vcpu_set_cpuid(v, 1, &cpuid), 0);
        *ev.hyperv_call.result = 0xfeedface;
        ck_assert_int_eq(crosvm_vcpu_resume(v), 0);

        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), -EPIPE);
        host_join();
        crosvm_destroy_connection(&c);
}
END_TEST

/* A vCPU on another connection sees the same handles; waits on two vCPUs
 * from two threads do not disturb each other. */
static void script_two_vcpus(struct host *h) {
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuResponse__Wait__Init init = VCPU_RESPONSE__WAIT__INIT__INIT;

        (void)h;
        host_serve_get_vcpus();
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_INIT;
        w.init = &init;
        for (int i = N_VCPUS - 1; i >= 0; i--) {
                vcpu_request__free_unpacked(vhost_expect(i, VCPU_REQUEST__MESSAGE_WAIT), NULL);
                vhost_send_wait(i, &w, false);
                vcpu_request__free_unpacked(vhost_expect(i, VCPU_REQUEST__MESSAGE_RESUME), NULL);
        }
}

static void *vcpu_thread(void *arg) {
        struct crosvm_vcpu_event ev;
        int r = crosvm_vcpu_wait(arg, &ev);

        if (r == 0)
                r = ev.kind == CROSVM_VCPU_EVENT_KIND_INIT ? crosvm_vcpu_resume(arg) : -EPROTO;
        return (void *)(intptr_t)r;
}

START_TEST(test_two_vcpus) {
        struct crosvm *c;
        pthread_t t[N_VCPUS];
        void *ret;

        host_start(script_two_vcpus);
        c = connect_ok();
        for (int i = 0; i < N_VCPUS; i++) {
                struct crosvm_vcpu *v;

                ck_assert_int_eq(crosvm_get_vcpu(c, (uint32_t)i, &v), 0);
                ck_assert_int_eq(pthread_create(&t[i], NULL, vcpu_thread, v), 0);
        }
        for (int i = 0; i < N_VCPUS; i++) {
                ck_assert_int_eq(pthread_join(t[i], &ret), 0);
                ck_assert_int_eq((int)(intptr_t)ret, 0);
        }
        host_join();
        crosvm_destroy_connection(&c);
}
END_TEST

/* ---- the lane ---- */

static struct lane_slot *lanes;         /* the test's own mapping of what it offers */
static bool lane_taken;                 /* the SDK is expected to switch */

/* The host's side of a vCPU 0 that leaves Init, then gets an `in` from port
 * 0x60 during which the plugin reads its registers. */
static void script_lane(struct host *h) {
        static uint8_t buf[WIRE_PIPE_MAX];
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuResponse__Wait__Init init = VCPU_RESPONSE__WAIT__INIT__INIT;
        VcpuResponse__Wait__Io io = VCPU_RESPONSE__WAIT__IO__INIT;
        VcpuResponse__GetState gs = VCPU_RESPONSE__GET_STATE__INIT;
        struct kvm_regs regs = { .rax = 0x77 };
        uint8_t zero = 0;
        atomic_bool stop = false;
        struct lane l;
        VcpuRequest *req;
        size_t len = 0;
        int avail = -1;

        host_serve_get_vcpus();
        vcpu_request__free_unpacked(vhost_expect(0, VCPU_REQUEST__MESSAGE_WAIT), NULL);
        ck_assert(!lane_is_ready(lane_slot_at(lanes, 0)));
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_INIT;
        w.init = &init;
        vhost_send_wait(0, &w, false);
        /* A request during Init still takes the pipe. */
        vcpu_request__free_unpacked(vhost_expect(0, VCPU_REQUEST__MESSAGE_GET_STATE), NULL);
        vhost_send_state(0, &regs, sizeof(regs));
        /* The Resume from Init comes on the pipe, the slot marked before it. */
        vcpu_request__free_unpacked(vhost_expect(0, VCPU_REQUEST__MESSAGE_RESUME), NULL);
        ck_assert(lane_is_ready(lane_slot_at(lanes, 0)) == lane_taken);
        ck_assert(!lane_is_ready(lane_slot_at(lanes, 1)));

        io.space = ADDRESS_SPACE__IOPORT;
        io.address = 0x60;
        io.data.data = &zero;
        io.data.len = 1;
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_IO;
        w.io = &io;
        if (!lane_taken) {
                vhost_send_wait(0, &w, false);
                vcpu_request__free_unpacked(vhost_expect(0, VCPU_REQUEST__MESSAGE_GET_STATE), NULL);
                vhost_send_state(0, &regs, sizeof(regs));
                req = vhost_expect(0, VCPU_REQUEST__MESSAGE_RESUME);
                ck_assert_uint_eq(req->resume->data.len, 1);
                ck_assert_uint_eq(req->resume->data.data[0], 0x5a);
                vcpu_request__free_unpacked(req, NULL);
                return;
        }
        /* From here on, the lane alone. */
        lane_init(&l, lane_slot_at(lanes, 0), true, NULL, &stop);
        resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
        resp.wait = &w;
        ck_assert_int_eq(lane_write(&l, buf, vhost_frame(&resp, buf)), 0);
        ck_assert_int_eq(lane_read_message(&l, buf, sizeof(buf), false, &len), 0);
        req = vcpu_request__unpack(NULL, len, buf);
        ck_assert_ptr_nonnull(req);
        ck_assert_int_eq(req->message_case, VCPU_REQUEST__MESSAGE_GET_STATE);
        vcpu_request__free_unpacked(req, NULL);
        gs.state.data = (uint8_t *)&regs;
        gs.state.len = sizeof(regs);
        resp.message_case = VCPU_RESPONSE__MESSAGE_GET_STATE;
        resp.get_state = &gs;
        ck_assert_int_eq(lane_write(&l, buf, vhost_frame(&resp, buf)), 0);
        ck_assert_int_eq(lane_read_message(&l, buf, sizeof(buf), false, &len), 0);
        req = vcpu_request__unpack(NULL, len, buf);
        ck_assert_ptr_nonnull(req);
        ck_assert_int_eq(req->message_case, VCPU_REQUEST__MESSAGE_RESUME);
        ck_assert_uint_eq(req->resume->data.len, 1);
        ck_assert_uint_eq(req->resume->data.data[0], 0x5a);
        vcpu_request__free_unpacked(req, NULL);
        /* Nothing went by the pipe after the switch. */
        ck_assert_int_eq(ioctl(h->vreq[0][0], FIONREAD, &avail), 0);
        ck_assert_int_eq(avail, 0);
}

/* The plugin's side of script_lane, with `bytes` of lanes offered. */
static void lane_run(size_t bytes) {
        int fd = memfd_create("test-lanes", MFD_CLOEXEC);
        struct crosvm *c;
        struct crosvm_vcpu *v;
        struct crosvm_vcpu_event ev;
        struct kvm_regs regs;
        char num[16];

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t)bytes), 0);
        lanes = mmap(NULL, N_VCPUS * LANE_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        ck_assert_ptr_ne(lanes, MAP_FAILED);
        snprintf(num, sizeof(num), "%d", fd);
        setenv(LANE_ENV, num, 1);
        host_start(script_lane);
        c = connect_ok();
        ck_assert(is_cloexec(fd));
        ck_assert_int_eq(crosvm_get_vcpu(c, 0, &v), 0);
        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_INIT);
        ck_assert_int_eq(crosvm_vcpu_get_regs(v, &regs), 0);
        ck_assert_uint_eq(regs.rax, 0x77);
        ck_assert_int_eq(crosvm_vcpu_resume(v), 0);
        ck_assert_int_eq(crosvm_vcpu_wait(v, &ev), 0);
        ck_assert_uint_eq(ev.kind, CROSVM_VCPU_EVENT_KIND_IO_ACCESS);
        ck_assert_uint_eq(ev.io_access.address, 0x60);
        ck_assert(!ev.io_access.is_write);
        ck_assert_int_eq(crosvm_vcpu_get_regs(v, &regs), 0);
        ck_assert_uint_eq(regs.rax, 0x77);
        ev.io_access.data[0] = 0x5a;
        ck_assert_int_eq(crosvm_vcpu_resume(v), 0);
        host_join();
        ck_assert_int_eq(crosvm_destroy_connection(&c), 0);
        /* Taken lanes went with the last connection, as the socket does;
         * lanes not taken stay the caller's. */
        if (lane_taken)
                ck_assert_int_lt(fcntl(fd, F_GETFD), 0);
        else
                ck_assert_int_eq(close(fd), 0);
        munmap(lanes, N_VCPUS * LANE_SLOT_BYTES);
        unsetenv(LANE_ENV);
}

/* Offered lanes: vCPU 0 switches at its Init resume, vCPU 1 does not. */
START_TEST(test_vcpu_lane) {
        lane_taken = true;
        lane_run(N_VCPUS * LANE_SLOT_BYTES);
}
END_TEST

/* Lanes too small for every vCPU are not taken: all stays on the pipes. */
START_TEST(test_vcpu_lane_too_small) {
        lane_taken = false;
        lane_run(N_VCPUS * LANE_SLOT_BYTES - 1);
}
END_TEST

/* proto/ is linked into the library whole, and none of it is exported:
 * a plugin that defines its own wire_send or channel_recv must not bind
 * to ours, nor ours to its. */
START_TEST(test_exports_crosvm_only) {
        static const char *const hidden[] = {
                "wire_send", "wire_reader_next", "lane_init", "lane_write", "channel_init_plugin",
                "channel_destroy", "pb_response_case", "pb_cpuid_list_to_kvm", "pb_vcpu_response_get_errno",
                "vcpu_request__pack", "main_response__unpack", "sdk_transact", "sdk_vcpu_new",
        };
        void *lib = dlopen("libcrosvm_plugin.so.0", RTLD_NOW | RTLD_NOLOAD);

        ck_assert_ptr_nonnull(lib);
        ck_assert_ptr_nonnull(dlsym(lib, "crosvm_connect"));
        ck_assert_ptr_nonnull(dlsym(lib, "crosvm_vcpu_wait"));
        for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
                ck_assert_msg(dlsym(lib, hidden[i]) == NULL, "libcrosvm_plugin exports %s", hidden[i]);
        dlclose(lib);
}
END_TEST

static Suite *sdk_suite(void) {
        Suite *s = suite_create("sdk_wire");
        TCase *tc = tcase_create("wire");

        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_connect_env);
        tcase_add_test(tc, test_connect_vcpus);
        tcase_add_test(tc, test_connect_odd_fds);
        tcase_add_test(tc, test_memory);
        tcase_add_test(tc, test_objects);
        tcase_add_test(tc, test_vm_calls);
        tcase_add_test(tc, test_hangup);
        tcase_add_test(tc, test_vcpu);
        tcase_add_test(tc, test_two_vcpus);
        tcase_add_test(tc, test_vcpu_lane);
        tcase_add_test(tc, test_vcpu_lane_too_small);
        tcase_add_test(tc, test_exports_crosvm_only);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) { return test_run_suite(sdk_suite()); }
