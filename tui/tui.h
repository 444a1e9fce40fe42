/* The terminal monitor: a header, a row of exit counters and rates per
 * vCPU with a totals row, the plugin's output in a scrollable pane, and
 * the shutdown countdown.  Keys: q stop, K kill, arrows/PgUp/PgDn scroll
 * the output, j/k scroll the vCPUs, ? help.
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
/* Restores the terminal (if not yet) and the log sink.  NULL is fine. */
void tui_free(struct tui *t);
