/* Logging.  Library code returns errors; the caller that knows the context
 * logs once.  Messages go to a sink: stderr by default, the monitor later.
 *
 * Log lines never block the caller once a stream is set (log_set_stream):
 * they queue in a bounded, non-blocking writer (sink.h); when stderr is
 * not read and the queue is full, lines are dropped and counted, and the
 * count is written as a warning line once the stream takes lines again. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct sink;

enum log_level {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
};

/* Where log lines go.  `line` has no trailing newline.  The default sink
 * writes "vmlaunch: <line>" to stderr, control bytes escaped (log_escape)
 * so that no line can move the cursor or start an escape sequence on a
 * terminal.  Called from any thread: it must not block. */
typedef void (*log_sink_fn)(enum log_level level, const char *line, void *userdata);

void log_set_sink(log_sink_fn fn, void *userdata);
void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);

/* The default sink's stream: `s` (borrowed; NULL: plain blocking writes
 * to stderr, as before main() sets it up). */
void log_set_stream(struct sink *s);
/* Whether stderr is the journal (JOURNAL_STREAM names its device and
 * inode): then every line of the default sink starts with journald's
 * priority prefix, "<3>" for errors, "<4>" warnings, "<6>" info, "<7>"
 * debug.  Decided once, at the first call. */
bool log_to_journal(void);
/* Log lines dropped because the stream's queue was full, since the start. */
unsigned long log_dropped(void);

void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
void log_msgv(enum log_level level, const char *fmt, va_list ap) _printf_(2, 0);
/* The last line of a run: queued even when the queue is full, so that the
 * final drain (sink_drain_all) writes it if the reader takes it in time. */
void log_final(enum log_level level, const char *fmt, ...) _printf_(2, 3);

/* Logs "<message>: <strerror(-r)>" at error level and returns r (< 0). */
int log_errno(int r, const char *fmt, ...) _printf_(2, 3);

/* The error context.  Library code (plugin, jail, cgroup, tap) never logs
 * a failure: it fills the context its caller passed, one line saying what
 * failed, on what, and the errno in words, and returns -errno.  Only the
 * launcher and main() print it, once, with what they know around it.  A
 * function taking one writes it on every failing path; on success it is
 * left alone unless the function's contract says otherwise (cgroup_new's
 * warning).  Start it empty: LOG_ERR_INIT. */
struct log_err {
        char msg[512];
};

#define LOG_ERR_INIT { .msg = "" }

/* Writes exactly the formatted line into `e` (NULL: nothing) and returns r. */
int log_err_set(struct log_err *e, int r, const char *fmt, ...) _printf_(3, 4);
/* Writes "<message>: <strerror(-r)>" into `e` (NULL: nothing); returns r. */
int log_err_errno(struct log_err *e, int r, const char *fmt, ...) _printf_(3, 4);
/* The message, or strerror(-r) when the callee wrote none: a caller
 * never prints an empty or stale line. */
const char *log_err_text(const struct log_err *e, int r);

/* Length of the valid UTF-8 sequence at s (1..4; len >= 1), or 0 if the
 * byte there does not start one: a stray continuation byte, a cut
 * sequence, an overlong form, a surrogate or a value past U+10FFFF. */
size_t log_utf8_seq(const unsigned char *s, size_t len);
/* The same, and the code point it encodes in *ret_cp. */
size_t log_utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp);

/* Copies `in` to `out` (room for `cap` >= 1 bytes) so that a terminal
 * shows it as text: the C0 controls but tab, DEL, and the C1 controls
 * (U+0080..U+009F, which some terminals take as ESC [) become visible
 * escapes ("\x1b", "\u009b"); bytes that are not valid UTF-8 become U+FFFD;
 * with `backslash`, "\" becomes "\\" so that an escape can only come from
 * us.  Stops before a character whose output would not fit; NUL-terminates.
 * Returns the input bytes consumed and sets *ret_len to the output length. */
size_t log_escape(const char *in, size_t len, bool backslash, char *out, size_t cap, size_t *ret_len);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
