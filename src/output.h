/* The plugin's stdout and stderr: read from their pipes and handed out as
 * lines (the monitor, and the log when the monitor does not show them).
 *
 * The plugin is untrusted, so what it writes has a budget.  Per loop turn
 * a pipe is read at most OUTPUT_READ_BUDGET bytes (epoll is
 * level-triggered: the rest is read next turn, after the signals).  Per
 * stream, lines pass a token bucket: OUTPUT_LINES_PER_S lines and
 * OUTPUT_BYTES_PER_S bytes a second, bursts up to OUTPUT_LINES_BURST lines
 * and OUTPUT_BYTES_BURST bytes.  Lines beyond it are dropped and counted;
 * the counts since the last note go out as a note (monitor
 * plugin_output_dropped, and a log line) at most once per
 * OUTPUT_NOTE_INTERVAL_MS, and when the stream ends.  So a flood costs
 * vmlaunch bounded time per turn and bounded output, and nothing of it is
 * buffered beyond one line.
 *
 * Lines logged to stderr are escaped (log_escape, backslashes too) and
 * each carries the prefix "vmlaunch: plugin stdout: " or "vmlaunch: plugin
 * stderr: ": a plugin cannot move the cursor, overwrite the prefix or
 * forge a line of vmlaunch's own. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "monitor.h"

#define OUTPUT_LINE_MAX 4096            /* longer lines go out in pieces */
#define OUTPUT_READ_BUDGET (64 * 1024)  /* per pipe, per loop turn */
#define OUTPUT_LINES_PER_S 1000
#define OUTPUT_LINES_BURST 5000
#define OUTPUT_BYTES_PER_S (256 * 1024)
#define OUTPUT_BYTES_BURST (1024 * 1024)
#define OUTPUT_NOTE_INTERVAL_MS 1000

struct output {
        struct loop_source source;      /* LOOP_PLUGIN_OUTPUT: first, for epoll's data */
        int fd;                         /* borrowed (struct plugin's); -1: none or ended */
        enum monitor_stream stream;
        struct monitor *mon;            /* borrowed; may be NULL */

        /* The bucket, in millionths of a line and of a byte. */
        uint64_t line_tokens, byte_tokens, refilled_usec;
        uint64_t dropped_lines, dropped_bytes;  /* since the last note */
        uint64_t total_dropped_lines, total_dropped_bytes;
        uint64_t noted_usec;                    /* the last note */

        size_t len;
        char buf[OUTPUT_LINE_MAX];
};

/* A stream with a full bucket and no fd yet. */
void output_init(struct output *o, enum monitor_stream stream, struct monitor *mon, uint64_t now_usec);

/* Reads at most `budget` bytes from o->fd and hands out whole lines.
 * Returns 1 at EOF or on a read error (the caller takes the fd out of its
 * loop, then calls output_end), else 0. */
int output_read(struct output *o, size_t budget, uint64_t now_usec);

/* The stream ended: the unfinished line and the last note go out; o->fd
 * becomes -1. */
void output_end(struct output *o, uint64_t now_usec);

/* When the next note is due (CLOCK_MONOTONIC usec), or UINT64_MAX when
 * nothing was dropped since the last one. */
uint64_t output_note_due(const struct output *o);
/* Writes the note if it is due. */
void output_tick(struct output *o, uint64_t now_usec);
