/* Tags for the event loop's epoll data: every registered source starts
 * with a struct loop_source, so one pointer says what became ready. */
#pragma once

enum loop_kind {
        LOOP_SIGNAL,            /* signalfd: SIGCHLD, SIGTERM, SIGINT, SIGHUP */
        LOOP_EXIT_EVENT,        /* a vCPU thread ended or set a stop reason */
        LOOP_PLUGIN_OUTPUT,     /* the plugin's stdout or stderr pipe */
        LOOP_CONNECTION,        /* a main-socket connection */
        LOOP_TIMER,             /* the countdown and the monitor tick */
        LOOP_INPUT,             /* the monitor's input (TUI keys) */
        LOOP_SINK,              /* stdout or stderr has room again (sink.h) */
        LOOP_SECCOMP,           /* the plugin's seccomp listener: a violation */
        LOOP_MONITOR_OUTPUT,    /* the monitor's output stream: its reader went away */
        LOOP_CONTROL,           /* the control socket or one of its clients (control.h) */
};

struct loop_source {
        enum loop_kind kind;
};
