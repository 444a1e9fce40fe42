#include "pb.h"

#include "vcpu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pb_convert.h"
#include "util.h"
#include "vm.h"

/* Room for every allocation protobuf-c makes while unpacking the largest
 * request a pipe can carry, plus what a handler needs (MSR and CPUID
 * arrays).  Reserved, not touched: pages count once used. */
#define VCPU_ARENA_SIZE (3 * WIRE_PIPE_MAX)

static void *arena_alloc(void *data, size_t size) {
        struct vcpu_arena *a = data;
        void *p;

        size = (size + 15) & ~(size_t)15;
        if (size > a->size - a->used)
                return NULL;
        p = a->base + a->used;
        a->used += size;
        return p;
}

static void arena_free(void *data, void *p) {
        (void)data;
        (void)p;
}

static const struct vcpu_state_desc state_descs[] = {
        [VCPU_REQUEST__STATE_SET__REGS] = { sizeof(struct kvm_regs), KVM_GET_REGS, KVM_SET_REGS },
        [VCPU_REQUEST__STATE_SET__SREGS] = { sizeof(struct kvm_sregs), KVM_GET_SREGS, KVM_SET_SREGS },
        [VCPU_REQUEST__STATE_SET__FPU] = { sizeof(struct kvm_fpu), KVM_GET_FPU, KVM_SET_FPU },
        [VCPU_REQUEST__STATE_SET__DEBUGREGS] = { sizeof(struct kvm_debugregs), KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS },
        [VCPU_REQUEST__STATE_SET__LAPIC] = { sizeof(struct kvm_lapic_state), KVM_GET_LAPIC, KVM_SET_LAPIC },
        [VCPU_REQUEST__STATE_SET__MP] = { sizeof(struct kvm_mp_state), KVM_GET_MP_STATE, KVM_SET_MP_STATE },
        [VCPU_REQUEST__STATE_SET__XCREGS] = { sizeof(struct kvm_xcrs), KVM_GET_XCRS, KVM_SET_XCRS },
        [VCPU_REQUEST__STATE_SET__EVENTS] = { sizeof(struct kvm_vcpu_events), KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS },
};

const struct vcpu_state_desc *vcpu_state_desc(unsigned set) {
        return set < ARRAY_SIZE(state_descs) ? &state_descs[set] : NULL;
}

uint64_t vcpu_stat_get(const struct vcpu *v, enum vcpu_stat s) {
        return atomic_load_explicit(&v->stats.count[s], memory_order_relaxed);
}

static void stat_bump(struct vcpu *v, enum vcpu_stat s) {
        /* Only this thread writes: a relaxed load+store is enough and
         * avoids a locked instruction on the exit path. */
        uint64_t n = atomic_load_explicit(&v->stats.count[s], memory_order_relaxed);
        atomic_store_explicit(&v->stats.count[s], n + 1, memory_order_relaxed);
}

static void kick_handler(int sig) {
        /* Nothing to do: the signal exists to interrupt KVM_RUN and
         * blocking pipe calls (no SA_RESTART). */
        (void)sig;
}

int vcpu_setup_signals(void) {
        struct sigaction sa = { .sa_handler = kick_handler };

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGRTMIN, &sa, NULL) < 0)
                return -errno;
        return 0;
}

int vcpu_new(const struct vcpu_link *link, unsigned id, struct vcpu **ret) {
        struct vcpu *v;
        int r;

        v = aligned_alloc(64, (sizeof(*v) + 63) & ~(size_t)63);
        if (!v)
                return -ENOMEM;
        memset(v, 0, sizeof(*v));
        v->link = *link;
        v->id = id;
        v->fd = -1;
        v->arena.base = mmap(NULL, VCPU_ARENA_SIZE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (v->arena.base == MAP_FAILED)
                v->arena.base = NULL;
        v->arena.size = VCPU_ARENA_SIZE;
        v->allocator = (ProtobufCAllocator){ arena_alloc, arena_free, &v->arena };
        r = channel_init_host(&v->chan, link->poll_ns);
        if (r >= 0 && !v->arena.base) {
                channel_destroy(&v->chan);
                r = -ENOMEM;
        }
        if (r < 0) {
                if (v->arena.base)
                        munmap(v->arena.base, v->arena.size);
                free(v);
                return r;
        }
        if (link->lane_slot)
                channel_offer_lane(&v->chan, link->lane_slot, link->dying);
        *ret = v;
        return 0;
}

void vcpu_free(struct vcpu *v) {
        if (!v)
                return;
        if (v->run)
                munmap(v->run, v->link.kvm->run_size);
        safe_close(v->fd);
        channel_destroy(&v->chan);
        if (v->arena.base)
                munmap(v->arena.base, v->arena.size);
        free(v);
}

void vcpu_peer_fds(const struct vcpu *v, int *ret_req_wr, int *ret_resp_rd) {
        *ret_req_wr = v->chan.peer_wr;
        *ret_resp_rd = v->chan.peer_rd;
}

static bool dying(const struct vcpu *v) {
        return atomic_load_explicit(v->link.dying, memory_order_relaxed);
}

/* The plugin wrote an impossible index or a bad length into the lane:
 * nothing after it can be trusted, and the VM ends as failed. */
static int lane_broken(struct vcpu *v, const char *what) {
        vm_set_stop_reason(v->link.vm, VM_STOP_PLUGIN_ERROR, "vCPU %u: the plugin broke the lane (%s)", v->id,
                           what);
        return -EPIPE;
}

/* Sends one response on the channel.  `bound` is an upper bound on its
 * packed size (pb_small_bound), or 0 to have protobuf-c size it first:
 * on the hot path a Wait is packed without that sizing pass. */
static int send_response_bounded(struct vcpu *v, const VcpuResponse *resp, size_t bound) {
        int r;

        if (bound == 0 || bound > CHANNEL_HOST_BODY_MAX) {
                if (vcpu_response__get_packed_size(resp) > CHANNEL_HOST_BODY_MAX)
                        return -EMSGSIZE;
        }
        r = channel_send(&v->chan, vcpu_response__pack(resp, channel_body(&v->chan)));
        return r == -EPROTO ? lane_broken(v, "an impossible read index") : r;
}

static int send_response(struct vcpu *v, const VcpuResponse *resp) {
        return send_response_bounded(v, resp, 0);
}

static int send_errno(struct vcpu *v, VcpuResponse__MessageCase which, int e) {
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        /* Empty sub-messages: every response kind that can carry an error
         * is one of these shapes, and an empty one encodes the same. */
        VcpuResponse__SetState empty = VCPU_RESPONSE__SET_STATE__INIT;

        pb_vcpu_response_set_errno(&resp, e);
        resp.message_case = which;
        if (which != VCPU_RESPONSE__MESSAGE__NOT_SET)
                resp.set_state = &empty;
        return send_response(v, &resp);
}

/* Reads and decodes one request; the result lives in the arena until the
 * next call.  -EPIPE when the VM is stopping. */
static int read_request(struct vcpu *v, VcpuRequest **ret) {
        for (;;) {
                const uint8_t *msg = NULL;
                VcpuRequest *req;
                size_t n = 0;
                int r = channel_recv(&v->chan, true, &msg, &n);

                /* A kick: the VM may be stopping, or pausing this vCPU
                 * (its next Wait answers that). */
                if (r == -EINTR) {
                        if (dying(v))
                                return -EPIPE;
                        continue;
                }
                if (r == -EPROTO)
                        return lane_broken(v, "an impossible write index or message length");
                if (r < 0)
                        return r;
                v->arena.used = 0;
                req = vcpu_request__unpack(&v->allocator, n, msg);
                if (!req) {
                        /* Our own Shutdown may have landed behind a request
                         * in the same read. */
                        if (dying(v))
                                return -EPIPE;
                        log_warning("vCPU %u: undecodable request of %zu bytes from the plugin; answered EBADMSG",
                                    v->id, n);
                        send_errno(v, VCPU_RESPONSE__MESSAGE__NOT_SET, EBADMSG);
                        continue;
                }
                *ret = req;
                return 0;
        }
}

static int serve_get_state(struct vcpu *v, unsigned set) {
        const struct vcpu_state_desc *d = vcpu_state_desc(set);
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__GetState gs = VCPU_RESPONSE__GET_STATE__INIT;
        uint8_t buf[2048];

        if (!d)
                return send_errno(v, VCPU_RESPONSE__MESSAGE_GET_STATE, EINVAL);
        if (ioctl(v->fd, d->get, buf) < 0)
                return send_errno(v, VCPU_RESPONSE__MESSAGE_GET_STATE, errno);
        gs.state.data = buf;
        gs.state.len = d->size;
        resp.message_case = VCPU_RESPONSE__MESSAGE_GET_STATE;
        resp.get_state = &gs;
        return send_response(v, &resp);
}

static int set_state(struct vcpu *v, unsigned set, const ProtobufCBinaryData *state) {
        const struct vcpu_state_desc *d = vcpu_state_desc(set);

        if (!d || state->len != d->size)
                return -EINVAL;
        if (ioctl(v->fd, d->set, state->data) < 0)
                return -errno;
        return 0;
}

static int serve_get_msrs(struct vcpu *v, const VcpuRequest__GetMsrs *req) {
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__GetMsrs gm = VCPU_RESPONSE__GET_MSRS__INIT;
        size_t n = req->n_entry_indices;
        struct kvm_msrs *msrs;
        uint64_t *data;
        int r;

        msrs = arena_alloc(&v->arena, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
        data = arena_alloc(&v->arena, n * sizeof(uint64_t) + 1);
        if (!msrs || !data || n > UINT32_MAX)
                return send_errno(v, VCPU_RESPONSE__MESSAGE_GET_MSRS, ENOMEM);
        memset(msrs, 0, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
        msrs->nmsrs = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
                msrs->entries[i].index = req->entry_indices[i];
        r = ioctl(v->fd, KVM_GET_MSRS, msrs);
        if (r < 0)
                return send_errno(v, VCPU_RESPONSE__MESSAGE_GET_MSRS, errno);
        /* KVM stops at the first MSR it cannot read: answer what it read. */
        for (int i = 0; i < r; i++)
                data[i] = msrs->entries[i].data;
        gm.n_entry_data = (size_t)r;
        gm.entry_data = data;
        resp.message_case = VCPU_RESPONSE__MESSAGE_GET_MSRS;
        resp.get_msrs = &gm;
        return send_response(v, &resp);
}

static int set_msrs(struct vcpu *v, const VcpuRequest__SetMsrs *req) {
        size_t n = req->n_entries;
        struct kvm_msrs *msrs = arena_alloc(&v->arena, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));

        if (!msrs || n > UINT32_MAX)
                return -ENOMEM;
        memset(msrs, 0, sizeof(*msrs) + n * sizeof(struct kvm_msr_entry));
        msrs->nmsrs = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                msrs->entries[i].index = req->entries[i]->index;
                msrs->entries[i].data = req->entries[i]->data;
        }
        /* A partial set counts as success, as in crosvm. */
        if (ioctl(v->fd, KVM_SET_MSRS, msrs) < 0)
                return -errno;
        return 0;
}

static int set_cpuid(struct vcpu *v, const VcpuRequest__SetCpuid *req) {
        size_t n = req->n_entries;
        struct kvm_cpuid2 *c = arena_alloc(&v->arena, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));

        if (!c || n > UINT32_MAX)
                return -ENOMEM;
        memset(c, 0, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
        c->nent = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
                pb_cpuid_to_kvm(req->entries[i], &c->entries[i]);
        if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
                return -errno;
        return 0;
}

static int serve_hyperv_cpuid(struct vcpu *v) {
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        VcpuResponse__CpuidResponse cr = VCPU_RESPONSE__CPUID_RESPONSE__INIT;
        struct kvm_cpuid2 *c = arena_alloc(&v->arena, sizeof(*c) + PB_CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
        CpuidEntry *entries = arena_alloc(&v->arena, PB_CPUID_MAX_ENTRIES * sizeof(CpuidEntry));
        CpuidEntry **ptrs = arena_alloc(&v->arena, PB_CPUID_MAX_ENTRIES * sizeof(CpuidEntry *));

        if (!c || !entries || !ptrs)
                return send_errno(v, VCPU_RESPONSE__MESSAGE_GET_HYPERV_CPUID, ENOMEM);
        memset(c, 0, sizeof(*c));
        c->nent = PB_CPUID_MAX_ENTRIES;
        if (ioctl(v->fd, KVM_GET_SUPPORTED_HV_CPUID, c) < 0)
                return send_errno(v, VCPU_RESPONSE__MESSAGE_GET_HYPERV_CPUID, errno);
        pb_cpuid_list_from_kvm(c->entries, c->nent, entries, ptrs);
        cr.n_entries = c->nent;
        cr.entries = ptrs;
        resp.message_case = VCPU_RESPONSE__MESSAGE_GET_HYPERV_CPUID;
        resp.get_hyperv_cpuid = &cr;
        return send_response(v, &resp);
}

static int enable_capability(struct vcpu *v, uint32_t cap) {
        struct kvm_enable_cap ec = { .cap = cap };

        /* crosvm allows exactly the two SynIC capabilities. */
        if (cap != KVM_CAP_HYPERV_SYNIC && cap != KVM_CAP_HYPERV_SYNIC2)
                return -EINVAL;
        if (ioctl(v->fd, KVM_ENABLE_CAP, &ec) < 0)
                return -errno;
        return 0;
}

/* Applies the register sets a Resume carries, in crosvm's order.  A set of
 * the wrong size is ignored with a warning rather than half-applied. */
static void apply_resume_state(struct vcpu *v, const VcpuRequest__Resume *res) {
        static const struct {
                unsigned set;
                size_t off;
        } parts[] = {
                { VCPU_REQUEST__STATE_SET__REGS, offsetof(VcpuRequest__Resume, regs) },
                { VCPU_REQUEST__STATE_SET__SREGS, offsetof(VcpuRequest__Resume, sregs) },
                { VCPU_REQUEST__STATE_SET__DEBUGREGS, offsetof(VcpuRequest__Resume, debugregs) },
        };

        for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
                const ProtobufCBinaryData *b = (const void *)((const uint8_t *)res + parts[i].off);
                int r;

                if (b->len == 0)
                        continue;
                r = set_state(v, parts[i].set, b);
                if (r < 0)
                        log_warning("vCPU %u: applying state set %u from Resume: %s",
                                    v->id, parts[i].set, strerror(-r));
        }
}

/* Serves the plugin's vCPU requests until it sends Resume, which is
 * returned (valid until the next read).  `init_pending` is the Init
 * handshake state: the first Wait is answered with Init, and until then
 * every other request gets EPROTO, as in crosvm.  -EPIPE: stop the vCPU. */
static int serve_until_resume(struct vcpu *v, bool *init_pending, VcpuRequest__Resume **ret_resume) {
        for (;;) {
                VcpuRequest *req = NULL;
                int r = read_request(v, &req);

                if (r < 0)
                        return r;
                switch ((int)req->message_case) {
                case VCPU_REQUEST__MESSAGE_WAIT:
                        if (*init_pending) {
                                VcpuResponse resp = VCPU_RESPONSE__INIT;
                                VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
                                VcpuResponse__Wait__Init init = VCPU_RESPONSE__WAIT__INIT__INIT;

                                w.exit_case = VCPU_RESPONSE__WAIT__EXIT_INIT;
                                w.init = &init;
                                resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
                                resp.wait = &w;
                                r = send_response(v, &resp);
                                *init_pending = false;
                        } else
                                r = send_errno(v, VCPU_RESPONSE__MESSAGE_WAIT, EPROTO);
                        break;
                case VCPU_REQUEST__MESSAGE_SHUTDOWN:
                        return -EPIPE;
                case VCPU_REQUEST__MESSAGE_RESUME:
                        if (*init_pending) {
                                r = send_errno(v, VCPU_RESPONSE__MESSAGE__NOT_SET, EPROTO);
                                break;
                        }
                        apply_resume_state(v, req->resume);
                        *ret_resume = req->resume;
                        return 0;
                case VCPU_REQUEST__MESSAGE_GET_STATE:
                        if (*init_pending)
                                r = send_errno(v, VCPU_RESPONSE__MESSAGE_GET_STATE, EPROTO);
                        else
                                r = serve_get_state(v, req->get_state->set);
                        break;
                case VCPU_REQUEST__MESSAGE_SET_STATE:
                        r = *init_pending ? -EPROTO : set_state(v, req->set_state->set, &req->set_state->state);
                        r = send_errno(v, VCPU_RESPONSE__MESSAGE_SET_STATE, -r);
                        break;
                case VCPU_REQUEST__MESSAGE_GET_MSRS:
                        if (*init_pending)
                                r = send_errno(v, VCPU_RESPONSE__MESSAGE_GET_MSRS, EPROTO);
                        else
                                r = serve_get_msrs(v, req->get_msrs);
                        break;
                case VCPU_REQUEST__MESSAGE_SET_MSRS:
                        r = *init_pending ? -EPROTO : set_msrs(v, req->set_msrs);
                        r = send_errno(v, VCPU_RESPONSE__MESSAGE_SET_MSRS, -r);
                        break;
                case VCPU_REQUEST__MESSAGE_SET_CPUID:
                        r = *init_pending ? -EPROTO : set_cpuid(v, req->set_cpuid);
                        r = send_errno(v, VCPU_RESPONSE__MESSAGE_SET_CPUID, -r);
                        break;
                case VCPU_REQUEST__MESSAGE_GET_HYPERV_CPUID:
                        if (*init_pending)
                                r = send_errno(v, VCPU_RESPONSE__MESSAGE_GET_HYPERV_CPUID, EPROTO);
                        else
                                r = serve_hyperv_cpuid(v);
                        break;
                case VCPU_REQUEST__MESSAGE_ENABLE_CAPABILITY:
                        r = *init_pending ? -EPROTO : enable_capability(v, req->enable_capability->capability);
                        r = send_errno(v, VCPU_RESPONSE__MESSAGE_ENABLE_CAPABILITY, -r);
                        break;
                case VCPU_REQUEST__MESSAGE__NOT_SET:
                default:
                        r = send_errno(v, VCPU_RESPONSE__MESSAGE__NOT_SET, *init_pending ? EPROTO : ENOTTY);
                        break;
                }
                if (r < 0)
                        return r;
        }
}

/* Sends a Wait event and, unless no_resume, serves until Resume.  Every
 * Wait is small in shape (pb_small_bound): at most 7 fields that are not
 * bytes, counting errno and the two nestings, and at most the Io event's
 * 4 bytes fields, totalling `bytes`. */
static int send_wait(struct vcpu *v, VcpuResponse__Wait *w, size_t bytes, bool no_resume,
                     VcpuRequest__Resume **ret_resume) {
        VcpuResponse resp = VCPU_RESPONSE__INIT;
        bool init_pending = false;
        int r;

        resp.message_case = VCPU_RESPONSE__MESSAGE_WAIT;
        resp.wait = w;
        r = send_response_bounded(v, &resp, pb_small_bound(bytes));
        if (r < 0 || no_resume)
                return r;
        return serve_until_resume(v, &init_pending, ret_resume);
}

/* Decides from the call hint whether this access carries registers. */
static void match_hint(struct vcpu *v, const struct vm_hint *h, struct kvm_regs *regs,
                       bool *ret_regs, bool *ret_sregs, bool *ret_dregs) {
        *ret_regs = *ret_sregs = *ret_dregs = false;
        if (ioctl(v->fd, KVM_GET_REGS, regs) < 0)
                return;
        *ret_regs = true;
        for (unsigned i = 0; i < h->n_details; i++) {
                const struct vm_hint_detail *d = &h->details[i];
                const uint64_t vals[4] = { regs->rax, regs->rbx, regs->rcx, regs->rdx };
                bool ok = true;

                for (unsigned k = 0; k < 4; k++)
                        if (d->match[k] && d->value[k] != vals[k])
                                ok = false;
                if (ok) {
                        *ret_sregs = d->send_sregs;
                        *ret_dregs = d->send_debugregs;
                        return;
                }
        }
}

/* The reply watchdog's marks around a wait for the plugin's answer.  Off
 * (the default), nothing is written: the exit path stays as it was.  The
 * address goes first and the start time last (release), so a reader that
 * sees the time sees the address it belongs to. */
static void watch_wait(struct vcpu *v, uint32_t space, uint64_t addr, bool is_write, bool begin) {
        struct timespec ts;

        if (!v->link.reply_timeout_ms)
                return;
        if (!begin) {
                atomic_store_explicit(&v->wait_since_usec, 0, memory_order_release);
                return;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        atomic_store_explicit(&v->wait_addr, addr, memory_order_relaxed);
        atomic_store_explicit(&v->wait_space, space | (is_write ? VCPU_WAIT_WRITE : 0), memory_order_relaxed);
        /* 0 means "not waiting": a clock reading of 0 becomes 1. */
        atomic_store_explicit(&v->wait_since_usec,
                              ((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u) | 1u,
                              memory_order_release);
}

bool vcpu_waiting(const struct vcpu *v, uint64_t *ret_since_usec, uint32_t *ret_space, uint64_t *ret_addr,
                  bool *ret_write) {
        uint64_t since = atomic_load_explicit(&v->wait_since_usec, memory_order_acquire), addr;
        uint32_t space;

        if (!since)
                return false;
        addr = atomic_load_explicit(&v->wait_addr, memory_order_relaxed);
        space = atomic_load_explicit(&v->wait_space, memory_order_relaxed);
        /* The same start time after the reads: the address is this wait's. */
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&v->wait_since_usec, memory_order_relaxed) != since)
                return false;
        *ret_since_usec = since;
        *ret_space = space & ~VCPU_WAIT_WRITE;
        *ret_addr = addr;
        *ret_write = space & VCPU_WAIT_WRITE;
        return true;
}

/* A guest access that exited to us.  Unreserved: reads see zeros and
 * writes vanish, as in crosvm. */
static int handle_access(struct vcpu *v, uint32_t space, uint64_t addr, uint8_t *data, size_t len, bool is_write) {
        bool reserved, async = false, hinted = false;
        struct vm_hint hint;
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuResponse__Wait__Io io = VCPU_RESPONSE__WAIT__IO__INIT;
        VcpuRequest__Resume *res = NULL;
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        struct kvm_debugregs dregs;
        int r;

        reserved = vm_lookup_access(v->link.vm, space, addr, is_write, &async, &hint, &hinted);
        if (!reserved || (async && !is_write)) {
                if (!is_write)
                        memset(data, 0, len);
                return 0;
        }
        if (!is_write)
                memset(data, 0, len);
        io.space = space;
        io.address = addr;
        io.is_write = is_write;
        io.no_resume = async;
        io.data.data = data;
        io.data.len = len;
        if (hinted) {
                bool want_regs, want_sregs, want_dregs;

                match_hint(v, &hint, &regs, &want_regs, &want_sregs, &want_dregs);
                if (want_regs) {
                        io.regs.data = (uint8_t *)&regs;
                        io.regs.len = sizeof(regs);
                }
                if (want_sregs && ioctl(v->fd, KVM_GET_SREGS, &sregs) == 0) {
                        io.sregs.data = (uint8_t *)&sregs;
                        io.sregs.len = sizeof(sregs);
                }
                if (want_dregs && ioctl(v->fd, KVM_GET_DEBUGREGS, &dregs) == 0) {
                        io.debugregs.data = (uint8_t *)&dregs;
                        io.debugregs.len = sizeof(dregs);
                }
        }
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_IO;
        w.io = &io;
        watch_wait(v, space, addr, is_write, !async);
        r = send_wait(v, &w, io.data.len + io.regs.len + io.sregs.len + io.debugregs.len, async, &res);
        watch_wait(v, space, addr, is_write, false);
        if (r < 0 || async || is_write)
                return r;
        /* crosvm aborted on a short read buffer; we use what came and
         * leave the rest zero. */
        memcpy(data, res->data.data, res->data.len < len ? res->data.len : len);
        return 0;
}

static int handle_hyperv(struct vcpu *v) {
        struct kvm_hyperv_exit *hv = &v->run->hyperv;
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuRequest__Resume *res = NULL;
        int r;

        if (hv->type == KVM_EXIT_HYPERV_HCALL) {
                VcpuResponse__Wait__HypervCall hc = VCPU_RESPONSE__WAIT__HYPERV_CALL__INIT;

                hc.input = hv->u.hcall.input;
                hc.params0 = hv->u.hcall.params[0];
                hc.params1 = hv->u.hcall.params[1];
                w.exit_case = VCPU_RESPONSE__WAIT__EXIT_HYPERV_CALL;
                w.hyperv_call = &hc;
                r = send_wait(v, &w, 0, false, &res);
                if (r < 0)
                        return r;
                /* Exactly 8 bytes, the u64 result; crosvm aborted otherwise. */
                if (res->data.len == sizeof(uint64_t))
                        memcpy(&hv->u.hcall.result, res->data.data, sizeof(uint64_t));
                else
                        log_warning("vCPU %u: hypercall result of %zu bytes ignored (want 8)", v->id,
                                    res->data.len);
                return 0;
        }
        if (hv->type == KVM_EXIT_HYPERV_SYNIC) {
                VcpuResponse__Wait__HypervSynic sy = VCPU_RESPONSE__WAIT__HYPERV_SYNIC__INIT;

                sy.msr = hv->u.synic.msr;
                sy.control = hv->u.synic.control;
                sy.evt_page = hv->u.synic.evt_page;
                sy.msg_page = hv->u.synic.msg_page;
                w.exit_case = VCPU_RESPONSE__WAIT__EXIT_HYPERV_SYNIC;
                w.hyperv_synic = &sy;
                return send_wait(v, &w, 0, false, &res);
        }
        return 0;
}

static int handle_pause(struct vcpu *v) {
        VcpuResponse__Wait w = VCPU_RESPONSE__WAIT__INIT;
        VcpuResponse__Wait__User u = VCPU_RESPONSE__WAIT__USER__INIT;
        VcpuRequest__Resume *res = NULL;

        u.user = atomic_load(&v->pause_user);
        w.exit_case = VCPU_RESPONSE__WAIT__EXIT_USER;
        w.user = &u;
        stat_bump(v, VCPU_STAT_USER);
        return send_wait(v, &w, 0, false, &res);
}

static int run_loop(struct vcpu *v) {
        struct kvm_run *run = v->run;
        int r;

        for (;;) {
                if (atomic_load_explicit(v->link.held, memory_order_relaxed))
                        vm_hold_wait(v->link.vm);
                if (dying(v))
                        return 0;
                if (atomic_load_explicit(&v->pause_pending, memory_order_relaxed) &&
                    atomic_exchange(&v->pause_pending, false)) {
                        r = handle_pause(v);
                        if (r < 0)
                                return r;
                }
                if (ioctl(v->fd, KVM_RUN, 0) < 0) {
                        if (errno == EINTR || errno == EAGAIN) {
                                /* Clear before looking at the flags: a kick
                                 * sets its flag before immediate_exit. */
                                run->immediate_exit = 0;
                                atomic_thread_fence(memory_order_seq_cst);
                                continue;
                        }
                        vm_set_stop_reason(v->link.vm, VM_STOP_VCPU_ERROR, "vCPU %u: KVM_RUN failed: %s", v->id,
                                           strerror(errno));
                        return -errno;
                }
                switch (run->exit_reason) {
                case KVM_EXIT_IO: {
                        bool out = run->io.direction == KVM_EXIT_IO_OUT;

                        stat_bump(v, out ? VCPU_STAT_IO_OUT : VCPU_STAT_IO_IN);
                        r = handle_access(v, ADDRESS_SPACE__IOPORT, run->io.port,
                                          (uint8_t *)run + run->io.data_offset,
                                          (size_t)run->io.size * run->io.count, out);
                        break;
                }
                case KVM_EXIT_MMIO:
                        stat_bump(v, run->mmio.is_write ? VCPU_STAT_MMIO_WRITE : VCPU_STAT_MMIO_READ);
                        r = handle_access(v, ADDRESS_SPACE__MMIO, run->mmio.phys_addr, run->mmio.data,
                                          run->mmio.len, run->mmio.is_write);
                        break;
                case KVM_EXIT_HYPERV:
                        stat_bump(v, VCPU_STAT_HYPERV);
                        r = handle_hyperv(v);
                        break;
                case KVM_EXIT_HLT:
                        vm_set_stop_reason(v->link.vm, VM_STOP_VCPU_ENDED, "vCPU %u halted", v->id);
                        return 0;
                case KVM_EXIT_SHUTDOWN:
                        vm_set_stop_reason(v->link.vm, VM_STOP_VCPU_ENDED,
                                           "vCPU %u: guest shutdown (triple fault)", v->id);
                        return 0;
                case KVM_EXIT_INTERNAL_ERROR:
                        /* Kicked while the VM is being torn down: not a
                         * crash of a guest that was still wanted. */
                        if (dying(v)) {
                                log_debug("vCPU %u: KVM internal error %u during teardown", v->id,
                                          run->internal.suberror);
                                return 0;
                        }
                        vm_set_stop_reason(v->link.vm, VM_STOP_VCPU_ERROR, "vCPU %u: KVM internal error, suberror %u",
                                           v->id, run->internal.suberror);
                        return -EIO;
                case KVM_EXIT_FAIL_ENTRY:
                        vm_set_stop_reason(v->link.vm, VM_STOP_VCPU_ERROR,
                                           "vCPU %u: VM entry failed, hardware reason 0x%llx", v->id,
                                           (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
                        return -EIO;
                default:
                        stat_bump(v, VCPU_STAT_OTHER);
                        log_debug("vCPU %u: exit reason %u ignored", v->id, run->exit_reason);
                        r = 0;
                        break;
                }
                if (r < 0)
                        return r;
        }
}

static void *vcpu_thread(void *arg) {
        struct vcpu *v = arg;
        VcpuRequest__Resume *res = NULL;
        bool init_pending = true;
        uint64_t one = 1;
        char name[16];
        sigset_t mask;
        int r;

        snprintf(name, sizeof(name), "vcpu%u", v->id);
        pthread_setname_np(pthread_self(), name);
        /* Only the kick reaches a vCPU thread. */
        sigfillset(&mask);
        sigdelset(&mask, SIGRTMIN);
        pthread_sigmask(SIG_SETMASK, &mask, NULL);

        r = serve_until_resume(v, &init_pending, &res);
        /* The one look at the lane, right after the Resume from Init. */
        if (r >= 0 && channel_lane_take(&v->chan))
                log_debug("vCPU %u: on the lane", v->id);
        if (r >= 0) {
                log_debug("vCPU %u: resumed from Init; waiting for the others", v->id);
                vm_wait_vcpus_resumed(v->link.vm);
                log_debug("vCPU %u: running", v->id);
                r = run_loop(v);
        }
        if (r == -EPIPE && !dying(v))
                vm_set_stop_reason(v->link.vm, VM_STOP_VCPU_ENDED, "the plugin stopped vCPU %u", v->id);
        else if (r < 0 && !dying(v))
                vm_set_stop_reason(v->link.vm, VM_STOP_VCPU_ENDED, "vCPU %u stopped: %s", v->id, strerror(-r));
        atomic_store(&v->thread_done, true);
        if (write(v->link.exit_fd, &one, sizeof(one)) < 0)
                log_debug("vCPU %u: signalling its end: %m", v->id);
        return NULL;
}

int vcpu_create_kvm(struct vcpu *v) {
        return kvm_create_vcpu(v->link.kvm, v->id, &v->fd, &v->run);
}

int vcpu_serve(struct vcpu *v, bool init_pending) {
        VcpuRequest__Resume *res = NULL;

        return serve_until_resume(v, &init_pending, &res);
}

int vcpu_start(struct vcpu *v) {
        int r;

        r = vcpu_create_kvm(v);
        if (r < 0)
                return r;
        r = -pthread_create(&v->thread, NULL, vcpu_thread, v);
        if (r < 0)
                return r;
        v->thread_started = true;
        return 0;
}

void vcpu_kick(struct vcpu *v) {
        if (v->run)
                v->run->immediate_exit = 1;
        atomic_thread_fence(memory_order_seq_cst);
        /* A thread asleep on the lane wakes to look at `dying`. */
        channel_wake(&v->chan);
        if (v->thread_started && !atomic_load(&v->thread_done))
                pthread_kill(v->thread, SIGRTMIN);
}

void vcpu_signal_stop(struct vcpu *v) {
        if (!v->thread_started || atomic_load(&v->thread_done))
                return;
        /* Wakes a thread blocked reading the plugin's requests from the
         * pipe; the kick covers KVM_RUN and the lane. */
        channel_inject_shutdown(&v->chan);
        vcpu_kick(v);
}

void vcpu_join(struct vcpu *v) {
        if (!v->thread_started)
                return;
        for (;;) {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 20 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                if (pthread_timedjoin_np(v->thread, NULL, &ts) == 0)
                        break;
                /* Kicks can miss a thread between its look at `dying` and
                 * its next wait; and with the plugin gone nobody else reads
                 * a full response pipe it may be blocked writing to. */
                vcpu_kick(v);
                channel_drain(&v->chan);
        }
        v->thread_started = false;
}

void vcpu_pause(struct vcpu *v, uint64_t user) {
        atomic_store(&v->pause_user, user);
        atomic_store(&v->pause_pending, true);
        vcpu_kick(v);
}
