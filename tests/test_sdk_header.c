/* crosvm.h compiles as C99 and C11 with the strict warnings, and its
 * structs have crosvm's layouts, offset for offset (PROTOCOL.md §4). */
#include "crosvm.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define CHECK_LAYOUT(cond) _Static_assert(cond, #cond)

#define AT(type, member, off) CHECK_LAYOUT(offsetof(struct type, member) == (off))

CHECK_LAYOUT(sizeof(struct crosvm_net_config) == 20);
AT(crosvm_net_config, tap_fd, 0);
AT(crosvm_net_config, host_ip, 4);
AT(crosvm_net_config, netmask, 8);
AT(crosvm_net_config, host_mac_address, 12);
AT(crosvm_net_config, _padding, 18);

CHECK_LAYOUT(sizeof(struct crosvm_irq_route) == 24);
AT(crosvm_irq_route, irq_id, 0);
AT(crosvm_irq_route, kind, 4);
AT(crosvm_irq_route, irqchip.irqchip, 8);
AT(crosvm_irq_route, irqchip.pin, 12);
AT(crosvm_irq_route, msi.address, 8);
AT(crosvm_irq_route, msi.data, 16);
AT(crosvm_irq_route, msi._reserved, 20);
AT(crosvm_irq_route, _reserved, 8);

CHECK_LAYOUT(sizeof(struct crosvm_hint_detail) == 48);
AT(crosvm_hint_detail, match_rax, 0);
AT(crosvm_hint_detail, match_rbx, 1);
AT(crosvm_hint_detail, match_rcx, 2);
AT(crosvm_hint_detail, match_rdx, 3);
AT(crosvm_hint_detail, _reserved, 4);
AT(crosvm_hint_detail, rax, 8);
AT(crosvm_hint_detail, rbx, 16);
AT(crosvm_hint_detail, rcx, 24);
AT(crosvm_hint_detail, rdx, 32);
AT(crosvm_hint_detail, send_sregs, 40);
AT(crosvm_hint_detail, send_debugregs, 41);
AT(crosvm_hint_detail, _reserved2, 42);

CHECK_LAYOUT(sizeof(struct crosvm_hint) == 32);
AT(crosvm_hint, hint_version, 0);
AT(crosvm_hint, _reserved, 4);
AT(crosvm_hint, address_space, 8);
AT(crosvm_hint, address_flags, 12);
AT(crosvm_hint, details_count, 14);
AT(crosvm_hint, address, 16);
AT(crosvm_hint, details, 24);
AT(crosvm_hint, _reserved2, 24);

CHECK_LAYOUT(sizeof(struct crosvm_vcpu_event) == 72);
AT(crosvm_vcpu_event, kind, 0);
AT(crosvm_vcpu_event, _padding, 4);
AT(crosvm_vcpu_event, _reserved, 8);
CHECK_LAYOUT(sizeof(((struct crosvm_vcpu_event *)0)->_reserved) == 64);
AT(crosvm_vcpu_event, io_access.address_space, 8);
AT(crosvm_vcpu_event, io_access._padding, 12);
AT(crosvm_vcpu_event, io_access.address, 16);
AT(crosvm_vcpu_event, io_access.data, 24);
AT(crosvm_vcpu_event, io_access.length, 32);
AT(crosvm_vcpu_event, io_access.is_write, 36);
AT(crosvm_vcpu_event, io_access.no_resume, 37);
AT(crosvm_vcpu_event, io_access._reserved, 38);
AT(crosvm_vcpu_event, user, 8);
AT(crosvm_vcpu_event, hyperv_call.input, 8);
AT(crosvm_vcpu_event, hyperv_call.result, 16);
AT(crosvm_vcpu_event, hyperv_call.params, 24);
AT(crosvm_vcpu_event, hyperv_synic.msr, 8);
AT(crosvm_vcpu_event, hyperv_synic._reserved, 12);
AT(crosvm_vcpu_event, hyperv_synic.control, 16);
AT(crosvm_vcpu_event, hyperv_synic.evt_page, 24);
AT(crosvm_vcpu_event, hyperv_synic.msg_page, 32);

/* Constants and enum values cross the wire and the ABI: crosvm's numbers. */
CHECK_LAYOUT(CROSVM_API_MAJOR == 0 && CROSVM_API_MINOR == 22 && CROSVM_API_PATCH == 0);
CHECK_LAYOUT(CROSVM_ADDRESS_SPACE_IOPORT == 0 && CROSVM_ADDRESS_SPACE_MMIO == 1);
CHECK_LAYOUT(CROSVM_IRQ_ROUTE_IRQCHIP == 0 && CROSVM_IRQ_ROUTE_MSI == 1);
CHECK_LAYOUT(CROSVM_VCPU_EVENT_KIND_INIT == 0 && CROSVM_VCPU_EVENT_KIND_IO_ACCESS == 1 &&
             CROSVM_VCPU_EVENT_KIND_PAUSED == 2 && CROSVM_VCPU_EVENT_KIND_HYPERV_HCALL == 3 &&
             CROSVM_VCPU_EVENT_KIND_HYPERV_SYNIC == 4);
CHECK_LAYOUT(CROSVM_MAX_HINT_COUNT == 1 && CROSVM_MAX_HINT_DETAIL_COUNT == 32 && CROSVM_HINT_ON_WRITE == 0x1);

/* Every function of the API, by address: a missing one fails to link. */
static void *const api[] = {
        (void *)crosvm_connect, (void *)crosvm_new_connection, (void *)crosvm_destroy_connection,
        (void *)crosvm_get_shutdown_eventfd, (void *)crosvm_check_extension, (void *)crosvm_enable_capability,
        (void *)crosvm_get_supported_cpuid, (void *)crosvm_get_emulated_cpuid, (void *)crosvm_get_hyperv_cpuid,
        (void *)crosvm_get_msr_index_list, (void *)crosvm_net_get_config, (void *)crosvm_reserve_range,
        (void *)crosvm_reserve_async_write_range, (void *)crosvm_set_irq, (void *)crosvm_set_irq_routing,
        (void *)crosvm_set_hypercall_hint, (void *)crosvm_get_pic_state, (void *)crosvm_set_pic_state,
        (void *)crosvm_get_ioapic_state, (void *)crosvm_set_ioapic_state, (void *)crosvm_get_pit_state,
        (void *)crosvm_set_pit_state, (void *)crosvm_get_clock, (void *)crosvm_set_clock,
        (void *)crosvm_set_identity_map_addr, (void *)crosvm_pause_vcpus, (void *)crosvm_start,
        (void *)crosvm_create_io_event, (void *)crosvm_destroy_io_event, (void *)crosvm_io_event_fd,
        (void *)crosvm_create_memory, (void *)crosvm_destroy_memory, (void *)crosvm_memory_get_dirty_log,
        (void *)crosvm_create_irq_event, (void *)crosvm_destroy_irq_event, (void *)crosvm_irq_event_get_fd,
        (void *)crosvm_irq_event_get_resample_fd, (void *)crosvm_get_vcpu, (void *)crosvm_vcpu_wait,
        (void *)crosvm_vcpu_resume, (void *)crosvm_vcpu_get_regs, (void *)crosvm_vcpu_set_regs,
        (void *)crosvm_vcpu_get_sregs, (void *)crosvm_vcpu_set_sregs, (void *)crosvm_vcpu_get_fpu,
        (void *)crosvm_vcpu_set_fpu, (void *)crosvm_vcpu_get_debugregs, (void *)crosvm_vcpu_set_debugregs,
        (void *)crosvm_vcpu_get_xcrs, (void *)crosvm_vcpu_set_xcrs, (void *)crosvm_vcpu_get_msrs,
        (void *)crosvm_vcpu_set_msrs, (void *)crosvm_vcpu_set_cpuid, (void *)crosvm_vcpu_enable_capability,
        (void *)crosvm_vcpu_get_lapic_state, (void *)crosvm_vcpu_set_lapic_state, (void *)crosvm_vcpu_get_mp_state,
        (void *)crosvm_vcpu_set_mp_state, (void *)crosvm_vcpu_get_vcpu_events, (void *)crosvm_vcpu_set_vcpu_events,
};

int main(void) {
        struct crosvm *c = 0;
        unsigned n = 0;

        for (unsigned i = 0; i < sizeof(api) / sizeof(api[0]); i++)
                n += api[i] != 0;
        /* Without CROSVM_SOCKET the library must say so, not crash. */
        return n == 60 && crosvm_connect(&c) == -ENOTCONN ? 0 : 1;
}
