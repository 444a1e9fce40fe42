#include "pb_convert.h"

#include <errno.h>
#include <string.h>

MainResponse__MessageCase pb_response_case(MainRequest__MessageCase c) {
        if (c == MAIN_REQUEST__MESSAGE_DIRTY_LOG)
                return MAIN_RESPONSE__MESSAGE_DIRTY_LOG;
        return (MainResponse__MessageCase)(c + 1);
}

void pb_cpuid_from_kvm(const struct kvm_cpuid_entry2 *k, CpuidEntry *ret_e) {
        cpuid_entry__init(ret_e);
        ret_e->function = k->function;
        ret_e->has_index = !!(k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
        ret_e->index = k->index;
        ret_e->eax = k->eax;
        ret_e->ebx = k->ebx;
        ret_e->ecx = k->ecx;
        ret_e->edx = k->edx;
}

void pb_cpuid_to_kvm(const CpuidEntry *e, struct kvm_cpuid_entry2 *ret_k) {
        memset(ret_k, 0, sizeof(*ret_k));
        ret_k->function = e->function;
        /* Without the flag KVM matches any index; an index the peer sent
         * without has_index means nothing, and is not passed on. */
        if (e->has_index) {
                ret_k->index = e->index;
                ret_k->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
        }
        ret_k->eax = e->eax;
        ret_k->ebx = e->ebx;
        ret_k->ecx = e->ecx;
        ret_k->edx = e->edx;
}

void pb_cpuid_list_from_kvm(const struct kvm_cpuid_entry2 *k, size_t n, CpuidEntry *entries, CpuidEntry **ptrs) {
        for (size_t i = 0; i < n; i++) {
                pb_cpuid_from_kvm(&k[i], &entries[i]);
                ptrs[i] = &entries[i];
        }
}

int pb_cpuid_list_to_kvm(CpuidEntry *const *entries, size_t n, uint32_t count, struct kvm_cpuid_entry2 *out,
                         uint32_t *ret_count) {
        *ret_count = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        if (n > count)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                pb_cpuid_to_kvm(entries[i], &out[i]);
        return 0;
}
