#!/bin/sh
# The hot path allocates nothing and makes no syscall beyond the pipe
# transfers, the KVM ioctls and the pollers' waits, in vmlaunch and in a
# plugin on the SDK alike.  The same VM runs twice, its guest making N1
# and then N2 round trips through the plugin (io_roundtrip: an `out`, a
# register read and a resume each); what the hot path costs per exit
# shows up as a difference that grows with N2 - N1:
#  - heap allocations, counted by valgrind in both processes
#    (--trace-children), must not differ by more than a handful;
#  - syscalls other than read, write, ioctl, poll and sched_yield,
#    counted by strace (--seccomp-bpf: the ones left out run untraced,
#    at full speed), must not grow by a quarter of N2 - N1;
#  - on the lane (lane.h, the default), read and write must not grow by
#    a quarter of N2 - N1 either: the messages move through shared
#    memory; with `lane = false` they must grow by at least N2 - N1 (the
#    pipes), which shows the count can tell the two apart.
# Sandbox off: valgrind 3.19 does not know the seccomp syscall.  Plain
# build only (ASan and valgrind exclude each other).  Needs /dev/kvm.
# Usage: test_hot_path.sh VMLAUNCH_BIN PLUGIN_DIR
set -u
bin=$1 plugins=$2

. "$(dirname "$0")/lib.sh"
{ [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2> /dev/null; } || skip "/dev/kvm is missing"
command -v valgrind > /dev/null || skip "valgrind is missing (apt-get install valgrind)"
command -v strace > /dev/null || skip "strace is missing (apt-get install strace)"

n1=200 n2=1200
# The kvmhost guest emulates its CPUs: fewer exits.
[ "${VMLAUNCH_KVMHOST:-}" = 1 ] && n1=20 n2=220
# A syscall on every other exit still shows; timing alone moved the
# count by under 10 here (epoll_wait, futex).
grow=$(( (n2 - n1) / 4 ))
# clock_gettime is no syscall where the vDSO reads the clock (the tsc and
# kvm-clock clocksources); where it cannot (the emulated kvmhost guest's
# hpet or acpi_pm) every call enters the kernel, which says nothing about
# the hot path, so it is left out of the count there.
untraced=read,write,ioctl,poll,sched_yield
case $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2> /dev/null) in
tsc | kvm-clock | hyperv_clocksource_tsc_page) ;;
*) untraced=$untraced,clock_gettime ;;
esac
# Without polling (VMLAUNCH_POLL_US=0, as the kvmhost guest sets) both
# ends of a lane sleep on its futex for every message: that is the lane's
# transfer, as read and write are the pipes'.
[ "${VMLAUNCH_POLL_US:-}" = 0 ] && untraced=$untraced,futex

dir=$(mktemp -d /tmp/vmlaunch-hot-path-XXXXXX)
trap 'rm -rf "$dir"' EXIT

for n in $n1 $n2; do
        printf 'plugin = { path = "%s"; args = [ "%s" ]; };\nsandbox = { enabled = false; };\n' \
                "$plugins/io_roundtrip" "$n" > "$dir/$n.conf"
        for lane in true false; do
                printf 'lane = %s;\n' $lane | cat "$dir/$n.conf" - > "$dir/$n.$lane.conf"
                strace -f --seccomp-bpf -c -o "$dir/rw.$n.$lane" -e trace='read,write' \
                        "$bin" --headless -c "$dir/$n.$lane.conf" > "$dir/rw.$n.$lane.out" 2> "$dir/rw.$n.$lane.err" ||
                        fail "$n round trips, lane = $lane, under strace: exit $?: $(tail -3 "$dir/rw.$n.$lane.err")"
        done
        valgrind --trace-children=yes --log-file="$dir/vg.$n.%p" "$bin" --headless -c "$dir/$n.conf" \
                > "$dir/vg.$n.out" 2> "$dir/vg.$n.err" ||
                fail "$n round trips under valgrind: exit $?: $(tail -3 "$dir/vg.$n.err")"
        strace -f --seccomp-bpf -c -o "$dir/st.$n" -e trace="!$untraced" \
                "$bin" --headless -c "$dir/$n.conf" > "$dir/st.$n.out" 2> "$dir/st.$n.err" ||
                fail "$n round trips under strace: exit $?: $(tail -3 "$dir/st.$n.err")"
done

# allocs N WHO: the "total heap usage" allocation count of the process
# whose command line starts with WHO, in the N-round-trip run.
allocs() {
        for f in "$dir/vg.$1".*; do
                case $f in *.out | *.err) continue ;; esac
                grep -q "Command: $2" "$f" || continue
                sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' "$f" | tr -d ,
                return
        done
}

for who in "$bin" "$plugins/io_roundtrip"; do
        a1=$(allocs $n1 "$who") a2=$(allocs $n2 "$who")
        if [ -z "$a1" ] || [ -z "$a2" ]; then
                fail "no heap summary from valgrind for $who"
        fi
        echo "heap allocations in ${who##*/}: $a1 with $n1 round trips, $a2 with $n2"
        [ $((a2 - a1)) -le 5 ] || fail "${who##*/} allocates on the hot path: $a1 -> $a2 allocations"
done

s1=$(awk '$NF == "total" { print $4 }' "$dir/st.$n1")
s2=$(awk '$NF == "total" { print $4 }' "$dir/st.$n2")
if [ -z "$s1" ] || [ -z "$s2" ]; then
        fail "no syscall summary from strace: $(cat "$dir/st.$n1")"
fi
echo "other syscalls in vmlaunch and the plugin: $s1 with $n1 round trips, $s2 with $n2"
if [ $((s2 - s1)) -ge $grow ]; then
        echo "--- with $n1:" >&2
        cat "$dir/st.$n1" >&2
        echo "--- with $n2:" >&2
        cat "$dir/st.$n2" >&2
        fail "syscalls beyond the pipes and KVM grow with the exits: $s1 -> $s2"
fi
# rw N LANE: read and write calls in the N-round-trip run.
rw() {
        awk '$NF == "total" { print $4 }' "$dir/rw.$1.$2"
}
for lane in true false; do
        r1=$(rw $n1 $lane) r2=$(rw $n2 $lane)
        [ -n "$r1" ] && [ -n "$r2" ] || fail "no read/write summary from strace (lane = $lane)"
        echo "read and write calls, lane = $lane: $r1 with $n1 round trips, $r2 with $n2"
        if [ $lane = true ] && [ $((r2 - r1)) -ge $grow ]; then
                cat "$dir/rw.$n2.$lane" >&2
                fail "on the lane, read and write still grow with the exits: $r1 -> $r2"
        fi
        if [ $lane = false ] && [ $((r2 - r1)) -lt $((n2 - n1)) ]; then
                cat "$dir/rw.$n2.$lane" >&2
                fail "on the pipes, read and write should grow by $((n2 - n1)) at least: $r1 -> $r2"
        fi
done
echo "test_hot_path: all checks passed"
