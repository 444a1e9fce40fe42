#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define MILLION 1000000u
/* One logged piece of a plugin line: its escaped text fits the log line. */
#define OUTPUT_LOG_PIECE 4000

static const char *stream_name(enum monitor_stream s) {
        return s == MONITOR_STDOUT ? "stdout" : "stderr";
}

void output_init(struct output *o, enum monitor_stream stream, struct monitor *mon, uint64_t now_usec) {
        memset(o, 0, sizeof(*o));
        o->source.kind = LOOP_PLUGIN_OUTPUT;
        o->fd = -1;
        o->stream = stream;
        o->mon = mon;
        o->line_tokens = (uint64_t)OUTPUT_LINES_BURST * MILLION;
        o->byte_tokens = (uint64_t)OUTPUT_BYTES_BURST * MILLION;
        o->refilled_usec = now_usec;
}

static void refill(struct output *o, uint64_t now) {
        uint64_t dt = now > o->refilled_usec ? now - o->refilled_usec : 0;

        /* Saturate long idle times: the bucket is full after a few seconds. */
        if (dt > 60u * MILLION)
                dt = 60u * MILLION;
        o->line_tokens += dt * OUTPUT_LINES_PER_S;
        if (o->line_tokens > (uint64_t)OUTPUT_LINES_BURST * MILLION)
                o->line_tokens = (uint64_t)OUTPUT_LINES_BURST * MILLION;
        o->byte_tokens += dt * OUTPUT_BYTES_PER_S;
        if (o->byte_tokens > (uint64_t)OUTPUT_BYTES_BURST * MILLION)
                o->byte_tokens = (uint64_t)OUTPUT_BYTES_BURST * MILLION;
        o->refilled_usec = now;
}

static void note(struct output *o, uint64_t now) {
        if (!o->dropped_lines)
                return;
        if (o->mon && o->mon->plugin_output_dropped)
                o->mon->plugin_output_dropped(o->mon, o->stream, o->dropped_lines, o->dropped_bytes);
        if (!o->mon || !o->mon->shows_plugin_output)
                log_warning("plugin %s: %" PRIu64 " lines (%" PRIu64 " bytes) dropped: over the output budget "
                            "(%u lines, %u KiB a second)",
                            stream_name(o->stream), o->dropped_lines, o->dropped_bytes, OUTPUT_LINES_PER_S,
                            OUTPUT_BYTES_PER_S / 1024);
        o->dropped_lines = o->dropped_bytes = 0;
        o->noted_usec = now;
}

/* Every piece logged carries the prefix: a long line goes out in several
 * log lines rather than cut at the log's line limit. */
static void log_line(struct output *o, const char *line, size_t len) {
        char esc[OUTPUT_LOG_PIECE + 1];
        size_t done = 0;

        do {
                size_t k, n = log_escape(line + done, len - done, true, esc, sizeof(esc), &k);

                log_info("plugin %s: %s", stream_name(o->stream), esc);
                done += n;
        } while (done < len);
}

static void emit(struct output *o, const char *line, size_t len, size_t cost) {
        if (o->line_tokens < MILLION || o->byte_tokens < (uint64_t)cost * MILLION) {
                o->dropped_lines++;
                o->dropped_bytes += cost;
                o->total_dropped_lines++;
                o->total_dropped_bytes += cost;
                return;
        }
        o->line_tokens -= MILLION;
        o->byte_tokens -= (uint64_t)cost * MILLION;
        if (!o->mon || !o->mon->shows_plugin_output)
                log_line(o, line, len);
        if (o->mon && o->mon->plugin_output)
                o->mon->plugin_output(o->mon, o->stream, line, len);
}

int output_read(struct output *o, size_t budget, uint64_t now) {
        int ret = 0;

        if (o->fd < 0)
                return 1;
        refill(o, now);
        while (budget > 0) {
                size_t want = sizeof(o->buf) - o->len, start = 0;
                ssize_t n;

                if (want > budget)
                        want = budget;
                n = read(o->fd, o->buf + o->len, want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        ret = 1;
                        break;
                }
                budget -= (size_t)n;
                o->len += (size_t)n;
                for (;;) {
                        char *nl = memchr(o->buf + start, '\n', o->len - start);

                        if (!nl)
                                break;
                        emit(o, o->buf + start, (size_t)(nl - (o->buf + start)),
                             (size_t)(nl - (o->buf + start)) + 1);
                        start = (size_t)(nl - o->buf) + 1;
                }
                if (start == 0 && o->len == sizeof(o->buf)) {
                        emit(o, o->buf, o->len, o->len);
                        start = o->len;
                }
                memmove(o->buf, o->buf + start, o->len - start);
                o->len -= start;
        }
        output_tick(o, now);
        return ret;
}

void output_end(struct output *o, uint64_t now) {
        if (o->len)
                emit(o, o->buf, o->len, o->len);
        o->len = 0;
        o->fd = -1;
        note(o, now);
}

uint64_t output_note_due(const struct output *o) {
        if (!o->dropped_lines)
                return UINT64_MAX;
        return o->noted_usec + (uint64_t)OUTPUT_NOTE_INTERVAL_MS * 1000u;
}

void output_tick(struct output *o, uint64_t now) {
        if (o->dropped_lines && now >= output_note_due(o))
                note(o, now);
}
