/* Reserved IO-port or MMIO ranges: a sorted array, pure data, no locking
 * (vm.c wraps it in a rwlock).  Behaviour follows crosvm's ReserveRange
 * (PROTOCOL.md §2) except its overlap quirk: crosvm accepted a new range
 * whose last byte was the first byte of an existing one; here any overlap
 * is refused with -EPERM, the errno crosvm uses for overlaps. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct range {
        uint64_t start;
        uint64_t len;           /* > 0 */
        bool async_write;
};

struct range_set {
        struct range *v;        /* sorted by start, disjoint */
        size_t n, cap;
};

/* Adds [start, start+len).  len must be > 0.  -EINVAL if start+len
 * overflows, -EPERM if it overlaps a reservation, -ENOMEM. */
int range_set_add(struct range_set *s, uint64_t start, uint64_t len, bool async_write);

/* Removes the range that starts exactly at `start`; -ENOENT if none. */
int range_set_remove(struct range_set *s, uint64_t start);

/* The range holding `addr` (only the first byte of an access counts, as in
 * crosvm), or NULL.  O(log n), no allocation. */
const struct range *range_set_find(const struct range_set *s, uint64_t addr);

void range_set_clear(struct range_set *s);
