#include "tui_table.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tui_text.h"
#include "util.h"

/* The column names are the JSON stats event's names for the same
 * counters, shortened only where that is plain ("IO in" for io_in). */
static const char *const header[_TUI_COL_MAX] = {
        [TUI_COL_VCPU] = "vCPU",        [TUI_COL_IO_IN] = "IO in",     [TUI_COL_IO_OUT] = "IO out",
        [TUI_COL_MMIO_READ] = "MMIO rd", [TUI_COL_MMIO_WRITE] = "MMIO wr", [TUI_COL_HYPERV] = "Hyper-V",
        [TUI_COL_USER] = "user",         [TUI_COL_OTHER] = "other",     [TUI_COL_TOTAL] = "total",
        [TUI_COL_RATE] = "exits/s",
};

/* The widths a roomy terminal gets, so the numbers do not jump about as
 * they grow. */
static const int roomy[_TUI_COL_MAX] = {
        [TUI_COL_VCPU] = 5,        [TUI_COL_IO_IN] = 10,  [TUI_COL_IO_OUT] = 10, [TUI_COL_MMIO_READ] = 10,
        [TUI_COL_MMIO_WRITE] = 10, [TUI_COL_HYPERV] = 8,  [TUI_COL_USER] = 8,    [TUI_COL_OTHER] = 8,
        [TUI_COL_TOTAL] = 12,      [TUI_COL_RATE] = 10,
};

/* Left out first when even compact columns do not fit. */
static const enum tui_col drop_order[] = {
        TUI_COL_HYPERV, TUI_COL_OTHER, TUI_COL_USER, TUI_COL_MMIO_WRITE, TUI_COL_MMIO_READ, TUI_COL_IO_OUT,
        TUI_COL_IO_IN,
};

/* Given exact numbers first, when there is room for them. */
static const enum tui_col exact_order[] = {
        TUI_COL_TOTAL,     TUI_COL_RATE,       TUI_COL_IO_IN,  TUI_COL_IO_OUT, TUI_COL_MMIO_READ,
        TUI_COL_MMIO_WRITE, TUI_COL_USER,      TUI_COL_OTHER,  TUI_COL_HYPERV,
};

static int max_int(int a, int b) {
        return a > b ? a : b;
}

static int used(const struct tui_table *tb) {
        int sum = 0, n = 0;

        for (int c = 0; c < _TUI_COL_MAX; c++)
                if (tb->width[c]) {
                        sum += tb->width[c];
                        n++;
                }
        return sum + (n ? n - 1 : 0);   /* one space between columns */
}

void tui_table_layout(struct tui_table *tb, int cols, const uint64_t max[_TUI_COL_MAX]) {
        int exact[_TUI_COL_MAX];
        bool grown;

        for (int c = 0; c < _TUI_COL_MAX; c++) {
                int name = (int)strlen(header[c]);

                exact[c] = max_int(name, tui_text_digits(max[c]));
                tb->width[c] = max_int(name, TUI_COMPACT_MAX);
        }
        /* The label "total" sits in the vCPU column. */
        exact[TUI_COL_VCPU] = max_int(exact[TUI_COL_VCPU], 5);
        tb->width[TUI_COL_VCPU] = exact[TUI_COL_VCPU];
        for (size_t i = 0; i < ARRAY_SIZE(drop_order) && used(tb) > cols; i++)
                tb->width[drop_order[i]] = 0;
        for (size_t i = 0; i < ARRAY_SIZE(exact_order); i++) {
                enum tui_col c = exact_order[i];

                if (tb->width[c] && exact[c] > tb->width[c] && used(tb) + exact[c] - tb->width[c] <= cols)
                        tb->width[c] = exact[c];
        }
        /* Room left: widen towards the roomy widths, a column at a time. */
        do {
                grown = false;
                for (int c = 0; c < _TUI_COL_MAX; c++)
                        if (tb->width[c] && tb->width[c] < roomy[c] && used(tb) < cols) {
                                tb->width[c]++;
                                grown = true;
                        }
        } while (grown);
}

/* Appends a right-aligned cell. */
static void put(char *out, size_t size, size_t *pos, int width, const char *text) {
        int n;

        if (*pos >= size)
                return;
        n = snprintf(out + *pos, size - *pos, "%s%*s", *pos ? " " : "", width, text);
        if (n > 0)
                *pos += (size_t)n;
}

void tui_table_header(const struct tui_table *tb, char *out, size_t size) {
        size_t pos = 0;

        out[0] = '\0';
        for (int c = 0; c < _TUI_COL_MAX; c++)
                if (tb->width[c])
                        put(out, size, &pos, tb->width[c], header[c]);
}

void tui_table_row(const struct tui_table *tb, const char *label, const uint64_t v[_TUI_COL_MAX], char *out,
                   size_t size) {
        size_t pos = 0;

        out[0] = '\0';
        for (int c = 0; c < _TUI_COL_MAX; c++) {
                char num[24];

                if (!tb->width[c])
                        continue;
                if (c == TUI_COL_VCPU)
                        snprintf(num, sizeof(num), "%s", label);
                else if (tui_text_digits(v[c]) <= tb->width[c])
                        snprintf(num, sizeof(num), "%llu", (unsigned long long)v[c]);
                else
                        tui_text_compact(v[c], num);
                put(out, size, &pos, tb->width[c], num);
        }
}
