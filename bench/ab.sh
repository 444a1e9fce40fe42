#!/bin/sh
# A/B of the plugin I/O path between two builds, on a noisy machine: each
# round runs the bare KVM loop, then builds A and B, A first in odd
# rounds and B first in even ones (whichever runs second finds the
# caches, the CPU's clock and the other tenants in another state: the
# order must not favour one build), 30000 exits each, the I/O kind of
# bench_plugin.  The medians are taken of the rounds' own ratios, so a
# slow patch of the machine weighs on both sides of one ratio; the ratio
# of the medians follows for comparison.  Prints every round, then A and
# B against the bare loop, and B against A.
#
# Usage: bench/ab.sh BUILD_A BUILD_B [ROUNDS [KIND [CONFIG_LINES]]]
#   BUILD_A, BUILD_B  two CMake build directories (of two worktrees); the
#                     bare loop is BUILD_B's `bench_vmlaunch --bare`
#   ROUNDS            default 15
#   KIND              out (default), in, mmio, async, ioevent
#   CONFIG_LINES      more config, e.g. 'poll_us = 0;'
# Example, the working tree against its last commit:
#   git worktree add /tmp/base HEAD && cmake -S /tmp/base -B /tmp/base/build &&
#   cmake --build /tmp/base/build && bench/ab.sh /tmp/base/build build 21
set -eu
[ $# -ge 2 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
a=$1 b=$2 rounds=${3:-15} kind=${4:-out} extra=${5:-}
n=30000
dir=$(mktemp -d /tmp/vmlaunch-ab-XXXXXX)
trap 'rm -rf "$dir"' EXIT

# conf NAME BUILD: checks BUILD and writes NAME.conf for its bench_plugin.
conf() {
        if [ ! -x "$2/vmlaunch" ] || [ ! -x "$2/bench/bench_plugin" ]; then
                echo "ab.sh: $2: no vmlaunch or bench/bench_plugin (build it first)" >&2
                exit 2
        fi
        printf 'plugin = { path = "%s"; args = [ "%s", "-", "%s" ]; };\nsandbox = { enabled = false; };\n%s\n' \
                "$(realpath "$2/bench/bench_plugin")" $n "$kind" "$extra" > "$dir/$1.conf"
}
conf a "$a"
conf b "$b"

# per_exit BUILD CONF: microseconds per exit of one run.
per_exit() {
        "$1/vmlaunch" --headless -c "$2" 2> /dev/null |
                sed -n 's/.*bench: \([0-9]*\) exits in \([0-9]*\) ns.*/\1 \2/p' | head -1 |
                awk '{ printf "%.3f\n", $2 / $1 / 1000 }'
}

# median: of the numbers on stdin.
median() {
        sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "round  bare us  A us  B us  (first)"
for i in $(seq "$rounds"); do
        bare=$("$b/bench/bench_vmlaunch" --bare "$kind" $n)
        if [ $((i % 2)) = 1 ]; then
                first=A
                ta=$(per_exit "$a" "$dir/a.conf")
                tb=$(per_exit "$b" "$dir/b.conf")
        else
                first=B
                tb=$(per_exit "$b" "$dir/b.conf")
                ta=$(per_exit "$a" "$dir/a.conf")
        fi
        if [ -z "$ta" ] || [ -z "$tb" ]; then
                echo "ab.sh: a run gave no timing" >&2
                exit 1
        fi
        echo "$i $bare $ta $tb $first" | tee -a "$dir/rounds"
done
# column X: the numbers of column X of the rounds.
column() {
        awk -v x="$1" '{ print $x }' "$dir/rounds"
}
# ratio X Y NAME: the median of column X over column Y, then the ratio of
# the two columns' medians.
ratio() {
        mx=$(column "$1" | median) my=$(column "$2" | median)
        printf '%-8s %s  (ratio of medians %s)\n' "$3" \
                "$(awk -v x="$1" -v y="$2" '{ print $x / $y }' "$dir/rounds" | median)" \
                "$(awk -v mx="$mx" -v my="$my" 'BEGIN { print mx / my }')"
}
ratio 3 2 A/bare
ratio 4 2 B/bare
ratio 4 3 B/A
