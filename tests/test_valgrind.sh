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
# Usage: test_valgrind.sh VMLAUNCH_BIN PLUGIN_DIR HELLO_PLUGIN
set -u
bin=$1 plugins=$2 hello=$3

. "$(dirname "$0")/lib.sh"
(exec 3<>/dev/kvm) 2> /dev/null || skip "/dev/kvm is missing"
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
                        # Silent after fork: vmlaunch's forked helpers (the
                        # cgroup keeper, the VM's closer, a child before its
                        # exec) end with _exit and free nothing by design.
                        set -- valgrind -q --child-silent-after-fork=yes \
                                --leak-check=full --show-leak-kinds=definite,indirect,possible \
                                --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
                                --log-file="$dir/$name.vg"
                else
                        set --
                fi
                if [ "$after" = 0 ]; then
                        "$@" "$bin" --headless -c "$dir/$name.conf" > "$dir/$name.$how.out" 2> "$dir/$name.$how.err"
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
        done
        # shellcheck disable=SC2154
        if [ "$st_valgrind" != "$st_plain" ]; then
                echo "--- $name: valgrind's report" >&2
                cat "$dir/$name.vg" >&2
                tail -5 "$dir/$name.valgrind.err" >&2
                fail "$name: exit $st_valgrind under valgrind, $st_plain without"
        fi
        [ -s "$dir/$name.vg" ] && fail "$name: valgrind reported: $(cat "$dir/$name.vg")"
        echo "ok: $name (exit $st_plain)"
}

nosb='sandbox = { enabled = false; };'
case_run hello 0 "plugin = { path = \"$hello\"; };" "$nosb"
[ "$st_plain" = 0 ] || fail "hello exited $st_plain: $(tail -3 "$dir/hello.plain.err")"
if [ "${VMLAUNCH_KVMHOST:-}" = 1 ]; then
        # The kvmhost guest emulates its CPUs: valgrind on top would take
        # the CI's whole budget.  The clean run, a crash and a bad config.
        echo "kvmhost guest: the short set"
        case_run crash 0 "plugin = { path = \"$plugins/crash\"; };" "$nosb"
        case_run bad_config 0 'vcpus = 0;' "plugin = { path = \"$hello\"; };"
        [ "$st_plain" = 2 ] || fail "a bad config exited $st_plain, want 2"
        echo "test_valgrind: all checks passed (short set)"
        exit 0
fi
case_run two_vcpus 0 'vcpus = 2;' "plugin = { path = \"$plugins/two_vcpus\"; };" "$nosb"
case_run crash 0 "plugin = { path = \"$plugins/crash\"; };" "$nosb"
case_run bad_messages 0 "plugin = { path = \"$plugins/bad_messages\"; };" "$nosb"
for mode in irq errors ioevent async dirty state regs hint; do
        case_run "probe_$mode" 0 "plugin = { path = \"$plugins/protocol_probe\"; args = [ \"$mode\" ]; };" "$nosb"
        [ "$st_plain" = 0 ] || fail "protocol_probe $mode exited $st_plain: $(tail -3 "$dir/probe_$mode.plain.err")"
done
case_run probe_pause 0 'vcpus = 2;' "plugin = { path = \"$plugins/protocol_probe\"; args = [ \"pause\" ]; };" "$nosb"
case_run sigterm 1 'vcpus = 2;' "plugin = { path = \"$plugins/busy\"; args = [ \"500\" ]; };" "$nosb"
case_run deadline 1 'shutdown_timeout_ms = 300;' "plugin = { path = \"$plugins/ignore_shutdown\"; };" "$nosb"
case_run bad_config 0 'vcpus = 0;' "plugin = { path = \"$hello\"; };"
[ "$st_plain" = 2 ] || fail "a bad config exited $st_plain, want 2"
echo "test_valgrind: all checks passed"
