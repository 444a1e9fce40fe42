#!/bin/sh
# The whole test suite, from a fresh Debian 12 machine (run as root):
# installs the packages, builds twice (plain, then ASan+UBSan), runs every
# ctest label, and fuzzes each decoder for a bounded time.
#
# Tests needing /dev/kvm run here when the machine has it, otherwise inside
# the kvmhost guest (tests/kvmhost), which has a real one.  With CI=true a
# test whose requirement is missing fails instead of skipping.
#
# FUZZ_SECONDS (default 60) bounds each fuzzer; 0 skips fuzzing.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc)

scripts/deps.sh --quick

# Opening the node fails (ENODEV) where no KVM driver is bound to it.
have_kvm() {
        [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null
}
if have_kvm; then
        in_kvm() { "$@"; }
else
        echo "run.sh: no usable /dev/kvm here; the KVM tests run in the kvmhost guest" >&2
        tests/kvmhost/setup.sh
        in_kvm() { tests/kvmhost/run-in-guest.sh "$@"; }
fi

build() {
        dir=$1
        shift
        cmake -S . -B "$dir" "$@" > "$dir.cmake.log" 2>&1 || { cat "$dir.cmake.log"; exit 1; }
        cmake --build "$dir" -j "$jobs"
}

suite() {
        dir=$1
        echo "=== $dir: unit and root tests" >&2
        ctest --test-dir "$dir" --output-on-failure -LE kvm
        echo "=== $dir: KVM tests" >&2
        if have_kvm; then
                ctest --test-dir "$dir" --output-on-failure -L kvm
                return
        fi
        tests=$(ctest --test-dir "$dir" -N -L kvm | sed -n 's/^ *Test *#[0-9]*: //p')
        # One guest for them all, each test alone in it.  When the guest
        # dies (the emulator, not a test), run-in-guest.sh boots it again
        # and ctest-each.sh resumes at the test that was running; after
        # run-in-guest.sh's own boots run out, another run follows as
        # long as the last one got at least one test further.
        state="$top/$dir/kvmhost-tests"
        rm -rf "$state"
        done_before=0
        while :; do
                rc=0
                # shellcheck disable=SC2086
                env KVMHOST_TIMEOUT="${KVMHOST_TIMEOUT:-3600}" tests/kvmhost/run-in-guest.sh \
                        tests/kvmhost/ctest-each.sh "$state" "$top/$dir" $tests || rc=$?
                [ "$rc" -eq 0 ] && break
                [ ! -f "$state/failed" ] || { echo "run.sh: $dir: $(cat "$state/failed") failed" >&2; exit 1; }
                done_now=$(wc -l < "$state/done" 2>/dev/null || echo 0)
                if [ "$done_now" -le "$done_before" ]; then
                        echo "run.sh: $dir: the guest died again and again; no further test passed" >&2
                        exit 1
                fi
                done_before=$done_now
        done
        if [ -s "$state/retried" ]; then
                echo "run.sh: $dir: passed on a second run in the emulated guest: $(sort -u "$state/retried" | tr '\n' ' ')" >&2
        fi
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
suite build

build build-asan -DCMAKE_BUILD_TYPE=Debug -DVMLAUNCH_SANITIZE=ON
# handle_segv=0: the crash test's plugin must die of its SIGSEGV, not exit 1.
export ASAN_OPTIONS=detect_leaks=1:handle_segv=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suite build-asan
unset ASAN_OPTIONS UBSAN_OPTIONS

if [ "${FUZZ_SECONDS:-60}" -gt 0 ]; then
        build build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DVMLAUNCH_FUZZ=ON -DBUILD_TESTING=OFF
        # The request fuzzers drive a real VM; the others need no KVM and
        # run here.
        for f in fuzz_main_request fuzz_vcpu_request fuzz_lane fuzz_config fuzz_elfdeps fuzz_control; do
                echo "=== fuzzing $f for ${FUZZ_SECONDS:-60} s" >&2
                mkdir -p "build-fuzz/corpus-$f"
                case $f in
                fuzz_*_request) run=in_kvm ;;
                *) run= ;;
                esac
                $run "$top/build-fuzz/tests/fuzz/$f" -max_total_time="${FUZZ_SECONDS:-60}" \
                        -max_len=4096 -timeout=10 -artifact_prefix="$top/build-fuzz/" "$top/build-fuzz/corpus-$f"
        done
fi
echo "run.sh: all tests passed" >&2
