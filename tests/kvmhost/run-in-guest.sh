#!/bin/sh
# run-in-guest.sh [--] CMD...: runs CMD as root inside a QEMU guest that has
# a real /dev/kvm (kvm_amd on QEMU's software SVM), with this machine's
# files visible read-only, the current directory's git top (or the current
# directory) read-write, and CMD's exit status as ours.  Output arrives on
# our stdout.  KVMHOST_TIMEOUT (default 900 s) bounds the run: 124 after.
set -eu

[ "${1:-}" = "--" ] && shift
[ $# -gt 0 ] || { echo "usage: run-in-guest.sh [--] CMD..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${KVMHOST_CACHE:-/var/cache/vmlaunch-kvmhost}
[ -f "$CACHE/vmlinuz" ] || "$here/setup.sh" >&2

# One guest at a time on this machine: two emulated guests starve each
# other's vCPUs into RCU stalls and both die.  A second run waits here.
lock=${KVMHOST_LOCK:-/run/lock/vmlaunch-kvmhost.lock}
mkdir -p "$(dirname "$lock")"
exec 9>"$lock"
if ! flock -n 9; then
        echo "run-in-guest.sh: waiting for another guest run to end ($lock)" >&2
        flock 9
fi

cwd=$(pwd)
work=$(git -C "$cwd" rev-parse --show-toplevel 2>/dev/null || echo "$cwd")
# One state directory per run: runs may overlap.
state="$work/.kvmhost/run-$$"
rm -rf "$state"
mkdir -p "$state"
# The command, quoted for the guest's shell, with the caller's CI setting.
{
        echo "export PATH='$PATH'"
        echo "export HOME=/root TERM=${TERM:-dumb}"
        # No polling on the vCPU pipes here: spinning threads on emulated
        # CPUs froze the guest (RCU stalls, no heartbeat) in 5 of 6 e2e
        # runs, against none without.  `env VMLAUNCH_POLL_US=N CMD` wins.
        echo "export VMLAUNCH_POLL_US=0"
        # Tests that would take too long on emulated CPUs trim themselves.
        echo "export VMLAUNCH_KVMHOST=1"
        # The settings tests and sanitizers read cross into the guest.
        for v in CI ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
                eval "val=\${$v:-}"
                [ -n "$val" ] && printf "export %s='%s'\n" "$v" "$val"
        done
        printf 'exec'
        for a in "$@"; do
                printf " '%s'" "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"
        done
        echo
} > "$state/cmd"

# The guest counts into $state/heartbeat every few seconds.  A guest whose
# count stands still for HUNG seconds has frozen (the emulator, not the
# command: a command that hangs is bounded by its own timeouts, e.g.
# ctest's) and is killed, which counts as the guest dying.
HUNG=${KVMHOST_HUNG:-120}
boot() {
        rm -f "$state/heartbeat"
        last=$(date +%s)
        beat=
        frozen=0
        qemu &
        qpid=$!
        while kill -0 "$qpid" 2>/dev/null; do
                sleep 2
                now=$(date +%s)
                b=$(cat "$state/heartbeat" 2>/dev/null || true)
                if [ "$b" != "$beat" ]; then
                        beat=$b
                        last=$now
                elif [ $((now - last)) -gt "$HUNG" ]; then
                        echo "run-in-guest.sh: no heartbeat from the guest for $((now - last)) s; killing it" >&2
                        frozen=1
                        pkill -TERM -P "$qpid" 2>/dev/null || true
                        kill "$qpid" 2>/dev/null || true
                        break
                fi
        done
        brc=0
        wait "$qpid" || brc=$?
        # A guest killed for freezing is not a timeout of the command.
        [ "$frozen" -eq 1 ] && brc=1
        return "$brc"
}
qemu() {
        timeout --foreground -k 5 "${KVMHOST_TIMEOUT:-900}" \
                qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "${KVMHOST_CPUS:-2}" -m "${KVMHOST_MEM:-2048}" \
                -display none -no-reboot -nodefaults -monitor none \
                -serial "file:$state/console.log" -serial stdio \
                -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.img" \
                -append "console=ttyS0 kvmhost.out=ttyS1 loglevel=4 panic=-1 softlockup_panic=1 sysctl.kernel.panic_on_rcu_stall=1 rcupdate.rcu_cpu_stall_timeout=60 kvm_amd.nested=0 kvmhost.work=$work kvmhost.state=$state kvmhost.cwd=$cwd" \
                -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
                -virtfs "local,path=$work,mount_tag=work,security_model=passthrough"
}
# The emulated guest itself may die (not the command): a kernel that
# panics (softlockup_panic, panic_on_rcu_stall; seen: "corrupted stack end
# detected inside scheduler" under nested SVM on TCG) or freezes (the
# heartbeat).  Its console is shown and it boots again, up to KVMHOST_BOOTS
# times in all (4), so an emulator hiccup is not taken for a test failure.
# RCU waits 60 s, not 21, before it calls a starved CPU a stall: on a
# host that is itself a VM, an emulated vCPU thread can go unscheduled
# that long (3 boots in a row died of it in one CI run) and still be fine.
qrc=0
boots=1
boot || qrc=$?
while [ ! -f "$state/status" ] && [ "$qrc" -ne 124 ] && [ "$boots" -lt "${KVMHOST_BOOTS:-4}" ]; do
        echo "run-in-guest.sh: the guest died without an exit status; its console:" >&2
        tail -n 40 "$state/console.log" >&2 2>/dev/null || true
        boots=$((boots + 1))
        echo "run-in-guest.sh: booting again ($boots of ${KVMHOST_BOOTS:-4})" >&2
        qrc=0
        boot || qrc=$?
done
[ "$qrc" -eq 124 ] && echo "run-in-guest.sh: timed out" >&2
if [ -f "$state/status" ]; then
        rc=$(cat "$state/status")
else
        echo "run-in-guest.sh: the guest left no exit status; its console:" >&2
        tail -n 40 "$state/console.log" >&2 2>/dev/null || true
        rc=1
fi
rm -rf "$state"
rmdir "$work/.kvmhost" 2>/dev/null || true
exit "$rc"
