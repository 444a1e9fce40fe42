/* The service manager's side of the contract, through libsystemd's
 * sd_notify: READY=1 when the vCPUs start, STOPPING=1 with
 * EXTEND_TIMEOUT_USEC when the countdown starts, STOPPING=1 and a final
 * STATUS= when the run ends, STATUS= lines, and
 * WATCHDOG=1 pings when the unit asks for a watchdog.  Without
 * NOTIFY_SOCKET every call is a no-op and libsystemd is never loaded.
 *
 * No call blocks: a thread sends, and a manager that does not read
 * cannot hold the caller (see notify.c). */
#pragma once

#include <stdint.h>

void notify_ready(const char *name, unsigned vcpus);
void notify_stopping(const char *reason, unsigned timeout_ms);
void notify_status(const char *status);
/* The last word, whatever the stop path (a signal, a failure, the plugin
 * exiting by itself): STOPPING=1 and "STATUS=exited CODE: REASON". */
void notify_exited(int exit_code, const char *reason);
/* Half the unit's WatchdogSec in ms, or 0 when no watchdog is wanted. */
uint64_t notify_watchdog_interval_ms(void);
void notify_watchdog(void);
/* Gives the sending thread up to `wait_ms` to deliver what is queued,
 * then stops and joins it.  0, or -EAGAIN when messages were lost (the
 * manager's socket stayed full); they are logged.  Later calls start a
 * new thread. */
int notify_close(unsigned wait_ms);
