#!/bin/sh
# The command line, without a VM: --help, --version, usage errors (exit 2),
# config errors (exit 2, one line each, nothing started), and a full
# config that round-trips through --check.
# Usage: test_cli.sh VMLAUNCH_BIN SOURCE_DIR
set -u
bin=$1 src=$2
dir=$(mktemp -d /tmp/vmlaunch-cli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"
expect() {      # expect STATUS CMD...
        want=$1
        shift
        "$@" > "$dir/out" 2> "$dir/err"
        got=$?
        [ "$got" = "$want" ] || fail "$* exited $got, want $want: $(cat "$dir/err")"
}

expect 0 "$bin" --help
grep -q -- "--headless" "$dir/out" || fail "--help does not list --headless"
expect 0 "$bin" --version
grep -q "API 0.22" "$dir/out" || fail "--version: $(cat "$dir/out")"
expect 2 "$bin"
grep -q "no config file" "$dir/err" || fail "no -c: $(cat "$dir/err")"
expect 2 "$bin" --bogus
expect 2 "$bin" -c "$dir/none.conf"
grep -q "none.conf" "$dir/err" || fail "missing file not named: $(cat "$dir/err")"

printf '#!/bin/sh\nexit 0\n' > "$dir/plugin"
chmod 755 "$dir/plugin"
mkdir "$dir/root" "$dir/share"
cat > "$dir/full.conf" << EOC
name = "full";
vcpus = 3;
hugepages = true;
kvm_device = "/dev/kvm";
shutdown_timeout_ms = 2500;
plugin = {
  path = "plugin";
  args = [ "--a", "b c", "quote\"d" ];
  root = "$dir/root";
  mounts = ( { src = "$dir/share"; dst = "/share"; writable = true; }, { src = "/usr"; } );
  gid_maps = ( { inner = 1000; outer = 1000; count = 2; } );
};
sandbox = { enabled = true; seccomp_policy = "$src/seccomp/x86_64/plugin.policy"; seccomp_log_failures = true; };
network = { host_ip = "192.168.50.1"; netmask = "255.255.255.0"; mac = "de:21:e8:47:6b:6a"; };
EOC
expect 0 "$bin" --check -c "$dir/full.conf"
cp "$dir/out" "$dir/printed.conf"
expect 0 "$bin" --check -c "$dir/printed.conf"
# The printed config describes the same VM (only the header comment differs).
grep -v '^# resolved' "$dir/printed.conf" > "$dir/a"
grep -v '^# resolved' "$dir/out" > "$dir/b"
cmp -s "$dir/a" "$dir/b" || fail "--check output does not round-trip: $(diff "$dir/a" "$dir/b")"
grep -q 'args = \[ "--a", "b c", "quote\\"d" \]' "$dir/printed.conf" || fail "args lost: $(cat "$dir/printed.conf")"

# Overrides, and errors from them.
expect 0 "$bin" --check -c "$dir/full.conf" --set vcpus=5 -s name=over
grep -q "vcpus = 5;" "$dir/out" && grep -q 'name = "over";' "$dir/out" || fail "--set not applied"
expect 2 "$bin" --check -c "$dir/full.conf" --set vcpus=lots
grep -q -- "--set vcpus=lots: vcpus: expected an integer" "$dir/err" || fail "bad --set: $(cat "$dir/err")"

# Malformed --set forms: exit 2 and one line naming the --set, never a
# crash (--set vcpus --set vcpus=0 was a SIGSEGV).
for bad in "vcpus" "=1" "vcpus=" ".x=1" "plugin.=1" "a.b.c=1" "plugin=1" "nope=1" "=" "" "plugin.env=A=1" \
           "limits=1" "limits.=1" "limits.nope=1" "lane=maybe" "vcpus=1e3" "limits.tasks=-1"; do
        expect 2 "$bin" --check -c "$dir/full.conf" --set "$bad"
        grep -q -- "--set $bad: " "$dir/err" || fail "--set '$bad': $(cat "$dir/err")"
done
expect 2 "$bin" --check -c "$dir/full.conf" --set vcpus --set vcpus=0
grep -q -- "--set vcpus: expected KEY=VALUE" "$dir/err" || fail "--set vcpus: $(cat "$dir/err")"
expect 2 "$bin" --check -c "$dir/full.conf" --set vcpus=2 --set vcpus=2
grep -q -- "--set vcpus=2: vcpus: already set by --set vcpus=2" "$dir/err" || fail "twice: $(cat "$dir/err")"
expect 2 "$bin" --check -c "$dir/full.conf" --set limits --set limits.tasks=0 --set =
[ "$(wc -l < "$dir/err")" = 2 ] || fail "want 2 error lines: $(cat "$dir/err")"

# Every scalar key conf/reference.conf documents: --set to its own
# documented value is accepted (issue 16).  The reference's plugin.path
# is relative to its directory, so a copy gets a plugin there.
mkdir -p "$dir/ref/conf" "$dir/ref/build/contrib/plugins"
cp "$src/conf/reference.conf" "$dir/ref/conf/"
cp "$dir/plugin" "$dir/ref/build/contrib/plugins/hello"
# KEY<TAB>VALUE<TAB>active|commented for each "key = scalar;" line, keys
# dotted with their groups (commented groups too).
awk '
{
        line = $0
        active = line !~ /^[ \t]*#/
        sub(/^[ \t]*(#[ \t]*)*/, "", line)
        if (line ~ /^[a-z_]+ = \{/) { split(line, w, " "); stack[++depth] = w[1]; next }
        if (line ~ /^\};/) { if (depth > 0) depth--; next }
        if (line !~ /^[a-z_]+ = [^[({]/) next
        key = line; sub(/ = .*/, "", key)
        value = line; sub(/^[a-z_]+ = /, "", value); sub(/;.*/, "", value)
        gsub(/^"|"$/, "", value)
        for (i = depth; i > 0; i--) key = stack[i] "." key
        printf "%s\t%s\t%s\n", key, value, active ? "active" : "commented"
}' "$dir/ref/conf/reference.conf" > "$dir/keys"
[ "$(grep -c 'active$' "$dir/keys")" -ge 17 ] || fail "too few keys found in reference.conf: $(cat "$dir/keys")"
for k in lane limits.tasks limits.memory_mib limits.irq_events plugin.path sandbox.enabled limits.cgroup_parent \
         network.host_ip network.tap_name sandbox.seccomp_base; do
        grep -q "^$k	" "$dir/keys" || fail "reference.conf walk missed $k: $(cat "$dir/keys")"
done
tab=$(printf '\t')
while IFS=$tab read -r key value state; do
        if [ "$state" = active ]; then
                expect 0 "$bin" --check -c "$dir/ref/conf/reference.conf" --set "$key=$value"
        else
                # A commented example may need what this machine lacks
                # (a file, its siblings); the key must still be one --set
                # takes.
                "$bin" --check -c "$dir/ref/conf/reference.conf" --set "$key=$value" > /dev/null 2> "$dir/err"
                ! grep -q "not a scalar key" "$dir/err" || fail "--set $key: $(cat "$dir/err")"
        fi
done < "$dir/keys"
expect 0 "$bin" --check -c "$dir/ref/conf/reference.conf" --set limits.memory_mib=4096 --set limits.tasks=0
grep -q "memory_mib = 4096;" "$dir/out" && grep -q "tasks = 0;" "$dir/out" || fail "limits not printed: $(cat "$dir/out")"
for k in nofile connections memory_regions guest_memory_mib ranges irq_events; do
        grep -q "^  $k = [0-9]*;" "$dir/out" || fail "--check does not print limits.$k: $(cat "$dir/out")"
done
grep -q "^  seccomp_base = true;" "$dir/out" || fail "--check does not print sandbox.seccomp_base: $(cat "$dir/out")"
expect 0 "$bin" --check -c "$dir/ref/conf/reference.conf" --set sandbox.seccomp_base=false
grep -q "^  seccomp_base = false;" "$dir/out" || fail "--set sandbox.seccomp_base=false: $(cat "$dir/out")"

# @include: relative to the config's directory wherever --check runs; an
# error inside an included file names it; a FIFO or a directory is
# refused naming the include and where it is, without blocking (libconfig
# itself would wait on the FIFO for a writer).
mkdir "$dir/inc" "$dir/inc/adir"
mkfifo "$dir/inc/fifo"
printf '#!/bin/sh\n' > "$dir/inc/plugin"
chmod 755 "$dir/inc/plugin"
printf 'plugin = { path = "plugin"; };\n@include "part.conf"\n' > "$dir/inc/top.conf"
printf '# part\nvcpus = 2;\n' > "$dir/inc/part.conf"
(cd / && "$bin" --check -c "$dir/inc/top.conf" > "$dir/out" 2> "$dir/err") || fail "relative @include: $(cat "$dir/err")"
grep -q "vcpus = 2;" "$dir/out" || fail "@include not applied: $(cat "$dir/out")"
printf '# part\nvcpus = 0;\n' > "$dir/inc/part.conf"
expect 2 "$bin" --check -c "$dir/inc/top.conf"
grep -q "^$dir/inc/part.conf:2: vcpus: must be between 1 and" "$dir/err" || fail "included error: $(cat "$dir/err")"
for what in fifo adir; do
        printf 'plugin = { path = "plugin"; };\n\n@include "%s"\n' "$what" > "$dir/inc/top.conf"
        expect 2 timeout 10 "$bin" --check -c "$dir/inc/top.conf"
        grep -q "top.conf:3: @include \"$what\": $dir/inc/$what: not a regular file" "$dir/err" ||
                fail "@include $what: $(cat "$dir/err")"
done

# A bad config: one line per problem, exit 2, and nothing started (the
# plugin would have left a file).
printf '#!/bin/sh\ntouch %s/started\n' "$dir" > "$dir/plugin2"
chmod 755 "$dir/plugin2"
printf 'vcpus = 0;\nbogus = 1;\nplugin = { path = "plugin2"; };\n' > "$dir/bad.conf"
expect 2 "$bin" --headless -c "$dir/bad.conf"
[ "$(wc -l < "$dir/err")" = 2 ] || fail "want 2 error lines: $(cat "$dir/err")"
grep -q "bad.conf:1: vcpus: must be between 1 and" "$dir/err" || fail "vcpus error: $(cat "$dir/err")"
grep -q "bad.conf:2: bogus: unknown key" "$dir/err" || fail "unknown key error: $(cat "$dir/err")"
[ ! -e "$dir/started" ] || fail "the plugin started despite a bad config"
# Headless, stdout still ends with the exited line, which carries the
# reason: the one line written.
[ "$(wc -l < "$dir/out")" = 1 ] || fail "want the exited line alone on stdout: $(cat "$dir/out")"
grep -q '^{"event":"exited",.*"exit_code":2,.*"reason":"config: .*bogus: unknown key.*vcpus: must be between' \
        "$dir/out" || fail "the exited line does not carry the config errors: $(cat "$dir/out")"
grep -q '"plugin":"not started","cause":"config"}$' "$dir/out" || fail "exited: plugin/cause: $(cat "$dir/out")"
# A usage error too, headless; with a terminal watching, nothing on stdout.
expect 2 "$bin" --headless -c "$dir/bad.conf" --stats-interval 0.001
grep -q '"event":"exited",.*"exit_code":2,.*"reason":"usage: --stats-interval' "$dir/out" ||
        fail "usage error, headless: $(cat "$dir/out")"

# --stats-interval takes fractions of a second, 0.01 .. 86400 or 0.
for v in 0.25 0.01 1 0 86400 1.5; do
        expect 0 "$bin" --check -c "$dir/ref/conf/reference.conf" --stats-interval "$v"
done
for v in 0.001 -1 abc 0.25s nan inf 86401 ''; do
        expect 2 "$bin" --check -c "$dir/ref/conf/reference.conf" --stats-interval "$v"
        grep -q -- "--stats-interval: expected seconds" "$dir/err" || fail "--stats-interval '$v': $(cat "$dir/err")"
done

# A bad seccomp policy is a config error too, under --check.
printf 'read: 1\nnope: 1\n' > "$dir/bad.policy"
expect 2 "$bin" --check -c "$dir/full.conf" --set sandbox.seccomp_policy="$dir/bad.policy"
grep -q "bad.policy:2: unknown syscall" "$dir/err" || fail "policy error: $(cat "$dir/err")"

# libsystemd is loaded only for a service manager (NOTIFY_SOCKET set; the
# e2e SIGTERM test checks that it then hears from vmlaunch).
env -u NOTIFY_SOCKET LD_DEBUG=libs "$bin" --check -c "$dir/full.conf" > /dev/null 2> "$dir/ld"
grep -q "calling init: .*libc.so" "$dir/ld" || fail "LD_DEBUG=libs gave no trace: $(head -3 "$dir/ld")"
! grep -q "libsystemd" "$dir/ld" || fail "libsystemd loaded without NOTIFY_SOCKET"
echo "test_cli: all checks passed"
