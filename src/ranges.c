#include "ranges.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Index of the first range whose start is > addr. */
static size_t upper_bound(const struct range_set *s, uint64_t addr) {
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (s->v[mid].start <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

const struct range *range_set_find(const struct range_set *s, uint64_t addr) {
        size_t i = upper_bound(s, addr);
        const struct range *r;

        if (i == 0)
                return NULL;
        r = &s->v[i - 1];
        return addr - r->start < r->len ? r : NULL;
}

int range_set_add(struct range_set *s, uint64_t start, uint64_t len, bool async_write) {
        uint64_t last;
        size_t i;

        if (len == 0 || __builtin_add_overflow(start, len - 1, &last))
                return -EINVAL;
        i = upper_bound(s, start);
        if (i > 0 && start - s->v[i - 1].start < s->v[i - 1].len)
                return -EPERM;
        if (i < s->n && s->v[i].start <= last)
                return -EPERM;
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 8;
                struct range *v = realloc(s->v, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                s->v = v;
                s->cap = cap;
        }
        memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
        s->v[i] = (struct range){ .start = start, .len = len, .async_write = async_write };
        s->n++;
        return 0;
}

int range_set_remove(struct range_set *s, uint64_t start) {
        size_t i = upper_bound(s, start);

        if (i == 0 || s->v[i - 1].start != start)
                return -ENOENT;
        i--;
        memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
        s->n--;
        return 0;
}

void range_set_clear(struct range_set *s) {
        free(s->v);
        *s = (struct range_set){ 0 };
}
