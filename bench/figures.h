/* Summaries of repeated runs, and the table's rows.  These machines are
 * noisy (steal time comes and goes by the second), so a row gives two
 * ratios that a reader can check against its columns:
 *  - the median of the runs' own ratios, each run against the baseline
 *    measured next to it in time (a slow patch weighs on both sides of
 *    one ratio), which need not equal
 *  - the ratio of the two medians printed beside it. */
#pragma once

/* The median of v[0..n-1] (the upper one for an even n); n <= 128. */
double figures_median(const double *v, int n);

/* The median of a[i] / b[i]. */
double figures_median_ratio(const double *a, const double *b, int n);

/* Bracketed pairs: runs made in the order bare[0], plug[0], bare[1],
 * plug[1], ..., bare[n]; each plug[i] against the mean of the bare runs
 * on either side of it, (bare[i] + bare[i + 1]) / 2.  Returns the median
 * of those n ratios and their range in *ret_lo, *ret_hi.  A machine that
 * drifts between runs moves both brackets of a pair. */
double figures_bracketed(const double *plug, const double *bare, int n, double *ret_lo, double *ret_hi);

/* The table's header, and one row: the medians of `m` and `base`, times
 * `scale`, in `unit`, then the median of ratios and the ratio of the
 * medians. */
void figures_header(void);
void figures_row(const char *label, const char *unit, double scale, const double *m, const double *base, int n);
