/* Shared by the hostile-plugin suites: a jailed config under the default
 * policy, and the check every attack ends with: vmlaunch stayed
 * responsive, so SIGTERM ended the run within the countdown + 1 s. */
#pragma once

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vmrun.h"

/* The countdown every hostile run gets. */
#define HOSTILE_DEADLINE_MS 1000u

/* The path of hostile plugin `name`. */
static inline const char *hostile_plugin(const char *name) {
        static char path[512];

        snprintf(path, sizeof(path), "%s/%s", HOSTILE_PLUGIN_DIR, name);
        return path;
}

/* A config running `plugin` jailed (sandbox on, the default policy; a
 * sanitizer build's plugins need its superset) with `args` (libconfig
 * list items, may be "") and `extra` appended verbatim (may be ""). */
static inline const char *hostile_config(const char *plugin, const char *args, const char *extra) {
        static char buf[8192];

        snprintf(buf, sizeof(buf),
                 "name = \"hostile\";\n"
                 "shutdown_timeout_ms = %u;\n"
                 "plugin = {\n"
                 "  path = \"%s\";\n"
                 "  args = [ %s ];\n"
                 "%s"
                 "};\n"
                 "sandbox = { enabled = true; seccomp_policy = \"%s\"; };\n"
                 "%s\n",
                 HOSTILE_DEADLINE_MS, plugin, args, test_plugin_env(), TEST_SECCOMP_POLICY, extra);
        return buf;
}

static inline void hostile_dump(const struct vmrun *r) {
        fprintf(stderr, "--- status %d, %.3f s (signal at %.3f s)\n--- stdout (first 4 KiB):\n%.4096s\n"
                        "--- stderr (first 4 KiB):\n%.4096s\n---\n",
                r->status, r->seconds, r->signal_seconds, r->out, r->err);
}

/* The run was stopped by the signal that vmrun sent, within the
 * countdown and one more second. */
static inline void hostile_assert_stopped_in_time(const struct vmrun *r) {
        double took = r->seconds - r->signal_seconds;
        /* A sanitizer build's teardown runs several times slower (far more
         * on an emulated host): the bound still fails a stop the attack
         * starves, which takes without end. */
        double limit = HOSTILE_DEADLINE_MS / 1000.0 + (getenv("ASAN_OPTIONS") ? 5.0 : 1.0);

        if (r->signal_seconds <= 0 || took > limit)
                hostile_dump(r);
        ck_assert_msg(r->signal_seconds > 0, "no signal was sent");
        ck_assert_msg(took <= limit, "vmlaunch took %.3f s after the signal to exit (limit %.3f s)", took, limit);
}
