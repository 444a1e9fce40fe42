/* The VM core on its own, as the fuzzers and benchmarks embed it: no
 * launcher around it to set anything up first.  Needs /dev/kvm. */
#include "pb.h"
#include "pb_errno.h"

#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"
#include "test_util.h"
#include "vcpu.h"
#include "vm.h"
#include "wire.h"

#define LIMITS_DEFAULT                                                                                         \
        {                                                                                                      \
                .tasks = CONFIG_LIMIT_TASKS_DEFAULT, .nofile = CONFIG_LIMIT_NOFILE_DEFAULT,                    \
                .connections = CONFIG_LIMIT_CONNECTIONS_DEFAULT,                                               \
                .memory_regions = CONFIG_LIMIT_MEMORY_REGIONS_DEFAULT,                                         \
                .guest_memory_mib = CONFIG_LIMIT_GUEST_MEMORY_MIB_DEFAULT, .ranges = CONFIG_LIMIT_RANGES_DEFAULT, \
                .irq_events = CONFIG_LIMIT_IRQ_EVENTS_DEFAULT,                                                 \
        }

static struct vm_config config = { .vcpus = 2, .kvm_device = (char *)"/dev/kvm", .limits = LIMITS_DEFAULT };

/* One vCPU more than KVM's limit is refused by vm_new, before any vCPU is
 * made; the config's own ceiling cannot stand in for this check on a host
 * whose limit is that ceiling (CONFIG_MAXSMP kernels: 4096). */
START_TEST(test_vcpus_above_kvm_limit) {
        struct vm_config c = config;
        struct vm *vm = NULL;
        char step[160] = "";
        int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), limit;

        ck_assert_int_ge(fd, 0);
        limit = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
        close(fd);
        ck_assert_int_gt(limit, 0);
        c.vcpus = (unsigned)limit + 1;
        ck_assert_int_eq(vm_new(&c, &vm, step, sizeof(step)), -E2BIG);
        ck_assert_ptr_null(vm);
}
END_TEST

/* A sealed memfd of `size` bytes (sparse). */
static int memfd_of(uint64_t size) {
        int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
        ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
        return fd;
}

/* ---- playing the plugin on a vCPU's pipes ---- */

/* Real-mode code at the reset vector (CS base 0xffff0000, IP 0xfff0):
 * `out 0x80, al; jmp back to the out`, forever.  Port 0x80 is reserved by
 * nobody, so every exit is counted and resumed without a Wait: a running
 * vCPU's IO-out counter climbs on its own. */
#define GUEST_BASE UINT64_C(0xffff0000)
#define GUEST_SIZE UINT64_C(0x10000)
static const uint8_t guest_loop[] = { 0xe6, 0x80, 0xeb, 0xfc };

/* The emulated KVM host (tests/kvmhost) is ~100x slower than a real one:
 * every bounded wait below allows for that. */
#define WAIT_MS 30000

static void vcpu_send(struct vcpu *v, const VcpuRequest *req) {
        uint8_t buf[256];
        size_t n = vcpu_request__get_packed_size(req);

        ck_assert_uint_le(n, sizeof(buf));
        vcpu_request__pack(req, buf);
        ck_assert_int_eq(wire_write_all(v->chan.peer_wr, buf, n), 0);
}

/* The next response on v's pipe, waiting at most WAIT_MS for it: a vCPU
 * that never answers fails the test, naming `what`. */
static VcpuResponse *vcpu_recv(struct vcpu *v, struct wire_reader *rd, const char *what) {
        struct pollfd p = { .fd = v->chan.peer_rd, .events = POLLIN };
        const uint8_t *msg = NULL;
        size_t len = 0;
        VcpuResponse *resp;

        ck_assert_msg(poll(&p, 1, WAIT_MS) == 1, "vCPU %u: no %s within %d ms", v->id, what, WAIT_MS);
        ck_assert_int_eq(wire_reader_next(rd, v->chan.peer_rd, NULL, &msg, &len), 0);
        resp = vcpu_response__unpack(NULL, len, msg);
        ck_assert_ptr_nonnull(resp);
        return resp;
}

static void vcpu_resume(struct vcpu *v) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__Resume res = VCPU_REQUEST__RESUME__INIT;

        req.message_case = VCPU_REQUEST__MESSAGE_RESUME;
        req.resume = &res;
        vcpu_send(v, &req);
}

/* The Init handshake: Wait, answered by Init; then Resume.  In between,
 * every vCPU is made runnable: with the in-kernel LAPIC, a vCPU other
 * than the first waits for a SIPI that nobody here sends. */
static void vcpu_leave_init(struct vcpu *v, struct wire_reader *rd) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__Wait w = VCPU_REQUEST__WAIT__INIT;
        VcpuRequest__SetState ss = VCPU_REQUEST__SET_STATE__INIT;
        struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
        VcpuResponse *resp;

        req.message_case = VCPU_REQUEST__MESSAGE_WAIT;
        req.wait = &w;
        vcpu_send(v, &req);
        resp = vcpu_recv(v, rd, "Init");
        ck_assert_int_eq(resp->message_case, VCPU_RESPONSE__MESSAGE_WAIT);
        ck_assert_int_eq(resp->wait->exit_case, VCPU_RESPONSE__WAIT__EXIT_INIT);
        vcpu_response__free_unpacked(resp, NULL);

        ss.set = VCPU_REQUEST__STATE_SET__MP;
        ss.state.data = (uint8_t *)&mp;
        ss.state.len = sizeof(mp);
        req.message_case = VCPU_REQUEST__MESSAGE_SET_STATE;
        req.set_state = &ss;
        vcpu_send(v, &req);
        resp = vcpu_recv(v, rd, "SetState answer");
        ck_assert_int_eq(resp->message_case, VCPU_RESPONSE__MESSAGE_SET_STATE);
        ck_assert_int_eq(pb_vcpu_response_get_errno(resp), 0);
        vcpu_response__free_unpacked(resp, NULL);
        vcpu_resume(v);
}

static uint64_t outs(const struct vm *vm, unsigned i) {
        return vcpu_stat_get(vm->vcpus[i], VCPU_STAT_IO_OUT);
}

/* Waits until vCPU i's IO-out counter passes `than`; fails after WAIT_MS. */
static uint64_t outs_pass(const struct vm *vm, unsigned i, uint64_t than, const char *what) {
        for (int ms = 0; ms < WAIT_MS; ms++) {
                uint64_t n = outs(vm, i);

                if (n > than)
                        return n;
                usleep(1000);
        }
        ck_abort_msg("vCPU %u made no exits %s (still %llu)", i, what, (unsigned long long)than);
        return 0;
}

/* Pausing stops the vCPU: it answers with Wait{User}, and until the
 * plugin resumes it makes no exit at all, while the vCPU that was not
 * named keeps running; after Resume it runs again.  In a bare process,
 * too: the core installs the kick's SIGRTMIN handler itself (with the
 * default action the signal killed the whole process; the main-request
 * fuzzer found it). */
START_TEST(test_pause_stops_the_vcpu_until_resume) {
        uint8_t rx[2][256];
        struct wire_reader rd[2];
        struct vm *vm = NULL;
        char step[160] = "";
        VcpuResponse *resp;
        uint64_t frozen, other;
        int fd, r;

        signal(SIGRTMIN, SIG_DFL);
        r = vm_new(&config, &vm, step, sizeof(step));
        ck_assert_msg(r == 0, "vm_new: %s: %s", step, strerror(-r));
        ck_assert_uint_eq(vm->n_vcpus, 2);
        fd = memfd_of(GUEST_SIZE);
        ck_assert_int_eq(pwrite(fd, guest_loop, sizeof(guest_loop), 0xfff0), (ssize_t)sizeof(guest_loop));
        ck_assert_int_eq(vm_create_memory(vm, 1, fd, 0, GUEST_BASE, GUEST_SIZE, false, false), 0);
        ck_assert_int_eq(vm_start(vm), 0);
        for (unsigned i = 0; i < 2; i++) {
                wire_reader_init(&rd[i], rx[i], sizeof(rx[i]));
                vcpu_leave_init(vm->vcpus[i], &rd[i]);
        }
        outs_pass(vm, 0, 0, "after Init");
        outs_pass(vm, 1, 0, "after Init");

        vm_pause_vcpus(vm, 0x1, 42);
        resp = vcpu_recv(vm->vcpus[0], &rd[0], "Wait{User} after the pause");
        ck_assert_int_eq(resp->message_case, VCPU_RESPONSE__MESSAGE_WAIT);
        ck_assert_int_eq(resp->wait->exit_case, VCPU_RESPONSE__WAIT__EXIT_USER);
        ck_assert_uint_eq(resp->wait->user->user, 42);
        vcpu_response__free_unpacked(resp, NULL);
        ck_assert_uint_eq(vcpu_stat_get(vm->vcpus[0], VCPU_STAT_USER), 1);

        /* Frozen: while vCPU 1 makes 500 exits more, vCPU 0 makes
         * none.  Time is measured in the other vCPU's work, not in a sleep
         * that a slow host could make too short. */
        frozen = outs(vm, 0);
        other = outs(vm, 1);
        outs_pass(vm, 1, other + 500, "beside the paused one");
        ck_assert_msg(outs(vm, 0) == frozen, "paused vCPU 0 went on: %llu exits, then %llu",
                      (unsigned long long)frozen, (unsigned long long)outs(vm, 0));
        ck_assert_uint_eq(vcpu_stat_get(vm->vcpus[1], VCPU_STAT_USER), 0);

        vcpu_resume(vm->vcpus[0]);
        outs_pass(vm, 0, frozen, "after Resume");

        vm_signal_kill(vm);
        vm_stop_vcpus(vm);
        close(fd);
        vm_free(vm);
}
END_TEST

/* The irqchip and PIT are made late (vm.h): not by vm_new, so that the
 * plugin's memory slots do not wait for the grace period KVM starts with
 * them (kvm.h); by vm_start at the latest, before the vCPUs; once. */
START_TEST(test_irqchip_made_late_and_once) {
        struct vm *vm = NULL;
        char step[160] = "";
        int r;

        r = vm_new(&config, &vm, step, sizeof(step));
        ck_assert_msg(r == 0, "vm_new: %s: %s", step, strerror(-r));
        ck_assert(!vm->kvm.irqchip && !vm->kvm.pit);
        ck_assert_int_eq(vm_start(vm), 0);
        ck_assert(vm->kvm.irqchip && vm->kvm.pit);
        ck_assert_int_eq(vm_irqchip(vm), 0);    /* a second KVM_CREATE_IRQCHIP would be EEXIST */
        vm_signal_kill(vm);
        vm_stop_vcpus(vm);
        vm_free(vm);
}
END_TEST

static struct vm *new_vm(const struct vm_config *c) {
        struct vm *vm = NULL;
        char step[160] = "";
        int r = vm_new(c, &vm, step, sizeof(step));

        ck_assert_msg(r == 0, "vm_new: %s: %s", step, strerror(-r));
        return vm;
}

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* limits.memory_regions (ENOSPC) and limits.guest_memory_mib (E2BIG):
 * slots freed by Destroy count again. */
START_TEST(test_memory_caps) {
        struct vm_config c = config;
        struct vm *vm;
        int fd = memfd_of(8u << 20);

        c.limits.memory_regions = 2;
        c.limits.guest_memory_mib = 3;
        vm = new_vm(&c);
        ck_assert_int_eq(vm_create_memory(vm, 1, fd, 0, 0, 1u << 20, false, false), 0);
        ck_assert_int_eq(vm_create_memory(vm, 2, fd, 1u << 20, 1u << 20, 1u << 20, false, false), 0);
        ck_assert_int_eq(vm_create_memory(vm, 3, fd, 2u << 20, 2u << 20, 1u << 20, false, false), -ENOSPC);
        ck_assert_int_eq(vm_destroy_object(vm, 2), 0);
        ck_assert_int_eq(vm_create_memory(vm, 3, fd, 2u << 20, 2u << 20, 4u << 20, false, false), -E2BIG);
        ck_assert_int_eq(vm_create_memory(vm, 3, fd, 2u << 20, 2u << 20, 2u << 20, false, false), 0);
        ck_assert_int_eq(vm->n_memory, 2);
        ck_assert_uint_eq(vm->memory_bytes, 3u << 20);
        close(fd);
        vm_free(vm);
}
END_TEST

/* A sparse terabyte with dirty logging: refused by the default
 * guest_memory_mib before KVM sizes anything for it (it took 2.7 GB of
 * vmalloc and 5 s). */
START_TEST(test_sparse_terabyte_refused_at_once) {
        struct vm *vm = new_vm(&config);
        int fd = memfd_of(UINT64_C(1) << 40);
        double t = now_s();

        ck_assert_int_eq(vm_create_memory(vm, 1, fd, 0, 0, UINT64_C(1) << 40, false, true), -E2BIG);
        ck_assert_msg(now_s() - t < 0.1, "took %.3f s", now_s() - t);
        close(fd);
        vm_free(vm);
}
END_TEST

/* limits.irq_events covers ioevents and irq events together (EMFILE). */
START_TEST(test_event_cap) {
        struct vm_config c = config;
        struct vm *vm;
        int fd, rfd;

        c.limits.irq_events = 3;
        vm = new_vm(&c);
        ck_assert_int_eq(vm_create_io_event(vm, 1, ADDRESS_SPACE__IOPORT, 0x100, 1, 0, &fd), 0);
        ck_assert_int_eq(vm_create_irq_event(vm, 2, 5, &fd, &rfd), 0);
        ck_assert_int_eq(vm_create_irq_event(vm, 3, 6, &fd, &rfd), 0);
        ck_assert_int_eq(vm_create_irq_event(vm, 4, 7, &fd, &rfd), -EMFILE);
        ck_assert_int_eq(vm_create_io_event(vm, 4, ADDRESS_SPACE__IOPORT, 0x200, 1, 0, &fd), -EMFILE);
        ck_assert_int_eq(vm_destroy_object(vm, 1), 0);
        ck_assert_int_eq(vm_create_io_event(vm, 4, ADDRESS_SPACE__IOPORT, 0x200, 1, 0, &fd), 0);
        vm_free(vm);
}
END_TEST

/* limits.ranges covers both address spaces (ENOSPC); unreserving frees. */
START_TEST(test_range_cap) {
        struct vm_config c = config;
        struct vm *vm;

        c.limits.ranges = 3;
        vm = new_vm(&c);
        ck_assert_int_eq(vm_reserve_range(vm, ADDRESS_SPACE__IOPORT, 0x10, 1, false), 0);
        ck_assert_int_eq(vm_reserve_range(vm, ADDRESS_SPACE__IOPORT, 0x20, 1, false), 0);
        ck_assert_int_eq(vm_reserve_range(vm, ADDRESS_SPACE__MMIO, 0x1000, 1, false), 0);
        ck_assert_int_eq(vm_reserve_range(vm, ADDRESS_SPACE__MMIO, 0x2000, 1, false), -ENOSPC);
        ck_assert_int_eq(vm_reserve_range(vm, ADDRESS_SPACE__IOPORT, 0x20, 0, false), 0);
        ck_assert_int_eq(vm_reserve_range(vm, ADDRESS_SPACE__MMIO, 0x2000, 1, false), 0);
        vm_free(vm);
}
END_TEST

/* One request through the server: the response's errno, and its fds. */
static int request(struct server *s, int epfd, int peer, const MainRequest *req, int send_fd, int *fds,
                   size_t *n_fds) {
        uint8_t buf[WIRE_MAIN_RESPONSE_MAX];
        struct epoll_event ev;
        MainResponse *resp;
        ssize_t n;
        int e;

        n = (ssize_t)main_request__pack(req, buf);
        ck_assert_int_eq(wire_send(peer, buf, (size_t)n, &send_fd, send_fd >= 0), 0);
        ck_assert_int_eq(epoll_wait(epfd, &ev, 1, 1000), 1);
        server_handle(s, ev.data.ptr);
        n = wire_recv(peer, buf, sizeof(buf), fds, WIRE_MAX_FDS, n_fds);
        ck_assert_msg(n > 0, "no response: %s", n < 0 ? strerror((int)-n) : "EOF");
        resp = main_response__unpack(NULL, (size_t)n, buf);
        ck_assert_ptr_nonnull(resp);
        e = pb_main_response_get_errno(resp);
        main_response__free_unpacked(resp, NULL);
        return e;
}

/* A dirty bitmap too large for one response is an E2BIG answer, and the
 * connection stays (it was dropped); NewConnection stops at
 * limits.connections with EMFILE. */
START_TEST(test_server_dirty_log_and_connections) {
        struct vm_config c = config;
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__Create create = MAIN_REQUEST__CREATE__INIT;
        MainRequest__Create__Memory mem = MAIN_REQUEST__CREATE__MEMORY__INIT;
        MainRequest__MemoryDirtyLog dl = MAIN_REQUEST__MEMORY_DIRTY_LOG__INIT;
        MainRequest__NewConnection nc = MAIN_REQUEST__NEW_CONNECTION__INIT;
        uint64_t size = UINT64_C(9) << 30;  /* 2.4 M pages: a 288 KiB bitmap */
        struct server *s = NULL;
        struct vm *vm;
        int sv[2], epfd, fd, fds[WIRE_MAX_FDS], conns[8];
        size_t n_fds = 0, n_conns = 0;

        c.limits.connections = 3;
        vm = new_vm(&c);
        epfd = epoll_create1(EPOLL_CLOEXEC);
        ck_assert_int_eq(server_new(vm, epfd, &s), 0);
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        ck_assert_int_eq(server_add_connection(s, sv[0]), 0);
        fd = memfd_of(size);

        mem.start = 0;
        mem.length = size;
        mem.dirty_log = true;
        create.id = 7;
        create.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY;
        create.memory = &mem;
        req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
        req.create = &create;
        ck_assert_int_eq(request(s, epfd, sv[1], &req, fd, fds, &n_fds), 0);
        dl.id = 7;
        req.message_case = MAIN_REQUEST__MESSAGE_DIRTY_LOG;
        req.dirty_log = &dl;
        ck_assert_int_eq(request(s, epfd, sv[1], &req, -1, fds, &n_fds), E2BIG);
        ck_assert_uint_eq(server_n_connections(s), 1);

        req.message_case = MAIN_REQUEST__MESSAGE_NEW_CONNECTION;
        req.new_connection = &nc;
        for (int i = 0; i < 2; i++) {
                ck_assert_int_eq(request(s, epfd, sv[1], &req, -1, fds, &n_fds), 0);
                ck_assert_uint_eq(n_fds, 1);
                conns[n_conns++] = fds[0];
        }
        ck_assert_int_eq(request(s, epfd, sv[1], &req, -1, fds, &n_fds), EMFILE);
        ck_assert_uint_eq(n_fds, 0);
        ck_assert_uint_eq(server_n_connections(s), 3);

        for (size_t i = 0; i < n_conns; i++)
                close(conns[i]);
        close(sv[1]);
        close(fd);
        server_free(s);
        close(epfd);
        vm_free(vm);
}
END_TEST

int main(void) {
        Suite *s = suite_create("vm");
        TCase *tc = tcase_create("core");

        test_require(test_have_kvm(), "/dev/kvm");
        /* The emulated KVM host is slow; each wait has its own bound. */
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_pause_stops_the_vcpu_until_resume);
        tcase_add_test(tc, test_irqchip_made_late_and_once);
        tcase_add_test(tc, test_vcpus_above_kvm_limit);
        tcase_add_test(tc, test_memory_caps);
        tcase_add_test(tc, test_sparse_terabyte_refused_at_once);
        tcase_add_test(tc, test_event_cap);
        tcase_add_test(tc, test_range_cap);
        tcase_add_test(tc, test_server_dirty_log_and_connections);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
