/* proto/: the per-vCPU channel (channel.h) with both ends in one process,
 * over real pipes and a real lane slot, and the conversions both ends
 * share (pb_convert.h). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "channel.h"
#include "pb.h"
#include "pb_convert.h"
#include "test_util.h"

/* A host end and a plugin end joined by the host's pipes, as GetVcpus
 * joins them; polling off, so every wait blocks. */
static void pair_new(struct channel *host, struct channel *plugin) {
        ck_assert_int_eq(channel_init_host(host, 0), 0);
        ck_assert_int_eq(channel_init_plugin(plugin, dup(host->peer_wr), dup(host->peer_rd), 0), 0);
}

static void pair_free(struct channel *host, struct channel *plugin) {
        channel_destroy(plugin);
        channel_destroy(host);
}

static size_t pack_request(struct channel *c, VcpuRequest__MessageCase which) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__Wait empty = VCPU_REQUEST__WAIT__INIT;

        req.message_case = which;
        req.wait = &empty;      /* every empty sub-message encodes the same */
        return vcpu_request__pack(&req, channel_body(c));
}

static size_t pack_io_wait(struct channel *c, uint64_t address) {
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuResponse__Wait__Io io = VCPU_RESPONSE__WAIT__IO__INIT;
        uint8_t data[4] = { 1, 2, 3, 4 };

        io.address = address;
        io.data.data = data;
        io.data.len = sizeof(data);
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_IO;
        w.io = &io;
        resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
        resp.wait = &w;
        return vcpu_response__pack(&resp, channel_body(c));
}

static VcpuRequest__MessageCase recv_request(struct channel *host) {
        const uint8_t *msg = NULL;
        size_t len = 0;
        VcpuRequest *req;
        VcpuRequest__MessageCase which;

        ck_assert_int_eq(channel_recv(host, false, &msg, &len), 0);
        req = vcpu_request__unpack(NULL, len, msg);
        ck_assert_ptr_nonnull(req);
        which = req->message_case;
        vcpu_request__free_unpacked(req, NULL);
        return which;
}

static uint64_t recv_io_address(struct channel *plugin) {
        const uint8_t *msg = NULL;
        size_t len = 0;
        VcpuResponse *resp;
        uint64_t address;

        ck_assert_int_eq(channel_recv(plugin, false, &msg, &len), 0);
        resp = vcpu_response__unpack(NULL, len, msg);
        ck_assert_ptr_nonnull(resp);
        ck_assert_int_eq(resp->message_case, VCPU_RESPONSE__MESSAGE_WAIT);
        ck_assert_int_eq(resp->wait->exit_case, VCPU_RESPONSE__WAIT__EXIT_IO);
        ck_assert_uint_eq(resp->wait->io->data.len, 4);
        address = resp->wait->io->address;
        vcpu_response__free_unpacked(resp, NULL);
        return address;
}

static int pipe_bytes(int fd) {
        int n = -1;

        ck_assert_int_eq(ioctl(fd, FIONREAD, &n), 0);
        return n;
}

/* On the pipes each end frames as PROTOCOL.md §1 says: the plugin's
 * requests bare, one per write; the host's responses length-prefixed,
 * several of which one read of the plugin's takes apart. */
START_TEST(test_pipe_framing) {
        struct channel host, plugin;
        size_t len;

        pair_new(&host, &plugin);
        len = pack_request(&plugin, VCPU_REQUEST__MESSAGE_WAIT);
        ck_assert_int_eq(channel_send(&plugin, len), 0);
        ck_assert_int_eq(pipe_bytes(host.rd), (int)len);
        ck_assert_int_eq(recv_request(&host), VCPU_REQUEST__MESSAGE_WAIT);

        len = pack_io_wait(&host, 0x3f8);
        ck_assert_int_eq(channel_send(&host, len), 0);
        ck_assert_int_eq(pipe_bytes(plugin.rd), (int)len + 1);  /* a one-byte prefix */
        ck_assert_int_eq(channel_send(&host, pack_io_wait(&host, 0x3f9)), 0);
        ck_assert_uint_eq(recv_io_address(&plugin), 0x3f8);
        ck_assert_uint_eq(recv_io_address(&plugin), 0x3f9);
        pair_free(&host, &plugin);
}
END_TEST

/* The switch: armed by the plugin before its Resume, taken by the host
 * after reading it; from then on nothing crosses the pipes. */
START_TEST(test_lane_switch) {
        struct lane_slot *slot = mmap(NULL, LANE_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                                      -1, 0);
        struct channel host, plugin;
        atomic_bool stop = false;

        ck_assert_ptr_ne(slot, MAP_FAILED);
        pair_new(&host, &plugin);
        channel_offer_lane(&host, slot, &stop);
        channel_offer_lane(&plugin, slot, NULL);
        ck_assert(!channel_lane_take(&host));   /* not armed yet */
        ck_assert(channel_lane_arm(&plugin));
        ck_assert_int_eq(channel_send(&plugin, pack_request(&plugin, VCPU_REQUEST__MESSAGE_RESUME)), 0);
        channel_lane_enter(&plugin);
        ck_assert(!channel_lane_arm(&plugin));  /* once */
        ck_assert_int_eq(recv_request(&host), VCPU_REQUEST__MESSAGE_RESUME);
        ck_assert(channel_lane_take(&host));
        ck_assert(channel_on_lane(&host) && channel_on_lane(&plugin));

        ck_assert_int_eq(channel_send(&host, pack_io_wait(&host, 0xd000)), 0);
        ck_assert_int_eq(channel_send(&plugin, pack_request(&plugin, VCPU_REQUEST__MESSAGE_GET_STATE)), 0);
        ck_assert_int_eq(pipe_bytes(host.rd), 0);
        ck_assert_int_eq(pipe_bytes(plugin.rd), 0);
        ck_assert_uint_eq(recv_io_address(&plugin), 0xd000);
        ck_assert_int_eq(recv_request(&host), VCPU_REQUEST__MESSAGE_GET_STATE);
        pair_free(&host, &plugin);
        munmap(slot, LANE_SLOT_BYTES);
}
END_TEST

/* On the pipe, the stop injects a Shutdown request that the vCPU thread
 * reads as the plugin's next. */
START_TEST(test_inject_shutdown_pipe) {
        struct channel host, plugin;

        pair_new(&host, &plugin);
        channel_inject_shutdown(&host);
        ck_assert_int_eq(recv_request(&host), VCPU_REQUEST__MESSAGE_SHUTDOWN);
        pair_free(&host, &plugin);
}
END_TEST

struct waiter {
        struct channel *c;
        int r;
        pid_t tid;
};

static void *wait_thread(void *arg) {
        struct waiter *w = arg;
        const uint8_t *msg = NULL;
        size_t len = 0;

        w->tid = gettid();
        w->r = channel_recv(w->c, false, &msg, &len);
        return NULL;
}

/* On the lane, the stop flag and the injection's bells end a host
 * reader's sleep with -EPIPE. */
START_TEST(test_inject_shutdown_lane) {
        struct lane_slot *slot = mmap(NULL, LANE_SLOT_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                                      -1, 0);
        struct channel host, plugin;
        atomic_bool stop = false;
        struct waiter w = { .c = &host, .r = 1 };
        pthread_t t;

        ck_assert_ptr_ne(slot, MAP_FAILED);
        pair_new(&host, &plugin);
        channel_offer_lane(&host, slot, &stop);
        channel_offer_lane(&plugin, slot, NULL);
        ck_assert(channel_lane_arm(&plugin));
        ck_assert(channel_lane_take(&host));
        ck_assert_int_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
        while (!__atomic_load_n(&w.tid, __ATOMIC_ACQUIRE))
                usleep(1000);
        test_wait_asleep(w.tid);
        atomic_store(&stop, true);
        channel_inject_shutdown(&host);
        pthread_join(t, NULL);
        ck_assert_int_eq(w.r, -EPIPE);
        pair_free(&host, &plugin);
        munmap(slot, LANE_SLOT_BYTES);
}
END_TEST

/* The drain empties what the host sent and nobody read. */
START_TEST(test_drain) {
        struct channel host, plugin;

        pair_new(&host, &plugin);
        for (int i = 0; i < 100; i++)
                ck_assert_int_eq(channel_send(&host, pack_io_wait(&host, (uint64_t)i)), 0);
        ck_assert_int_gt(pipe_bytes(host.peer_rd), 0);
        channel_drain(&host);
        ck_assert_int_eq(pipe_bytes(host.peer_rd), 0);
        pair_free(&host, &plugin);
}
END_TEST

/* Every request case is answered by the case one above it, except
 * dirty_log, 101 on both sides (PROTOCOL.md §3). */
START_TEST(test_response_case) {
        const ProtobufCFieldDescriptor *f = main_request__descriptor.fields;

        for (unsigned i = 0; i < main_request__descriptor.n_fields; i++) {
                MainResponse__MessageCase want = f[i].id == MAIN_REQUEST__MESSAGE_DIRTY_LOG
                                                         ? MAIN_RESPONSE__MESSAGE_DIRTY_LOG
                                                         : (MainResponse__MessageCase)(f[i].id + 1);
                const ProtobufCFieldDescriptor *rf =
                        protobuf_c_message_descriptor_get_field(&main_response__descriptor, want);

                ck_assert_int_eq(pb_response_case((MainRequest__MessageCase)f[i].id), want);
                /* The response field exists, and is named as the request's. */
                ck_assert_ptr_nonnull(rf);
                if (f[i].id != MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID &&
                    f[i].id != MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID &&
                    f[i].id != MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST)
                        ck_assert_msg(strcmp(rf->name, f[i].name) == 0, "request %s answered by %s", f[i].name,
                                      rf->name);
        }
        ck_assert_int_eq(pb_response_case(MAIN_REQUEST__MESSAGE_DIRTY_LOG), 101);
}
END_TEST

START_TEST(test_cpuid) {
        struct kvm_cpuid_entry2 k[3] = {
                { .function = 7, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 1, .ebx = 2, .ecx = 3,
                  .edx = 4 },
                { .function = 0x80000001u, .flags = KVM_CPUID_FLAG_STATEFUL_FUNC, .edx = 0xffffffffu },
                { .function = 0xd, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX },
        };
        struct kvm_cpuid_entry2 back[3];
        CpuidEntry e[3], *p[3];
        uint32_t n = 0;

        pb_cpuid_list_from_kvm(k, 3, e, p);
        ck_assert(p[0] == &e[0] && p[2] == &e[2]);
        ck_assert(e[0].has_index && !e[1].has_index && e[2].has_index);
        ck_assert_uint_eq(e[1].edx, 0xffffffffu);
        /* Too small: nothing copied, the count still said. */
        memset(back, 0xa5, sizeof(back));
        ck_assert_int_eq(pb_cpuid_list_to_kvm(p, 3, 2, back, &n), -E2BIG);
        ck_assert_uint_eq(n, 3);
        ck_assert_uint_eq(back[0].function, 0xa5a5a5a5u);
        ck_assert_int_eq(pb_cpuid_list_to_kvm(p, 3, 3, back, &n), 0);
        ck_assert_uint_eq(n, 3);
        for (int i = 0; i < 3; i++) {
                ck_assert_uint_eq(back[i].function, k[i].function);
                ck_assert_uint_eq(back[i].index, k[i].index);
                ck_assert_uint_eq(back[i].eax, k[i].eax);
                ck_assert_uint_eq(back[i].edx, k[i].edx);
                /* Only the significant-index flag travels. */
                ck_assert_uint_eq(back[i].flags, k[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("proto");
        TCase *tc = tcase_create("proto");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_pipe_framing);
        tcase_add_test(tc, test_lane_switch);
        tcase_add_test(tc, test_inject_shutdown_pipe);
        tcase_add_test(tc, test_inject_shutdown_lane);
        tcase_add_test(tc, test_drain);
        tcase_add_test(tc, test_response_case);
        tcase_add_test(tc, test_cpuid);
        suite_add_tcase(s, tc);
        return test_run_suite(s);
}
