/* The service manager's side of the contract, through libsystemd's
 * sd_notify: READY=1 when the vCPUs start, STOPPING=1 with
 * EXTEND_TIMEOUT_USEC when the countdown starts, STATUS= lines, and
 * WATCHDOG=1 pings when the unit asks for a watchdog.  Without
 * NOTIFY_SOCKET every call is a no-op and libsystemd is never loaded. */
#pragma once

#include <stdint.h>

void notify_ready(const char *name, unsigned vcpus);
void notify_stopping(const char *reason, unsigned timeout_ms);
void notify_status(const char *status);
/* Half the unit's WatchdogSec in ms, or 0 when no watchdog is wanted. */
uint64_t notify_watchdog_interval_ms(void);
void notify_watchdog(void);
