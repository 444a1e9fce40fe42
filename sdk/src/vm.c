/* The VM-wide calls of the API: capabilities, CPUID and MSR lists, the
 * network, address-space reservations, interrupts, the hypercall hint, VM
 * state, pause and start, and the io-event, memory and irq-event objects.
 * Each is one transaction on the connection's main socket (conn.c). */
#include "sdk_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb_convert.h"

/* The objects a plugin creates; ids come from the shared allocator. */
struct crosvm_io {
        uint32_t id;
        int fd;                 /* the eventfd KVM signals */
};

struct crosvm_memory {
        uint32_t id;
        uint64_t length;        /* sizes the dirty log */
};

struct crosvm_irq {
        uint32_t id;
        int fd;                 /* irqfd: a write raises the GSI */
        int resample_fd;        /* signalled when the guest EOIs it */
};

/* A request whose reply carries nothing but success or an errno. */
static int simple(struct crosvm *c, const MainRequest *req) {
        return sdk_transact(c, req, -1, NULL, NULL, NULL);
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
        r = sdk_transact(c, &req, -1, &resp, NULL, NULL);
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

static int get_cpuid(struct crosvm *c, bool emulated, uint32_t count, struct kvm_cpuid_entry2 *entries,
                     uint32_t *out_count) {
        MainRequest req = MAIN_REQUEST__INIT;
        MainRequest__CpuidRequest m = MAIN_REQUEST__CPUID_REQUEST__INIT;
        MainResponse *resp = NULL;
        const MainResponse__CpuidResponse *list;
        int r;

        if (!c || !out_count || (count && !entries))
                return -EINVAL;
        *out_count = 0;
        if (emulated) {
                req.message_case = MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID;
                req.get_emulated_cpuid = &m;
        } else {
                req.message_case = MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID;
                req.get_supported_cpuid = &m;
        }
        r = sdk_transact(c, &req, -1, &resp, NULL, NULL);
        if (r < 0)
                return r;
        list = emulated ? resp->get_emulated_cpuid : resp->get_supported_cpuid;
        r = pb_cpuid_list_to_kvm(list->entries, list->n_entries, count, entries, out_count);
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
        r = sdk_transact(c, &req, -1, &resp, NULL, NULL);
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
        r = sdk_transact(c, &req, -1, &resp, fds, &n);
        if (r < 0)
                return r;
        if (n != 1 || resp->get_net_config->host_mac_address.len != 6) {
                sdk_close_fds(fds, n);
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
        r = sdk_transact(c, &req, -1, &resp, NULL, NULL);
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
                sdk_id_free(c->shared, id);
        return r;
}

/* `len` bytes at p as a native-endian integer; p need not be aligned. */
static uint64_t read_datamatch(const uint8_t *p, uint32_t len) {
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;

        switch (len) {
        case 1:
                return p[0];
        case 2:
                memcpy(&v16, p, sizeof(v16));
                return v16;
        case 4:
                memcpy(&v32, p, sizeof(v32));
                return v32;
        case 8:
                memcpy(&v64, p, sizeof(v64));
                return v64;
        default:
                return 0;       /* length 0: any write, no datamatch */
        }
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
        /* crosvm read through the pointer whatever it was; a NULL with a
         * length is refused here instead of crashing. */
        if (len && !datamatch)
                return -EINVAL;
        io = calloc(1, sizeof(*io));
        if (!io)
                return -ENOMEM;
        e.datamatch = read_datamatch(datamatch, len);
        e.space = (AddressSpace)space;
        e.address = addr;
        e.length = len;
        m.id = sdk_id_alloc(c->shared);
        m.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IO_EVENT;
        m.io_event = &e;
        req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
        req.create = &m;
        r = sdk_transact(c, &req, -1, NULL, fds, &n);
        if (r == 0 && n != 1) {
                sdk_close_fds(fds, n);
                r = -EPROTO;
        }
        if (r < 0) {
                sdk_id_free(c->shared, m.id);
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
        m.id = sdk_id_alloc(c->shared);
        m.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY;
        m.memory = &mem;
        req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
        req.create = &m;
        r = sdk_transact(c, &req, fd, NULL, NULL, NULL);
        if (r < 0) {
                sdk_id_free(c->shared, m.id);
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
        r = sdk_transact(c, &req, -1, &resp, NULL, NULL);
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
        m.id = sdk_id_alloc(c->shared);
        m.constructor_case = MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT;
        m.irq_event = &e;
        req.message_case = MAIN_REQUEST__MESSAGE_CREATE;
        req.create = &m;
        r = sdk_transact(c, &req, -1, NULL, fds, &n);
        if (r == 0 && n < 2) {
                sdk_close_fds(fds, n);
                r = -EPROTO;
        }
        if (r < 0) {
                sdk_id_free(c->shared, m.id);
                free(irq);
                return r;
        }
        /* The last two fds are the trigger and the resample eventfds. */
        sdk_close_fds(fds, n - 2);
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

