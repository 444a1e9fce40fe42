#!/bin/sh
# vmlaunch run by an ordinary user (nobody, uid 65534): the hello VM runs,
# jailed on an unprivileged user namespace; creating a tap, which needs
# root, fails saying so; a jail step the kernel refuses (an extra gid map)
# names the step, and nothing is left behind: no process, no directory.
# The test lends the user /dev/kvm and takes it back.  Needs root and
# /dev/kvm.  Usage: test_unprivileged.sh VMLAUNCH_BIN HELLO_PLUGIN POLICY
set -u
bin=$1 hello=$2 policy=$3
user=65534

. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "root is missing"
{ [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2> /dev/null; } || skip "/dev/kvm is missing"
command -v setpriv > /dev/null || skip "setpriv is missing"
# A clean environment, but a sanitizer build keeps its options.
as_user() {
        setpriv --reuid=$user --regid=$user --clear-groups env -i PATH=/usr/bin:/bin \
                ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} "$@"
}
for f in "$bin" "$hello" "$policy"; do
        as_user test -r "$f" || skip "uid $user cannot read $f (the build tree must be world-readable)"
done

dir=$(mktemp -d /tmp/vmlaunch-unpriv-XXXXXX)
chmod 755 "$dir"
kvm_owner=$(stat -c %u:%g /dev/kvm)
cleanup() {
        chown "$kvm_owner" /dev/kvm
        rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chown $user /dev/kvm

conf() {
        cat > "$dir/$1.conf"
        chmod 644 "$dir/$1.conf"
}
conf hello << EOC
name = "unpriv";
plugin = { path = "$hello"; };
sandbox = { enabled = true; seccomp_policy = "$policy"; };
EOC
conf tap << EOC
name = "unpriv-tap";
plugin = { path = "$hello"; };
sandbox = { seccomp_policy = "$policy"; };
network = { host_ip = "192.168.79.1"; netmask = "255.255.255.0"; mac = "de:21:e8:47:6b:6c"; };
EOC
conf gidmap << EOC
name = "unpriv-gid";
plugin = { path = "$hello"; gid_maps = ( { inner = 1; outer = 0; } ); };
sandbox = { seccomp_policy = "$policy"; };
EOC

# 1. The hello VM, jailed.
as_user "$bin" --headless -c "$dir/hello.conf" > "$dir/out" 2> "$dir/err"
st=$?
[ $st = 0 ] || { cat "$dir/err" >&2; fail "hello as uid $user: exit $st, want 0"; }
grep -q '"line":"Hello from the guest!"' "$dir/out" || fail "no greeting from the guest: $(cat "$dir/out")"
echo "test_unprivileged: the hello VM ran as uid $user" >&2

# 2. A tap to create: needs root, and says so.
as_user "$bin" --headless -c "$dir/tap.conf" > "$dir/out" 2> "$dir/err"
st=$?
[ $st = 1 ] || fail "tap as uid $user: exit $st, want 1"
grep -q "creating a tap needs root" "$dir/err" || fail "the tap error does not say it needs root: $(cat "$dir/err")"
echo "test_unprivileged: creating a tap is refused, saying it needs root" >&2

# 3. A gid map the kernel refuses: the step is named, nothing stays.
roots_before=$(ls -d /tmp/vmlaunch-root-* 2> /dev/null | wc -l)
as_user "$bin" --headless -c "$dir/gidmap.conf" > "$dir/out" 2> "$dir/err"
st=$?
[ $st = 1 ] || { cat "$dir/err" >&2; fail "gid map as uid $user: exit $st, want 1"; }
grep -q "gid_map" "$dir/err" || fail "the error does not name the gid map step: $(cat "$dir/err")"
[ "$(ls -d /tmp/vmlaunch-root-* 2> /dev/null | wc -l)" = "$roots_before" ] || fail "a private jail root was left in /tmp"
if pgrep -u $user > /dev/null; then
        pgrep -a -u $user >&2
        fail "processes of uid $user are left"
fi
echo "test_unprivileged: $(tail -n 1 "$dir/err")" >&2
echo "test_unprivileged: all checks passed"
