#!/bin/sh
# From a fresh Debian 12 machine, in a root shell (Debian installs no sudo;
# `su -` gives one): install the packages, build, and run the example VM
# (conf/hello.conf).  Where this machine has no usable /dev/kvm, the VM
# runs inside the kvmhost guest, which has one.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh --quick
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.cmake.log 2>&1 || { cat build.cmake.log; exit 1; }
cmake --build build -j "$(nproc)"
if [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
        exec ./build/vmlaunch -c conf/hello.conf "$@"
fi
if [ "$(id -u)" -ne 0 ]; then
        echo "run-example.sh: no usable /dev/kvm here, and the kvmhost guest needs root: run it from a root shell (su -)" >&2
        exit 1
fi
echo "run-example.sh: no /dev/kvm here; running the VM in the kvmhost guest" >&2
tests/kvmhost/setup.sh
exec tests/kvmhost/run-in-guest.sh ./build/vmlaunch -c conf/hello.conf "$@"
