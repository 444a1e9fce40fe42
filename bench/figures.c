#include "figures.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

double figures_median(const double *v, int n) {
        double c[128];

        memcpy(c, v, sizeof(*v) * (size_t)n);
        qsort(c, (size_t)n, sizeof(*c), cmp_double);
        return c[n / 2];
}

double figures_median_ratio(const double *a, const double *b, int n) {
        double r[64];

        for (int i = 0; i < n; i++)
                r[i] = a[i] / b[i];
        return figures_median(r, n);
}

double figures_bracketed(const double *plug, const double *bare, int n, double *ret_lo, double *ret_hi) {
        double r[64], lo = 0, hi = 0;

        for (int i = 0; i < n; i++) {
                r[i] = plug[i] / ((bare[i] + bare[i + 1]) / 2);
                if (i == 0 || r[i] < lo)
                        lo = r[i];
                if (i == 0 || r[i] > hi)
                        hi = r[i];
        }
        *ret_lo = lo;
        *ret_hi = hi;
        return figures_median(r, n);
}

void figures_header(void) {
        printf("%-52s %12s %12s %8s %8s\n", "benchmark (medians of runs)", "measured", "baseline", "med(m/b)",
               "med/med");
}

void figures_row(const char *label, const char *unit, double scale, const double *m, const double *base, int n) {
        double mm = figures_median(m, n), mb = figures_median(base, n);

        printf("%-52s %10.2f %s %10.2f %s %7.2fx %7.2fx\n", label, mm * scale, unit, mb * scale, unit,
               figures_median_ratio(m, base, n), mm / mb);
}
