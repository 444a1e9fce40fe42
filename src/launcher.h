/* The launcher owns every lifetime: it builds the VM, the socket, the
 * plugin, runs the event loop, and tears down in reverse order on every
 * path.  In the loop it never returns early: trouble records a result,
 * starts the countdown and signals the plugin; at the deadline the plugin
 * is killed.
 *
 * Exit codes (DESIGN.md): 0 clean stop, 1 failure, 2 config (e.g. vcpus
 * above KVM's limit, found only once the device is open), 32 reset
 * requested (the plugin exited 32), 33 crash (plugin killed by a signal,
 * vCPU internal error). */
#pragma once

#include "config.h"
#include "monitor.h"

enum {
        EXIT_VM_OK = 0,
        EXIT_VM_FAILED = 1,
        EXIT_VM_CONFIG = 2,
        EXIT_VM_RESET = 32,
        EXIT_VM_CRASHED = 33,
};

/* What a requested stop may take beyond the countdown, teardown and the
 * last lines included. */
#define LAUNCHER_STOP_SLACK_MS 800u

struct launch_result {
        int exit_code;
        char reason[256];       /* in words, for the last line */
        char plugin_status[64]; /* "exited 0", "killed by SIGKILL", "not started" */
        /* When someone asked for the stop (a signal, the monitor): by when
         * the last lines must be out, so that the whole stop stays within
         * the countdown and one more second (CLOCK_MONOTONIC, usec); 0
         * when nobody waits on a deadline. */
        uint64_t drain_by_usec;
};

/* The seccomp policy the plugin gets: sandbox.seccomp_policy, or the
 * installed plugin.policy, or the source tree's. */
const char *launcher_default_policy(const struct vm_config *config);

/* Runs the VM to its end.  Always fills *res; returns res->exit_code. */
int launcher_run(const struct vm_config *config, struct monitor *mon, struct launch_result *res);
