#!/bin/sh
# Prepares the KVM test guest: QEMU, busybox and a Debian kernel whose
# kvm_amd module gives the guest a real /dev/kvm on top of QEMU's software
# emulation of AMD SVM.  Idempotent; needs root.  The kernel is unpacked
# into the cache, never installed into this machine's /boot.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${KVMHOST_CACHE:-/var/cache/vmlaunch-kvmhost}
KPKG=${KVMHOST_KERNEL_PACKAGE:-linux-image-amd64}

need=""
for p in qemu-system-x86 busybox-static kmod cpio gcc libc6-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        # shellcheck disable=SC2086
        apt-get install -y --no-install-recommends $need
fi

mkdir -p "$CACHE"
if [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.img" ] && [ "$CACHE/initrd.img" -nt "$here/init" ] &&
        [ "$CACHE/initrd.img" -nt "$here/kvmpin.c" ]; then
        exit 0
fi

# The versioned image package the metapackage points at.
kver_pkg=$(apt-cache depends "$KPKG" | sed -n 's/.*Depends: \(linux-image-[0-9].*\)/\1/p' | head -n1)
[ -n "$kver_pkg" ] || { echo "setup.sh: cannot resolve $KPKG" >&2; exit 1; }
kver=${kver_pkg#linux-image-}
cd "$CACHE"
rm -rf kernel initramfs ./*.deb
apt-get download "$kver_pkg" 2>/dev/null || apt-get download "$kver_pkg"
dpkg-deb -x ./*.deb kernel
/sbin/depmod -b kernel "$kver"
moddir=kernel/lib/modules/$kver

# Modules in dependency order (deps first), from modules.dep.
order=""
add_module() {
        path=$(sed -n "s#^\(\([^:]*/\)\?$1\.ko[^:]*\):.*#\1#p" "$moddir/modules.dep" | head -n1)
        [ -n "$path" ] || { echo "setup.sh: module $1 not found" >&2; exit 1; }
        add_path "$path"
}
add_path() {
        case " $order " in *" $1 "*) return ;; esac
        for dep in $(sed -n "s#^$1: *##p" "$moddir/modules.dep"); do
                add_path "$dep"
        done
        order="$order $1"
}
for m in virtio_pci 9pnet_virtio 9p kvm-amd tun; do
        add_module "$m"
done

mkdir -p initramfs/bin initramfs/modules initramfs/proc initramfs/sys initramfs/dev initramfs/host
cp /bin/busybox initramfs/bin/busybox
: > initramfs/modules/order
for p in $order; do
        name=$(basename "$p")
        case "$name" in
        *.xz) xz -dc "$moddir/$p" > "initramfs/modules/${name%.xz}"; name=${name%.xz} ;;
        *) cp "$moddir/$p" "initramfs/modules/$name" ;;
        esac
        echo "$name" >> initramfs/modules/order
done
cc -static -O2 -Wall -Werror -o initramfs/bin/kvmpin "$here/kvmpin.c"
cp "$here/init" initramfs/init
chmod +x initramfs/init
(cd initramfs && find . | cpio -o -H newc --quiet | gzip -1) > initrd.img
cp "kernel/boot/vmlinuz-$kver" vmlinuz
rm -rf kernel initramfs ./*.deb
echo "kvmhost: kernel $kver ready in $CACHE"
