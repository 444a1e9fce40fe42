/* Text for the terminal monitor: what a plugin wrote, made safe to show,
 * measured in screen columns, and numbers made to fit narrow columns.
 * Pure helpers: no curses, no I/O.  The UTF-8 variants need an LC_CTYPE
 * whose codeset is UTF-8 (wcwidth answers for that locale). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies s[0..len) to out (out_size > 0 bytes, always NUL-terminated) so
 * that nothing in it can drive a terminal.  With utf8, well-formed UTF-8
 * of printable characters is kept; everything else (C0 and C1 controls,
 * DEL, malformed, overlong or surrogate sequences, unprintable and
 * bidirectional-override characters) becomes '?', one per byte.  Without
 * utf8, printable ASCII is kept and every other byte becomes '?'.  A tab
 * becomes a space either way.  A character that does not fit whole is
 * left out.  Returns true when not all of s fitted (the copy is cut). */
bool tui_text_sanitize(const char *s, size_t len, bool utf8, char *out, size_t out_size);

/* For a string tui_text_sanitize() made: the number of bytes of its
 * longest prefix that fills at most `cols` screen columns; the columns
 * that prefix takes go to *ret_width (may be NULL). */
size_t tui_text_fit(const char *s, bool utf8, int cols, int *ret_width);

/* The screen columns the whole of a sanitised string takes. */
int tui_text_width(const char *s, bool utf8);

#define TUI_COMPACT_MAX 5       /* characters tui_text_compact() writes at most */

/* Writes v in at most TUI_COMPACT_MAX characters (out holds 8 bytes):
 * exact below 100000, above that 2 or 3 significant digits and a k, M, G,
 * T, P or E suffix (powers of 1000), e.g. "123k", "4.5M". */
void tui_text_compact(uint64_t v, char out[static 8]);

/* The decimal digits of v. */
int tui_text_digits(uint64_t v);
