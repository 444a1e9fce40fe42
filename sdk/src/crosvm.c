/* libcrosvm_plugin: the plugin side of the crosvm plugin protocol.
 *
 * Wire-compatible with crosvm's library; where that library had bugs this
 * one is correct and says so: syscall failures come back as negative
 * errnos (crosvm's came back positive), a vCPU response split across pipe
 * reads is reassembled, and every fd received is CLOEXEC. */
#include "pb.h"

#include "crosvm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wire.h"

#define EXPORT __attribute__((visibility("default")))
#define IO_DATA_MAX 4096        /* a port I/O exit's data fits one page */

/* What every connection from one crosvm_connect shares. */
struct shared {
        atomic_int refs;
        pthread_mutex_t id_lock;
        uint32_t next_id;
        struct crosvm_vcpu **vcpus;
        uint32_t n_vcpus;
};

struct crosvm {
        int sock;
        struct shared *shared;
        uint8_t *buf;           /* WIRE_MAIN_RESPONSE_MAX */
};

struct crosvm_io {
        uint32_t id;
        int fd;
};

struct crosvm_memory {
        uint32_t id;
        uint64_t length;
};

struct crosvm_irq {
        uint32_t id;
        int fd, resample_fd;
};

/* A register set that may be cached from an I/O event or set lazily. */
struct reg_cache {
        bool valid;             /* data holds the vCPU's current value */
        bool pending;           /* data must reach the vCPU at resume */
        size_t size;
        uint8_t data[512];
};

struct crosvm_vcpu {
        int req_fd;             /* plugin -> host, bare VcpuRequests */
        int resp_fd;            /* host -> plugin, varint-prefixed responses */
        bool wait_sent;         /* the first Wait went out; the rest are pushed */
        struct wire_reader reader;
        uint8_t *rx;
        uint8_t *tx;
        enum { RESUME_NONE, RESUME_IO_READ, RESUME_HCALL, RESUME_PLAIN } resume;
        uint8_t io_data[IO_DATA_MAX];
        uint32_t io_len;
        uint64_t hcall_result;
        struct reg_cache regs, sregs, dregs;
};

/* ---- ids ---- */

static uint32_t id_alloc(struct shared *s) {
        uint32_t id;

        pthread_mutex_lock(&s->id_lock);
        id = s->next_id++;
        pthread_mutex_unlock(&s->id_lock);
        return id;
}

/* A freed id is reused only when it was the last one handed out. */
static void id_free(struct shared *s, uint32_t id) {
        pthread_mutex_lock(&s->id_lock);
        if (id + 1 == s->next_id)
                s->next_id--;
        pthread_mutex_unlock(&s->id_lock);
}

/* ---- main socket ---- */

static void close_all(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

static MainResponse__MessageCase expected_case(MainRequest__MessageCase c) {
        return c == MAIN_REQUEST__MESSAGE_DIRTY_LOG ? MAIN_RESPONSE__MESSAGE_DIRTY_LOG
                                                    : (MainResponse__MessageCase)(c + 1);
}

/* Sends a request (with at most one fd) and receives its response.  On
 * success the caller owns *ret_resp and the fds; on failure everything
 * received is released. */
static int transact(struct crosvm *c, const MainRequest *req, int fd_out, MainResponse **ret_resp, int *fds,
                    size_t *ret_n_fds) {
        size_t len = main_request__get_packed_size(req), n_fds = 0;
        int local[WIRE_MAX_FDS];
        uint8_t *out;
        MainResponse *resp;
        ssize_t n;
        int r;

        out = malloc(len ? len : 1);
        if (!out)
                return -ENOMEM;
        main_request__pack(req, out);
        r = wire_send(c->sock, out, len, fd_out >= 0 ? &fd_out : NULL, fd_out >= 0 ? 1 : 0);
        free(out);
        if (r < 0)
                return r;
        if (!fds)
                fds = local;
        n = wire_recv(c->sock, c->buf, WIRE_MAIN_RESPONSE_MAX, fds, WIRE_MAX_FDS, &n_fds);
        if (n < 0)
                return (int)n;
        if (n == 0)
                return -EPIPE;
        resp = main_response__unpack(NULL, (size_t)n, c->buf);
        if (!resp) {
                close_all(fds, n_fds);
                return -EPROTO;
        }
        r = pb_main_response_get_errno(resp);
        if (r != 0) {
                close_all(fds, n_fds);
                main_response__free_unpacked(resp, NULL);
                return r > 0 ? -r : r;
        }
        if (resp->message_case != expected_case(req->message_case)) {
                close_all(fds, n_fds);
                main_response__free_unpacked(resp, NULL);
                return -EPROTO;
        }
        if (fds == local)
                close_all(fds, n_fds);
        else
                *ret_n_fds = n_fds;
        if (ret_resp)
                *ret_resp = resp;
        else
                main_response__free_unpacked(resp, NULL);
        return 0;
}

/* A request whose response carries nothing but success or an errno. */
static int simple(struct crosvm *c, MainRequest *req) {
        return transact(c, req, -1, NULL, NULL, NULL);
}

/* ---- connections ---- */

static void vcpu_free(struct crosvm_vcpu *v) {
        if (!v)
                return;
        if (v->req_fd >= 0)
                close(v->req_fd);
        if (v->resp_fd >= 0)
                close(v->resp_fd);
        free(v->rx);
        free(v->tx);
        free(v);
}

static void shared_unref(struct shared *s) {
        if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
                return;
        for (uint32_t i = 0; i < s->n_vcpus; i++)
                vcpu_free(s->vcpus[i]);
        free(s->vcpus);
        pthread_mutex_destroy(&s->id_lock);
        free(s);
}

static struct crosvm *connection_new(int sock, struct shared *s) {
        struct crosvm *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->buf = malloc(WIRE_MAIN_RESPONSE_MAX);
        if (!c->buf) {
                free(c);
                return NULL;
        }
        c->sock = sock;
        c->shared = s;
        atomic_fetch_add(&s->refs, 1);
        return c;
}

static void connection_free(struct crosvm *c) {
        if (!c)
                return;
        if (c->sock >= 0)
                close(c->sock);
        shared_unref(c->shared);
        free(c->buf);
        free(c);
}

static int load_vcpus(struct crosvm *c) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__GetVcpus gv = MAIN_REQUEST__GET_VCPUS__INIT;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        struct shared *s = c->shared;
        int r;

        req.message_case = MAIN_REQUEST__MESSAGE_GET_VCPUS;
        req.get_vcpus = &gv;
        r = transact(c, &req, -1, NULL, fds, &n);
        if (r < 0)
                return r;
        if (n == 0 || n % 2) {
                close_all(fds, n);
                return -EPROTO;
        }
        s->vcpus = calloc(n / 2, sizeof(*s->vcpus));
        if (!s->vcpus) {
                close_all(fds, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n / 2; i++) {
                struct crosvm_vcpu *v = calloc(1, sizeof(*v));

                if (v) {
                        v->rx = malloc(WIRE_PIPE_MAX);
                        v->tx = malloc(WIRE_PIPE_MAX);
                }
                if (!v || !v->rx || !v->tx) {
                        if (v) {
                                free(v->rx);
                                free(v->tx);
                                free(v);
                        }
                        close_all(fds + 2 * i, n - 2 * i);
                        return -ENOMEM;
                }
                v->req_fd = fds[2 * i];
                v->resp_fd = fds[2 * i + 1];
                v->regs.size = sizeof(struct kvm_regs);
                v->sregs.size = sizeof(struct kvm_sregs);
                v->dregs.size = sizeof(struct kvm_debugregs);
                wire_reader_init(&v->reader, v->rx, WIRE_PIPE_MAX);
                s->vcpus[s->n_vcpus++] = v;
        }
        return 0;
}

EXPORT int crosvm_connect(struct crosvm **out) {
        const char *env = getenv("CROSVM_SOCKET");
        struct shared *s;
        struct crosvm *c;
        char *end;
        long fd;
        int r;

        if (!out)
                return -EINVAL;
        if (!env)
                return -ENOTCONN;
        errno = 0;
        fd = strtol(env, &end, 10);
        if (errno || end == env || *end || fd < 0 || fd > INT_MAX)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->id_lock, NULL);
        /* The inherited socket stays out of anything the plugin execs. */
        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        c = connection_new((int)fd, s);
        if (!c) {
                free(s);
                return -ENOMEM;
        }
        r = load_vcpus(c);
        if (r < 0) {
                c->sock = -1;   /* the caller's fd: left open on failure */
                connection_free(c);
                return r;
        }
        *out = c;
        return 0;
}

EXPORT int crosvm_new_connection(struct crosvm *self, struct crosvm **out) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__NewConnection nc = MAIN_REQUEST__NEW_CONNECTION__INIT;
        struct crosvm *c;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r;

        if (!self || !out)
                return -EINVAL;
        req.message_case = MAIN_REQUEST__MESSAGE_NEW_CONNECTION;
        req.new_connection = &nc;
        r = transact(self, &req, -1, NULL, fds, &n);
        if (r < 0)
                return r;
        if (n != 1) {
                close_all(fds, n);
                return -EPROTO;
        }
        c = connection_new(fds[0], self->shared);
        if (!c) {
                close(fds[0]);
                return -ENOMEM;
        }
        *out = c;
        return 0;
}

EXPORT int crosvm_destroy_connection(struct crosvm **self) {
        if (self && *self) {
                connection_free(*self);
                *self = NULL;
        }
        return 0;
}

static int get_one_fd(struct crosvm *c, MainRequest *req) {
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r = transact(c, req, -1, NULL, fds, &n);

        if (r < 0)
                return r;
        if (n != 1) {
                close_all(fds, n);
                return -EPROTO;
        }
        return fds[0];
}

EXPORT int crosvm_get_shutdown_eventfd(struct crosvm *c) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__GetShutdownEventfd m = MAIN_REQUEST__GET_SHUTDOWN_EVENTFD__INIT;

        if (!c)
                return -EINVAL;
        req.message_case = MAIN_REQUEST__MESSAGE_GET_SHUTDOWN_EVENTFD;
        req.get_shutdown_eventfd = &m;
        return get_one_fd(c, &req);
}

EXPORT int crosvm_check_extension(struct crosvm *c, uint32_t extension, bool *has_extension) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__CheckExtension m = MAIN_REQUEST__CHECK_EXTENSION__INIT;
        MainResponse *resp = NULL;
        int r;

        if (!c || !has_extension)
                return -EINVAL;
        m.extension = extension;
        req.message_case = MAIN_REQUEST__MESSAGE_CHECK_EXTENSION;
        req.check_extension = &m;
        r = transact(c, &req, -1, &resp, NULL, NULL);
        if (r < 0)
                return r;
        *has_extension = resp->check_extension->has_extension;
        main_response__free_unpacked(resp, NULL);
        return 0;
}

EXPORT int crosvm_enable_capability(struct crosvm *c, uint32_t capability, uint32_t flags, uint64_t args[4]) {
        (void)c;
        (void)capability;
        (void)flags;
        (void)args;
        return -EINVAL;
}

static void cpuid_to_kvm(const CpuidEntry *e, struct kvm_cpuid_entry2 *k) {
        memset(k, 0, sizeof(*k));
        k->function = e->function;
        k->index = e->index;
        k->flags = e->has_index ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
        k->eax = e->eax;
        k->ebx = e->ebx;
        k->ecx = e->ecx;
        k->edx = e->edx;
}

static int copy_cpuid(CpuidEntry **entries, size_t n, uint32_t count, struct kvm_cpuid_entry2 *out,
                      uint32_t *out_count) {
        *out_count = (uint32_t)n;
        if (n > count)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                cpuid_to_kvm(entries[i], &out[i]);
        return 0;
}

static int get_cpuid(struct crosvm *c, bool emulated, uint32_t count, struct kvm_cpuid_entry2 *entries,
                     uint32_t *out_count) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__CpuidRequest m = MAIN_REQUEST__CPUID_REQUEST__INIT;
        MainResponse *resp = NULL;
        int r;

        if (!c || !out_count || (count && !entries))
                return -EINVAL;
        *out_count = 0;
        req.message_case = emulated ? MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID : MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID;
        req.get_supported_cpuid = &m;
        r = transact(c, &req, -1, &resp, NULL, NULL);
        if (r < 0)
                return r;
        r = copy_cpuid(resp->get_supported_cpuid->entries, resp->get_supported_cpuid->n_entries, count, entries,
                       out_count);
        main_response__free_unpacked(resp, NULL);
        return r;
}

EXPORT int crosvm_get_supported_cpuid(struct crosvm *c, uint32_t count, struct kvm_cpuid_entry2 *entries,
                                      uint32_t *out_count) {
        return get_cpuid(c, false, count, entries, out_count);
}

EXPORT int crosvm_get_emulated_cpuid(struct crosvm *c, uint32_t count, struct kvm_cpuid_entry2 *entries,
                                     uint32_t *out_count) {
        return get_cpuid(c, true, count, entries, out_count);
}

EXPORT int crosvm_get_msr_index_list(struct crosvm *c, uint32_t count, uint32_t *indices, uint32_t *out_count) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__MsrListRequest m = MAIN_REQUEST__MSR_LIST_REQUEST__INIT;
        MainResponse *resp = NULL;
        size_t n;
        int r;

        if (!c || !out_count || (count && !indices))
                return -EINVAL;
        *out_count = 0;
        req.message_case = MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST;
        req.get_msr_index_list = &m;
        r = transact(c, &req, -1, &resp, NULL, NULL);
        if (r < 0)
                return r;
        n = resp->get_msr_index_list->n_indices;
        *out_count = (uint32_t)n;
        if (n > count)
                r = -E2BIG;
        else
                memcpy(indices, resp->get_msr_index_list->indices, n * sizeof(uint32_t));
        main_response__free_unpacked(resp, NULL);
        return r;
}

EXPORT int crosvm_net_get_config(struct crosvm *c, struct crosvm_net_config *config) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__GetNetConfig m = MAIN_REQUEST__GET_NET_CONFIG__INIT;
        MainResponse *resp = NULL;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r;

        if (!c || !config)
                return -EINVAL;
        req.message_case = MAIN_REQUEST__MESSAGE_GET_NET_CONFIG;
        req.get_net_config = &m;
        r = transact(c, &req, -1, &resp, fds, &n);
        if (r < 0)
                return r;
        if (n != 1 || resp->get_net_config->host_mac_address.len != 6) {
                close_all(fds, n);
                main_response__free_unpacked(resp, NULL);
                return -EPROTO;
        }
        memset(config, 0, sizeof(*config));
        config->tap_fd = fds[0];
        config->host_ip = resp->get_net_config->host_ipv4_address;
        config->netmask = resp->get_net_config->netmask;
        memcpy(config->host_mac_address, resp->get_net_config->host_mac_address.data, 6);
        main_response__free_unpacked(resp, NULL);
        return 0;
}

static int reserve(struct crosvm *c, uint32_t space, uint64_t start, uint64_t length, bool async_write) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__ReserveRange m = MAIN_REQUEST__RESERVE_RANGE__INIT;

        if (!c || space > CROSVM_ADDRESS_SPACE_MMIO)
                return -EINVAL;
        m.space = (AddressSpace)space;
        m.start = start;
        m.length = length;
        m.async_write = async_write;
        req.message_case = MAIN_REQUEST__MESSAGE_RESERVE_RANGE;
        req.reserve_range = &m;
        return simple(c, &req);
}

EXPORT int crosvm_reserve_range(struct crosvm *c, uint32_t space, uint64_t start, uint64_t length) {
        return reserve(c, space, start, length, false);
}

EXPORT int crosvm_reserve_async_write_range(struct crosvm *c, uint32_t space, uint64_t start, uint64_t length) {
        return reserve(c, space, start, length, true);
}

EXPORT int crosvm_set_irq(struct crosvm *c, uint32_t irq_id, bool active) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__SetIrq m = MAIN_REQUEST__SET_IRQ__INIT;

        if (!c)
                return -EINVAL;
        m.irq_id = irq_id;
        m.active = active;
        req.message_case = MAIN_REQUEST__MESSAGE_SET_IRQ;
        req.set_irq = &m;
        return simple(c, &req);
}

EXPORT int crosvm_set_irq_routing(struct crosvm *c, uint32_t count, const struct crosvm_irq_route *routes) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__SetIrqRouting m = MAIN_REQUEST__SET_IRQ_ROUTING__INIT;
        MainRequest__SetIrqRouting__Route *rv = NULL, **rp = NULL;
        MainRequest__SetIrqRouting__Route__Irqchip *chips = NULL;
        MainRequest__SetIrqRouting__Route__Msi *msis = NULL;
        int r = -ENOMEM;

        if (!c || (count && !routes))
                return -EINVAL;
        if (count) {
                rv = calloc(count, sizeof(*rv));
                rp = calloc(count, sizeof(*rp));
                chips = calloc(count, sizeof(*chips));
                msis = calloc(count, sizeof(*msis));
                if (!rv || !rp || !chips || !msis)
                        goto out;
        }
        for (uint32_t i = 0; i < count; i++) {
                main_request__set_irq_routing__route__init(&rv[i]);
                rv[i].irq_id = routes[i].irq_id;
                if (routes[i].kind == CROSVM_IRQ_ROUTE_IRQCHIP) {
                        main_request__set_irq_routing__route__irqchip__init(&chips[i]);
                        chips[i].irqchip = routes[i].irqchip.irqchip;
                        chips[i].pin = routes[i].irqchip.pin;
                        rv[i].route_case = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_IRQCHIP;
                        rv[i].irqchip = &chips[i];
                } else if (routes[i].kind == CROSVM_IRQ_ROUTE_MSI) {
                        main_request__set_irq_routing__route__msi__init(&msis[i]);
                        msis[i].address = routes[i].msi.address;
                        msis[i].data = routes[i].msi.data;
                        rv[i].route_case = MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_MSI;
                        rv[i].msi = &msis[i];
                } else {
                        r = -EINVAL;
                        goto out;
                }
                rp[i] = &rv[i];
        }
        m.n_routes = count;
        m.routes = rp;
        req.message_case = MAIN_REQUEST__MESSAGE_SET_IRQ_ROUTING;
        req.set_irq_routing = &m;
        r = simple(c, &req);
out:
        free(rv);
        free(rp);
        free(chips);
        free(msis);
        return r;
}

EXPORT int crosvm_set_hypercall_hint(struct crosvm *c, uint32_t count, const struct crosvm_hint *hints) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__SetCallHint m = MAIN_REQUEST__SET_CALL_HINT__INIT;
        MainRequest__SetCallHint__RegHint d[CROSVM_MAX_HINT_DETAIL_COUNT], *dp[CROSVM_MAX_HINT_DETAIL_COUNT];

        if (!c || count > CROSVM_MAX_HINT_COUNT || (count && !hints))
                return -EINVAL;
        if (count == 1) {
                const struct crosvm_hint *h = hints;

                if (h->hint_version != 0 || h->_reserved != 0 || h->address == 0 ||
                    (h->address_flags != 0 && h->address_flags != CROSVM_HINT_ON_WRITE) ||
                    h->details_count > CROSVM_MAX_HINT_DETAIL_COUNT || h->address_space > CROSVM_ADDRESS_SPACE_MMIO ||
                    (h->details_count && !h->details))
                        return -EINVAL;
                m.space = (AddressSpace)h->address_space;
                m.address = h->address;
                m.on_write = h->address_flags == CROSVM_HINT_ON_WRITE;
                for (uint16_t i = 0; i < h->details_count; i++) {
                        const struct crosvm_hint_detail *s = &h->details[i];

                        main_request__set_call_hint__reg_hint__init(&d[i]);
                        d[i].match_rax = s->match_rax;
                        d[i].match_rbx = s->match_rbx;
                        d[i].match_rcx = s->match_rcx;
                        d[i].match_rdx = s->match_rdx;
                        d[i].rax = s->rax;
                        d[i].rbx = s->rbx;
                        d[i].rcx = s->rcx;
                        d[i].rdx = s->rdx;
                        d[i].send_sregs = s->send_sregs;
                        d[i].send_debugregs = s->send_debugregs;
                        dp[i] = &d[i];
                }
                m.n_hints = h->details_count;
                m.hints = dp;
        }
        req.message_case = MAIN_REQUEST__MESSAGE_SET_CALL_HINT;
        req.set_call_hint = &m;
        return simple(c, &req);
}

static int vm_get_state(struct crosvm *c, MainRequest__StateSet set, void *out, size_t size) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__GetState m = MAIN_REQUEST__GET_STATE__INIT;
        MainResponse *resp = NULL;
        int r;

        if (!c || !out)
                return -EINVAL;
        m.set = set;
        req.message_case = MAIN_REQUEST__MESSAGE_GET_STATE;
        req.get_state = &m;
        r = transact(c, &req, -1, &resp, NULL, NULL);
        if (r < 0)
                return r;
        if (resp->get_state->state.len != size)
                r = -EPROTO;
        else
                memcpy(out, resp->get_state->state.data, size);
        main_response__free_unpacked(resp, NULL);
        return r;
}

static int vm_set_state(struct crosvm *c, MainRequest__StateSet set, const void *in, size_t size) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__SetState m = MAIN_REQUEST__SET_STATE__INIT;

        if (!c || !in)
                return -EINVAL;
        m.set = set;
        m.state.data = (uint8_t *)in;
        m.state.len = size;
        req.message_case = MAIN_REQUEST__MESSAGE_SET_STATE;
        req.set_state = &m;
        return simple(c, &req);
}

EXPORT int crosvm_get_pic_state(struct crosvm *c, bool primary, struct kvm_pic_state *s) {
        return vm_get_state(c, primary ? MAIN_REQUEST__STATE_SET__PIC0 : MAIN_REQUEST__STATE_SET__PIC1, s, sizeof(*s));
}

EXPORT int crosvm_set_pic_state(struct crosvm *c, bool primary, const struct kvm_pic_state *s) {
        return vm_set_state(c, primary ? MAIN_REQUEST__STATE_SET__PIC0 : MAIN_REQUEST__STATE_SET__PIC1, s, sizeof(*s));
}

EXPORT int crosvm_get_ioapic_state(struct crosvm *c, struct kvm_ioapic_state *s) {
        return vm_get_state(c, MAIN_REQUEST__STATE_SET__IOAPIC, s, sizeof(*s));
}

EXPORT int crosvm_set_ioapic_state(struct crosvm *c, const struct kvm_ioapic_state *s) {
        return vm_set_state(c, MAIN_REQUEST__STATE_SET__IOAPIC, s, sizeof(*s));
}

EXPORT int crosvm_get_pit_state(struct crosvm *c, struct kvm_pit_state2 *s) {
        return vm_get_state(c, MAIN_REQUEST__STATE_SET__PIT, s, sizeof(*s));
}

EXPORT int crosvm_set_pit_state(struct crosvm *c, const struct kvm_pit_state2 *s) {
        return vm_set_state(c, MAIN_REQUEST__STATE_SET__PIT, s, sizeof(*s));
}

EXPORT int crosvm_get_clock(struct crosvm *c, struct kvm_clock_data *s) {
        return vm_get_state(c, MAIN_REQUEST__STATE_SET__CLOCK, s, sizeof(*s));
}

EXPORT int crosvm_set_clock(struct crosvm *c, const struct kvm_clock_data *s) {
        return vm_set_state(c, MAIN_REQUEST__STATE_SET__CLOCK, s, sizeof(*s));
}

EXPORT int crosvm_set_identity_map_addr(struct crosvm *c, uint32_t addr) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__SetIdentityMapAddr m = MAIN_REQUEST__SET_IDENTITY_MAP_ADDR__INIT;

        if (!c)
                return -EINVAL;
        m.address = addr;
        req.message_case = MAIN_REQUEST__MESSAGE_SET_IDENTITY_MAP_ADDR;
        req.set_identity_map_addr = &m;
        return simple(c, &req);
}

EXPORT int crosvm_pause_vcpus(struct crosvm *c, uint64_t cpu_mask, void *user) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__PauseVcpus m = MAIN_REQUEST__PAUSE_VCPUS__INIT;

        if (!c)
                return -EINVAL;
        m.cpu_mask = cpu_mask;
        m.user = (uint64_t)(uintptr_t)user;
        req.message_case = MAIN_REQUEST__MESSAGE_PAUSE_VCPUS;
        req.pause_vcpus = &m;
        return simple(c, &req);
}

EXPORT int crosvm_start(struct crosvm *c) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__Start m = MAIN_REQUEST__START__INIT;

        if (!c)
                return -EINVAL;
        req.message_case = MAIN_REQUEST__MESSAGE_START;
        req.start = &m;
        return simple(c, &req);
}

static int destroy(struct crosvm *c, uint32_t id) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__Destroy m = MAIN_REQUEST__DESTROY__INIT;
        int r;

        m.id = id;
        req.message_case = MAIN_REQUEST__MESSAGE_DESTROY;
        req.destroy = &m;
        r = simple(c, &req);
        if (r == 0)
                id_free(c->shared, id);
        return r;
}

EXPORT int crosvm_create_io_event(struct crosvm *c, uint32_t space, uint64_t addr, uint32_t len,
                                  const uint8_t *datamatch, struct crosvm_io **out) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__Create m = MAIN_REQUEST__CREATE__INIT;
        MainRequest__Create__IoEvent e = MAIN_REQUEST__CREATE__IO_EVENT__INIT;
        struct crosvm_io *io;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r;

        if (!c || !out || space > CROSVM_ADDRESS_SPACE_MMIO)
                return -EINVAL;
        if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
                return -EINVAL;
        if (len && !datamatch)
                return -EINVAL;
        io = calloc(1, sizeof(*io));
        if (!io)
                return -ENOMEM;
        if (len) {
                uint64_t v = 0;

                /* Native-endian, possibly unaligned. */
                switch (len) {
                case 1: v = datamatch[0]; break;
                case 2: { uint16_t t; memcpy(&t, datamatch, 2); v = t; break; }
                case 4: { uint32_t t; memcpy(&t, datamatch, 4); v = t; break; }
                default: memcpy(&v, datamatch, 8); break;
                }
                e.datamatch = v;
        }
        e.space = (AddressSpace)space;
        e.address = addr;
        e.length = len;
        m.id = id_alloc(c->shared);
        m.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IO_EVENT;
        m.io_event = &e;
        req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
        req.create = &m;
        r = transact(c, &req, -1, NULL, fds, &n);
        if (r == 0 && n != 1) {
                close_all(fds, n);
                r = -EPROTO;
        }
        if (r < 0) {
                id_free(c->shared, m.id);
                free(io);
                return r;
        }
        io->id = m.id;
        io->fd = fds[0];
        *out = io;
        return 0;
}

EXPORT int crosvm_destroy_io_event(struct crosvm *c, struct crosvm_io **io) {
        int r;

        if (!c || !io || !*io)
                return -EINVAL;
        r = destroy(c, (*io)->id);
        if (r < 0)
                return r;
        close((*io)->fd);
        free(*io);
        *io = NULL;
        return 0;
}

EXPORT int crosvm_io_event_fd(struct crosvm_io *io) {
        return io ? io->fd : -EINVAL;
}

EXPORT int crosvm_create_memory(struct crosvm *c, int fd, uint64_t offset, uint64_t length, uint64_t start,
                                bool read_only, bool dirty_log, struct crosvm_memory **out) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__Create m = MAIN_REQUEST__CREATE__INIT;
        MainRequest__Create__Memory mem = MAIN_REQUEST__CREATE__MEMORY__INIT;
        struct crosvm_memory *cm;
        int r;

        if (!c || !out || fd < 0 || offset % 0x1000 || length % 0x1000)
                return -EINVAL;
        cm = calloc(1, sizeof(*cm));
        if (!cm)
                return -ENOMEM;
        mem.offset = offset;
        mem.start = start;
        mem.length = length;
        mem.read_only = read_only;
        mem.dirty_log = dirty_log;
        m.id = id_alloc(c->shared);
        m.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY;
        m.memory = &mem;
        req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
        req.create = &m;
        r = transact(c, &req, fd, NULL, NULL, NULL);
        if (r < 0) {
                id_free(c->shared, m.id);
                free(cm);
                return r;
        }
        cm->id = m.id;
        cm->length = length;
        *out = cm;
        return 0;
}

EXPORT int crosvm_destroy_memory(struct crosvm *c, struct crosvm_memory **mem) {
        int r;

        if (!c || !mem || !*mem)
                return -EINVAL;
        r = destroy(c, (*mem)->id);
        if (r < 0)
                return r;
        free(*mem);
        *mem = NULL;
        return 0;
}

EXPORT int crosvm_memory_get_dirty_log(struct crosvm *c, struct crosvm_memory *mem, uint8_t *log) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__MemoryDirtyLog m = MAIN_REQUEST__MEMORY_DIRTY_LOG__INIT;
        MainResponse *resp = NULL;
        long page = sysconf(_SC_PAGESIZE);
        size_t want;
        int r;

        if (!c || !mem || !log)
                return -EINVAL;
        want = ((mem->length + (uint64_t)page - 1) / (uint64_t)page + 7) / 8;
        m.id = mem->id;
        req.message_case = MAIN_REQUEST__MESSAGE_DIRTY_LOG;
        req.dirty_log = &m;
        r = transact(c, &req, -1, &resp, NULL, NULL);
        if (r < 0)
                return r;
        if (resp->dirty_log->bitmap.len != want)
                r = -EPROTO;
        else
                memcpy(log, resp->dirty_log->bitmap.data, want);
        main_response__free_unpacked(resp, NULL);
        return r;
}

EXPORT int crosvm_create_irq_event(struct crosvm *c, uint32_t irq_id, struct crosvm_irq **out) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__Create m = MAIN_REQUEST__CREATE__INIT;
        MainRequest__Create__IrqEvent e = MAIN_REQUEST__CREATE__IRQ_EVENT__INIT;
        struct crosvm_irq *irq;
        int fds[WIRE_MAX_FDS];
        size_t n = 0;
        int r;

        if (!c || !out)
                return -EINVAL;
        irq = calloc(1, sizeof(*irq));
        if (!irq)
                return -ENOMEM;
        e.irq_id = irq_id;
        e.resample = true;
        m.id = id_alloc(c->shared);
        m.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT;
        m.irq_event = &e;
        req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
        req.create = &m;
        r = transact(c, &req, -1, NULL, fds, &n);
        if (r == 0 && n < 2) {
                close_all(fds, n);
                r = -EPROTO;
        }
        if (r < 0) {
                id_free(c->shared, m.id);
                free(irq);
                return r;
        }
        /* The last two fds are the trigger and the resample eventfds. */
        close_all(fds, n - 2);
        irq->id = m.id;
        irq->fd = fds[n - 2];
        irq->resample_fd = fds[n - 1];
        *out = irq;
        return 0;
}

EXPORT int crosvm_destroy_irq_event(struct crosvm *c, struct crosvm_irq **irq) {
        int r;

        if (!c || !irq || !*irq)
                return -EINVAL;
        r = destroy(c, (*irq)->id);
        if (r < 0)
                return r;
        close((*irq)->fd);
        close((*irq)->resample_fd);
        free(*irq);
        *irq = NULL;
        return 0;
}

EXPORT int crosvm_irq_event_get_fd(const struct crosvm_irq *irq) {
        return irq ? irq->fd : -EINVAL;
}

EXPORT int crosvm_irq_event_get_resample_fd(const struct crosvm_irq *irq) {
        return irq ? irq->resample_fd : -EINVAL;
}

/* ---- vCPUs ---- */

EXPORT int crosvm_get_vcpu(struct crosvm *c, uint32_t id, struct crosvm_vcpu **out) {
        if (!c || !out)
                return -EINVAL;
        if (id >= c->shared->n_vcpus)
                return -ENOENT;
        *out = c->shared->vcpus[id];
        return 0;
}

/* Sends a bare VcpuRequest with a single write, as the host expects. */
static int vcpu_send(struct crosvm_vcpu *v, const VcpuRequest *req) {
        size_t len = vcpu_request__get_packed_size(req);

        if (len > WIRE_PIPE_MAX)
                return -EMSGSIZE;
        vcpu_request__pack(req, v->tx);
        return wire_write_all(v->req_fd, v->tx, len);
}

/* The next response on the vCPU's pipe; the caller frees it. */
static int vcpu_recv(struct crosvm_vcpu *v, VcpuResponse **ret) {
        const uint8_t *msg;
        size_t len;
        VcpuResponse *resp;
        int r = wire_reader_next(&v->reader, v->resp_fd, &msg, &len);

        if (r < 0)
                return r;
        resp = vcpu_response__unpack(NULL, len, msg);
        if (!resp)
                return -EPROTO;
        *ret = resp;
        return 0;
}

/* A request answered by a response of case `want`; the caller frees it. */
static int vcpu_transact(struct crosvm_vcpu *v, const VcpuRequest *req, VcpuResponse__MessageCase want,
                         VcpuResponse **ret) {
        VcpuResponse *resp = NULL;
        int r = vcpu_send(v, req);

        if (r < 0)
                return r;
        r = vcpu_recv(v, &resp);
        if (r < 0)
                return r;
        r = pb_vcpu_response_get_errno(resp);
        if (r) {
                vcpu_response__free_unpacked(resp, NULL);
                return r > 0 ? -r : r;
        }
        if (resp->message_case != want) {
                vcpu_response__free_unpacked(resp, NULL);
                return -EPROTO;
        }
        if (ret)
                *ret = resp;
        else
                vcpu_response__free_unpacked(resp, NULL);
        return 0;
}

static void cache_fill(struct reg_cache *c, const ProtobufCBinaryData *b) {
        c->valid = false;
        if (b->len == c->size && b->len <= sizeof(c->data) && !c->pending) {
                memcpy(c->data, b->data, b->len);
                c->valid = true;
        }
}

EXPORT int crosvm_vcpu_wait(struct crosvm_vcpu *v, struct crosvm_vcpu_event *event) {
        VcpuResponse *resp = NULL;
        VcpuResponse__Wait *w;
        int r;

        if (!v || !event)
                return -EINVAL;
        if (!v->wait_sent) {
                VcpuRequest req = VCPU_REQUEST__INIT;
                VcpuRequest__Wait m = VCPU_REQUEST__WAIT__INIT;

                req.message_case = VCPU_REQUEST__MESSAGE_WAIT;
                req.wait = &m;
                r = vcpu_send(v, &req);
                if (r < 0)
                        return r;
                v->wait_sent = true;
        }
        r = vcpu_recv(v, &resp);
        if (r < 0)
                return r;
        r = pb_vcpu_response_get_errno(resp);
        if (r || resp->message_case != VCPU_RESPONSE__MESSAGE_WAIT) {
                vcpu_response__free_unpacked(resp, NULL);
                return r > 0 ? -r : r < 0 ? r : -EPROTO;
        }
        w = resp->wait;
        memset(event, 0, sizeof(*event));
        v->regs.valid = v->sregs.valid = v->dregs.valid = false;
        v->resume = RESUME_PLAIN;
        switch ((int)w->exit_case) {
        case VCPU_RESPONSE__WAIT__EXIT_INIT:
                event->kind = CROSVM_VCPU_EVENT_KIND_INIT;
                break;
        case VCPU_RESPONSE__WAIT__EXIT_IO: {
                VcpuResponse__Wait__Io *io = w->io;
                size_t len = io->data.len < IO_DATA_MAX ? io->data.len : IO_DATA_MAX;

                event->kind = CROSVM_VCPU_EVENT_KIND_IO_ACCESS;
                event->io_access.address_space = (uint32_t)io->space;
                event->io_access.address = io->address;
                memcpy(v->io_data, io->data.data, len);
                event->io_access.data = v->io_data;
                event->io_access.length = (uint32_t)len;
                event->io_access.is_write = io->is_write;
                event->io_access.no_resume = io->no_resume;
                v->io_len = (uint32_t)len;
                v->resume = io->is_write ? RESUME_PLAIN : RESUME_IO_READ;
                if (io->no_resume)
                        v->resume = RESUME_NONE;
                cache_fill(&v->regs, &io->regs);
                cache_fill(&v->sregs, &io->sregs);
                cache_fill(&v->dregs, &io->debugregs);
                break;
        }
        case VCPU_RESPONSE__WAIT__EXIT_USER:
                event->kind = CROSVM_VCPU_EVENT_KIND_PAUSED;
                event->user = (void *)(uintptr_t)w->user->user;
                break;
        case VCPU_RESPONSE__WAIT__EXIT_HYPERV_CALL:
                event->kind = CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL;
                event->hyperv_call.input = w->hyperv_call->input;
                event->hyperv_call.params[0] = w->hyperv_call->params0;
                event->hyperv_call.params[1] = w->hyperv_call->params1;
                v->hcall_result = 0;
                event->hyperv_call.result = &v->hcall_result;
                v->resume = RESUME_HCALL;
                break;
        case VCPU_RESPONSE__WAIT__EXIT_HYPERV_SYNIC:
                event->kind = CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC;
                event->hyperv_synic.msr = w->hyperv_synic->msr;
                event->hyperv_synic.control = w->hyperv_synic->control;
                event->hyperv_synic.evt_page = w->hyperv_synic->evt_page;
                event->hyperv_synic.msg_page = w->hyperv_synic->msg_page;
                break;
        default:
                r = -EPROTO;
                break;
        }
        vcpu_response__free_unpacked(resp, NULL);
        return r;
}

EXPORT int crosvm_vcpu_resume(struct crosvm_vcpu *v) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__Resume m = VCPU_REQUEST__RESUME__INIT;
        int r;

        if (!v)
                return -EINVAL;
        if (v->resume == RESUME_IO_READ) {
                m.data.data = v->io_data;
                m.data.len = v->io_len;
        } else if (v->resume == RESUME_HCALL) {
                m.data.data = (uint8_t *)&v->hcall_result;
                m.data.len = sizeof(v->hcall_result);
        }
        if (v->regs.pending) {
                m.regs.data = v->regs.data;
                m.regs.len = v->regs.size;
        }
        if (v->sregs.pending) {
                m.sregs.data = v->sregs.data;
                m.sregs.len = v->sregs.size;
        }
        if (v->dregs.pending) {
                m.debugregs.data = v->dregs.data;
                m.debugregs.len = v->dregs.size;
        }
        req.message_case = VCPU_REQUEST__MESSAGE_RESUME;
        req.resume = &m;
        r = vcpu_send(v, &req);
        if (r < 0)
                return r;
        v->regs.pending = v->sregs.pending = v->dregs.pending = false;
        v->regs.valid = v->sregs.valid = v->dregs.valid = false;
        v->resume = RESUME_NONE;
        return 0;
}

static int vcpu_get_state(struct crosvm_vcpu *v, VcpuRequest__StateSet set, void *out, size_t size) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__GetState m = VCPU_REQUEST__GET_STATE__INIT;
        VcpuResponse *resp = NULL;
        int r;

        if (!v || !out)
                return -EINVAL;
        m.set = set;
        req.message_case = VCPU_REQUEST__MESSAGE_GET_STATE;
        req.get_state = &m;
        r = vcpu_transact(v, &req, VCPU_RESPONSE__MESSAGE_GET_STATE, &resp);
        if (r < 0)
                return r;
        if (resp->get_state->state.len != size)
                r = -EPROTO;
        else
                memcpy(out, resp->get_state->state.data, size);
        vcpu_response__free_unpacked(resp, NULL);
        return r;
}

static int vcpu_set_state(struct crosvm_vcpu *v, VcpuRequest__StateSet set, const void *in, size_t size) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__SetState m = VCPU_REQUEST__SET_STATE__INIT;

        if (!v || !in)
                return -EINVAL;
        m.set = set;
        m.state.data = (uint8_t *)in;
        m.state.len = size;
        req.message_case = VCPU_REQUEST__MESSAGE_SET_STATE;
        req.set_state = &m;
        return vcpu_transact(v, &req, VCPU_RESPONSE__MESSAGE_SET_STATE, NULL);
}

/* get_X for a cached set: the cache, or a pending set flushed first. */
static int cached_get(struct crosvm_vcpu *v, struct reg_cache *c, VcpuRequest__StateSet set, void *out) {
        int r;

        if (!v || !out)
                return -EINVAL;
        if (c->valid) {
                memcpy(out, c->data, c->size);
                return 0;
        }
        if (c->pending) {
                r = vcpu_set_state(v, set, c->data, c->size);
                if (r < 0)
                        return r;
                c->pending = false;
        }
        return vcpu_get_state(v, set, out, c->size);
}

/* set_X for a cached set: no I/O; sent with the next resume. */
static int cached_set(struct crosvm_vcpu *v, struct reg_cache *c, const void *in) {
        if (!v || !in)
                return -EINVAL;
        memcpy(c->data, in, c->size);
        c->pending = true;
        c->valid = false;
        return 0;
}

EXPORT int crosvm_vcpu_get_regs(struct crosvm_vcpu *v, struct kvm_regs *r) {
        return cached_get(v, v ? &v->regs : NULL, VCPU_REQUEST__STATE_SET__REGS, r);
}

EXPORT int crosvm_vcpu_set_regs(struct crosvm_vcpu *v, const struct kvm_regs *r) {
        return cached_set(v, v ? &v->regs : NULL, r);
}

EXPORT int crosvm_vcpu_get_sregs(struct crosvm_vcpu *v, struct kvm_sregs *r) {
        return cached_get(v, v ? &v->sregs : NULL, VCPU_REQUEST__STATE_SET__SREGS, r);
}

EXPORT int crosvm_vcpu_set_sregs(struct crosvm_vcpu *v, const struct kvm_sregs *r) {
        return cached_set(v, v ? &v->sregs : NULL, r);
}

EXPORT int crosvm_vcpu_get_debugregs(struct crosvm_vcpu *v, struct kvm_debugregs *r) {
        return cached_get(v, v ? &v->dregs : NULL, VCPU_REQUEST__STATE_SET__DEBUGREGS, r);
}

EXPORT int crosvm_vcpu_set_debugregs(struct crosvm_vcpu *v, const struct kvm_debugregs *r) {
        return cached_set(v, v ? &v->dregs : NULL, r);
}

EXPORT int crosvm_vcpu_get_fpu(struct crosvm_vcpu *v, struct kvm_fpu *s) {
        return vcpu_get_state(v, VCPU_REQUEST__STATE_SET__FPU, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_set_fpu(struct crosvm_vcpu *v, const struct kvm_fpu *s) {
        return vcpu_set_state(v, VCPU_REQUEST__STATE_SET__FPU, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_get_xcrs(struct crosvm_vcpu *v, struct kvm_xcrs *s) {
        return vcpu_get_state(v, VCPU_REQUEST__STATE_SET__XCREGS, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_set_xcrs(struct crosvm_vcpu *v, const struct kvm_xcrs *s) {
        return vcpu_set_state(v, VCPU_REQUEST__STATE_SET__XCREGS, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_get_lapic_state(struct crosvm_vcpu *v, struct kvm_lapic_state *s) {
        return vcpu_get_state(v, VCPU_REQUEST__STATE_SET__LAPIC, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_set_lapic_state(struct crosvm_vcpu *v, const struct kvm_lapic_state *s) {
        return vcpu_set_state(v, VCPU_REQUEST__STATE_SET__LAPIC, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_get_mp_state(struct crosvm_vcpu *v, struct kvm_mp_state *s) {
        return vcpu_get_state(v, VCPU_REQUEST__STATE_SET__MP, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_set_mp_state(struct crosvm_vcpu *v, const struct kvm_mp_state *s) {
        return vcpu_set_state(v, VCPU_REQUEST__STATE_SET__MP, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_get_vcpu_events(struct crosvm_vcpu *v, struct kvm_vcpu_events *s) {
        return vcpu_get_state(v, VCPU_REQUEST__STATE_SET__EVENTS, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_set_vcpu_events(struct crosvm_vcpu *v, const struct kvm_vcpu_events *s) {
        return vcpu_set_state(v, VCPU_REQUEST__STATE_SET__EVENTS, s, sizeof(*s));
}

EXPORT int crosvm_vcpu_get_msrs(struct crosvm_vcpu *v, uint32_t count, struct kvm_msr_entry *entries,
                                uint32_t *out_count) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__GetMsrs m = VCPU_REQUEST__GET_MSRS__INIT;
        VcpuResponse *resp = NULL;
        uint32_t *idx;
        size_t n;
        int r;

        if (!v || !out_count || (count && !entries))
                return -EINVAL;
        idx = calloc(count ? count : 1, sizeof(*idx));
        if (!idx)
                return -ENOMEM;
        for (uint32_t i = 0; i < count; i++)
                idx[i] = entries[i].index;
        m.n_entry_indices = count;
        m.entry_indices = idx;
        req.message_case = VCPU_REQUEST__MESSAGE_GET_MSRS;
        req.get_msrs = &m;
        r = vcpu_transact(v, &req, VCPU_RESPONSE__MESSAGE_GET_MSRS, &resp);
        free(idx);
        if (r < 0)
                return r;
        n = resp->get_msrs->n_entry_data;
        if (n > count)
                r = -EPROTO;
        else {
                for (size_t i = 0; i < n; i++)
                        entries[i].data = resp->get_msrs->entry_data[i];
                *out_count = (uint32_t)n;
        }
        vcpu_response__free_unpacked(resp, NULL);
        return r;
}

EXPORT int crosvm_vcpu_set_msrs(struct crosvm_vcpu *v, uint32_t count, const struct kvm_msr_entry *entries) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__SetMsrs m = VCPU_REQUEST__SET_MSRS__INIT;
        VcpuRequest__MsrEntry *e;
        VcpuRequest__MsrEntry **ep;
        int r = -ENOMEM;

        if (!v || (count && !entries))
                return -EINVAL;
        e = calloc(count ? count : 1, sizeof(*e));
        ep = calloc(count ? count : 1, sizeof(*ep));
        if (e && ep) {
                for (uint32_t i = 0; i < count; i++) {
                        vcpu_request__msr_entry__init(&e[i]);
                        e[i].index = entries[i].index;
                        e[i].data = entries[i].data;
                        ep[i] = &e[i];
                }
                m.n_entries = count;
                m.entries = ep;
                req.message_case = VCPU_REQUEST__MESSAGE_SET_MSRS;
                req.set_msrs = &m;
                r = vcpu_transact(v, &req, VCPU_RESPONSE__MESSAGE_SET_MSRS, NULL);
        }
        free(e);
        free(ep);
        return r;
}

EXPORT int crosvm_vcpu_set_cpuid(struct crosvm_vcpu *v, uint32_t count, const struct kvm_cpuid_entry2 *entries) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__SetCpuid m = VCPU_REQUEST__SET_CPUID__INIT;
        CpuidEntry *e;
        CpuidEntry **ep;
        int r = -ENOMEM;

        if (!v || (count && !entries))
                return -EINVAL;
        e = calloc(count ? count : 1, sizeof(*e));
        ep = calloc(count ? count : 1, sizeof(*ep));
        if (e && ep) {
                for (uint32_t i = 0; i < count; i++) {
                        cpuid_entry__init(&e[i]);
                        e[i].function = entries[i].function;
                        e[i].has_index = !!(entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
                        e[i].index = entries[i].index;
                        e[i].eax = entries[i].eax;
                        e[i].ebx = entries[i].ebx;
                        e[i].ecx = entries[i].ecx;
                        e[i].edx = entries[i].edx;
                        ep[i] = &e[i];
                }
                m.n_entries = count;
                m.entries = ep;
                req.message_case = VCPU_REQUEST__MESSAGE_SET_CPUID;
                req.set_cpuid = &m;
                r = vcpu_transact(v, &req, VCPU_RESPONSE__MESSAGE_SET_CPUID, NULL);
        }
        free(e);
        free(ep);
        return r;
}

EXPORT int crosvm_get_hyperv_cpuid(struct crosvm_vcpu *v, uint32_t count, struct kvm_cpuid_entry2 *entries,
                                   uint32_t *out_count) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__CpuidRequest m = VCPU_REQUEST__CPUID_REQUEST__INIT;
        VcpuResponse *resp = NULL;
        int r;

        if (!v || !out_count || (count && !entries))
                return -EINVAL;
        *out_count = 0;
        req.message_case = VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID;
        req.get_hyperv_cpuid = &m;
        r = vcpu_transact(v, &req, VCPU_RESPONSE__MESSAGE_GET_HYPERV_CPUID, &resp);
        if (r < 0)
                return r;
        r = copy_cpuid(resp->get_hyperv_cpuid->entries, resp->get_hyperv_cpuid->n_entries, count, entries,
                       out_count);
        vcpu_response__free_unpacked(resp, NULL);
        return r;
}

EXPORT int crosvm_vcpu_enable_capability(struct crosvm_vcpu *v, uint32_t capability, uint32_t flags,
                                         uint64_t args[4]) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__EnableCapability m = VCPU_REQUEST__ENABLE_CAPABILITY__INIT;

        if (!v || flags)
                return -EINVAL;
        for (int i = 0; args && i < 4; i++)
                if (args[i])
                        return -EINVAL;
        m.capability = capability;
        req.message_case = VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY;
        req.enable_capability = &m;
        return vcpu_transact(v, &req, VCPU_RESPONSE__MESSAGE_ENABLE_CAPABILITY, NULL);
}
