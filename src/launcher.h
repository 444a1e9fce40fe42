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

#include <linux/filter.h>
#include <stdio.h>

#include "config.h"
#include "monitor.h"

enum {
        EXIT_VM_OK = 0,
        EXIT_VM_FAILED = 1,
        EXIT_VM_CONFIG = 2,
        EXIT_VM_RESET = 32,
        EXIT_VM_CRASHED = 33,
};

/* Why a VM stopped, for machines (the `cause` of the headless stopping
 * and exited events; monitor.h stop_cause).  The reason in words says the
 * rest. */
#define LAUNCHER_CAUSE_SIGNAL "signal"          /* SIGTERM, SIGINT, SIGHUP */
#define LAUNCHER_CAUSE_MONITOR "monitor"        /* a key in the TUI, its terminal closed */
#define LAUNCHER_CAUSE_OUTPUT "output_closed"   /* stdout's reader went away (headless) */
#define LAUNCHER_CAUSE_PLUGIN_EXIT "plugin_exit" /* the plugin exited by itself */
#define LAUNCHER_CAUSE_PLUGIN_ERROR "plugin_error" /* the plugin broke the protocol */
#define LAUNCHER_CAUSE_VCPU_EXIT "vcpu_exit"    /* a vCPU ended (the guest halted or shut down) */
#define LAUNCHER_CAUSE_CRASH "crash"            /* plugin killed by a signal, vCPU internal error */
#define LAUNCHER_CAUSE_SECCOMP "seccomp"        /* the plugin broke its seccomp policy */
#define LAUNCHER_CAUSE_HANGUP "hangup"          /* no Start within start_timeout_ms */
#define LAUNCHER_CAUSE_WATCHDOG "watchdog"      /* a vCPU waited past vcpu_reply_timeout_ms */
#define LAUNCHER_CAUSE_CONTROL "control"        /* stop or kill over the control socket */
#define LAUNCHER_CAUSE_CONFIG "config"          /* a config error (exit 2) */
#define LAUNCHER_CAUSE_ERROR "error"            /* vmlaunch could not set up or run the VM */

/* How much longer the start timeout is when vmlaunch itself runs in a
 * virtual machine (launcher.c says why). */
#define LAUNCHER_NESTED_FACTOR 10u

/* What a requested stop may take beyond the countdown, teardown and the
 * last lines included. */
#define LAUNCHER_STOP_SLACK_MS 800u
/* How long the control clients get for the last lines at exit (within
 * the slack above). */
#define LAUNCHER_CONTROL_FLUSH_MS 200u
/* How long the last sd_notify messages may take to reach a manager whose
 * socket is full, at the end of a run (notify_close()). */
#define LAUNCHER_NOTIFY_FLUSH_MS 500u

struct launch_result {
        int exit_code;
        char reason[256];       /* in words, for the last line */
        char plugin_status[64]; /* "exited 0", "killed by SIGKILL", "not started" */
        const char *cause;      /* LAUNCHER_CAUSE_* */
        /* When someone asked for the stop (a signal, the monitor): by when
         * the last lines must be out, so that the whole stop stays within
         * the countdown and one more second (CLOCK_MONOTONIC, usec); 0
         * when nobody waits on a deadline. */
        uint64_t drain_by_usec;
};

/* The seccomp policy the plugin gets: sandbox.seccomp_policy, or else
 * (and for config NULL) the default plugin.policy: the one installed
 * beside this executable (../share/vmlaunch/ from its bin/), the source
 * tree's for a binary in the build tree, or the configured prefix's.  The
 * default is resolved once; the string is static. */
const char *launcher_default_policy(const struct vm_config *config);

/* The base every policy gets (seccomp/x86_64/base.policy), or NULL when
 * sandbox.seccomp_base is false: the installed one beside the installed
 * plugin.policy when it is there, else the source tree's.  The string is
 * static. */
const char *launcher_base_policy(const struct vm_config *config);

/* Compiles the plugin's filter: launcher_default_policy() with
 * launcher_base_policy() added (seccomp_policy_compile_with_base()).
 * -EINVAL for a bad policy, whose errors went to `errors`. */
int launcher_compile_policy(const struct vm_config *config, FILE *errors, struct sock_fprog *ret_prog);

/* Runs the VM to its end.  Always fills *res; returns res->exit_code. */
int launcher_run(const struct vm_config *config, struct monitor *mon, struct launch_result *res);
