#!/bin/sh
# vmlaunch under valgrind's memcheck, on the paths a run can take: a clean
# run, two vCPUs, a plugin crash, a plugin sending garbage, SIGTERM with a
# plugin that ignores it (killed at the deadline), protocol areas, a bad
# config.  Each case runs once plainly and once under valgrind; both must
# exit with the same status, and valgrind must report no error and no
# definite, indirect or possible leak (any makes it exit 99 instead).
#
# The sandbox is off: valgrind 3.19 does not know the seccomp syscall
# (317), so the jail's last step fails under it; the jail itself is
# covered by the ASan build.  Not added to sanitizer builds (ASan and
# valgrind exclude each other).  Needs /dev/kvm.
#
# Every case runs in the kvmhost guest too: all 16 took 187 s there, 11 s
# a case, inside ctest's 300 s.  VMLAUNCH_VALGRIND_SHORT=1 runs three
# (the clean run, a crash, a bad config) for a quick look; the result is
# then a skip that names the cases left unchecked, never a pass (under
# CI=true a skip fails).
# Usage: test_valgrind.sh VMLAUNCH_BIN PLUGIN_DIR HELLO_PLUGIN
set -u
bin=$1 plugins=$2 hello=$3

. "$(dirname "$0")/lib.sh"
# -c first: on a host without the node, the open would create a plain
# file named /dev/kvm.
{ [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2> /dev/null; } || skip "/dev/kvm is missing"
command -v valgrind > /dev/null || skip "valgrind is missing (apt-get install valgrind)"

dir=$(mktemp -d /tmp/vmlaunch-valgrind-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# case NAME SIGNAL_AFTER_S CONFIG_LINES: runs both ways, compares.
case_run() {
        name=$1 after=$2
        shift 2
        printf '%s\n' "$@" > "$dir/$name.conf"
        for how in plain valgrind; do
                if [ $how = valgrind ]; then
                        # One log per process, and only vmlaunch's is read:
                        # its forked helpers (the cgroup keeper, the VM's
                        # closer, a child before its exec) end with _exit
                        # and free nothing by design.  Not
                        # --child-silent-after-fork: with it, the plugin's
                        # child failed before its exec (exit 1, nothing
                        # run) in 5 of 16 runs in the kvmhost guest, and in
                        # none of 6 without it.
                        set -- valgrind -q \
                                --leak-check=full --show-leak-kinds=definite,indirect,possible \
                                --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
                                --log-file="$dir/$name.%p.vg"
                else
                        set --
                fi
                if [ "$after" = 0 ]; then
                        "$@" "$bin" --headless -c "$dir/$name.conf" > "$dir/$name.$how.out" 2> "$dir/$name.$how.err" &
                        pid=$!
                        wait $pid
                        st=$?
                else
                        "$@" "$bin" --headless -c "$dir/$name.conf" > "$dir/$name.$how.out" 2> "$dir/$name.$how.err" &
                        pid=$!
                        # Wait for the VM to run (valgrind is slow to get there), then signal.
                        for _ in $(seq 300); do
                                grep -q '"event":"running"' "$dir/$name.$how.out" 2> /dev/null && break
                                sleep 0.1
                        done
                        sleep "$after"
                        kill -TERM $pid
                        wait $pid
                        st=$?
                fi
                eval "st_$how=$st"
                [ $how = valgrind ] && { mv "$dir/$name.$pid.vg" "$dir/$name.vg" 2> /dev/null || true; }
        done
        # shellcheck disable=SC2154
        if [ "$st_valgrind" != "$st_plain" ]; then
                echo "--- $name: valgrind's report" >&2
                cat "$dir/$name.vg" >&2
                # The plugin's own lines are events on stdout in headless mode.
                echo "--- $name: the end of its stdout and stderr under valgrind" >&2
                tail -15 "$dir/$name.valgrind.out" >&2
                tail -15 "$dir/$name.valgrind.err" >&2
                fail "$name: exit $st_valgrind under valgrind, $st_plain without"
        fi
        [ -s "$dir/$name.vg" ] && fail "$name: valgrind reported: $(cat "$dir/$name.vg")"
        echo "ok: $name (exit $st_plain)"
}

nosb='sandbox = { enabled = false; };'
# Every case, in the order they run; run() adds each it ran to $ran.
all="hello two_vcpus crash bad_messages probe_irq probe_errors probe_ioevent probe_async probe_dirty
probe_state probe_regs probe_hint probe_pause sigterm deadline bad_config"
ran=
short=${VMLAUNCH_VALGRIND_SHORT:-0}
want() {
        [ "$short" != 1 ] && return 0
        case $1 in hello | crash | bad_config) return 0 ;; esac
        return 1
}
run() {
        want "$1" || return 0
        case_run "$@"
        ran="$ran $1"
}

run hello 0 "plugin = { path = \"$hello\"; };" "$nosb"
[ "$st_plain" = 0 ] || fail "hello exited $st_plain: $(tail -3 "$dir/hello.plain.err")"
run two_vcpus 0 'vcpus = 2;' "plugin = { path = \"$plugins/two_vcpus\"; };" "$nosb"
run crash 0 "plugin = { path = \"$plugins/crash\"; };" "$nosb"
run bad_messages 0 "plugin = { path = \"$plugins/bad_messages\"; };" "$nosb"
for mode in irq errors ioevent async dirty state regs hint; do
        want "probe_$mode" || continue
        run "probe_$mode" 0 "plugin = { path = \"$plugins/protocol_probe\"; args = [ \"$mode\" ]; };" "$nosb"
        [ "$st_plain" = 0 ] || fail "protocol_probe $mode exited $st_plain: $(tail -3 "$dir/probe_$mode.plain.err")"
done
run probe_pause 0 'vcpus = 2;' "plugin = { path = \"$plugins/protocol_probe\"; args = [ \"pause\" ]; };" "$nosb"
run sigterm 1 'vcpus = 2;' "plugin = { path = \"$plugins/busy\"; args = [ \"500\" ]; };" "$nosb"
run deadline 1 'shutdown_timeout_ms = 300;' "plugin = { path = \"$plugins/ignore_shutdown\"; };" "$nosb"
if want bad_config; then
        run bad_config 0 'vcpus = 0;' "plugin = { path = \"$hello\"; };"
        [ "$st_plain" = 2 ] || fail "a bad config exited $st_plain, want 2"
fi

total=$(echo $all | wc -w) n_ran=$(echo $ran | wc -w)
missing=
for c in $all; do
        case " $ran " in
        *" $c "*) ;;
        *) missing="$missing $c" ;;
        esac
done
# A pass claims every case: fewer is a skip that names what went unchecked
# (a failure under CI=true, like any skip).
[ -z "$missing" ] || skip "valgrind ran $n_ran of $total cases (clean:$ran); not run:$missing"
echo "test_valgrind: all $total cases passed"
