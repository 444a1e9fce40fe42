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
        # One guest per test: when the emulated guest dies, only that
        # test runs again.
        for t in $(ctest --test-dir "$dir" -N -L kvm | sed -n 's/^ *Test *#[0-9]*: //p'); do
                # Under the sanitizers, test_e2e's forty VMs starve the
                # emulated guest until its heartbeat stops (4 boots of 4
                # in a row): there it runs only where /dev/kvm is real.
                if [ "$dir" = build-asan ] && [ "$t" = test_e2e ]; then
                        echo "run.sh: $dir: $t needs a real /dev/kvm under the sanitizers; not run in the guest" >&2
                        continue
                fi
                in_kvm ctest --test-dir "$top/$dir" --output-on-failure -R "^$t\$"
        done
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
        for f in fuzz_main_request fuzz_vcpu_request fuzz_lane fuzz_config fuzz_elfdeps; do
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
