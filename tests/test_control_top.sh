#!/bin/sh
# `vmlaunch top NAME` under tmux: the monitor attached to a VM started
# headless shows its header and counters; q detaches and the VM runs on;
# K once only asks, K again stops the VM (exit 0, the stop's reason names
# the control socket).  Needs /dev/kvm, root and tmux.
# Usage: test_control_top.sh VMLAUNCH_BIN TEST_PLUGIN_DIR POLICY
set -u
bin=$1 plugins=$2 policy=$3

. "$(dirname "$0")/lib.sh"
command -v tmux > /dev/null || skip "tmux is missing"
{ [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2> /dev/null; } || skip "/dev/kvm is missing"
[ "$(id -u)" = 0 ] || skip "root is missing"

dir=$(mktemp -d /tmp/vmlaunch-top-XXXXXX)
sock="$dir/tmux.sock"
vm=
cleanup() {
        timeout 10 tmux -S "$sock" kill-server 2> /dev/null
        [ -n "$vm" ] && kill -9 "$vm" 2> /dev/null
        rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
        echo "FAIL: $1" >&2
        echo "--- screen:" >&2
        timeout 10 tmux -S "$sock" capture-pane -p -t t >&2 2> /dev/null
        echo "--- vmlaunch stderr:" >&2
        cat "$dir/err" >&2
        exit 1
}
cap() { timeout 10 tmux -S "$sock" capture-pane -p -t t; }
screen_shows() {
        end=$(($(date +%s) + $2))
        until cap | grep -qE "$1"; do
                [ "$(date +%s)" -lt "$end" ] || fail "$3"
                sleep 0.2
        done
}
top_session() {
        timeout 10 tmux -S "$sock" kill-server 2> /dev/null
        rm -f "$dir/top-status"
        timeout 10 tmux -S "$sock" -f /dev/null new-session -d -s t -x 120 -y 40 \
                "sh -c 'timeout --foreground 200 $bin top ctl-top 2> $dir/top-err; echo \$? > $dir/top-status; sleep 60'"
}
wait_file() {
        for _ in $(seq 300); do
                [ -s "$1" ] && return 0
                sleep 0.1
        done
        return 1
}

cat > "$dir/vm.conf" << EOC
name = "ctl-top";
vcpus = 2;
shutdown_timeout_ms = 5000;
plugin = { path = "$plugins/busy"; args = [ "1000" ]; };
sandbox = { seccomp_policy = "$policy"; };
EOC
"$bin" --headless -c "$dir/vm.conf" > "$dir/out" 2> "$dir/err" &
vm=$!
for _ in $(seq 600); do
        "$bin" ctl ctl-top status 2> /dev/null | grep -q "running" && break
        kill -0 "$vm" 2> /dev/null || fail "vmlaunch ended early"
        sleep 0.2
done
"$bin" ctl ctl-top status | grep -q running || fail "the VM never ran"

top_session
screen_shows "ctl-top" 60 "no header with the VM name"
screen_shows "^ *total" 30 "no totals row"
screen_shows "^ +1 +[0-9]" 30 "no row for vCPU 1"
total1=$(cap | awk '$1 == "total" { print $9 }')
sleep 2
total2=$(cap | awk '$1 == "total" { print $9 }')
[ -n "$total1" ] && [ -n "$total2" ] && [ "$total2" -gt "$total1" ] ||
        fail "the attached counters do not grow ($total1 then $total2)"

timeout 10 tmux -S "$sock" send-keys -t t q
wait_file "$dir/top-status" || fail "top did not end after q"
[ "$(cat "$dir/top-status")" = 0 ] || fail "top exit status $(cat "$dir/top-status") after q, want 0"
grep -q "detached" "$dir/top-err" || fail "top did not say it detached: $(cat "$dir/top-err")"
kill -0 "$vm" 2> /dev/null || fail "the VM ended when top detached"
"$bin" ctl ctl-top status | grep -q running || fail "the VM is not running after the detach"

top_session
screen_shows "^ *total" 60 "no totals row on the second attach"
timeout 10 tmux -S "$sock" send-keys -t t K
screen_shows "press K again" 20 "K did not ask for a confirmation"
sleep 1
kill -0 "$vm" 2> /dev/null || fail "one K stopped the VM"
timeout 10 tmux -S "$sock" send-keys -t t K
wait "$vm"
st=$?
vm=
[ "$st" = 0 ] || fail "the VM exited $st after K K, want 0"
grep -q "stop requested over the control socket" "$dir/out" || fail "the stop's reason does not name the control socket"
wait_file "$dir/top-status" || fail "top did not end with the VM"
[ "$(cat "$dir/top-status")" = 0 ] || fail "top exit status $(cat "$dir/top-status") when the VM exited, want 0"
echo "test_control_top: all checks passed"
