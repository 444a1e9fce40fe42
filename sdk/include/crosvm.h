/* crosvm.h: the C API for crosvm-protocol plugins, API 0.22.
 *
 * Source-compatible with the header crosvm shipped for its plugin mode:
 * the same functions, argument orders, structs, constants and enum
 * values.  Implemented by vmlaunch's libcrosvm_plugin
 * (pkg-config --cflags --libs crosvm_plugin).
 *
 * Return values: 0 (or an fd, where a function returns one) on success, a
 * negative errno on failure -- always negative, including failures of the
 * socket and pipe syscalls themselves (crosvm's library returned those
 * positive).  Out-parameters are written on success only unless a
 * function says otherwise.  The errors a call can return are:
 *  - the host's errno for the request (EEXIST, ENOENT, EPERM, ... from KVM
 *    or from the host's own checks), negated;
 *  - -EINVAL: an argument the library refuses before sending anything
 *    (NULL pointers included);
 *  - -EPROTO: a reply of the wrong kind or size, or missing fds;
 *  - -E2BIG: the caller's array is too small for the reply;
 *  - -EPIPE: the host closed the socket or pipe;
 *  - -ENOMEM, and -ENOTCONN / -ENOENT where stated.
 *
 * Every fd the library receives is close-on-exec.  A connection (struct
 * crosvm) is used by one thread at a time; give each thread its own with
 * crosvm_new_connection.  A vCPU handle belongs to the thread that runs
 * that vCPU. */
#ifndef __CROSVM_H__
#define __CROSVM_H__

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CROSVM_API_MAJOR 0
#define CROSVM_API_MINOR 22
#define CROSVM_API_PATCH 0

/* The two address spaces a guest access can land in. */
enum crosvm_address_space {
        CROSVM_ADDRESS_SPACE_IOPORT = 0,        /* x86 port I/O */
        CROSVM_ADDRESS_SPACE_MMIO,              /* guest physical memory */
};

/* Opaque handles.  A struct crosvm is one connection to the host; the
 * others belong to the connection they were made on. */
struct crosvm;
struct crosvm_io;
struct crosvm_memory;
struct crosvm_irq;
struct crosvm_vcpu;

/* Connects through the socket whose fd number the host put in the
 * environment variable CROSVM_SOCKET, and fetches the vCPU handles.
 * -ENOTCONN when the variable is unset, -EINVAL when it is not a
 * non-negative decimal number.  On success the socket belongs to the
 * connection and is made close-on-exec; on failure it is left as it was.
 * Call it once per plugin; more connections come from
 * crosvm_new_connection. */
int crosvm_connect(struct crosvm **);

/* Opens one more connection to the same VM, for use by another thread.
 * All connections from one crosvm_connect share the vCPU handles and one
 * object-id counter (safe to use from several threads).  Objects may be
 * created on one connection and destroyed on another. */
int crosvm_new_connection(struct crosvm *, struct crosvm **);

/* Closes the connection (the host sees it hang up), frees it and sets
 * *self to NULL.  Always 0.  The vCPU handles stay valid until the last
 * connection sharing them is destroyed.  Objects created through it are
 * not destroyed. */
int crosvm_destroy_connection(struct crosvm **);

/* Returns a new fd for the VM's shutdown eventfd: it becomes readable
 * when the host wants the plugin to exit.  The caller owns it.  Every
 * call returns a new fd of the same eventfd, so one read by any holder
 * consumes the signal. */
int crosvm_get_shutdown_eventfd(struct crosvm *);

/* Asks the host's KVM whether it has an extension (KVM_CHECK_EXTENSION on
 * the VM; true only when the ioctl returns 1).  *has_extension is written
 * on success only. */
int crosvm_check_extension(struct crosvm *, uint32_t __extension, bool *has_extension);

/* No VM-wide capability can be enabled: always -EINVAL.  See
 * crosvm_vcpu_enable_capability. */
int crosvm_enable_capability(struct crosvm *, uint32_t __capability, uint32_t __flags, uint64_t __args[4]);

/* KVM's supported or emulated CPUID entries, copied into the caller's
 * array of __entry_count.  *__out_count is always written: the number of
 * entries the host sent on success and on -E2BIG (the array is too small;
 * nothing is copied then), 0 after any other error.  Of the flags only
 * KVM_CPUID_FLAG_SIGNIFCANT_INDEX is carried. */
int crosvm_get_supported_cpuid(struct crosvm *, uint32_t __entry_count, struct kvm_cpuid_entry2 *__cpuid_entries,
                               uint32_t *__out_count);
int crosvm_get_emulated_cpuid(struct crosvm *, uint32_t __entry_count, struct kvm_cpuid_entry2 *__cpuid_entries,
                              uint32_t *__out_count);
/* The Hyper-V CPUID leaves KVM offers (KVM_GET_SUPPORTED_HV_CPUID).
 * Takes a vCPU handle and must be called while that vCPU waits for a
 * resume.  Same *__out_count and -E2BIG rules as above. */
int crosvm_get_hyperv_cpuid(struct crosvm_vcpu *, uint32_t __entry_count, struct kvm_cpuid_entry2 *__cpuid_entries,
                            uint32_t *__out_count);
/* The MSR indices KVM supports.  Same *__out_count and -E2BIG rules. */
int crosvm_get_msr_index_list(struct crosvm *, uint32_t __entry_count, uint32_t *__msr_indices,
                              uint32_t *__out_count);

/* The host side of the VM's network. */
struct crosvm_net_config {
        int tap_fd;                     /* the tap; the caller owns this fd */
        uint32_t host_ip;               /* as in_addr.s_addr: network byte order */
        uint32_t netmask;               /* likewise */
        uint8_t host_mac_address[6];    /* the host side of the tap */
        uint8_t _padding[2];
};

#ifdef static_assert
static_assert(sizeof(struct crosvm_net_config) == 20, "struct crosvm_net_config must be 20 bytes");
#endif

/* The host's side of the VM's first network interface.  *config is
 * written on success only.  -ENODATA when the VM has no network; -EPROTO
 * when the reply lacks the fd or a 6-byte MAC. */
int crosvm_net_get_config(struct crosvm *, struct crosvm_net_config *);

/* Reserves [__start, __start + __length) of an address space
 * (enum crosvm_address_space; another value is -EINVAL): guest accesses
 * that start there become CROSVM_VCPU_EVENT_KIND_IO_ACCESS events.
 * __length 0 releases the range that starts exactly at __start (-ENOENT
 * if none).  A range overlapping an existing one is refused with -EPERM,
 * one that wraps around with -EINVAL.  Accesses outside every range read
 * as zero and writes to them are dropped. */
int crosvm_reserve_range(struct crosvm *, uint32_t __space, uint64_t __start, uint64_t __length);
/* Like crosvm_reserve_range, but the vCPU does not stop for writes: they
 * arrive as events with no_resume set, which must not be resumed.  Reads
 * of such a range see zeros and make no event. */
int crosvm_reserve_async_write_range(struct crosvm *, uint32_t __space, uint64_t __start, uint64_t __length);

/* Raises (__active) or lowers an interrupt line of the in-kernel irqchip
 * (KVM_IRQ_LINE). */
int crosvm_set_irq(struct crosvm *, uint32_t __irq_id, bool __active);

enum crosvm_irq_route_kind {
        CROSVM_IRQ_ROUTE_IRQCHIP = 0,   /* a pin of the PIC or the IOAPIC */
        CROSVM_IRQ_ROUTE_MSI,           /* an MSI address/data pair */
};

struct crosvm_irq_route {
        uint32_t irq_id;                /* the GSI */
        uint32_t kind;                  /* enum crosvm_irq_route_kind */
        union {
                struct {
                        uint32_t irqchip;       /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE or _IOAPIC */
                        uint32_t pin;
                } irqchip;
                struct {
                        uint64_t address;
                        uint32_t data;
                        uint8_t _reserved[4];
                } msi;
                uint8_t _reserved[16];
        };
};

#ifdef static_assert
static_assert(sizeof(struct crosvm_irq_route) == 24, "struct crosvm_irq_route must be 24 bytes");
#endif

/* Replaces the whole GSI routing table with __route_count routes; 0
 * empties it.  A route of an unknown kind is -EINVAL and nothing is
 * sent. */
int crosvm_set_irq_routing(struct crosvm *, uint32_t __route_count, const struct crosvm_irq_route *__routes);

/* Which registers to send with an I/O event that matches a hint. */
struct crosvm_hint_detail {
        bool match_rax;                 /* compare rax (and so on) ... */
        bool match_rbx;
        bool match_rcx;
        bool match_rdx;
        uint8_t _reserved[4];
        uint64_t rax;                   /* ... with these values */
        uint64_t rbx;
        uint64_t rcx;
        uint64_t rdx;
        bool send_sregs;                /* on a match, send the sregs too */
        bool send_debugregs;            /* and the debug registers */
        uint8_t _reserved2[6];
};

#ifdef static_assert
static_assert(sizeof(struct crosvm_hint_detail) == 48, "struct crosvm_hint_detail must be 48 bytes");
#endif

#define CROSVM_MAX_HINT_COUNT 1
#define CROSVM_MAX_HINT_DETAIL_COUNT 32
#define CROSVM_HINT_ON_WRITE 0x1

/* A hint: a guest access to exactly `address` in `address_space` (a
 * read, or a write with CROSVM_HINT_ON_WRITE) inside a reserved range
 * arrives with the vCPU's kvm_regs attached, and with the sregs and debug
 * registers too if the first matching detail asks for them.  The
 * crosvm_vcpu_get_* calls then answer from those copies without a round
 * trip. */
struct crosvm_hint {
        uint32_t hint_version;          /* 0 */
        uint32_t _reserved;             /* 0 */
        uint32_t address_space;         /* enum crosvm_address_space */
        uint16_t address_flags;         /* 0 or CROSVM_HINT_ON_WRITE */
        uint16_t details_count;         /* entries in details, at most 32 */
        uint64_t address;               /* not 0 */
        union {
                struct crosvm_hint_detail *details;
                uint64_t _reserved2;    /* keeps the pointer slot 64 bits wide */
        };
};

#ifdef static_assert
static_assert(sizeof(struct crosvm_hint) == 32, "struct crosvm_hint must be 32 bytes");
#endif

/* Replaces the VM's single hint (__hints_count 1) or clears it (0).  The
 * details are copied.  -EINVAL, with nothing sent, for a count above
 * CROSVM_MAX_HINT_COUNT, a hint_version or _reserved other than 0, an
 * address of 0, unknown address_flags, more than
 * CROSVM_MAX_HINT_DETAIL_COUNT details or an unknown address space. */
int crosvm_set_hypercall_hint(struct crosvm *, uint32_t __hints_count, const struct crosvm_hint *__hints);

/* The state of the VM's interrupt controllers, PIT and KVM clock: read
 * into or written from the caller's struct.  A reply of another size is
 * -EPROTO; the host refuses a wrong size with -EINVAL.  __primary picks
 * the master PIC, otherwise the slave. */
int crosvm_get_pic_state(struct crosvm *, bool __primary, struct kvm_pic_state *__pic_state);
int crosvm_set_pic_state(struct crosvm *, bool __primary, const struct kvm_pic_state *__pic_state);
int crosvm_get_ioapic_state(struct crosvm *, struct kvm_ioapic_state *__ioapic_state);
int crosvm_set_ioapic_state(struct crosvm *, const struct kvm_ioapic_state *__ioapic_state);
int crosvm_get_pit_state(struct crosvm *, struct kvm_pit_state2 *__pit_state);
int crosvm_set_pit_state(struct crosvm *, const struct kvm_pit_state2 *__pit_state);
int crosvm_get_clock(struct crosvm *, struct kvm_clock_data *__clock_data);
int crosvm_set_clock(struct crosvm *, const struct kvm_clock_data *__clock_data);

/* KVM_SET_IDENTITY_MAP_ADDR.  KVM accepts it only before the vCPUs exist,
 * i.e. before crosvm_start. */
int crosvm_set_identity_map_addr(struct crosvm *, uint32_t __addr);

/* Asks every running vCPU whose bit is set in __cpu_mask to stop with a
 * CROSVM_VCPU_EVENT_KIND_PAUSED event carrying __user (sent as a 64-bit
 * value, never dereferenced).  A vCPU that waits on an I/O event pauses
 * after that resume.  Before crosvm_start there is nothing to pause: the
 * request succeeds and is dropped. */
int crosvm_pause_vcpus(struct crosvm *, uint64_t __cpu_mask, void *__user);

/* Creates and starts the vCPUs.  Once per VM, from any connection;
 * later calls get -EINVAL. */
int crosvm_start(struct crosvm *);

/* An io event: an eventfd that KVM signals on a guest write to __addr in
 * __space, without stopping the vCPU.  __len 0 matches any write; 1, 2,
 * 4 or 8 matches only a write of that width whose value equals the
 * native-endian integer at __datamatch (need not be aligned; NULL is
 * -EINVAL then).  Another __len is -EINVAL.  *out is written on success
 * only. */
int crosvm_create_io_event(struct crosvm *, uint32_t __space, uint64_t __addr, uint32_t __len,
                           const uint8_t *__datamatch, struct crosvm_io **);
/* Removes the io event.  On success the handle and its fd are freed and
 * *io becomes NULL; on failure the handle stays valid and unchanged. */
int crosvm_destroy_io_event(struct crosvm *, struct crosvm_io **);
/* The io event's eventfd.  It belongs to the handle: do not close it. */
int crosvm_io_event_fd(struct crosvm_io *);

/* Maps __length bytes of __fd, from __offset, into guest physical memory
 * at __start; __offset and __length must be multiples of 4096 (-EINVAL).
 * The host refuses an fd without F_SEAL_SHRINK with -EPERM (a memfd made
 * with MFD_ALLOW_SEALING can take the seal), and a range past the end of
 * the file with -EINVAL.  The host keeps its own copy of the fd; the
 * caller's stays the caller's.  __read_only makes guest writes exit as
 * MMIO; __dirty_log enables crosvm_memory_get_dirty_log.  *out is written
 * on success only. */
int crosvm_create_memory(struct crosvm *, int __fd, uint64_t __offset, uint64_t __length, uint64_t __start,
                         bool __read_only, bool __dirty_log, struct crosvm_memory **);
/* Unmaps the memory; the handle rules of crosvm_destroy_io_event apply. */
int crosvm_destroy_memory(struct crosvm *, struct crosvm_memory **);
/* Which pages the guest wrote since the last call (the log is reset by
 * reading it): bit n of byte n / 8 (LSB first) is page n of the region.
 * __log must hold ceil(pages / 8) bytes; a reply of another size is
 * -EPROTO.  Needs __dirty_log at creation (else -ENOENT from KVM). */
int crosvm_memory_get_dirty_log(struct crosvm *, struct crosvm_memory *, uint8_t *__log);

/* An irq event for GSI __irq_id: writing to its fd raises the interrupt,
 * and its resample fd is signalled when the guest acknowledges a
 * level-triggered one.  *out is written on success only. */
int crosvm_create_irq_event(struct crosvm *, uint32_t __irq_id, struct crosvm_irq **);
/* The handle rules of crosvm_destroy_io_event apply; both fds close. */
int crosvm_destroy_irq_event(struct crosvm *, struct crosvm_irq **);
/* The trigger and the resample eventfd; they belong to the handle. */
int crosvm_irq_event_get_fd(const struct crosvm_irq *);
int crosvm_irq_event_get_resample_fd(const struct crosvm_irq *);

enum crosvm_vcpu_event_kind {
        CROSVM_VCPU_EVENT_KIND_INIT = 0,        /* the first event; set up the vCPU, then resume */
        CROSVM_VCPU_EVENT_KIND_IO_ACCESS,       /* an access to a reserved range */
        CROSVM_VCPU_EVENT_KIND_PAUSED,          /* crosvm_pause_vcpus */
        CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL,    /* a Hyper-V hypercall */
        CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC,    /* a Hyper-V SynIC change */
};

struct crosvm_vcpu_event {
        uint32_t kind;                  /* enum crosvm_vcpu_event_kind */
        uint8_t _padding[4];
        union {
                /* CROSVM_VCPU_EVENT_KIND_IO_ACCESS */
                struct {
                        uint32_t address_space;
                        uint8_t _padding[4];
                        uint64_t address;
                        /* The written bytes, or for a read the buffer to fill
                         * before resuming.  Valid until the next wait. */
                        uint8_t *data;
                        /* MMIO accesses are at most 8 bytes (larger ones come
                         * as several events); port I/O with a rep prefix can
                         * be longer. */
                        uint32_t length;
                        uint8_t is_write;
                        /* The vCPU did not wait (an async-write range): do
                         * not resume. */
                        uint8_t no_resume;
                        uint8_t _reserved[2];
                } io_access;

                /* CROSVM_VCPU_EVENT_KIND_PAUSED */
                void *user;

                /* CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL */
                struct {
                        uint64_t input;
                        uint64_t *result;       /* write the result here before resuming */
                        uint64_t params[2];
                } hyperv_call;

                /* CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC */
                struct {
                        uint32_t msr;
                        uint32_t _reserved;
                        uint64_t control;
                        uint64_t evt_page;
                        uint64_t msg_page;
                } hyperv_synic;

                uint8_t _reserved[64];
        };
};

#ifdef static_assert
static_assert(sizeof(struct crosvm_vcpu_event) == 72, "struct crosvm_vcpu_event must be 72 bytes");
#endif

/* The handle of vCPU __cpu_id, -ENOENT past the last.  The library owns
 * it: the same pointer on every connection from one crosvm_connect, valid
 * until the last of them is destroyed. */
int crosvm_get_vcpu(struct crosvm *, uint32_t __cpu_id, struct crosvm_vcpu **);

/* Blocks until the vCPU has an event and writes it to *event (only on
 * success).  The first event is always INIT.  Every event except an I/O
 * access with no_resume set must be answered with crosvm_vcpu_resume
 * before the next wait, and the vCPU calls below are valid only between
 * such an event and its resume.  -EINVAL, at once, when the last event
 * still awaits its resume (the wait could never end).  -EINTR when a
 * signal interrupted the wait: nothing was lost, call it again.  -EPIPE
 * when the host is gone. */
int crosvm_vcpu_wait(struct crosvm_vcpu *, struct crosvm_vcpu_event *);
/* Lets the vCPU run on, sending the read data or hypercall result and any
 * register sets made during the event.  -EINVAL, with nothing sent, when
 * no event awaits a resume (before the first wait, twice for one event,
 * or after a no_resume event). */
int crosvm_vcpu_resume(struct crosvm_vcpu *);

/* The vCPU's registers and other state, read into or written from the
 * caller's struct; a reply of the wrong size is -EPROTO.
 *
 * regs, sregs and debugregs are cached: a get answers from the copy an
 * I/O event carried (see struct crosvm_hint) without a round trip, and a
 * set only records the values (it returns 0 and cannot fail) to send them
 * with the next crosvm_vcpu_resume.  A get after a set sends the set
 * first, so that the values read back are KVM's.  The other sets go to
 * KVM at once. */
int crosvm_vcpu_get_regs(struct crosvm_vcpu *, struct kvm_regs *);
int crosvm_vcpu_set_regs(struct crosvm_vcpu *, const struct kvm_regs *);
int crosvm_vcpu_get_sregs(struct crosvm_vcpu *, struct kvm_sregs *);
int crosvm_vcpu_set_sregs(struct crosvm_vcpu *, const struct kvm_sregs *);
int crosvm_vcpu_get_fpu(struct crosvm_vcpu *, struct kvm_fpu *);
int crosvm_vcpu_set_fpu(struct crosvm_vcpu *, const struct kvm_fpu *);
int crosvm_vcpu_get_debugregs(struct crosvm_vcpu *, struct kvm_debugregs *);
int crosvm_vcpu_set_debugregs(struct crosvm_vcpu *, const struct kvm_debugregs *);
int crosvm_vcpu_get_xcrs(struct crosvm_vcpu *, struct kvm_xcrs *);
int crosvm_vcpu_set_xcrs(struct crosvm_vcpu *, const struct kvm_xcrs *);
/* Reads the MSRs named by the entries' index fields into their data
 * fields.  KVM stops at the first MSR it cannot read: *__out_count says
 * how many entries were filled.  It is always written (0 after an error). */
int crosvm_vcpu_get_msrs(struct crosvm_vcpu *, uint32_t __msr_count, struct kvm_msr_entry *__msr_entries,
                         uint32_t *__out_count);
/* Writes the MSRs (index and data of each entry).  KVM stops at the first
 * it cannot write and the host still reports success. */
int crosvm_vcpu_set_msrs(struct crosvm_vcpu *, uint32_t __msr_count, const struct kvm_msr_entry *__msr_entries);
/* Replaces the vCPU's CPUID table (KVM_SET_CPUID2).  An entry's index is
 * used only when its flags have KVM_CPUID_FLAG_SIGNIFCANT_INDEX; no other
 * flag is carried. */
int crosvm_vcpu_set_cpuid(struct crosvm_vcpu *, uint32_t __cpuid_count,
                          const struct kvm_cpuid_entry2 *__cpuid_entries);
/* KVM_ENABLE_CAP on the vCPU.  __flags and all four __args must be 0
 * (-EINVAL otherwise, nothing sent); the host accepts only
 * KVM_CAP_HYPERV_SYNIC and KVM_CAP_HYPERV_SYNIC2. */
int crosvm_vcpu_enable_capability(struct crosvm_vcpu *, uint32_t __capability, uint32_t __flags,
                                  uint64_t __args[4]);
int crosvm_vcpu_get_lapic_state(struct crosvm_vcpu *, struct kvm_lapic_state *__lapic_state);
int crosvm_vcpu_set_lapic_state(struct crosvm_vcpu *, const struct kvm_lapic_state *__lapic_state);
int crosvm_vcpu_get_mp_state(struct crosvm_vcpu *, struct kvm_mp_state *__mp_state);
int crosvm_vcpu_set_mp_state(struct crosvm_vcpu *, const struct kvm_mp_state *__mp_state);
int crosvm_vcpu_get_vcpu_events(struct crosvm_vcpu *, struct kvm_vcpu_events *);
int crosvm_vcpu_set_vcpu_events(struct crosvm_vcpu *, const struct kvm_vcpu_events *);

#ifdef __cplusplus
}
#endif

#endif /* __CROSVM_H__ */
