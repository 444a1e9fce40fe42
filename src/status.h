/* Headless status: JSON Lines on a sink (stdout), one object per line,
 * each with "event" and "time" (seconds since the epoch, float).
 *
 * Events: started {name, pid, vcpus, tap}, running {}, plugin_output
 * {stream: "stdout"|"stderr", line}, plugin_output_dropped {stream, lines,
 * bytes} (plugin lines over the output budget since the last such event,
 * output.h), stats {vcpus: [{id, io_in, ...}], total}, stopping {reason,
 * deadline_ms}, status_dropped {events} (events this stream's full queue
 * refused, since the last such event), exited {exit_code, reason, plugin,
 * status_dropped (all refused events; only when there were any)}.
 * Plugin lines may hold any bytes: invalid UTF-8 becomes U+FFFD, so every
 * line is valid JSON.  Written through json-c.
 *
 * Writes never block (sink.h): a slow reader loses nothing while the
 * sink's queue holds what it has not read; beyond that, events are dropped
 * and counted.  The exited event is queued past the bound, for the final
 * drain.  Once the stream fails (a closed pipe), status stops, says so in
 * one log line, and the VM runs on. */
#pragma once

#include <stddef.h>

#include "monitor.h"

struct status;
struct sink;

/* What the status stream queues at most for a slow reader. */
#define STATUS_QUEUE_MAX (1024 * 1024)

/* `out` is borrowed; stats_interval_s == 0: no stats events. */
int status_new(struct sink *out, unsigned stats_interval_s, struct status **ret);
void status_free(struct status *s);
struct monitor *status_monitor(struct status *s);

/* Copies `len` bytes of `in` to `out` (room for 3*len+1), replacing every
 * byte that is not part of valid UTF-8 with U+FFFD; NUL-terminates.
 * Returns the output length. */
size_t status_utf8_sanitize(const char *in, size_t len, char *out);
