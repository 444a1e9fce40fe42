#include "notify.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* The sending is a thread's, never the caller's.  sd_notify blocks while
 * the manager's queue is full (a unix datagram socket holds ten
 * messages, net.unix.max_dgram_qlen): a manager that is slow to read,
 * or a NOTIFY_SOCKET nobody reads, held the main loop in sendmsg and a
 * SIGTERM went unanswered.  Now the loop only queues: WATCHDOG=1 pings
 * fold into one, other messages wait in a queue of NOTIFY_QUEUE (a full
 * queue drops the newest), and notify_close() gives the thread a bounded
 * time to deliver the rest, then interrupts it (SIGRTMIN, no SA_RESTART)
 * and joins it. */
#define NOTIFY_QUEUE 16

static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;    /* the thread waits for work; notify_close() for progress */
        pthread_t thread;
        bool started, quit, finished, busy, watchdog;
        char *queue[NOTIFY_QUEUE];
        unsigned head, n, dropped;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void interrupt_handler(int sig) {
        (void)sig;
}

static void *sender(void *arg) {
        sigset_t mask;

        (void)arg;
        sigfillset(&mask);
        sigdelset(&mask, SIGRTMIN);
        pthread_sigmask(SIG_SETMASK, &mask, NULL);
        pthread_mutex_lock(&q.lock);
        while (!q.quit) {
                char *msg = NULL;
                bool ping = false;

                if (q.n > 0) {
                        msg = q.queue[q.head];
                        q.head = (q.head + 1) % NOTIFY_QUEUE;
                        q.n--;
                } else if (q.watchdog) {
                        q.watchdog = false;
                        ping = true;
                } else {
                        pthread_cond_wait(&q.cond, &q.lock);
                        continue;
                }
                q.busy = true;
                pthread_mutex_unlock(&q.lock);
                sd.notify(0, ping ? "WATCHDOG=1" : msg);
                free(msg);
                pthread_mutex_lock(&q.lock);
                q.busy = false;
                pthread_cond_broadcast(&q.cond);
        }
        q.finished = true;
        pthread_cond_broadcast(&q.cond);
        pthread_mutex_unlock(&q.lock);
        return NULL;
}

/* Under q.lock. */
static bool start_sender(void) {
        struct sigaction old;
        int r;

        if (q.started)
                return true;
        /* The interruption at close needs a handler without SA_RESTART;
         * the vCPUs' kick is one already, and is left alone. */
        if (sigaction(SIGRTMIN, NULL, &old) == 0 && (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN)) {
                struct sigaction sa = { .sa_handler = interrupt_handler };

                sigemptyset(&sa.sa_mask);
                sigaction(SIGRTMIN, &sa, NULL);
        }
        r = pthread_create(&q.thread, NULL, sender, NULL);
        if (r != 0) {
                log_warning("cannot start the sd_notify thread: %s; the service manager will not hear from "
                            "vmlaunch", strerror(r));
                return false;
        }
        q.started = true;
        return true;
}

_printf_(1, 2) static void post(const char *fmt, ...) {
        char *msg = NULL;
        va_list ap;
        int n;

        if (!have_sd())
                return;
        va_start(ap, fmt);
        n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        pthread_mutex_lock(&q.lock);
        if (q.quit || !start_sender() || q.n == NOTIFY_QUEUE) {
                q.dropped++;
                free(msg);
        } else {
                q.queue[(q.head + q.n) % NOTIFY_QUEUE] = msg;
                q.n++;
                pthread_cond_broadcast(&q.cond);
        }
        pthread_mutex_unlock(&q.lock);
}

void notify_ready(const char *name, unsigned vcpus) {
        post("READY=1\nSTATUS=running %s with %u vCPU%s", name, vcpus, vcpus == 1 ? "" : "s");
}

void notify_stopping(const char *reason, unsigned timeout_ms) {
        /* The countdown plus a second for the teardown (threads joined, the
         * VM destroyed, the tap gone). */
        post("STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu\nSTATUS=stopping: %s",
             (unsigned long long)timeout_ms * 1000ull + 1000000ull, reason);
}

void notify_exited(int exit_code, const char *reason) {
        /* STOPPING=1 again: when the plugin exits by itself no countdown
         * ran and the manager has not heard it yet; a repeat is harmless.
         * The STATUS= is what `systemctl status` keeps showing after the
         * unit is inactive, so it says how the run ended. */
        post("STOPPING=1\nSTATUS=exited %d: %s", exit_code, reason);
}

void notify_status(const char *status) {
        post("STATUS=%s", status);
}

static void deadline_after(struct timespec *ts, unsigned ms) {
        clock_gettime(CLOCK_REALTIME, ts);
        ts->tv_sec += ms / 1000u;
        ts->tv_nsec += (long)(ms % 1000u) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

int notify_close(unsigned wait_ms) {
        struct timespec end;
        unsigned lost;

        pthread_mutex_lock(&q.lock);
        if (!q.started) {
                pthread_mutex_unlock(&q.lock);
                return 0;
        }
        deadline_after(&end, wait_ms);
        while ((q.n > 0 || q.watchdog || q.busy) && pthread_cond_timedwait(&q.cond, &q.lock, &end) != ETIMEDOUT)
                ;
        lost = q.n + q.dropped;
        q.quit = true;
        pthread_cond_broadcast(&q.cond);
        /* A sendmsg still blocked is interrupted, as often as it takes
         * (libsystemd tries a second send after a failed first). */
        while (!q.finished) {
                pthread_kill(q.thread, SIGRTMIN);
                deadline_after(&end, 10);
                pthread_cond_timedwait(&q.cond, &q.lock, &end);
        }
        pthread_mutex_unlock(&q.lock);
        pthread_join(q.thread, NULL);
        for (; q.n > 0; q.n--, q.head = (q.head + 1) % NOTIFY_QUEUE)
                free(q.queue[q.head]);
        q.started = q.quit = q.finished = q.watchdog = false;
        q.dropped = 0;
        if (lost > 0)
                log_warning("the service manager did not take %u sd_notify message%s (its socket was full)", lost,
                            lost == 1 ? "" : "s");
        return lost > 0 ? -EAGAIN : 0;
}

uint64_t notify_watchdog_interval_ms(void) {
        uint64_t usec = 0;

        if (!have_sd() || sd.watchdog_enabled(0, &usec) <= 0 || usec == 0)
                return 0;
        return usec / 2000u ? usec / 2000u : 1;
}

void notify_watchdog(void) {
        if (!have_sd())
                return;
        pthread_mutex_lock(&q.lock);
        if (!q.quit && start_sender()) {
                q.watchdog = true;
                pthread_cond_broadcast(&q.cond);
        }
        pthread_mutex_unlock(&q.lock);
}
