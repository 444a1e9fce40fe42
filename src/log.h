/* Logging.  Library code returns errors; the caller that knows the context
 * logs once.  Messages go to a sink: stderr by default, the monitor later. */
#pragma once

#include <stdarg.h>

#include "util.h"

enum log_level {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
};

/* Where log lines go.  `line` has no trailing newline.  The default sink
 * writes "vmlaunch: <line>" to stderr.  Called from any thread. */
typedef void (*log_sink_fn)(enum log_level level, const char *line, void *userdata);

void log_set_sink(log_sink_fn fn, void *userdata);
void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);

void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
void log_msgv(enum log_level level, const char *fmt, va_list ap) _printf_(2, 0);

/* Logs "<message>: <strerror(-r)>" at error level and returns r (< 0). */
int log_errno(int r, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
