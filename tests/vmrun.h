/* Runs the real vmlaunch binary on a config written to a temporary
 * directory, headless, and collects its exit status, its stdout (JSON
 * Lines) and its stderr.  Used by the end-to-end suites. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct vmrun {
        int status;             /* exit code, or 128+signal */
        char *out;              /* stdout, NUL-terminated */
        char *err;              /* stderr */
        double seconds;         /* wall time */
        double signal_seconds;  /* when the first signal was sent (0: never) */
        double hook_seconds;    /* when the hook ran, after it returned (0: never) */
        long vm_hwm_kib;        /* with sample_rss: vmlaunch's peak RSS (VmHWM) last seen */
        json_object **events;   /* every stdout line, parsed */
        size_t n_events;
        bool all_json;          /* every stdout line parsed */
};

struct vmrun_opts {
        const char *config;     /* config text; "@PLUGIN@" etc. are not expanded */
        const char *const *extra_args;  /* more vmlaunch arguments, NULL-terminated */
        int signal;             /* sent once the "running" event is seen (0: none) */
        int signal_again_ms;    /* > 0: the same signal again after this delay */
        int signal_delay_ms;    /* wait this long after "running" before the first */
        int timeout_s;          /* the run is killed after this (default 60) */
        const char *notify_socket;  /* NOTIFY_SOCKET for vmlaunch, or NULL */
        const char *watchdog_usec;  /* WATCHDOG_USEC for vmlaunch, or NULL */
        bool close_stdout;          /* vmlaunch's stdout is a pipe nobody reads */
        int stall_stdout_ms;        /* stdout is not read for this long after the start */
        /* The pipe stays open but is not read until vmlaunch has exited;
         * then what it holds is read.  (With stdout stalled, set
         * signal_when: the running event cannot be seen.) */
        bool stall_stdout_until_exit, stall_stderr_until_exit;
        /* With `signal`: send it when this shows in stdout or stderr,
         * instead of at the running event. */
        const char *signal_when;
        bool sample_rss;            /* sample vmlaunch's VmHWM while it runs */
        /* Called once, while vmlaunch runs, when `hook_when` first shows in
         * its stdout or stderr, with vmlaunch's pid. */
        const char *hook_when;
        void (*hook)(int pid, void *arg);
        void *hook_arg;
};

/* Runs; fails the test (ck_abort) on timeout.  `seconds` ends when
 * vmlaunch exits.  VMRUN_VMLAUNCH in the environment names another
 * vmlaunch binary to run (to measure an older build with the same test). */
void vmrun(const struct vmrun_opts *o, struct vmrun *ret);
void vmrun_free(struct vmrun *r);

/* The "time" of an event, in seconds. */
double vmrun_time(json_object *o);

/* The first event named `name`, or NULL. */
json_object *vmrun_event(const struct vmrun *r, const char *name, size_t nth);
const char *vmrun_str(json_object *o, const char *key);
/* True if some plugin_output line contains `needle`. */
bool vmrun_output_has(const struct vmrun *r, const char *needle);

/* A temporary directory for config files, removed at exit. */
const char *vmrun_tmpdir(void);
