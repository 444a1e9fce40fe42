/* A snapshot of what the VM is doing, for the monitors (TUI, headless
 * status, control clients): per-vCPU exit counters by kind, their totals,
 * exit rates, the VM's state and uptime.
 *
 * The counters are read from the vCPUs' lock-free slots (vcpu.h) without
 * a lock a vCPU needs; a snapshot is owned by whoever took it and is
 * touched on the main thread only. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>

#include "vcpu.h"

struct vm;

/* The VM as a monitor names it. */
enum stats_state {
        STATS_STARTING,         /* the plugin runs; it has not sent Start yet */
        STATS_RUNNING,
        STATS_PAUSED,           /* held by a control client (vm_hold_vcpus) */
        STATS_STOPPING,         /* the countdown runs */
        STATS_EXITED,
};

/* A rate is measured over at least this much time: a snapshot taken
 * sooner than that after the last measurement keeps the last rates. */
#define STATS_RATE_WINDOW_USEC 200000u

struct stats_vcpu {
        uint64_t count[_VCPU_STAT_MAX];
        uint64_t exits;         /* the sum of count */
        double rate;            /* exits per second over the last window */
};

struct vm_stats {
        enum stats_state state;
        uint64_t uptime_usec;   /* since the launcher began */
        unsigned n_vcpus;
        struct stats_vcpu *vcpus;       /* n_vcpus entries */
        struct stats_vcpu total;

        /* The rate window: when it began and each vCPU's exits then. */
        uint64_t window_usec;
        uint64_t *window_exits;
};

/* A snapshot for `n_vcpus` vCPUs, all zero.  0 or -ENOMEM. */
int stats_new(unsigned n_vcpus, struct vm_stats **ret);
void stats_free(struct vm_stats *s);

/* Reads every vCPU's counters (vm may be NULL: before the VM exists, the
 * counters stay zero), sums them, and measures the rates when the window
 * is full.  `state` and `uptime_usec` are the caller's (the launcher knows
 * them); `now_usec` is monitor_now_usec(). */
void stats_take(struct vm_stats *s, const struct vm *vm, enum stats_state state, uint64_t uptime_usec,
                uint64_t now_usec);

/* "starting", "running", "paused", "stopping", "exited". */
const char *stats_state_name(enum stats_state state);
/* The name of one counter in JSON and tables ("io_in", ..., "user",
 * "other"). */
const char *stats_counter_name(enum vcpu_stat k);

/* The snapshot as one JSON object, the same for the headless `stats`
 * event and `vmlaunch ctl NAME stats --json`:
 *   {"state": "running", "uptime_s": 1.5,
 *    "vcpus": [{"id": 0, "io_in": n, ..., "other": n, "exits": n, "rate": r}, ...],
 *    "total": {"io_in": n, ..., "exits": n, "rate": r}}
 * Counters are cumulative since the start; rates are exits per second.
 * "user" counts the User exits the plugin asked for (crosvm's
 * pause_vcpus): each one stops that vCPU until the plugin resumes it.
 * NULL on allocation failure. */
json_object *stats_json(const struct vm_stats *s);
/* Adds stats_json's members to `o` (for the stats event).  0 or -ENOMEM. */
int stats_json_into(const struct vm_stats *s, json_object *o);
