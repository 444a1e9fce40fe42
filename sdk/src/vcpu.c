/* The vCPU side of the API: the per-vCPU channel, events and resumes, the
 * register cache, and the per-vCPU state calls.
 *
 * The channel (proto/channel.h) frames the messages: on the pipes, bare
 * requests out and length-prefixed replies in, reassembled when one is
 * split across two reads (crosvm's library failed then); with vmlaunch,
 * once the vCPU is resumed from Init, the lane.
 *
 * Hot path: waiting for an event and resuming allocate nothing.  Requests
 * are packed into the vCPU's own buffer, and replies are unpacked with a
 * bump allocator embedded in the vCPU that is reset before every unpack
 * (only oversized replies, such as long CPUID lists, spill to malloc).
 *
 * A vCPU handle is used by one thread at a time: the calls between a wait
 * and its resume belong to the thread that waited. */
#include "sdk_vcpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pb_convert.h"

/* ---- the reply arena ---- */

static void *arena_alloc(void *data, size_t size) {
        struct arena *a = data;
        size_t need = (size + 15) & ~(size_t)15;

        if (need >= size && need <= sizeof(a->buf) - a->used) {
                void *p = a->buf + a->used;

                a->used += need;
                return p;
        }
        a->spilled = true;
        return malloc(size);
}

static void arena_free(void *data, void *p) {
        struct arena *a = data;
        uint8_t *b = p;

        if (b >= a->buf && b < a->buf + sizeof(a->buf))
                return;         /* reclaimed by the next reset */
        free(p);
}

static void arena_init(struct arena *a) {
        a->alloc.alloc = arena_alloc;
        a->alloc.free = arena_free;
        a->alloc.allocator_data = a;
        a->used = 0;
        a->spilled = false;
}

/* ---- handles ---- */

int sdk_vcpu_new(int req_fd, int resp_fd, struct crosvm_vcpu **ret) {
        struct crosvm_vcpu *v = calloc(1, sizeof(*v));

        if (!v) {
                close(req_fd);
                close(resp_fd);
                return -ENOMEM;
        }
        if (channel_init_plugin(&v->chan, req_fd, resp_fd, wire_poll_ns_from_env()) < 0) {
                free(v);
                return -ENOMEM;
        }
        v->resume = RESUME_NONE;
        v->regs.size = sizeof(struct kvm_regs);
        v->sregs.size = sizeof(struct kvm_sregs);
        v->dregs.size = sizeof(struct kvm_debugregs);
        arena_init(&v->arena);
        *ret = v;
        return 0;
}

void sdk_vcpu_attach_lane(struct crosvm_vcpu *v, struct lane_slot *slot) {
        channel_offer_lane(&v->chan, slot, NULL);
}

void sdk_vcpu_free(struct crosvm_vcpu *v) {
        if (!v)
                return;
        channel_destroy(&v->chan);
        free(v);
}

/* ---- the channel ---- */

static int vcpu_send(struct crosvm_vcpu *v, const VcpuRequest *req) {
        size_t len = vcpu_request__get_packed_size(req);

        if (len > CHANNEL_PLUGIN_BODY_MAX)
                return -EMSGSIZE;
        return channel_send(&v->chan, vcpu_request__pack(req, channel_body(&v->chan)));
}

/* vcpu_send for a request small in shape (pb_small_bound) with `bytes`
 * bytes in its bytes fields: packed without protobuf-c's sizing pass. */
static int vcpu_send_small(struct crosvm_vcpu *v, const VcpuRequest *req, size_t bytes) {
        if (pb_small_bound(bytes) > CHANNEL_PLUGIN_BODY_MAX)
                return vcpu_send(v, req);
        return channel_send(&v->chan, vcpu_request__pack(req, channel_body(&v->chan)));
}

static void vcpu_release(struct crosvm_vcpu *v, VcpuResponse *resp) {
        /* Only what spilled to malloc needs freeing; the rest goes with
         * the arena's next reset. */
        if (resp && v->arena.spilled)
                vcpu_response__free_unpacked(resp, &v->arena.alloc);
}

/* The next reply, unpacked into the arena; free it with vcpu_release.
 * -EINTR only when `interruptible` (nothing is lost then); -EPIPE when
 * the host closed the pipe; -EPROTO for bytes that are not a reply. */
static int vcpu_recv(struct crosvm_vcpu *v, bool interruptible, VcpuResponse **ret) {
        const uint8_t *msg;
        size_t len;
        VcpuResponse *resp;
        int r;

        r = channel_recv(&v->chan, interruptible, &msg, &len);
        if (r == -EMSGSIZE || r == -EBADMSG)
                return -EPROTO;
        if (r < 0)
                return r;
        v->arena.used = 0;
        v->arena.spilled = false;
        resp = vcpu_response__unpack(&v->arena.alloc, len, msg);
        if (!resp)
                return -EPROTO;
        *ret = resp;
        return 0;
}

/* The host's errno, negated (it is positive on the wire), or 0. */
static int reply_errno(const VcpuResponse *resp) {
        int e = pb_vcpu_response_get_errno(resp);

        return e > 0 ? -e : e;
}

/* A request answered by a reply of case `want`; free it with vcpu_release.
 * A signal never interrupts the wait for the reply: returning early would
 * leave that reply in the pipe for the next call to misread. */
static int vcpu_transact(struct crosvm_vcpu *v, const VcpuRequest *req, VcpuResponse__MessageCase want,
                         VcpuResponse **ret) {
        VcpuResponse *resp = NULL;
        int r = vcpu_send(v, req);

        if (r < 0)
                return r;
        r = vcpu_recv(v, false, &resp);
        if (r < 0)
                return r;
        r = reply_errno(resp);
        if (r == 0 && resp->message_case != want)
                r = -EPROTO;
        if (r < 0 || !ret) {
                vcpu_release(v, resp);
                return r;
        }
        *ret = resp;
        return 0;
}

/* ---- events ---- */

static void cache_fill(struct reg_cache *c, const ProtobufCBinaryData *b) {
        /* A set waiting for the resume wins over what the host sent. */
        if (c->pending)
                return;
        c->valid = b->len == c->size;
        if (c->valid)
                memcpy(c->data, b->data, c->size);
}

static void cache_drop(struct crosvm_vcpu *v) {
        v->regs.valid = v->sregs.valid = v->dregs.valid = false;
}

/* Fills *event from a Wait.  Returns the resume the event needs, or a
 * negative errno for a malformed one. */
static int decode_wait(struct crosvm_vcpu *v, const VcpuResponse__Wait *w, struct crosvm_vcpu_event *event) {
        memset(event, 0, sizeof(*event));
        cache_drop(v);
        v->init_event = false;
        switch ((int)w->exit_case) {
        case VCPU_RESPONSE__WAIT__EXIT_INIT:
                event->kind = CROSVM_VCPU_EVENT_KIND_INIT;
                v->init_event = true;
                return RESUME_PLAIN;
        case VCPU_RESPONSE__WAIT__EXIT_IO: {
                const VcpuResponse__Wait__Io *io = w->io;

                if (io->data.len > IO_DATA_MAX)
                        return -EPROTO;
                /* Copied out of the reply: the arena is reused by any call
                 * the plugin makes before it resumes. */
                if (io->data.len)
                        memcpy(v->io_data, io->data.data, io->data.len);
                v->io_len = (uint32_t)io->data.len;
                event->kind = CROSVM_VCPU_EVENT_KIND_IO_ACCESS;
                event->io_access.address_space = (uint32_t)io->space;
                event->io_access.address = io->address;
                event->io_access.data = v->io_data;
                event->io_access.length = v->io_len;
                event->io_access.is_write = io->is_write;
                event->io_access.no_resume = io->no_resume;
                cache_fill(&v->regs, &io->regs);
                cache_fill(&v->sregs, &io->sregs);
                cache_fill(&v->dregs, &io->debugregs);
                if (io->no_resume)
                        return RESUME_NONE;
                return io->is_write ? RESUME_PLAIN : RESUME_IO_READ;
        }
        case VCPU_RESPONSE__WAIT__EXIT_USER:
                event->kind = CROSVM_VCPU_EVENT_KIND_PAUSED;
                event->user = (void *)(uintptr_t)w->user->user;
                return RESUME_PLAIN;
        case VCPU_RESPONSE__WAIT__EXIT_HYPERV_CALL:
                v->hcall_result = 0;
                event->kind = CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL;
                event->hyperv_call.input = w->hyperv_call->input;
                event->hyperv_call.result = &v->hcall_result;
                event->hyperv_call.params[0] = w->hyperv_call->params0;
                event->hyperv_call.params[1] = w->hyperv_call->params1;
                return RESUME_HCALL;
        case VCPU_RESPONSE__WAIT__EXIT_HYPERV_SYNIC:
                event->kind = CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC;
                event->hyperv_synic.msr = w->hyperv_synic->msr;
                event->hyperv_synic.control = w->hyperv_synic->control;
                event->hyperv_synic.evt_page = w->hyperv_synic->evt_page;
                event->hyperv_synic.msg_page = w->hyperv_synic->msg_page;
                return RESUME_PLAIN;
        default:
                return -EPROTO;
        }
}

EXPORT int crosvm_vcpu_wait(struct crosvm_vcpu *v, struct crosvm_vcpu_event *event) {
        struct crosvm_vcpu_event ev;
        VcpuResponse *resp = NULL;
        int r;

        if (!v || !event)
                return -EINVAL;
        /* The host sends no event until the last one is resumed: crosvm's
         * library blocked here for good. */
        if (v->resume != RESUME_NONE)
                return -EINVAL;
        /* Only the first event is asked for; the host pushes the rest. */
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
        r = vcpu_recv(v, true, &resp);
        if (r < 0)
                return r;
        r = reply_errno(resp);
        if (r == 0 && resp->message_case != VCPU_RESPONSE__MESSAGE_WAIT)
                r = -EPROTO;
        if (r == 0)
                r = decode_wait(v, resp->wait, &ev);
        vcpu_release(v, resp);
        if (r < 0) {
                v->resume = RESUME_NONE;
                return r;
        }
        v->resume = (enum resume_kind)r;
        *event = ev;
        return 0;
}

EXPORT int crosvm_vcpu_resume(struct crosvm_vcpu *v) {
        VcpuRequest req = VCPU_REQUEST__INIT;
        VcpuRequest__Resume m = VCPU_REQUEST__RESUME__INIT;
        bool switching;
        int r;

        if (!v)
                return -EINVAL;
        /* crosvm's library sent a Resume whenever asked.  One the host is
         * not waiting for (a second resume, or one after a no_resume event)
         * would be taken as the answer to the vCPU's next event. */
        if (v->resume == RESUME_NONE)
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
        /* The switch to the lane (lane.h): marked before this Resume goes
         * out on the pipe, so the host sees the mark when it reads it. */
        switching = v->init_event && channel_lane_arm(&v->chan);
        /* One nesting and 4 bytes fields. */
        r = vcpu_send_small(v, &req, m.data.len + m.regs.len + m.sregs.len + m.debugregs.len);
        if (r < 0)
                return r;
        if (switching)
                channel_lane_enter(&v->chan);
        v->init_event = false;
        v->regs.pending = v->sregs.pending = v->dregs.pending = false;
        cache_drop(v);
        v->resume = RESUME_NONE;
        return 0;
}

/* ---- state ---- */

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
        vcpu_release(v, resp);
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

/* get for regs, sregs or debugregs: from the cache when the event carried
 * them; otherwise a pending set is applied first (so KVM has its say on
 * the values), then the state is read back. */
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

/* set for regs, sregs or debugregs: no I/O; it rides on the next resume. */
static int cached_set(struct crosvm_vcpu *v, struct reg_cache *c, const void *in) {
        if (!v || !in)
                return -EINVAL;
        memcpy(c->data, in, c->size);
        c->pending = true;
        c->valid = false;
        return 0;
}

EXPORT int crosvm_vcpu_get_regs(struct crosvm_vcpu *v, struct kvm_regs *regs) {
        return cached_get(v, v ? &v->regs : NULL, VCPU_REQUEST__STATE_SET__REGS, regs);
}

EXPORT int crosvm_vcpu_set_regs(struct crosvm_vcpu *v, const struct kvm_regs *regs) {
        return cached_set(v, v ? &v->regs : NULL, regs);
}

EXPORT int crosvm_vcpu_get_sregs(struct crosvm_vcpu *v, struct kvm_sregs *sregs) {
        return cached_get(v, v ? &v->sregs : NULL, VCPU_REQUEST__STATE_SET__SREGS, sregs);
}

EXPORT int crosvm_vcpu_set_sregs(struct crosvm_vcpu *v, const struct kvm_sregs *sregs) {
        return cached_set(v, v ? &v->sregs : NULL, sregs);
}

EXPORT int crosvm_vcpu_get_debugregs(struct crosvm_vcpu *v, struct kvm_debugregs *dregs) {
        return cached_get(v, v ? &v->dregs : NULL, VCPU_REQUEST__STATE_SET__DEBUGREGS, dregs);
}

EXPORT int crosvm_vcpu_set_debugregs(struct crosvm_vcpu *v, const struct kvm_debugregs *dregs) {
        return cached_set(v, v ? &v->dregs : NULL, dregs);
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
        *out_count = 0;
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
        /* KVM stops at the first MSR it cannot read, so fewer may come
         * back; more than were asked for cannot fit. */
        n = resp->get_msrs->n_entry_data;
        *out_count = (uint32_t)n;
        if (n > count)
                r = -E2BIG;
        else
                for (size_t i = 0; i < n; i++)
                        entries[i].data = resp->get_msrs->entry_data[i];
        vcpu_release(v, resp);
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
                pb_cpuid_list_from_kvm(entries, count, e, ep);
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
        r = pb_cpuid_list_to_kvm(resp->get_hyperv_cpuid->entries, resp->get_hyperv_cpuid->n_entries, count,
                                 entries, out_count);
        vcpu_release(v, resp);
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
