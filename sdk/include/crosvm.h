/* crosvm.h: the C API for crosvm-protocol plugins, API 0.22.
 *
 * Source-compatible with the header crosvm shipped for its plugin mode:
 * the same functions, argument orders, structs, constants and enum
 * values.  Implemented by vmlaunch's libcrosvm_plugin.
 *
 * Conventions: a function returns 0 (or an fd) on success and a negative
 * errno on failure.  Out-parameters are written on success only, except
 * where a function says otherwise.  Errors the VM host reports come back
 * as the host's errno; the library adds -EINVAL (bad arguments), -EPROTO
 * (a reply of the wrong shape), -E2BIG (the caller's buffer is too small),
 * -ENOENT (no such vCPU) and -ENOTCONN (no CROSVM_SOCKET). */
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

/* Connects through the socket whose fd number is in the environment
 * variable CROSVM_SOCKET and fetches the vCPU handles.  -ENOTCONN when the
 * variable is unset, -EINVAL when it is not an fd number.  Not thread-safe. */
int crosvm_connect(struct crosvm **);

/* Opens a second, independent connection (for another thread).  It shares
 * the vCPU handles and the object ids of the first. */
int crosvm_new_connection(struct crosvm *, struct crosvm **);

/* Closes the connection and frees it; *self becomes NULL.  Always 0. */
int crosvm_destroy_connection(struct crosvm **);

/* A new eventfd that becomes readable when the host wants the plugin to
 * exit.  The caller owns and closes it. */
int crosvm_get_shutdown_eventfd(struct crosvm *);

/* Asks KVM (KVM_CHECK_EXTENSION on the VM) about an extension.  Writes
 * *has_extension on success only. */
int crosvm_check_extension(struct crosvm *, uint32_t __extension, bool *has_extension);

/* VM-wide capabilities are not available: always -EINVAL. */
int crosvm_enable_capability(struct crosvm *, uint32_t __capability, uint32_t __flags, uint64_t __args[4]);

/* KVM's supported or emulated CPUID entries.  On success and on -E2BIG
 * (__entry_count too small), *__out_count is the number the host has; on
 * any other error it is 0. */
int crosvm_get_supported_cpuid(struct crosvm *, uint32_t __entry_count, struct kvm_cpuid_entry2 *__cpuid_entries,
                               uint32_t *__out_count);
int crosvm_get_emulated_cpuid(struct crosvm *, uint32_t __entry_count, struct kvm_cpuid_entry2 *__cpuid_entries,
                              uint32_t *__out_count);
/* The Hyper-V CPUID leaves of a vCPU (note: takes a vCPU). Same rules. */
int crosvm_get_hyperv_cpuid(struct crosvm_vcpu *, uint32_t __entry_count, struct kvm_cpuid_entry2 *__cpuid_entries,
                            uint32_t *__out_count);
/* The MSR indices KVM supports.  Same *__out_count rules. */
int crosvm_get_msr_index_list(struct crosvm *, uint32_t __entry_count, uint32_t *__msr_indices,
                              uint32_t *__out_count);

/* The host side of the VM's network. */
struct crosvm_net_config {
        int tap_fd;                     /* owned by the caller once returned */
        uint32_t host_ip;               /* IPv4 address, network byte order */
        uint32_t netmask;               /* network byte order */
        uint8_t host_mac_address[6];    /* the host side of the tap */
        uint8_t _padding[2];
};

#ifdef static_assert
static_assert(sizeof(struct crosvm_net_config) == 20, "struct crosvm_net_config must be 20 bytes");
#endif

/* -ENODATA when the VM has no network. */
int crosvm_net_get_config(struct crosvm *, struct crosvm_net_config *);

/* Reserves [__start, __start + __length) of an address space: guest
 * accesses there become vCPU events.  __length 0 releases the range that
 * starts at __start.  Overlaps are refused (-EPERM). */
int crosvm_reserve_range(struct crosvm *, uint32_t __space, uint64_t __start, uint64_t __length);
/* The same, but guest writes do not wait for the plugin: they arrive as
 * events with no_resume set, and reads of the range see zeros. */
int crosvm_reserve_async_write_range(struct crosvm *, uint32_t __space, uint64_t __start, uint64_t __length);

/* Drives an interrupt line of the in-kernel irqchip. */
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

/* Replaces the whole GSI routing table; a count of 0 empties it. */
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

/* A hint: I/O at exactly `address` (reads, or writes with
 * CROSVM_HINT_ON_WRITE) carries the registers eagerly, so that a
 * hypercall-style port costs one round trip. */
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

/* Sets the single hint (__hints_count 1) or clears it (0). */
int crosvm_set_hypercall_hint(struct crosvm *, uint32_t __hints_count, const struct crosvm_hint *__hints);

/* The VM's interrupt controllers, PIT and clock. */
int crosvm_get_pic_state(struct crosvm *, bool __primary, struct kvm_pic_state *__pic_state);
int crosvm_set_pic_state(struct crosvm *, bool __primary, const struct kvm_pic_state *__pic_state);
int crosvm_get_ioapic_state(struct crosvm *, struct kvm_ioapic_state *__ioapic_state);
int crosvm_set_ioapic_state(struct crosvm *, const struct kvm_ioapic_state *__ioapic_state);
int crosvm_get_pit_state(struct crosvm *, struct kvm_pit_state2 *__pit_state);
int crosvm_set_pit_state(struct crosvm *, const struct kvm_pit_state2 *__pit_state);
int crosvm_get_clock(struct crosvm *, struct kvm_clock_data *__clock_data);
int crosvm_set_clock(struct crosvm *, const struct kvm_clock_data *__clock_data);

/* KVM_SET_IDENTITY_MAP_ADDR; only before Start (before vCPUs exist). */
int crosvm_set_identity_map_addr(struct crosvm *, uint32_t __addr);

/* Every vCPU in __cpu_mask stops and reports a PAUSED event carrying
 * __user; it runs again after crosvm_vcpu_resume. */
int crosvm_pause_vcpus(struct crosvm *, uint64_t __cpu_mask, void *__user);

/* Starts the vCPUs.  Only once per VM; later calls get -EINVAL. */
int crosvm_start(struct crosvm *);

/* An eventfd that KVM signals when the guest writes to the address
 * (__len 0: any write; 1, 2, 4 or 8: only a write of __datamatch, read as
 * a native-endian integer of that width). */
int crosvm_create_io_event(struct crosvm *, uint32_t __space, uint64_t __addr, uint32_t __len,
                           const uint8_t *__datamatch, struct crosvm_io **);
/* On success frees the handle and sets *io to NULL; on failure it stays. */
int crosvm_destroy_io_event(struct crosvm *, struct crosvm_io **);
/* The handle's eventfd, owned by the handle. */
int crosvm_io_event_fd(struct crosvm_io *);

/* Guest memory at __start backed by __length bytes of __fd from __offset
 * (both page multiples).  The fd needs F_SEAL_SHRINK (a memfd made with
 * MFD_ALLOW_SEALING); the caller keeps it. */
int crosvm_create_memory(struct crosvm *, int __fd, uint64_t __offset, uint64_t __length, uint64_t __start,
                         bool __read_only, bool __dirty_log, struct crosvm_memory **);
int crosvm_destroy_memory(struct crosvm *, struct crosvm_memory **);
/* The pages written since the last call, one bit per page, LSB first;
 * __log holds ceil(pages / 8) bytes. */
int crosvm_memory_get_dirty_log(struct crosvm *, struct crosvm_memory *, uint8_t *__log);

/* An irqfd for GSI __irq_id with its resample eventfd. */
int crosvm_create_irq_event(struct crosvm *, uint32_t __irq_id, struct crosvm_irq **);
int crosvm_destroy_irq_event(struct crosvm *, struct crosvm_irq **);
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

/* The handle of vCPU __cpu_id (-ENOENT past the last).  Owned by the
 * library; the same pointer on every connection. */
int crosvm_get_vcpu(struct crosvm *, uint32_t __cpu_id, struct crosvm_vcpu **);

/* Blocks until the vCPU has an event.  Every event except a no_resume
 * I/O access must be answered with crosvm_vcpu_resume before the next
 * wait; the vCPU calls below are valid only in between. */
int crosvm_vcpu_wait(struct crosvm_vcpu *, struct crosvm_vcpu_event *);
int crosvm_vcpu_resume(struct crosvm_vcpu *);

/* Registers.  During an I/O event the regs, sregs and debug registers the
 * host sent eagerly are served from a cache, and sets of them are sent
 * with the resume. */
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
/* Reads the MSRs named by each entry's index; *__out_count says how many
 * KVM read (it stops at the first it cannot). */
int crosvm_vcpu_get_msrs(struct crosvm_vcpu *, uint32_t __msr_count, struct kvm_msr_entry *__msr_entries,
                         uint32_t *__out_count);
int crosvm_vcpu_set_msrs(struct crosvm_vcpu *, uint32_t __msr_count, const struct kvm_msr_entry *__msr_entries);
int crosvm_vcpu_set_cpuid(struct crosvm_vcpu *, uint32_t __cpuid_count,
                          const struct kvm_cpuid_entry2 *__cpuid_entries);
/* Only KVM_CAP_HYPERV_SYNIC and KVM_CAP_HYPERV_SYNIC2, with zero flags
 * and arguments. */
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
