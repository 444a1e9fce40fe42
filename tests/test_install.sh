#!/bin/bash
# The installed tree, as a user gets it from `cmake --install build
# --prefix P`: every file in place; the installed vmlaunch uses the policy
# installed with it, also after the tree moves, and the example config
# the installed example plugin; the SDK's pkg-config file
# builds the example plugin from P alone (no other .pc visible); both man
# pages render without a warning and document every key of
# conf/reference.conf, every exit status and every event; the bash
# completion loads without bash-completion and completes options,
# subcommands, ctl commands and VM names (with and without `vmlaunch
# list`); log lines carry journald priorities only when stderr is the
# journal.  With --run, also runs the installed example VM (needs KVM).
# Usage: test_install.sh BUILD_DIR SOURCE_DIR [--run]
set -u
build=$1 src=$2 run=${3:-}
dir=$(mktemp -d /tmp/vmlaunch-install-XXXXXX)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/lib.sh"

if [ "$run" = --run ]; then
        [ "$(id -u)" = 0 ] || skip "root (the jail's gid maps)"
        [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null || skip "a usable /dev/kvm"
fi
command -v man > /dev/null || skip "man (man-db) to render the pages"
command -v pkg-config > /dev/null || skip "pkg-config"

P=$dir/prefix
cmake --install "$build" --prefix "$P" > "$dir/install.log" 2>&1 || fail "cmake --install: $(cat "$dir/install.log")"

for f in bin/vmlaunch include/crosvm.h lib/libcrosvm_plugin.so lib/libcrosvm_plugin.so.0 \
        lib/pkgconfig/crosvm_plugin.pc lib/systemd/system/vmlaunch@.service \
        share/vmlaunch/seccomp/x86_64/plugin.policy share/man/man1/vmlaunch.1 share/man/man5/vm.conf.5 \
        share/bash-completion/completions/vmlaunch share/vmlaunch/examples/hello.conf \
        share/vmlaunch/examples/reference.conf share/vmlaunch/examples/plugin/hello.c \
        share/vmlaunch/examples/plugin/guest.c share/vmlaunch/examples/plugin/guest.h \
        libexec/vmlaunch/hello; do
        [ -e "$P/$f" ] || fail "not installed: $f"
done
[ -L "$P/lib/libcrosvm_plugin.so" ] || fail "libcrosvm_plugin.so is not the development symlink"
for p in "$src"/seccomp/x86_64/*.policy; do
        cmp -s "$p" "$P/share/vmlaunch/seccomp/x86_64/${p##*/}" || fail "policy not installed: ${p##*/}"
done
unit=$P/lib/systemd/system/vmlaunch@.service
grep -q "^ExecStart=$P/bin/vmlaunch .*-c /etc/vmlaunch/%i.conf" "$unit" || fail "the unit does not run $P/bin/vmlaunch: $(grep Exec "$unit")"
grep -q "^RestartForceExitStatus=32" "$unit" || fail "the unit does not restart on a reset (32)"

# The installed binary uses the installed policy; a moved tree its new place.
check_policy() {        # check_policy PREFIX CONFIG
        "$1/bin/vmlaunch" --check -c "$2" > "$dir/check" 2> "$dir/err" ||
                fail "--check of the installed example: $(cat "$dir/err")"
        grep -qxF "  # seccomp_policy (default) = \"$1/share/vmlaunch/seccomp/x86_64/plugin.policy\";" "$dir/check" ||
                fail "--check under $1 does not name $1's policy: $(grep -i policy "$dir/check")"
}
check_policy "$P" "$P/share/vmlaunch/examples/hello.conf"
grep -qxF "  path = \"$P/libexec/vmlaunch/hello\";" "$dir/check" ||
        fail "the installed example does not run the installed plugin: $(grep path "$dir/check")"
mv "$P" "$dir/moved"
printf 'plugin = { path = "%s"; };\n' "$dir/moved/libexec/vmlaunch/hello" > "$dir/moved.conf"
check_policy "$dir/moved" "$dir/moved.conf"
mv "$dir/moved" "$P"

# The SDK from P alone: README's "Writing a plugin", the rpath included.
mkdir "$dir/plugin"
cp "$P"/share/vmlaunch/examples/plugin/* "$dir/plugin/"
(
        cd "$dir/plugin" || exit 1
        export PKG_CONFIG_LIBDIR="$P/lib/pkgconfig" PKG_CONFIG_PATH=
        # shellcheck disable=SC2046
        cc hello.c guest.c $(pkg-config --cflags --libs crosvm_plugin) \
                -Wl,-rpath,"$(pkg-config --variable=libdir crosvm_plugin)" -o hello
) > "$dir/cc.log" 2>&1 || fail "building the example against $P: $(cat "$dir/cc.log")"
ldd "$dir/plugin/hello" | grep -q "libcrosvm_plugin.so.0 => $P/" ||
        fail "the example does not load $P's SDK: $(ldd "$dir/plugin/hello")"

# The man pages: no warnings, and everything they must document.
for page in share/man/man1/vmlaunch.1 share/man/man5/vm.conf.5; do
        LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$P/$page" > "$dir/${page##*/}.txt" 2> "$dir/man.err" ||
                fail "man $page failed: $(cat "$dir/man.err")"
        [ ! -s "$dir/man.err" ] || fail "man $page warns: $(cat "$dir/man.err")"
done
keys=$(sed -n 's/^[[:space:]]*#\{0,1\}[[:space:]]*\([a-z_][a-z_]*\) = .*/\1/p' "$src/conf/reference.conf" | sort -u)
[ "$(echo "$keys" | wc -l)" -gt 30 ] || fail "too few keys read from reference.conf: $keys"
for k in $keys start_timeout_ms vcpu_reply_timeout_ms seccomp_base enabled socket; do
        grep -qw -- "$k" "$dir/vm.conf.5.txt" || fail "vm.conf(5) does not document $k"
done
for code in 0 1 2 32 33; do
        sed -n '/^EXIT STATUS/,/^EXAMPLES/p' "$dir/vmlaunch.1.txt" | grep -q "^     $code " ||
                fail "vmlaunch(1) does not document exit status $code"
done
events=$(sed -n '/^## Headless status/,/^## /s/^| `\([a-z_]*\)` |.*/\1/p' "$src/README.md")
[ "$(echo "$events" | wc -l)" -ge 8 ] || fail "too few events read from README.md: $events"
for ev in $events; do
        grep -qw -- "$ev" "$dir/vmlaunch.1.txt" || fail "vmlaunch(1) does not document the event $ev"
done
for c in list ctl top status stats stop kill pause resume events JOURNAL_STREAM NOTIFY_SOCKET; do
        grep -qw -- "$c" "$dir/vmlaunch.1.txt" || fail "vmlaunch(1) does not document $c"
done

# Completion, in a plain non-interactive bash without bash-completion.
# complete WORDS...: what completing the last word offers.
complete_words() {
        PATH="$dir/stub:$PATH" bash --norc --noprofile -c '
                source "$1" || exit 1
                shift
                COMP_WORDS=("$@")
                COMP_CWORD=$(($# - 1))
                _vmlaunch
                echo "${COMPREPLY[*]}"' _ "$P/share/bash-completion/completions/vmlaunch" "$@" 2> "$dir/comp.err"
}
mkdir "$dir/stub"
has() {         # has WANT GOT: every word of WANT in GOT
        for w in $1; do
                case " $2 " in *" $w "*) ;; *) return 1 ;; esac
        done
}
got=$(complete_words vmlaunch --he)
[ "$got" = "--headless --help" ] || fail "completing --he gives '$got'"
has "list ctl top --config --check --set --stats-interval" "$(complete_words vmlaunch '')" ||
        fail "completing the first word gives '$(complete_words vmlaunch '')'"
has "status stats stop kill pause resume events" "$(complete_words vmlaunch ctl web '')" ||
        fail "completing a ctl command gives '$(complete_words vmlaunch ctl web '')'"
has "limits.tasks=" "$(complete_words vmlaunch --set limits.t)" || fail "completing --set limits.t"
# Names from `vmlaunch list --json`...
printf '#!/bin/sh\n[ "$1 $2" = "list --json" ] || exit 2\necho %s\n' \
        "'[{\"name\":\"alpha\",\"pid\":1},{\"name\": \"beta\"}]'" > "$dir/stub/vmlaunch"
chmod 755 "$dir/stub/vmlaunch"
got=$(complete_words vmlaunch ctl '')
[ "$got" = "alpha beta" ] || fail "completing a VM name for ctl gives '$got'"
got=$(complete_words vmlaunch top a)
[ "$got" = "alpha" ] || fail "completing a VM name for top gives '$got'"
# ... and from a vmlaunch without `list`: nothing, and no noise.
printf '#!/bin/sh\necho "vmlaunch: unexpected argument" >&2\nexit 2\n' > "$dir/stub/vmlaunch"
got=$(complete_words vmlaunch ctl '')
[ -z "$got" ] && [ ! -s "$dir/comp.err" ] || fail "without list: '$got', stderr '$(cat "$dir/comp.err")'"

# Journald priorities: only when stderr is the stream JOURNAL_STREAM names.
printf 'plugin = { path = "%s"; };\nkvm_device = "/nonexistent/kvm";\n' "$P/libexec/vmlaunch/hello" > "$dir/nokvm.conf"
touch "$dir/stderr"
JOURNAL_STREAM=$(stat -c %d:%i "$dir/stderr") "$P/bin/vmlaunch" --headless -c "$dir/nokvm.conf" > /dev/null 2> "$dir/stderr"
grep -q '^<3>vmlaunch: error: exit 1: ' "$dir/stderr" || fail "no <3> prefix with stderr as the journal: $(cat "$dir/stderr")"
JOURNAL_STREAM=1:1 "$P/bin/vmlaunch" --headless -c "$dir/nokvm.conf" > /dev/null 2> "$dir/stderr"
grep -q '^vmlaunch: error: exit 1: ' "$dir/stderr" || fail "a prefix when stderr is not the journal: $(cat "$dir/stderr")"

if [ "$run" = --run ]; then
        "$P/bin/vmlaunch" --headless -c "$P/share/vmlaunch/examples/hello.conf" > "$dir/out" 2> "$dir/err" ||
                fail "the installed example VM failed: $(cat "$dir/err")"
        grep -q 'Hello from the guest!' "$dir/out" || fail "the installed example did not greet: $(cat "$dir/out")"
fi
exit 0
