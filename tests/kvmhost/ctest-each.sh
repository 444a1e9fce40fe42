#!/bin/sh
# ctest-each.sh STATE BUILD TEST...: runs each TEST of BUILD's ctest alone,
# in order, skipping those STATE/done already lists.  Meant to run inside
# the kvmhost guest, where the guest itself may die mid-test: STATE lies
# in the work directory (shared with the host), so a guest booted again
# resumes at the test that was running.  A test that fails is run once
# more, and named in STATE/retried: the guest's CPUs are emulated (QEMU
# TCG), and a stall of the emulator (its soft lockups are seen on the
# console now and then) can push a timed check of the hostile tests past
# its bound (test_hostile_loop under ASan: 9 s to stop instead of 6 in
# one CI run, 36 s and a pass when run again).  A test that fails twice
# is named in STATE/failed and ends the run (exit 1); all passed: exit 0.
# Where /dev/kvm is real, tests/run.sh runs ctest directly, with no retry.
set -eu
[ $# -ge 2 ] || { echo "usage: ctest-each.sh STATE BUILD TEST..." >&2; exit 2; }
state=$1
build=$2
shift 2
mkdir -p "$state"
touch "$state/done"
for t in "$@"; do
        grep -qx "$t" "$state/done" && continue
        # Not echoed by the host: a test run again after the guest died
        # shows here twice.
        echo "ctest-each.sh: $t" >&2
        if ctest --test-dir "$build" --output-on-failure -R "^$t\$"; then
                echo "$t" >> "$state/done"
                sync
                continue
        fi
        echo "ctest-each.sh: $t failed in the emulated guest; running it once more" >&2
        echo "$t" >> "$state/retried"
        sync
        if ctest --test-dir "$build" --output-on-failure -R "^$t\$"; then
                echo "$t" >> "$state/done"
                sync
        else
                echo "$t" > "$state/failed"
                sync
                exit 1
        fi
done
