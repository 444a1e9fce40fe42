#include "pb.h"

#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pb_convert.h"
#include "util.h"
#include "vm.h"
#include "wire.h"

#define MSR_LIST_MAX 256

struct server {
        struct vm *vm;
        int epoll_fd;
        struct server_conn **conns;
        size_t n_conns, cap_conns;
        unsigned next_number;
        struct server_net net;
};

int server_new(struct vm *vm, int epoll_fd, struct server **ret) {
        struct server *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->vm = vm;
        s->epoll_fd = epoll_fd;
        s->net.tap_fd = -1;
        *ret = s;
        return 0;
}

static void conn_close(struct server *s, struct server_conn *c) {
        epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
        c->fd = safe_close(c->fd);
        c->dead = true;
}

void server_free(struct server *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_conns; i++) {
                if (s->conns[i]->fd >= 0)
                        conn_close(s, s->conns[i]);
                free(s->conns[i]);
        }
        free(s->conns);
        free(s);
}

int server_add_connection(struct server *s, int fd) {
        struct epoll_event ev = { .events = EPOLLIN };
        struct server_conn *c;

        /* Our end only: a plugin that stops reading its responses must not
         * block the main loop. */
        if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                goto fail;
        if (s->n_conns == s->cap_conns) {
                size_t cap = s->cap_conns ? s->cap_conns * 2 : 4;
                struct server_conn **v = realloc(s->conns, cap * sizeof(*v));

                if (!v)
                        goto fail;
                s->conns = v;
                s->cap_conns = cap;
        }
        c = calloc(1, sizeof(*c));
        if (!c)
                goto fail;
        c->source.kind = LOOP_CONNECTION;
        c->server = s;
        c->fd = fd;
        c->number = s->next_number++;
        ev.data.ptr = c;
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                free(c);
                goto fail;
        }
        s->conns[s->n_conns++] = c;
        return 0;
fail:;
        int r = negative_errno();
        safe_close(fd);
        return r;
}

void server_reap(struct server *s) {
        size_t j = 0;

        for (size_t i = 0; i < s->n_conns; i++) {
                if (s->conns[i]->dead)
                        free(s->conns[i]);
                else
                        s->conns[j++] = s->conns[i];
        }
        s->n_conns = j;
}

size_t server_n_connections(const struct server *s) {
        size_t n = 0;

        for (size_t i = 0; i < s->n_conns; i++)
                n += !s->conns[i]->dead;
        return n;
}

void server_set_net(struct server *s, const struct server_net *net) {
        s->net = *net;
}

/* A response under construction: the message, the fds to attach, and
 * storage that must live until it is packed. */
struct reply {
        MainResponse resp;
        int fds[WIRE_MAX_FDS];
        size_t n_fds;
        int close_fds[2];       /* ours, closed after sending */
        size_t n_close;
        void *free_later[4];
        size_t n_free;
        union {
                MainResponse__Create create;
                MainResponse__CheckExtension check_extension;
                MainResponse__CpuidResponse cpuid;
                MainResponse__MsrListResponse msr_list;
                MainResponse__GetNetConfig net;
                MainResponse__GetState get_state;
                MainResponse__MemoryDirtyLog dirty_log;
                MainResponse__Destroy empty;
        } u;
};

static void *reply_alloc(struct reply *rp, size_t size) {
        void *p;

        if (rp->n_free == ARRAY_SIZE(rp->free_later))
                return NULL;
        p = calloc(1, size ? size : 1);
        if (p)
                rp->free_later[rp->n_free++] = p;
        return p;
}

static int handle_create(struct server *s, const MainRequest__Create *req, int in_fd, struct reply *rp) {
        struct vm *vm = s->vm;
        int fd, rfd, r;

        main_response__create__init(&rp->u.create);
        switch ((int)req->constructor_case) {
        case MAIN_REQUEST__CREATE__CONSTRUCTOR_MEMORY: {
                const MainRequest__Create__Memory *m = req->memory;

                if (vm_object_find(vm, req->id))
                        return -EEXIST;
                if (in_fd < 0)
                        return -EBADF;
                return vm_create_memory(vm, req->id, in_fd, m->offset, m->start, m->length, m->read_only,
                                        m->dirty_log);
        }
        case MAIN_REQUEST__CREATE__CONSTRUCTOR_IO_EVENT: {
                const MainRequest__Create__IoEvent *e = req->io_event;

                r = vm_create_io_event(vm, req->id, (uint32_t)e->space, e->address, e->length, e->datamatch, &fd);
                if (r < 0)
                        return r;
                rp->fds[rp->n_fds++] = fd;
                return 0;
        }
        case MAIN_REQUEST__CREATE__CONSTRUCTOR_IRQ_EVENT:
                r = vm_create_irq_event(vm, req->id, req->irq_event->irq_id, &fd, &rfd);
                if (r < 0)
                        return r;
                rp->fds[rp->n_fds++] = fd;
                rp->fds[rp->n_fds++] = rfd;
                return 0;
        case MAIN_REQUEST__CREATE__CONSTRUCTOR__NOT_SET:
        default:
                return -ENOTTY;
        }
}

static int handle_cpuid(struct server *s, bool emulated, struct reply *rp) {
        struct kvm_cpuid2 *c;
        CpuidEntry *entries, **ptrs;

        int r;

        main_response__cpuid_response__init(&rp->u.cpuid);
        c = reply_alloc(rp, sizeof(*c) + PB_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
        entries = reply_alloc(rp, PB_CPUID_MAX_ENTRIES * sizeof(*entries));
        ptrs = reply_alloc(rp, PB_CPUID_MAX_ENTRIES * sizeof(*ptrs));
        if (!c || !entries || !ptrs)
                return -ENOMEM;
        c->nent = PB_CPUID_MAX_ENTRIES;
        r = vm_get_cpuid(s->vm, emulated, c);
        if (r < 0)
                return r;
        pb_cpuid_list_from_kvm(c->entries, c->nent, entries, ptrs);
        rp->u.cpuid.n_entries = c->nent;
        rp->u.cpuid.entries = ptrs;
        return 0;
}

static int handle_msr_list(struct server *s, struct reply *rp) {
        struct kvm_msr_list *l;
        int r;

        main_response__msr_list_response__init(&rp->u.msr_list);
        l = reply_alloc(rp, sizeof(*l) + MSR_LIST_MAX * sizeof(uint32_t));
        if (!l)
                return -ENOMEM;
        l->nmsrs = MSR_LIST_MAX;
        r = vm_get_msr_index_list(s->vm, l);
        if (r < 0)
                return r;
        rp->u.msr_list.n_indices = l->nmsrs;
        rp->u.msr_list.indices = l->indices;
        return 0;
}

static int handle_irq_routing(struct server *s, const MainRequest__SetIrqRouting *req, struct reply *rp) {
        struct kvm_irq_routing *t;

        t = reply_alloc(rp, sizeof(*t) + req->n_routes * sizeof(struct kvm_irq_routing_entry));
        if (!t)
                return -ENOMEM;
        t->nr = (uint32_t)req->n_routes;
        for (size_t i = 0; i < req->n_routes; i++) {
                const MainRequest__SetIrqRouting__Route *r = req->routes[i];
                struct kvm_irq_routing_entry *e = &t->entries[i];

                e->gsi = r->irq_id;
                switch ((int)r->route_case) {
                case MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_IRQCHIP:
                        e->type = KVM_IRQ_ROUTING_IRQCHIP;
                        e->u.irqchip.irqchip = r->irqchip->irqchip;
                        e->u.irqchip.pin = r->irqchip->pin;
                        break;
                case MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE_MSI:
                        e->type = KVM_IRQ_ROUTING_MSI;
                        e->u.msi.address_lo = (uint32_t)r->msi->address;
                        e->u.msi.address_hi = (uint32_t)(r->msi->address >> 32);
                        e->u.msi.data = r->msi->data;
                        break;
                case MAIN_REQUEST__SET_IRQ_ROUTING__ROUTE__ROUTE__NOT_SET:
                default:
                        return -EINVAL;
                }
        }
        return vm_set_gsi_routing(s->vm, t);
}

/* VM-wide state sets: PIC0, PIC1, IOAPIC (irqchip 0..2), PIT, CLOCK. */
static int vm_state_size(unsigned set) {
        switch (set) {
        case MAIN_REQUEST__STATE_SET__PIC0:
        case MAIN_REQUEST__STATE_SET__PIC1:
                return sizeof(struct kvm_pic_state);
        case MAIN_REQUEST__STATE_SET__IOAPIC:
                return sizeof(struct kvm_ioapic_state);
        case MAIN_REQUEST__STATE_SET__PIT:
                return sizeof(struct kvm_pit_state2);
        case MAIN_REQUEST__STATE_SET__CLOCK:
                return sizeof(struct kvm_clock_data);
        default:
                return -EINVAL;
        }
}

static int handle_get_state(struct server *s, unsigned set, struct reply *rp) {
        int size = vm_state_size(set), r;
        uint8_t *buf;

        main_response__get_state__init(&rp->u.get_state);
        if (size < 0)
                return size;
        buf = reply_alloc(rp, sizeof(struct kvm_irqchip) + (size_t)size);
        if (!buf)
                return -ENOMEM;
        switch (set) {
        case MAIN_REQUEST__STATE_SET__PIC0:
        case MAIN_REQUEST__STATE_SET__PIC1:
        case MAIN_REQUEST__STATE_SET__IOAPIC: {
                struct kvm_irqchip *chip = (struct kvm_irqchip *)buf;

                /* The state sets PIC0..IOAPIC are KVM's chip ids 0..2. */
                chip->chip_id = set;
                r = vm_get_irqchip(s->vm, chip);
                rp->u.get_state.state.data = (uint8_t *)&chip->chip;
                break;
        }
        case MAIN_REQUEST__STATE_SET__PIT:
                r = vm_get_pit(s->vm, (struct kvm_pit_state2 *)buf);
                rp->u.get_state.state.data = buf;
                break;
        default:
                r = vm_get_clock(s->vm, (struct kvm_clock_data *)buf);
                rp->u.get_state.state.data = buf;
                break;
        }
        if (r < 0)
                return r;
        rp->u.get_state.state.len = (size_t)size;
        return 0;
}

static int handle_set_state(struct server *s, unsigned set, const ProtobufCBinaryData *state) {
        int size = vm_state_size(set);

        if (size < 0 || state->len != (size_t)size)
                return -EINVAL;
        switch (set) {
        case MAIN_REQUEST__STATE_SET__PIC0:
        case MAIN_REQUEST__STATE_SET__PIC1:
        case MAIN_REQUEST__STATE_SET__IOAPIC: {
                struct kvm_irqchip chip = { .chip_id = set };

                memcpy(&chip.chip, state->data, state->len);
                return vm_set_irqchip(s->vm, &chip);
        }
        case MAIN_REQUEST__STATE_SET__PIT: {
                struct kvm_pit_state2 pit;

                memcpy(&pit, state->data, sizeof(pit));
                return vm_set_pit(s->vm, &pit);
        }
        default: {
                struct kvm_clock_data clock;

                memcpy(&clock, state->data, sizeof(clock));
                return vm_set_clock(s->vm, &clock);
        }
        }
}

static int handle_call_hint(struct server *s, const MainRequest__SetCallHint *req) {
        struct vm_hint h = { 0 };

        if (req->space != ADDRESS_SPACE__IOPORT && req->space != ADDRESS_SPACE__MMIO)
                return -EINVAL;
        if (req->n_hints > VM_MAX_HINT_DETAILS)
                return -EINVAL;
        /* Address 0 clears the hint. */
        h.set = req->address != 0;
        h.space = (uint32_t)req->space;
        h.address = req->address;
        h.on_write = req->on_write;
        h.n_details = (unsigned)req->n_hints;
        for (size_t i = 0; i < req->n_hints; i++) {
                const MainRequest__SetCallHint__RegHint *d = req->hints[i];

                h.details[i] = (struct vm_hint_detail){
                        .match = { d->match_rax, d->match_rbx, d->match_rcx, d->match_rdx },
                        .value = { d->rax, d->rbx, d->rcx, d->rdx },
                        .send_sregs = d->send_sregs,
                        .send_debugregs = d->send_debugregs,
                };
        }
        return vm_set_hint(s->vm, &h);
}

static int handle_get_vcpus(struct server *s, struct reply *rp) {
        struct vm *vm = s->vm;

        if (2 * (size_t)vm->n_vcpus > WIRE_MAX_FDS)
                return -E2BIG;
        for (unsigned i = 0; i < vm->n_vcpus; i++) {
                vm_vcpu_peer_fds(vm, i, &rp->fds[rp->n_fds], &rp->fds[rp->n_fds + 1]);
                rp->n_fds += 2;
        }
        return 0;
}

static int handle_new_connection(struct server *s, struct reply *rp) {
        int sv[2];
        int r;

        /* Each connection holds one of our fds and a slot here. */
        if (server_n_connections(s) >= s->vm->config->limits.connections)
                return -EMFILE;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        r = server_add_connection(s, sv[0]);
        if (r < 0) {
                safe_close(sv[1]);
                return r;
        }
        rp->fds[rp->n_fds++] = sv[1];
        rp->close_fds[rp->n_close++] = sv[1];
        return 0;
}

/* Runs one decoded request; returns the errno for the response (0 or
 * negative) and fills rp with any payload and fds. */
static int dispatch(struct server *s, const MainRequest *req, int in_fd, struct reply *rp, bool *ret_start) {
        struct vm *vm = s->vm;
        MainResponse *resp = &rp->resp;

        switch ((int)req->message_case) {
        case MAIN_REQUEST__MESSAGE_CREATE:
                resp->create = &rp->u.create;
                return handle_create(s, req->create, in_fd, rp);
        case MAIN_REQUEST__MESSAGE_DESTROY:
                return vm_destroy_object(vm, req->destroy->id);
        case MAIN_REQUEST__MESSAGE_NEW_CONNECTION:
                return handle_new_connection(s, rp);
        case MAIN_REQUEST__MESSAGE_GET_SHUTDOWN_EVENTFD:
                rp->fds[rp->n_fds++] = vm->kill_fd;
                return 0;
        case MAIN_REQUEST__MESSAGE_CHECK_EXTENSION:
                main_response__check_extension__init(&rp->u.check_extension);
                resp->check_extension = &rp->u.check_extension;
                rp->u.check_extension.has_extension = vm_check_extension(vm, req->check_extension->extension);
                return 0;
        case MAIN_REQUEST__MESSAGE_GET_SUPPORTED_CPUID:
        case MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID:
                resp->get_supported_cpuid = &rp->u.cpuid;
                return handle_cpuid(s, req->message_case == MAIN_REQUEST__MESSAGE_GET_EMULATED_CPUID, rp);
        case MAIN_REQUEST__MESSAGE_GET_MSR_INDEX_LIST:
                resp->get_msr_index_list = &rp->u.msr_list;
                return handle_msr_list(s, rp);
        case MAIN_REQUEST__MESSAGE_GET_NET_CONFIG:
                if (s->net.tap_fd < 0)
                        return -ENODATA;
                main_response__get_net_config__init(&rp->u.net);
                resp->get_net_config = &rp->u.net;
                rp->u.net.host_mac_address.data = s->net.mac;
                rp->u.net.host_mac_address.len = sizeof(s->net.mac);
                /* fixed32 carrying s_addr as stored (network order), as
                 * crosvm does (PROTOCOL.md §4, net config byte order). */
                rp->u.net.host_ipv4_address = s->net.host_ip.s_addr;
                rp->u.net.netmask = s->net.netmask.s_addr;
                rp->fds[rp->n_fds++] = s->net.tap_fd;
                return 0;
        case MAIN_REQUEST__MESSAGE_RESERVE_RANGE: {
                const MainRequest__ReserveRange *r = req->reserve_range;

                return vm_reserve_range(vm, (uint32_t)r->space, r->start, r->length, r->async_write);
        }
        case MAIN_REQUEST__MESSAGE_SET_IRQ:
                return vm_set_irq_line(vm, req->set_irq->irq_id, req->set_irq->active);
        case MAIN_REQUEST__MESSAGE_SET_IRQ_ROUTING:
                return handle_irq_routing(s, req->set_irq_routing, rp);
        case MAIN_REQUEST__MESSAGE_GET_STATE:
                resp->get_state = &rp->u.get_state;
                return handle_get_state(s, (unsigned)req->get_state->set, rp);
        case MAIN_REQUEST__MESSAGE_SET_STATE:
                return handle_set_state(s, (unsigned)req->set_state->set, &req->set_state->state);
        case MAIN_REQUEST__MESSAGE_SET_IDENTITY_MAP_ADDR:
                return vm_set_identity_map_addr(vm, req->set_identity_map_addr->address);
        case MAIN_REQUEST__MESSAGE_PAUSE_VCPUS:
                vm_pause_vcpus(vm, req->pause_vcpus->cpu_mask, req->pause_vcpus->user);
                return 0;
        case MAIN_REQUEST__MESSAGE_GET_VCPUS:
                return handle_get_vcpus(s, rp);
        case MAIN_REQUEST__MESSAGE_START:
                if (vm->started)
                        return -EINVAL;
                *ret_start = true;
                return 0;
        case MAIN_REQUEST__MESSAGE_SET_CALL_HINT:
                return handle_call_hint(s, req->set_call_hint);
        case MAIN_REQUEST__MESSAGE_DIRTY_LOG: {
                uint8_t *bitmap = NULL;
                size_t len = 0;
                int r;

                main_response__memory_dirty_log__init(&rp->u.dirty_log);
                resp->dirty_log = &rp->u.dirty_log;
                r = vm_dirty_log(vm, req->dirty_log->id, &bitmap, &len);
                if (r < 0)
                        return r;
                rp->free_later[rp->n_free++] = bitmap;
                rp->u.dirty_log.bitmap.data = bitmap;
                rp->u.dirty_log.bitmap.len = len;
                return 0;
        }
        case MAIN_REQUEST__MESSAGE__NOT_SET:
        default:
                return -ENOTTY;
        }
}

static void drop(struct server *s, struct server_conn *c, const char *why) {
        if (why)
                log_warning("plugin connection %u: %s; connection dropped", c->number, why);
        else
                log_debug("plugin connection %u closed", c->number);
        conn_close(s, c);
}

void server_handle(struct server *s, struct server_conn *c) {
        uint8_t buf[WIRE_MAIN_REQUEST_MAX];
        int in_fds[1];
        size_t n_in = 0;
        struct reply rp;
        MainRequest *req;
        bool start = false;
        ssize_t n;
        int r;

        if (c->dead)
                return;
        n = wire_recv(c->fd, buf, sizeof(buf), in_fds, ARRAY_SIZE(in_fds), &n_in);
        if (n == -EAGAIN)
                return;
        if (n == -EMSGSIZE)
                return drop(s, c, "request too large or carrying too many fds");
        if (n < 0) {
                log_warning("plugin connection %u: receiving: %s", c->number, strerror((int)-n));
                return drop(s, c, "receive failed");
        }
        if (n == 0)
                return drop(s, c, NULL);
        req = main_request__unpack(NULL, (size_t)n, buf);
        if (!req) {
                if (n_in)
                        safe_close(in_fds[0]);
                return drop(s, c, "undecodable request");
        }

        memset(&rp, 0, sizeof(rp));
        main_response__init(&rp.resp);
        main_response__destroy__init(&rp.u.empty);
        r = dispatch(s, req, n_in ? in_fds[0] : -1, &rp, &start);
        if (n_in)
                safe_close(in_fds[0]);  /* memory is mapped; the fd is not kept */

        if (req->message_case == MAIN_REQUEST__MESSAGE__NOT_SET || r == -ENOTTY ||
            (req->message_case == MAIN_REQUEST__MESSAGE_GET_NET_CONFIG && r == -ENODATA)) {
                /* errno only, no case: crosvm's answer to these. */
                rp.resp.message_case = MAIN_RESPONSE__MESSAGE__NOT_SET;
        } else {
                rp.resp.message_case = pb_response_case(req->message_case);
                /* Every case points at some sub-message; empty ones share
                 * one empty message (they all encode as length 0). */
                if (!rp.resp.create)
                        rp.resp.destroy = &rp.u.empty;
        }
        if (r < 0) {
                pb_main_response_set_errno(&rp.resp, -r);
                rp.n_fds = 0;   /* fds go only with success */
                if (rp.resp.message_case != MAIN_RESPONSE__MESSAGE__NOT_SET)
                        rp.resp.destroy = &rp.u.empty;
        }
        main_request__free_unpacked(req, NULL);

        {
                size_t len = main_response__get_packed_size(&rp.resp);
                _cleanup_free_ uint8_t *out = NULL;

                /* The library's receive buffer bounds every response.  One
                 * that would not fit is answered with E2BIG alone (no
                 * payload, no fds): the plugin asked for too much, and the
                 * connection stays. */
                if (len > WIRE_MAIN_RESPONSE_MAX) {
                        pb_main_response_set_errno(&rp.resp, E2BIG);
                        rp.n_fds = 0;
                        if (rp.resp.message_case != MAIN_RESPONSE__MESSAGE__NOT_SET)
                                rp.resp.destroy = &rp.u.empty;
                        len = main_response__get_packed_size(&rp.resp);
                }
                if (!(out = malloc(len ? len : 1)))
                        r = -ENOMEM;
                else {
                        main_response__pack(&rp.resp, out);
                        r = wire_send(c->fd, out, len, rp.fds, rp.n_fds);
                }
        }
        for (size_t i = 0; i < rp.n_close; i++)
                safe_close(rp.close_fds[i]);
        for (size_t i = 0; i < rp.n_free; i++)
                free(rp.free_later[i]);
        if (r < 0) {
                log_warning("plugin connection %u: sending a response: %s", c->number, strerror(-r));
                drop(s, c, "the plugin does not read its responses");
                /* A Start that could not be acknowledged still starts. */
        }
        if (start) {
                r = vm_start(s->vm);
                if (r < 0)
                        log_error("starting the vCPUs: %s", strerror(-r));
        }
}
