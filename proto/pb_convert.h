/* What both ends derive from the messages the same way: the response case
 * that answers a main request, and CPUID entries between the wire's
 * CpuidEntry and KVM's struct kvm_cpuid_entry2.  Pure functions: nothing
 * here allocates, does I/O or keeps state. */
#pragma once

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "pb.h"

/* The most CPUID entries one list holds on either end: what the host asks
 * KVM for, and what a reply may carry. */
#define PB_CPUID_MAX_ENTRIES 256u

/* The MainResponse case that answers a MainRequest of case c: the
 * request's case + 1 (PROTOCOL.md §3), except dirty_log, 101 in both. */
MainResponse__MessageCase pb_response_case(MainRequest__MessageCase c);

/* One entry each way.  KVM's flag KVM_CPUID_FLAG_SIGNIFCANT_INDEX is the
 * wire's has_index; KVM's other flags do not travel. */
void pb_cpuid_from_kvm(const struct kvm_cpuid_entry2 *k, CpuidEntry *ret_e);
void pb_cpuid_to_kvm(const CpuidEntry *e, struct kvm_cpuid_entry2 *ret_k);

/* A KVM list for a reply: entries[i] filled from k[i] and ptrs[i] pointed
 * at it, for i < n (the caller's arrays hold n). */
void pb_cpuid_list_from_kvm(const struct kvm_cpuid_entry2 *k, size_t n, CpuidEntry *entries, CpuidEntry **ptrs);

/* A reply's list into the caller's array of `count`: *ret_count is the
 * number the reply holds, always; -E2BIG, with nothing copied, when that
 * exceeds `count`, else 0. */
int pb_cpuid_list_to_kvm(CpuidEntry *const *entries, size_t n, uint32_t count, struct kvm_cpuid_entry2 *out,
                         uint32_t *ret_count);
