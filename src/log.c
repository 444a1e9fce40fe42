#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink.h"

/* A line as formatted, and the same line escaped (4 output bytes per input
 * byte at most; longer lines are cut at a character). */
#define LOG_LINE_MAX 4608
#define LOG_OUT_MAX 8192

static const char *const level_prefix[] = {
        [LOG_LEVEL_ERROR] = "error: ",
        [LOG_LEVEL_WARNING] = "warning: ",
        [LOG_LEVEL_INFO] = "",
        [LOG_LEVEL_DEBUG] = "debug: ",
};

/* sd-daemon(3)'s "<N>" priority prefixes, by level: journald reads them
 * off the start of each line of a stream it is connected to. */
static const char *const journal_prefix[] = {
        [LOG_LEVEL_ERROR] = "<3>",
        [LOG_LEVEL_WARNING] = "<4>",
        [LOG_LEVEL_INFO] = "<6>",
        [LOG_LEVEL_DEBUG] = "<7>",
};

static struct sink *_Atomic stream;
static atomic_ulong dropped_total;
static atomic_ulong dropped_unreported;

size_t log_utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp) {
        unsigned char c = s[0];
        uint32_t cp, min;
        size_t n;

        if (c < 0x80) {
                *ret_cp = c;
                return 1;
        }
        if (c >= 0xc2 && c <= 0xdf)
                n = 2, cp = c & 0x1fu, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef)
                n = 3, cp = c & 0x0fu, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
                n = 4, cp = c & 0x07u, min = 0x10000;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3fu);
        }
        /* Overlong forms, surrogates, beyond U+10FFFF. */
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return n;
}

size_t log_utf8_seq(const unsigned char *s, size_t len) {
        uint32_t cp;

        return log_utf8_decode(s, len, &cp);
}

size_t log_escape(const char *in, size_t len, bool backslash, char *out, size_t cap, size_t *ret_len) {
        const unsigned char *s = (const unsigned char *)in;
        size_t i = 0, o = 0;

        while (i < len) {
                char esc[8];
                const char *piece = esc;
                size_t n = log_utf8_seq(s + i, len - i), m;

                if (n == 0) {
                        piece = "\xef\xbf\xbd";
                        m = 3;
                        n = 1;
                } else if (n == 1 && ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)) {
                        m = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
                } else if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) {
                        /* C1: U+0080..U+009F, encoded c2 80..c2 9f. */
                        m = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", s[i + 1]);
                } else if (n == 1 && backslash && s[i] == '\\') {
                        piece = "\\\\";
                        m = 2;
                } else {
                        piece = in + i;
                        m = n;
                }
                if (o + m + 1 > cap)
                        break;
                memcpy(out + o, piece, m);
                o += m;
                i += n;
        }
        out[o] = '\0';
        *ret_len = o;
        return i;
}

/* Whether stderr is the journal: systemd sets JOURNAL_STREAM to
 * "DEVICE:INODE" of the stream it connected, and only that exact file
 * counts (a unit's stderr redirected elsewhere, or a child that inherited
 * the variable but not the stream, gets no prefixes: they would be noise
 * in a file or on a terminal). */
static bool journal;

static void detect_journal(void) {
        const char *v = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (!v || sscanf(v, "%llu:%llu%n", &dev, &ino, &n) != 2 || v[n] != '\0')
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        journal = (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_to_journal(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        pthread_once(&once, detect_journal);
        return journal;
}

static void write_line(struct sink *s, enum log_level level, const char *line, bool force) {
        char out[LOG_OUT_MAX];
        size_t n, k;

        n = (size_t)snprintf(out, sizeof(out), "%svmlaunch: %s", log_to_journal() ? journal_prefix[level] : "",
                             level_prefix[level]);
        log_escape(line, strlen(line), false, out + n, sizeof(out) - n - 1, &k);
        n += k;
        out[n++] = '\n';
        if (!s) {
                /* Before main() set a stream up: one fwrite per line, under
                 * stdio's lock, so lines from threads never interleave. */
                fwrite(out, 1, n, stderr);
                return;
        }
        if (atomic_load(&dropped_unreported) > 0 && !force) {
                char note[128];
                unsigned long d = atomic_exchange(&dropped_unreported, 0);
                int m = snprintf(note, sizeof(note),
                                 "%svmlaunch: warning: %lu log lines dropped: stderr was not read fast enough\n",
                                 log_to_journal() ? journal_prefix[LOG_LEVEL_WARNING] : "", d);

                if (d && sink_write(s, note, (size_t)m, false) == -ENOBUFS)
                        atomic_fetch_add(&dropped_unreported, d);
        }
        if (sink_write(s, out, n, force) == -ENOBUFS) {
                atomic_fetch_add(&dropped_total, 1);
                atomic_fetch_add(&dropped_unreported, 1);
        }
}

static void log_default_sink(enum log_level level, const char *line, void *userdata) {
        (void)userdata;
        write_line(atomic_load(&stream), level, line, false);
}

static log_sink_fn sink = log_default_sink;
static void *sink_userdata;
static _Atomic int max_level = LOG_LEVEL_INFO;

void log_set_sink(log_sink_fn fn, void *userdata) {
        sink = fn ? fn : log_default_sink;
        sink_userdata = fn ? userdata : NULL;
}

void log_set_stream(struct sink *s) {
        atomic_store(&stream, s);
}

unsigned long log_dropped(void) {
        return atomic_load(&dropped_total);
}

void log_set_max_level(enum log_level level) { atomic_store(&max_level, (int) level); }

enum log_level log_get_max_level(void) { return (enum log_level) atomic_load(&max_level); }

void log_msgv(enum log_level level, const char *fmt, va_list ap) {
        char line[LOG_LINE_MAX];  /* a whole plugin output line plus its prefix */

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

void log_final(enum log_level level, const char *fmt, ...) {
        char line[LOG_LINE_MAX];
        unsigned long d = atomic_exchange(&dropped_unreported, 0);
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof line, fmt, ap);
        va_end(ap);
        if (sink != log_default_sink) {
                sink(level, line, sink_userdata);
                return;
        }
        if (d) {
                char note[128];

                snprintf(note, sizeof(note), "%lu log lines dropped: stderr was not read fast enough", d);
                write_line(atomic_load(&stream), LOG_LEVEL_WARNING, note, true);
        }
        write_line(atomic_load(&stream), level, line, true);
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

int log_err_set(struct log_err *e, int r, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return r;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        return r;
}

int log_err_errno(struct log_err *e, int r, const char *fmt, ...) {
        char what[384];
        va_list ap;

        if (!e)
                return r;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        snprintf(e->msg, sizeof(e->msg), "%s: %s", what, strerror(r < 0 ? -r : r));
        return r;
}

const char *log_err_text(const struct log_err *e, int r) {
        if (e && e->msg[0])
                return e->msg;
        return strerror(r < 0 ? -r : r);
}
