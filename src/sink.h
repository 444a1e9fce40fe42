/* Bounded writers that never block, for the streams vmlaunch shares with
 * whoever started it: stdout (headless status lines) and stderr (log
 * lines).  A reader that stops reading must not stop vmlaunch: bytes wait
 * in a bounded queue, and a full queue refuses the line (the caller counts
 * the drop and reports it later).
 *
 * The stream's file description is never changed: O_NONBLOCK on a
 * terminal or a pipe that the parent shares would change it for every
 * process using it.  Instead a pipe or a character device (a terminal) is
 * reopened through /proc/self/fd/N, which gives vmlaunch a description of
 * its own to make non-blocking; a socket (the journal) is written with
 * MSG_DONTWAIT; a regular file is written as it is (it never waits for a
 * reader).  If the reopen fails, the shared fd is written only when poll
 * says it takes a PIPE_BUF-sized write.
 *
 * Lines of up to PIPE_BUF bytes are written whole (a pipe makes such a
 * write atomic), so a reader never sees half a line when vmlaunch gives up.
 * Every function is thread-safe: log lines come from any thread. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct sink;

/* How long the last lines get, in total, to reach a slow reader at exit
 * (a stalled reader must not lose the `exited` line to a brief stall);
 * after a requested stop, main() cuts it to what the stop's deadline
 * leaves, but never below SINK_DRAIN_MIN_MS. */
#define SINK_DRAIN_MS 5000
#define SINK_DRAIN_MIN_MS 100

/* A writer on `fd` (borrowed: it stays open, its flags unchanged) that
 * queues at most `max_queued` bytes.  A stream that cannot be written (no
 * reader, a closed fd) gives a sink whose writes fail with that error.
 * Returns 0 or -ENOMEM. */
int sink_open(int fd, size_t max_queued, struct sink **ret);
/* Detaches from the event loop, drops what is queued; NULL is fine. */
void sink_free(struct sink *s);

/* Queues `len` bytes (whole lines, newline included) and writes what the
 * stream takes now.  Returns 0; -ENOBUFS when the queue is full (nothing
 * queued); or the stream's error (-EPIPE, ...) once it failed, after which
 * nothing is written any more.  With `force` the bound is ignored: for the
 * one last line of a run. */
int sink_write(struct sink *s, const char *data, size_t len, bool force);

/* Bytes queued and not yet written. */
size_t sink_pending(struct sink *s);

/* The event loop: while a sink has bytes queued it watches its fd for
 * EPOLLOUT in `epoll_fd`, with its loop_source (LOOP_SINK) as the data;
 * the loop then calls sink_flush.  -1 detaches every sink (before the
 * epoll fd closes). */
void sink_watch_all(int epoll_fd);
/* Writes what the stream takes, at most a bounded amount per call. */
void sink_flush(struct sink *s);

/* Waits until every sink's queue is written, has failed, or
 * `deadline_usec` (CLOCK_MONOTONIC, monitor_now_usec) has passed. */
void sink_drain_all(uint64_t deadline_usec);
