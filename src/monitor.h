/* What the launcher tells whoever watches the VM: the TUI, the headless
 * status stream, or plain logs.  Every callback runs on the main thread;
 * any may be NULL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vm_stats;

enum monitor_stream {
        MONITOR_STDOUT = 1,
        MONITOR_STDERR = 2,
};

enum monitor_action {
        MONITOR_ACTION_NONE,
        MONITOR_ACTION_STOP,    /* graceful: start the countdown */
        MONITOR_ACTION_KILL,    /* now */
};

struct monitor_info {
        const char *name;
        unsigned vcpus;
        pid_t plugin_pid;
        const char *tap;        /* NULL without a tap */
};

struct monitor {
        void *userdata;
        unsigned tick_ms;       /* 0: no tick */
        int input_fd;           /* watched for input when >= 0 (TUI keys) */
        bool shows_plugin_output;  /* the launcher need not log plugin lines */
        /* The monitor writes to stdout (headless).  When stdout's reader
         * goes away (a pipe's last reader closed it, a socket's peer shut
         * down) nobody sees the VM any more: the launcher stops it as on
         * SIGTERM. */
        bool writes_stdout;
        /* Written by the launcher before it calls stopping() and exited():
         * why the VM stops, in one machine-readable word (launcher.h,
         * LAUNCHER_CAUSE_*).  Never NULL in those calls. */
        const char *stop_cause;

        void (*started)(struct monitor *m, const struct monitor_info *info);
        void (*running)(struct monitor *m);     /* the vCPUs run */
        void (*plugin_output)(struct monitor *m, enum monitor_stream stream, const char *line, size_t len);
        /* Plugin lines over the output budget (output.h) were dropped:
         * `lines` lines of `bytes` bytes on `stream` since the last call. */
        void (*plugin_output_dropped)(struct monitor *m, enum monitor_stream stream, uint64_t lines,
                                      uint64_t bytes);
        void (*stopping)(struct monitor *m, const char *reason, uint64_t deadline_usec);
        /* Every tick_ms: the launcher's snapshot (stats.h), which stays
         * valid (and is updated in place) until `exited`. */
        void (*tick)(struct monitor *m, const struct vm_stats *stats);
        /* The vCPUs stopped for good: their final counters, once, after
         * stopping() and before exited().  Only when the VM was built. */
        void (*final_stats)(struct monitor *m, const struct vm_stats *stats);
        void (*resize)(struct monitor *m);
        enum monitor_action (*input)(struct monitor *m);
        void (*exited)(struct monitor *m, int exit_code, const char *reason, const char *plugin_status);
};

/* CLOCK_MONOTONIC in microseconds. */
uint64_t monitor_now_usec(void);
