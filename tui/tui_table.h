/* The vCPU table's columns, fitted to the terminal's width: the vCPU,
 * total and exits/s columns always show; the others get narrower (numbers
 * in compact form, tui_text_compact) and, on a terminal too narrow even
 * for that, the least telling ones are left out.  Nothing is cut in the
 * middle of a number.  Pure: no curses. */
#pragma once

#include <stddef.h>
#include <stdint.h>

enum tui_col {
        TUI_COL_VCPU,
        TUI_COL_IO_IN,
        TUI_COL_IO_OUT,
        TUI_COL_MMIO_READ,
        TUI_COL_MMIO_WRITE,
        TUI_COL_HYPERV,
        TUI_COL_USER,
        TUI_COL_OTHER,
        TUI_COL_TOTAL,
        TUI_COL_RATE,
        _TUI_COL_MAX,
};

struct tui_table {
        int width[_TUI_COL_MAX];        /* 0: the column is not shown */
};

/* Lays the columns out in `cols` screen columns for values up to max[]
 * (max[TUI_COL_VCPU]: the highest vCPU index). */
void tui_table_layout(struct tui_table *tb, int cols, const uint64_t max[_TUI_COL_MAX]);

/* Formats the header line. */
void tui_table_header(const struct tui_table *tb, char *out, size_t size);

/* Formats one row: `label` in the vCPU column, v[] in the others (v's
 * TUI_COL_VCPU entry is not read).  A value wider than its column is
 * written in compact form. */
void tui_table_row(const struct tui_table *tb, const char *label, const uint64_t v[_TUI_COL_MAX], char *out,
                   size_t size);
