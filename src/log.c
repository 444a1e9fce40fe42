#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static void log_default_sink(enum log_level level, const char *line, void *userdata) {
        static const char *const prefix[] = {
                [LOG_LEVEL_ERROR] = "error: ",
                [LOG_LEVEL_WARNING] = "warning: ",
                [LOG_LEVEL_INFO] = "",
                [LOG_LEVEL_DEBUG] = "debug: ",
        };
        (void) userdata;
        /* One fprintf per line: stdio locks the stream, so lines from
         * different threads never interleave. */
        fprintf(stderr, "vmlaunch: %s%s\n", prefix[level], line);
}

static log_sink_fn sink = log_default_sink;
static void *sink_userdata;
static _Atomic int max_level = LOG_LEVEL_INFO;

void log_set_sink(log_sink_fn fn, void *userdata) {
        sink = fn ? fn : log_default_sink;
        sink_userdata = fn ? userdata : NULL;
}

void log_set_max_level(enum log_level level) { atomic_store(&max_level, (int) level); }

enum log_level log_get_max_level(void) { return (enum log_level) atomic_load(&max_level); }

void log_msgv(enum log_level level, const char *fmt, va_list ap) {
        char line[4608];  /* a whole plugin output line plus its prefix */

        if ((int) level > atomic_load(&max_level))
                return;
        vsnprintf(line, sizeof line, fmt, ap);
        sink(level, line, sink_userdata);
}

void log_msg(enum log_level level, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        log_msgv(level, fmt, ap);
        va_end(ap);
}

int log_errno(int r, const char *fmt, ...) {
        char msg[896];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        log_msg(LOG_LEVEL_ERROR, "%s: %s", msg, strerror(r < 0 ? -r : r));
        return r;
}
