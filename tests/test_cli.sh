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
[ ! -s "$dir/out" ] || fail "a status line was written for a config error: $(cat "$dir/out")"

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
