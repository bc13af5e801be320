#!/usr/bin/env bash
# Builds the Firebreak appliance disk image from bin/firebreak and Debian
# packages: a raw GPT disk, UEFI-bootable, with
#   1 fb-esp     EFI system partition: one unified kernel image (the Debian
#                kernel, its command line and the initramfs, in the systemd
#                EFI stub) as \EFI\BOOT\BOOTX64.EFI, and firebreak.cfg
#   2 fb-system  ext4, mounted read-only: the firebreak binary
#   3 fb-data    ext4 with its journal: /var/lib/firebreak
# No loop devices, no mounts, no root needed: sfdisk, mkfs.vfat + mtools,
# mkfs.ext4 -d. The same inputs give the same bytes (see README.md).
#
# usage: images/build.sh FIREBREAK_BINARY OUTPUT_DIR
set -euo pipefail

# Pinned inputs: change them here, nowhere else.
KERNEL_PKG=linux-image-6.1.0-56-amd64
KERNEL_VER=6.1.192-2
KERNEL_SHA256=a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1
STUB_PKG=systemd-boot-efi
STUB_VER=252.39-1~deb12u2
STUB_SHA256=8f2b81bdcfafc466882a0cae460272dbf10d8d97c6a3c1c6ea33038c155a2f5e
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1767225600} # 2026-01-01T00:00:00Z

# Fixed identifiers, so that two builds are byte for byte the same.
DISK_GUID=6f1b0e6a-0000-4f1b-8e00-000000000000
ESP_GUID=6f1b0e6a-0001-4f1b-8e00-000000000001
SYS_GUID=6f1b0e6a-0002-4f1b-8e00-000000000002
DATA_GUID=6f1b0e6a-0003-4f1b-8e00-000000000003
SYS_FS_UUID=6f1b0e6a-0012-4f1b-8e00-000000000012
DATA_FS_UUID=6f1b0e6a-0013-4f1b-8e00-000000000013
ESP_VOLID=F1EB0001

# Sizes in MiB. The whole image stays under 300 MB.
ESP_MB=32
SYS_MB=112
DATA_MB=96

CMDLINE="console=tty0 console=ttyS0,115200 quiet loglevel=4 panic=30"

# Drivers copied into the image (with what they depend on): storage, NICs
# common in small x86 boxes and in virtual machines, and what boot.go loads
# on every boot. Devices are matched to them at boot by their modalias.
MODULES="virtio_pci virtio_blk virtio_net virtio_scsi nvme ahci sd_mod usb_storage uas
 xhci_pci ehci_pci e1000 e1000e igb igc r8169 ixgbe tg3
 crc32c_generic ext4 vfat nls_cp437 nls_iso8859_1
 bridge 8021q sch_ingress cls_u32 cls_flower act_gact act_mirred veth xfrm_user nfnetlink"

die() { echo "images/build.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || die "usage: images/build.sh FIREBREAK_BINARY OUTPUT_DIR"
FIREBREAK=$1 OUT=$2
[ -x "$FIREBREAK" ] || die "$FIREBREAK: not an executable (run make build first)"
for tool in apt-get dpkg-deb depmod modprobe cpio zstd objcopy od sfdisk mkfs.vfat mcopy mmd mkfs.ext4 debugfs go; do
	command -v "$tool" >/dev/null || die "needs $tool (apt-get install kmod cpio zstd binutils fdisk dosfstools mtools e2fsprogs)"
done
if file "$FIREBREAK" 2>/dev/null | grep -q dynamically; then die "$FIREBREAK is not static (build it with CGO_ENABLED=0)"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=$HERE/.cache
mkdir -p "$CACHE" "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# fetch PKG VERSION SHA256: the .deb from the cache, else from the Debian
# mirror through apt, checked against its pinned hash either way.
fetch() {
	local deb="$CACHE/${1}_${2}_amd64.deb"
	if [ ! -f "$deb" ]; then
		echo "downloading $1 $2" >&2
		(cd "$WORK" && apt-get download -q "$1=$2" >/dev/null 2>"$WORK/apt.err") ||
			die "apt-get download $1=$2 failed ($(tail -1 "$WORK/apt.err")); the mirror may have moved on: update the pins at the top of this script"
		mv "$WORK/${1}_${2//:/%3a}_amd64.deb" "$deb"
	fi
	echo "$3  $deb" | sha256sum -c --quiet - >&2 || die "$deb: SHA-256 differs from the pinned one"
	echo "$deb"
}
dpkg-deb -x "$(fetch $KERNEL_PKG $KERNEL_VER $KERNEL_SHA256)" "$WORK/kernel"
dpkg-deb -x "$(fetch $STUB_PKG $STUB_VER $STUB_SHA256)" "$WORK/stub"
KVER=${KERNEL_PKG#linux-image-}
KROOT=$WORK/kernel

# Initramfs: the Go init, the selected modules and depmod's index of them.
IR=$WORK/initramfs
mkdir -p "$IR"/{dev,proc,sys,run,tmp,boot,system,var/lib/firebreak} "$IR/lib/modules/$KVER"
(cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags '-s -w -buildid=' -o "$IR/init" ./images/cmd/fbinit)
depmod -b "$KROOT" "$KVER"
for m in $MODULES; do
	deps=$(modprobe -d "$KROOT" -S "$KVER" --show-depends --ignore-install "$m") || die "module $m is not in $KERNEL_PKG"
	echo "$deps" | awk '$1 == "insmod" {print $2}'
done | sort -u | while read -r ko; do
	rel=${ko#"$KROOT/lib/modules/$KVER/"}
	mkdir -p "$IR/lib/modules/$KVER/$(dirname "$rel")"
	cp "$ko" "$IR/lib/modules/$KVER/$rel"
done
cp "$KROOT/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "$IR/lib/modules/$KVER/"
depmod -b "$IR" "$KVER"
rm -f "$IR/lib/modules/$KVER"/*.bin "$IR/lib/modules/$KVER"/modules.{symbols,devname,softdep,weakdep}
find "$IR" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$IR" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc --reproducible -R 0:0) | zstd -q -19 -T1 >"$WORK/initrd.zst"

# The unified kernel image: stub + os-release + command line + kernel + initrd.
printf 'NAME=Firebreak\nID=firebreak\nPRETTY_NAME="Firebreak appliance"\nVERSION_ID=%s\n' \
	"$("$FIREBREAK" version 2>/dev/null | head -1 | awk '{print $NF}')" >"$WORK/os-release"
printf '%s' "$CMDLINE" >"$WORK/cmdline"
objcopy \
	--add-section .osrel="$WORK/os-release" --change-section-vma .osrel=0x20000 \
	--add-section .cmdline="$WORK/cmdline" --change-section-vma .cmdline=0x30000 \
	--add-section .linux="$KROOT/boot/vmlinuz-$KVER" --change-section-vma .linux=0x2000000 \
	--add-section .initrd="$WORK/initrd.zst" --change-section-vma .initrd=0x3000000 \
	"$WORK/stub/usr/lib/systemd/boot/efi/linuxx64.efi.stub" "$WORK/BOOTX64.EFI"
# objcopy stamps the PE header with the current time (and a checksum over
# it): set the time to SOURCE_DATE_EPOCH and the checksum to 0 (none; UEFI
# does not check it).
pe=$(od -An -t u4 -j 60 -N 4 "$WORK/BOOTX64.EFI" | tr -d ' ')
E=$SOURCE_DATE_EPOCH
printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((E & 255)) $((E >> 8 & 255)) $((E >> 16 & 255)) $((E >> 24 & 255)))" |
	dd of="$WORK/BOOTX64.EFI" bs=1 seek=$((pe + 8)) conv=notrunc status=none
printf '\x00\x00\x00\x00' | dd of="$WORK/BOOTX64.EFI" bs=1 seek=$((pe + 88)) conv=notrunc status=none

# 1: the EFI system partition.
cp "$HERE/firebreak.cfg" "$WORK/firebreak.cfg"
touch -d "@$SOURCE_DATE_EPOCH" "$WORK/BOOTX64.EFI" "$WORK/firebreak.cfg"
mkfs.vfat -C --invariant -i "$ESP_VOLID" -n FIREBREAK "$WORK/esp.img" $((ESP_MB * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$WORK/esp.img" ::EFI ::EFI/BOOT
mcopy -m -i "$WORK/esp.img" "$WORK/BOOTX64.EFI" ::EFI/BOOT/BOOTX64.EFI
mcopy -m -i "$WORK/esp.img" "$WORK/firebreak.cfg" ::firebreak.cfg

# 2: the system partition, read-only at run time, so no journal.
SYS=$WORK/system
mkdir -p "$SYS"
cp "$FIREBREAK" "$SYS/firebreak"
cp "$WORK/os-release" "$SYS/os-release"
find "$SYS" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
mkfs.ext4 -q -F -L fb-system -U "$SYS_FS_UUID" -E "hash_seed=$SYS_FS_UUID,root_owner=0:0,lazy_itable_init=0" \
	-O ^has_journal -m 0 -b 4096 -N 64 -d "$SYS" "$WORK/system.img" "${SYS_MB}M" >/dev/null
# mkfs.ext4 -d copies each file's change time from the staging copy, which
# is when this build made it: set it, and the creation time, to
# SOURCE_DATE_EPOCH.
(cd "$SYS" && find . -mindepth 1 | LC_ALL=C sort | sed 's|^\.||') | while read -r f; do
	for field in ctime crtime; do
		printf 'sif %s %s @%s\nsif %s %s_extra 0\n' "$f" "$field" "$SOURCE_DATE_EPOCH" "$f" "$field"
	done
done | debugfs -w -f - "$WORK/system.img" >/dev/null 2>"$WORK/debugfs.err" || die "debugfs: $(tail -1 "$WORK/debugfs.err")"

# 3: the data partition, with a journal: it mounts cleanly after a power cut.
mkfs.ext4 -q -F -L fb-data -U "$DATA_FS_UUID" -E "hash_seed=$DATA_FS_UUID,root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0" \
	-m 1 -b 4096 -J size=8 "$WORK/data.img" "${DATA_MB}M" >/dev/null

# The disk: 1 MiB before the first partition, 1 MiB after the last for the
# backup GPT.
IMG=$WORK/firebreak.img
TOTAL_MB=$((1 + ESP_MB + SYS_MB + DATA_MB + 1))
truncate -s "${TOTAL_MB}M" "$IMG"
sfdisk -q --no-reread --no-tell-kernel "$IMG" <<EOF
label: gpt
label-id: $DISK_GUID
unit: sectors
first-lba: 2048
start=2048, size=$((ESP_MB * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$ESP_GUID, name=fb-esp
start=$((2048 + ESP_MB * 2048)), size=$((SYS_MB * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$SYS_GUID, name=fb-system, attrs="GUID:60"
start=$((2048 + (ESP_MB + SYS_MB) * 2048)), size=$((DATA_MB * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$DATA_GUID, name=fb-data
EOF
dd if="$WORK/esp.img" of="$IMG" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/system.img" of="$IMG" bs=1M seek=$((1 + ESP_MB)) conv=notrunc,sparse status=none
dd if="$WORK/data.img" of="$IMG" bs=1M seek=$((1 + ESP_MB + SYS_MB)) conv=notrunc,sparse status=none

mv "$IMG" "$OUT/firebreak.img"
cp "$WORK/BOOTX64.EFI" "$OUT/BOOTX64.EFI"
cp "$FIREBREAK" "$OUT/firebreak" # the input, so the build can be repeated from it
(cd "$OUT" && sha256sum firebreak.img BOOTX64.EFI >SHA256SUMS)
echo "images/build.sh: $OUT/firebreak.img $(stat -c %s "$OUT/firebreak.img") bytes, sha256 $(cut -d' ' -f1 "$OUT/SHA256SUMS" | head -1)"
