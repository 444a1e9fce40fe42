/* The terminal monitor: a header, a row of exit counters and rates per
 * vCPU with a totals row (columns fitted to the width, tui_table.h), the
 * plugin's output in a scrollable pane (UTF-8 where the locale is, stderr
 * in red or marked "! ", long lines cut with a marker), and the shutdown
 * countdown.  Keys: q or F10 stop, K kill, arrows/PgUp/PgDn/Home/End
 * scroll the output (a scrolled-back view stays put as lines arrive), j/k
 * scroll the vCPUs, ? help (? or Esc closes it).  Sets LC_CTYPE from the
 * environment.
 *
 * ncurses is touched only from the main thread (the monitor callbacks);
 * launcher log lines from any thread go into a mutex-guarded ring that the
 * next redraw shows.  The terminal is restored on every exit path: at
 * exit, and from a crash signal. */
#pragma once

#include "monitor.h"

struct tui;

/* Takes over the terminal on stdin/stdout and the log sink. */
int tui_new(struct tui **ret);
struct monitor *tui_monitor(struct tui *t);
/* Restores the terminal (if not yet) and the log sink; on restoring, the
 * last screenful of output stays on the terminal, after a note of how
 * many lines came before it.  NULL is fine. */
void tui_free(struct tui *t);
