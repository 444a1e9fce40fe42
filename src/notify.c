#include "notify.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "log.h"

/* libsystemd is loaded only when a service manager is listening
 * (NOTIFY_SOCKET is set), the way systemd's own tools load their optional
 * libraries.  Linked in, it and what it pulls in (libgcrypt, libgpg-error,
 * liblzma, libzstd, liblz4, libcap) are seven of vmlaunch's shared objects
 * and about 1 MiB of its resident memory, and their loading is a good part
 * of its start-up, on every run, for a feature only a unit uses.  Without
 * NOTIFY_SOCKET every sd_notify call is a no-op anyway. */
static struct {
        __typeof__(sd_notify) *notify;
        __typeof__(sd_notifyf) *notifyf;
        __typeof__(sd_watchdog_enabled) *watchdog_enabled;
} sd;

static void load_libsystemd(void) {
        void *h;

        if (!getenv("NOTIFY_SOCKET"))
                return;
        /* Never closed: sd_* may be called until exit. */
        h = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                log_warning("NOTIFY_SOCKET is set but libsystemd cannot be loaded (%s); "
                            "the service manager will not hear from vmlaunch", dlerror());
                return;
        }
        sd.notify = (__typeof__(sd.notify))dlsym(h, "sd_notify");
        sd.notifyf = (__typeof__(sd.notifyf))dlsym(h, "sd_notifyf");
        sd.watchdog_enabled = (__typeof__(sd.watchdog_enabled))dlsym(h, "sd_watchdog_enabled");
        if (!sd.notify || !sd.notifyf || !sd.watchdog_enabled) {
                log_warning("libsystemd.so.0 lacks sd_notify, sd_notifyf or sd_watchdog_enabled; "
                            "the service manager will not hear from vmlaunch");
                sd.notify = NULL;
                sd.notifyf = NULL;
                sd.watchdog_enabled = NULL;
        }
}

static bool have_sd(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        pthread_once(&once, load_libsystemd);
        return sd.notify != NULL;
}

void notify_ready(const char *name, unsigned vcpus) {
        if (have_sd())
                sd.notifyf(0, "READY=1\nSTATUS=running %s with %u vCPU%s", name, vcpus, vcpus == 1 ? "" : "s");
}

void notify_stopping(const char *reason, unsigned timeout_ms) {
        /* The countdown plus a second for the teardown (threads joined, the
         * VM destroyed, the tap gone). */
        if (have_sd())
                sd.notifyf(0, "STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu\nSTATUS=stopping: %s",
                           (unsigned long long)timeout_ms * 1000ull + 1000000ull, reason);
}

void notify_status(const char *status) {
        if (have_sd())
                sd.notifyf(0, "STATUS=%s", status);
}

uint64_t notify_watchdog_interval_ms(void) {
        uint64_t usec = 0;

        if (!have_sd() || sd.watchdog_enabled(0, &usec) <= 0 || usec == 0)
                return 0;
        return usec / 2000u ? usec / 2000u : 1;
}

void notify_watchdog(void) {
        if (have_sd())
                sd.notify(0, "WATCHDOG=1");
}
