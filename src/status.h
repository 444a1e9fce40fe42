/* Headless status: JSON Lines on a sink (stdout), one object per line,
 * each with "event" and "time" (seconds since the epoch, float).
 *
 * Events: started {name, pid, vcpus, tap}, running {}, plugin_output
 * {stream: "stdout"|"stderr", line}, plugin_output_dropped {stream, lines,
 * bytes} (plugin lines over the output budget since the last such event,
 * output.h), stats {state, uptime_s, vcpus: [{id, io_in, ..., exits, rate}],
 * total} (stats.h: cumulative counters; the same object as `ctl stats`),
 * stopping {reason, cause, deadline_ms}, status_dropped {events} (events
 * this stream's full queue refused, since the last such event), exited
 * {exit_code, reason, plugin, cause,
 * status_dropped (all refused events; only when there were any)}.
 * `cause` is one word for machines (launcher.h LAUNCHER_CAUSE_*).
 *
 * Sequence: started, running, any plugin_output and stats, stopping (when
 * vmlaunch stopped the VM), one last stats (the final counters; whenever
 * the VM was built), exited, always the last line.  A config error gives
 * the exited line alone.
 * Plugin lines may hold any bytes: invalid UTF-8 becomes U+FFFD, so every
 * line is valid JSON.  Written through json-c.
 *
 * Writes never block (sink.h): a slow reader loses nothing while the
 * sink's queue holds what it has not read; beyond that, events are dropped
 * and counted.  The exited event is queued past the bound, for the final
 * drain.  Once the stream fails (a closed pipe), status stops, says so in
 * one log line, and plugin lines go to the log again; the launcher stops
 * the VM (monitor.h writes_stdout).
 *
 * Plugin lines go to this stream only; with echo_plugin_output to the log
 * (stderr) as well. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "monitor.h"

struct status;
struct sink;

/* What the status stream queues at most for a slow reader. */
#define STATUS_QUEUE_MAX (1024 * 1024)

/* `out` is borrowed; stats_interval_ms == 0: no periodic stats events
 * (the final one still comes). */
int status_new(struct sink *out, unsigned stats_interval_ms, bool echo_plugin_output, struct status **ret);
/* The same events for another consumer (a control client following
 * `events`): each line goes to write(data, line, len, force) instead of a
 * sink, with sink_write's contract (0, -ENOBUFS when full, or another
 * -errno once the consumer failed). */
typedef int (*status_write_fn)(void *data, const char *line, size_t len, bool force);
int status_new_writer(status_write_fn write, void *data, unsigned stats_interval_ms, struct status **ret);
void status_free(struct status *s);
struct monitor *status_monitor(struct status *s);

/* Copies `len` bytes of `in` to `out` (room for 3*len+1), replacing every
 * byte that is not part of valid UTF-8 with U+FFFD; NUL-terminates.
 * Returns the output length. */
size_t status_utf8_sanitize(const char *in, size_t len, char *out);
