/* Headless status: JSON Lines on a FILE (stdout), one object per line,
 * each with "event" and "time" (seconds since the epoch, float).
 *
 * Events: started {name, pid, vcpus, tap}, running {}, plugin_output
 * {stream: "stdout"|"stderr", line}, stats {vcpus: [{id, io_in, ...}],
 * total}, stopping {reason, deadline_ms}, exited {exit_code, reason,
 * plugin}.  Plugin lines may hold any bytes: invalid UTF-8 becomes U+FFFD,
 * so every line is valid JSON.  Written through json-c.
 *
 * Writes block (a slow reader slows the stream; nothing is dropped); once
 * the stream fails (a closed pipe), status stops and the VM runs on. */
#pragma once

#include <stdio.h>

#include "monitor.h"

struct status;

/* stats_interval_s == 0: no stats events. */
int status_new(FILE *out, unsigned stats_interval_s, struct status **ret);
void status_free(struct status *s);
struct monitor *status_monitor(struct status *s);

/* Copies `len` bytes of `in` to `out` (room for 3*len+1), replacing every
 * byte that is not part of valid UTF-8 with U+FFFD; NUL-terminates.
 * Returns the output length. */
size_t status_utf8_sanitize(const char *in, size_t len, char *out);
