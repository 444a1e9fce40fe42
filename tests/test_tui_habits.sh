#!/bin/sh
# The terminal monitor meets a terminal user's habits (issue 15, §1 and
# §4), under tmux with real VMs:
#   retained  after the TUI ends, the example's greeting and the exit line
#             stay on the terminal; a long run leaves its last screenful
#             and a note of how many lines came before;
#   layout    at 80x24 the header ends in the total and exits/s columns,
#             every table row is whole numbers, and the row indicator
#             sits on the separator, not on a number;
#   scroll    scrolled-back output stays put while new lines arrive;
#   keys      ? opens and closes the help, Esc closes it, F10 stops;
#   text      UTF-8 shows as UTF-8, escape bytes as '?', a long line
#             ends in the cut marker, stderr lines are red;
#   mono      on a terminal without colours stderr lines carry "! ".
# Every case runs whatever the others did, so one run shows every check
# that fails.  Needs /dev/kvm, root and tmux.
# Usage: test_tui_habits.sh VMLAUNCH_BIN TEST_PLUGIN_DIR POLICY HELLO_PLUGIN
set -u
bin=$1 plugins=$2 policy=$3 hello=$4

. "$(dirname "$0")/lib.sh"
command -v tmux > /dev/null || skip "tmux is missing"
{ [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2> /dev/null; } || skip "/dev/kvm is missing"
[ "$(id -u)" = 0 ] || skip "root is missing"

dir=$(mktemp -d /tmp/vmlaunch-tui-habits-XXXXXX)
sock="$dir/tmux.sock"
cleanup() {
        timeout 10 tmux -S "$sock" kill-server 2> /dev/null
        rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=0
t0=$(date +%s)
step() { echo "test_tui_habits: +$(($(date +%s) - t0)) s: $1" >&2; }
cap() { timeout 10 tmux -S "$sock" capture-pane -p -t t "$@"; }
keys() { timeout 10 tmux -S "$sock" send-keys -t t "$@"; }
fail() {
        echo "FAIL: $1" >&2
        echo "--- screen:" >&2
        cap >&2 2> /dev/null
        failures=$((failures + 1))
}
# wait_for PATTERN SECONDS MESSAGE: 0 once PATTERN shows, else a FAIL.
wait_for() {
        end=$(($(date +%s) + $2))
        until cap | grep -q -- "$1"; do
                [ "$(date +%s)" -lt "$end" ] || { fail "$3"; return 1; }
                sleep 0.2
        done
}
# wait_exit SECONDS MESSAGE: 0 once vmlaunch has exited (its status is in
# $dir/status), else a FAIL.
wait_exit() {
        end=$(($(date +%s) + $1))
        until [ -s "$dir/status" ]; do
                [ "$(date +%s)" -lt "$end" ] || { fail "$2"; return 1; }
                sleep 0.2
        done
}
# run COLS ROWS ENV CONF: vmlaunch's TUI in a fresh tmux window.
run() {
        timeout 10 tmux -S "$sock" kill-server 2> /dev/null
        # A server still going away would take the new session with it.
        for _ in $(seq 50); do
                [ -S "$sock" ] || break
                sleep 0.1
        done
        rm -f "$dir/status"
        tmux -S "$sock" -f /dev/null new-session -d -s t -x "$1" -y "$2" \
                "sh -c 'echo before; env $3 timeout --foreground 200 $bin --tui -c $4; echo \$? > $dir/status; sleep 100'"
}
# stop: q, and the exit; a VM left running is killed with its window.
stop() {
        [ -s "$dir/status" ] && return 0
        keys q
        wait_exit 30 "vmlaunch did not exit after q"
}
# The output pane: the rows between the separator and the bottom bar.
pane() { cap | sed -n '/^--/,$p' | sed '1d;$d'; }
last_tick() { cap | sed -n 's/^tui_lines: tick \([0-9]*\)$/\1/p' | tail -1; }
conf() {  # NAME VCPUS ARGS
        cat > "$dir/$1.conf" << EOC
name = "$1";
vcpus = $2;
shutdown_timeout_ms = 5000;
plugin = { path = "$plugins/tui_lines"; args = [ $3 ]; };
sandbox = { seccomp_policy = "$policy"; };
EOC
}

# --- retained: the example VM lives milliseconds; its greeting stays.
cat > "$dir/hello.conf" << EOC
name = "habits_hello";
vcpus = 1;
plugin = { path = "$hello"; };
sandbox = { seccomp_policy = "$policy"; };
EOC
run 100 30 LANG=C.UTF-8 "$dir/hello.conf"
if wait_exit 60 "the example VM did not end"; then
        s=$(cap)
        echo "$s" | grep -q "Hello from the guest!" || fail "the greeting is not left on the terminal after the TUI"
        echo "$s" | grep -q "^vmlaunch: exit 0: " || fail "no exit line after the TUI"
        echo "$s" | awk '/Hello from the guest!/ { g = NR } /^vmlaunch: exit 0: / { e = NR } END { exit !(g && e > g) }' ||
                fail "the exit line does not follow the greeting"
fi
step "retained: done"

# --- layout, scroll, keys: 12 vCPUs in 80x24, output arriving.
conf habits_lines 12 '"40", "300"'
run 80 24 LANG=C.UTF-8 "$dir/habits_lines.conf"
if wait_for "^tui_lines: tick" 90 "the 12-vCPU VM did not come up"; then
        s=$(cap)
        echo "$s" | grep -qE '^ *vCPU .* total +exits/s *$' ||
                fail "at 80x24 the header does not end in the total and exits/s columns"
        echo "$s" | grep -qE '^ *total( +[0-9][0-9.]*[kMGTPE]?)+ *$' ||
                fail "at 80x24 the totals row is not all numbers"
        cols=$(echo "$s" | awk '$1 == "total" { print NF }')
        rows=$(echo "$s" | grep -cE "^ +[0-9]+( +[0-9][0-9.]*[kMGTPE]?){$((${cols:-2} - 1))} *$")
        [ "$rows" -ge 5 ] || fail "at 80x24 fewer than 5 whole vCPU rows ($rows) of $cols columns"
        echo "$s" | grep -qE '^-.* rows 0-[0-9]+ of 12 ' || fail "the row indicator is not on the separator"
        step "layout: done"

        n1=$(last_tick)
        keys PPage
        sleep 1
        p1=$(pane)
        sleep 2.5
        p2=$(pane)
        echo "$p1" | grep -q "^tui_lines: " || fail "no output lines in the pane after PgUp"
        [ "$p1" = "$p2" ] || fail "the scrolled-back output moved while lines arrived: $p1 /// $p2"
        keys End
        sleep 1
        n2=$(last_tick)
        [ "${n2:-0}" -gt "${n1:-0}" ] || fail "no new lines arrived during the scroll check ($n1 then $n2)"
        step "scroll: done"

        keys '?'
        wait_for "close this help" 10 "? does not open the help"
        keys '?'
        sleep 1.5
        cap | grep -q "close this help" && fail "? does not close the help"
        keys '?'
        wait_for "close this help" 10 "? does not open the help a second time"
        keys Escape
        sleep 1.5
        cap | grep -q "close this help" && fail "Esc does not close the help"
        keys F10
        wait_exit 30 "F10 does not stop the VM"
        [ "$(cat "$dir/status" 2> /dev/null)" = 0 ] || fail "exit status after F10: $(cat "$dir/status" 2> /dev/null)"
        step "keys: done"

        s=$(cap)
        echo "$s" | grep -qE '^\[vmlaunch: [0-9]+ earlier lines of output not shown\]$' ||
                fail "no note of the lines before the retained screenful"
        echo "$s" | grep -qE '^tui_lines: tick [0-9]+$' || fail "the last output lines are not left on the terminal"
        echo "$s" | grep -q "^vmlaunch: exit 0: " || fail "no exit line after the long run"
        step "retained screenful: done"
fi
stop

# --- text: UTF-8, escapes, cut marker, stderr in colour.
conf habits_text 1 '"3", "0"'
run 120 50 LANG=C.UTF-8 "$dir/habits_text.conf"
if wait_for "tui_lines: on stderr" 60 "the text VM did not come up"; then
        s=$(cap)
        echo "$s" | grep -qF "tui_lines: utf-8 grüße ✓ 日本語 end" || fail "the UTF-8 line is not shown as UTF-8"
        echo "$s" | grep -qF "tui_lines: escape ?[31mred?[0m end" || fail "escape bytes are not neutralised"
        echo "$s" | grep -qE '^tui_lines: long x{80,}…$' || fail "the long line does not end in the cut marker"
        cap -e | grep -q "$(printf '\033')\[31mtui_lines: on stderr" || fail "the stderr line is not red"
        cap -e | grep -q "$(printf '\033')\[31mtui_lines: filler" && fail "a stdout line is red"
        stop
        cap | grep -qF "tui_lines: utf-8 grüße ✓ 日本語 end" || fail "the UTF-8 line is not left as UTF-8 on exit"
        cap -e | grep -q "$(printf '\033')\[31mtui_lines: on stderr" || fail "the stderr line is not left red on exit"
        step "text: done"
fi
stop

# --- mono: no colours on a vt100; a marker instead.
conf habits_mono 1 '"3", "0"'
run 100 40 "TERM=vt100 LANG=C" "$dir/habits_mono.conf"
if wait_for "tui_lines: on stderr" 60 "the vt100 VM did not come up"; then
        s=$(cap)
        echo "$s" | grep -q '^! tui_lines: on stderr$' || fail "no stderr marker without colours"
        echo "$s" | grep -q '^  tui_lines: filler 1$' || fail "stdout lines do not line up with the marked ones"
        echo "$s" | grep -q '^! tui_lines: filler' && fail "a stdout line carries the stderr marker"
        stop
        # No alternate screen on a vt100: the last frame stays above what
        # is left on exit, so the marked line shows twice.
        [ "$(cap -S - | grep -c '^! tui_lines: on stderr$')" -ge 2 ] || fail "the stderr line is not left marked on exit"
        step "mono: done"
fi
stop

[ "$failures" = 0 ] || { echo "test_tui_habits: $failures checks failed" >&2; exit 1; }
echo "test_tui_habits: all checks passed"
