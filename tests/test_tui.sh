#!/bin/sh
# The terminal monitor under tmux, for real: a busy 2-vCPU VM; the vCPU
# rows are there and their counters grow, the plugin's stderr line shows,
# a resize lays the screen out for the new width, `q` shows the countdown
# and vmlaunch exits 0, and the terminal is sane afterwards.  Needs
# /dev/kvm, root and tmux.
# Usage: test_tui.sh VMLAUNCH_BIN TEST_PLUGIN_DIR POLICY
set -u
bin=$1 plugins=$2 policy=$3

. "$(dirname "$0")/lib.sh"
command -v tmux > /dev/null || skip "tmux is missing"
{ [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2> /dev/null; } || skip "/dev/kvm is missing"
[ "$(id -u)" = 0 ] || skip "root is missing"

dir=$(mktemp -d /tmp/vmlaunch-tui-XXXXXX)
sock="$dir/tmux.sock"
cleanup() {
        timeout 10 tmux -S "$sock" kill-server 2> /dev/null
        rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() {
        echo "FAIL: $1" >&2
        echo "--- screen:" >&2
        timeout 10 tmux -S "$sock" capture-pane -p -t t >&2 2> /dev/null
        exit 1
}
cat > "$dir/vm.conf" << EOC
name = "tuitest";
vcpus = 2;
shutdown_timeout_ms = 5000;
plugin = { path = "$plugins/busy"; args = [ "500", "4000" ]; };
sandbox = { seccomp_policy = "$policy"; };
EOC

tmux -S "$sock" -f /dev/null new-session -d -s t -x 120 -y 40 \
        "sh -c 'timeout --foreground 100 $bin --tui -c $dir/vm.conf; echo \$? > $dir/status; stty -a > $dir/stty; sleep 30'"
# Bounded: a test that stalls must say where, not run into ctest's timeout.
cap() { timeout 10 tmux -S "$sock" capture-pane -p -t t; }
t0=$(date +%s)
step() { echo "test_tui: +$(($(date +%s) - t0)) s: $1" >&2; }
# screen_shows PATTERN SECONDS MESSAGE: waits for PATTERN on the screen,
# fails with MESSAGE when it has not shown within SECONDS.
screen_shows() {
        end=$(($(date +%s) + $2))
        until cap | grep -q "$1"; do
                [ "$(date +%s)" -lt "$end" ] || fail "$3"
                sleep 0.1
        done
}
step "started"
# Wait for both rows and a non-zero total.
for _ in $(seq 100); do
        cap | grep -q "busy: running" && cap | grep -qE "^ +1 +[0-9]" && break
        sleep 0.2
done
s1=$(cap)
step "both vCPU rows shown"
echo "$s1" | grep -q "tuitest" || fail "no header with the VM name"
echo "$s1" | grep -q "running" || fail "state is not running"
echo "$s1" | grep -qE "^ +0 +[0-9]" || fail "no row for vCPU 0"
echo "$s1" | grep -qE "^ +1 +[0-9]" || fail "no row for vCPU 1"
echo "$s1" | grep -q "busy: running" || fail "the plugin's stderr line is not shown"
total1=$(echo "$s1" | awk '$1 == "total" { print $9 }')
sleep 1.5
total2=$(cap | awk '$1 == "total" { print $9 }')
[ -n "$total1" ] && [ -n "$total2" ] && [ "$total2" -gt "$total1" ] ||
        fail "the exit counters do not grow ($total1 then $total2)"

step "counters grow"
# A resize is seen only if the layout follows it: the rule above the
# output pane spans the terminal's width (COLS), so after a resize it must
# be exactly the new width.  Without the resize handler ncurses keeps the
# old width: the rule stays 120 wide in a wider window (and wraps in a
# narrower one); the timer's redraws do not fix that.
rule_width() { cap | awk '/ output \(arrows/ { print length($0); exit }'; }
# resized COLS ROWS: resizes, then waits (bounded) for the rule to span COLS.
resized() {
        timeout 10 tmux -S "$sock" resize-window -t t -x "$1" -y "$2"
        end=$(($(date +%s) + 15))
        until [ "$(rule_width)" = "$1" ]; do
                [ "$(date +%s)" -lt "$end" ] ||
                        fail "after a resize to $1x$2 the output rule is $(rule_width) columns wide, want $1"
                sleep 0.1
        done
}
[ "$(rule_width)" = 120 ] || fail "the output rule is $(rule_width) columns wide in a 120-column window"
resized 80 24
s2=$(cap)
echo "$s2" | grep -q "tuitest" || fail "header lost after resize"
echo "$s2" | grep -qE "^ *total" || fail "totals row lost after resize"
[ "$(echo "$s2" | grep -c -- '------')" = 1 ] || fail "the output rule wrapped after a resize to 80 columns"
resized 150 40
cap | grep -qE "^ *total" || fail "totals row lost after widening"

step "resized"
timeout 10 tmux -S "$sock" send-keys -t t q
# The plugin lingers 4 s after the shutdown signal: the countdown shows
# (long enough for a capture on an emulated host, where one takes ~1 s).
screen_shows "SIGKILL in" 8 "no countdown after q"
step "stopping"
for _ in $(seq 100); do
        [ -f "$dir/stty" ] && break
        sleep 0.1
done
[ -f "$dir/status" ] || fail "vmlaunch did not exit after q"
[ "$(cat "$dir/status")" = 0 ] || fail "exit status $(cat "$dir/status"), want 0"
grep -q " echo" "$dir/stty" && grep -q " icanon" "$dir/stty" || fail "terminal not restored: $(cat "$dir/stty")"
cap | grep -q "exit 0" || fail "no final line on the restored terminal"
step "exited 0, terminal restored"

# The terminal hangs up under a running VM (an ssh session drops): the VM
# stops, the plugin is reaped and vmlaunch exits; nothing is left behind
# spinning on a dead tty.
timeout 10 tmux -S "$sock" kill-server 2> /dev/null
sed 's/tuitest/tuihup/' "$dir/vm.conf" > "$dir/hup.conf"
timeout 10 tmux -S "$sock" -f /dev/null new-session -d -s t -x 120 -y 40 \
        "sh -c 'timeout --foreground 100 $bin --tui -c $dir/hup.conf; sleep 30'"
screen_shows "busy: running" 20 "the second VM did not come up"
# The oldest such process is vmlaunch (its cgroup keeper is a fork with
# the same command line); its plugin is the child named busy.
vpid=$(pgrep -o -f "^$bin --tui -c $dir/hup.conf")
ppid=$(pgrep -P "$vpid" -x busy)
[ -n "$vpid" ] && [ -n "$ppid" ] || fail "no vmlaunch ($vpid) or plugin ($ppid) process"
step "second VM up (vmlaunch $vpid, plugin $ppid); hanging up its terminal"
timeout 10 tmux -S "$sock" kill-server 2> /dev/null
for _ in $(seq 100); do
        kill -0 "$vpid" 2> /dev/null || kill -0 "$ppid" 2> /dev/null || break
        sleep 0.1
done
if kill -0 "$vpid" 2> /dev/null || kill -0 "$ppid" 2> /dev/null; then
        ps -o pid,stat,pcpu,args -p "$vpid" -p "$ppid" >&2
        kill -9 "$vpid" "$ppid" 2> /dev/null
        echo "FAIL: vmlaunch or its plugin outlived the terminal by 10 s" >&2
        exit 1
fi
step "both gone after the hang-up"

# 64 vCPUs in a 40-line terminal: the rows scroll (j/k) and say which
# are shown; the totals row stays.
sed 's/vcpus = 2;/vcpus = 64;/; s/"500", "4000"/"20000"/; s/tuitest/tui64/' "$dir/vm.conf" > "$dir/64.conf"
timeout 10 tmux -S "$sock" -f /dev/null new-session -d -s t -x 120 -y 40 \
        "sh -c 'timeout --foreground 100 $bin --tui -c $dir/64.conf; sleep 30'"
screen_shows "rows 0-.* of 64" 30 "no scroll indicator for 64 vCPUs"
cap | grep -qE "^ *total" || fail "no totals row with 64 vCPUs"
timeout 10 tmux -S "$sock" send-keys -t t j j j
screen_shows "rows 3-.* of 64" 5 "j did not scroll the vCPU rows"
cap | grep -qE "^ +3 +[0-9]" || fail "vCPU 3 is not the first row after scrolling"
cap | grep -qE "^ +2 +[0-9]" && fail "vCPU 2 is still shown after scrolling past it"
timeout 10 tmux -S "$sock" send-keys -t t q
step "64 vCPUs scroll"
echo "test_tui: all checks passed"
