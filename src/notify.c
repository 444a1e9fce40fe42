#include "notify.h"

#include <systemd/sd-daemon.h>

void notify_ready(const char *name, unsigned vcpus) {
        sd_notifyf(0, "READY=1\nSTATUS=running %s with %u vCPU%s", name, vcpus, vcpus == 1 ? "" : "s");
}

void notify_stopping(const char *reason, unsigned timeout_ms) {
        /* The countdown plus a second for the teardown (threads joined, the
         * VM destroyed, the tap gone). */
        sd_notifyf(0, "STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu\nSTATUS=stopping: %s",
                   (unsigned long long)timeout_ms * 1000ull + 1000000ull, reason);
}

void notify_status(const char *status) {
        sd_notifyf(0, "STATUS=%s", status);
}

uint64_t notify_watchdog_interval_ms(void) {
        uint64_t usec = 0;

        if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
                return 0;
        return usec / 2000u ? usec / 2000u : 1;
}

void notify_watchdog(void) {
        sd_notify(0, "WATCHDOG=1");
}
