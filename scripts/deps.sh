#!/bin/sh
# Installs the Debian 12 packages vmlaunch needs to build, run and test.
# Idempotent; installing needs root (a fresh Debian has no sudo: run it
# from a root shell).  --quick does nothing, as any user, when every
# package is already installed.
set -eu

BUILD="cmake make gcc pkg-config
       libconfig-dev libprotobuf-c-dev protobuf-c-compiler libseccomp-dev
       libnl-3-dev libnl-route-3-dev libsystemd-dev libjson-c-dev
       libncurses-dev libelf-dev check"
# libncurses-dev carries ncursesw (the TUI's wide-character curses, for
# UTF-8); ncurses-base, which is essential, the vt100 entry a test uses.
# Tests: tmux drives the TUI test; clang and its runtime build the
# libFuzzer targets; valgrind checks for leaks; strace counts the hot
# path's syscalls; iproute2 checks the tap; man-db (with groff-base)
# renders the man pages; dpkg-dev (dpkg-shlibdeps) and file let CPack
# build the .deb.
TEST="tmux clang libclang-rt-dev valgrind strace iproute2 procps man-db groff-base dpkg-dev file"

missing=""
for p in $BUILD $TEST; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ] && [ "${1:-}" = "--quick" ]; then
        exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
        echo "deps.sh: installing${missing:- the packages} needs root: run it from a root shell (su -)" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $BUILD $TEST
