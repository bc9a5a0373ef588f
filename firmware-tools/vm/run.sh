#!/usr/bin/env bash
# Runs CMD inside a qemu VM whose kernel has the `vivid` virtual camera driver loaded, so
# code built on this host meets a real V4L2 /dev/video0 (this host's kernel loads no
# modules and has no camera). Recipe: ../shared/PLATFORM.md, "A real V4L2 camera in a VM".
#
#   firmware-tools/vm/run.sh CMD...      exit code and output are CMD's
#
# The guest shares the host's root filesystem (9p) at the same paths, and CMD runs from the
# repository root. Everything downloaded is cached under target/vm/, so later runs only boot.
#
# Environment:
#   EDGECLIP_VM_TIMEOUT   seconds before the whole VM run is killed (default 600)
#   EDGECLIP_VM_MEMORY    guest memory (default 1G)
#   EDGECLIP_VIVID_ARGS   vivid module parameters (default: one webcam-like capture node)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
vm="$root/target/vm"
timeout_s=${EDGECLIP_VM_TIMEOUT:-600}
memory=${EDGECLIP_VM_MEMORY:-1G}
vivid_args=${EDGECLIP_VIVID_ARGS:-"n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0"}
# The release the recipe was verified with; a newer one may change the CLI.
vng_version=1.42

say() { echo "vm: $*" >&2; }
die() { say "error: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

[ $# -gt 0 ] || die "usage: $0 CMD... (runs CMD inside the vivid VM)"
mkdir -p "$vm"

# --- Debian packages -----------------------------------------------------------------
# udev: without it the guest finds no virtio-serial ports, and CMD's output and exit code
# never come back. busybox-static: virtme-ng's guest init. v4l-utils: v4l2-ctl for tests.
pkgs=(qemu-system-x86 kmod busybox-static udev v4l-utils dmsetup e2fsprogs)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    { as_root apt-get update -q >&2 &&
      as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
    die "could not install ${missing[*]} with apt-get"
fi

# --- the guest kernel ----------------------------------------------------------------
# Debian's kernel package is only unpacked (dpkg -x), never installed: the host keeps its
# own kernel, and the guest boots this one.
kdir="$vm/kernel"
resolve_kernel() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
if [ ! -s "$kdir/kver" ] || [ ! -f "$kdir/unpacked/boot/vmlinuz-$(cat "$kdir/kver")" ]; then
  rm -rf "$kdir" && mkdir -p "$kdir/dl"
  kpkg=$(resolve_kernel)
  [ -n "$kpkg" ] || die "apt-cache depends linux-image-amd64 names no linux-image-<version> package"
  say "downloading $kpkg"
  if ! (cd "$kdir/dl" && apt-get download "$kpkg" >&2); then
    # The package lists may name a kernel the mirror no longer has: refresh, resolve again.
    say "download failed; running apt-get update"
    as_root apt-get update -q >&2 || die "apt-get update failed"
    kpkg=$(resolve_kernel)
    [ -n "$kpkg" ] || die "after apt-get update, linux-image-amd64 names no kernel package"
    (cd "$kdir/dl" && apt-get download "$kpkg" >&2) || die "apt-get download $kpkg failed"
  fi
  deb=$(ls "$kdir"/dl/"$kpkg"_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || die "apt-get download left no $kpkg .deb in $kdir/dl"
  dpkg -x "$deb" "$kdir/unpacked" || die "dpkg -x $deb failed"
  rm -f "$deb"
  echo "${kpkg#linux-image-}" >"$kdir/kver"
fi
kver=$(cat "$kdir/kver")
vmlinuz="$kdir/unpacked/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || die "no kernel image at $vmlinuz"

# The guest sees the host's /lib/modules (shared root), so the modules go there; the host
# kernel (another version, no module support) never looks at this directory.
moddir="/lib/modules/$kver"
if [ ! -f "$moddir/modules.dep" ] || [ -z "$(find "$moddir" -name 'vivid.ko*' -print -quit 2>/dev/null)" ]; then
  src=""
  for d in "$kdir/unpacked/lib/modules/$kver" "$kdir/unpacked/usr/lib/modules/$kver"; do
    [ -d "$d" ] && { src=$d; break; }
  done
  [ -n "$src" ] || die "the kernel package has no modules directory for $kver"
  say "installing modules into $moddir"
  as_root mkdir -p "$moddir"
  as_root cp -a "$src/." "$moddir/" || die "copying modules to $moddir failed"
  as_root depmod "$kver" || die "depmod $kver failed"
  [ -n "$(find "$moddir" -name 'vivid.ko*' -print -quit)" ] || die "kernel $kver has no vivid module"
fi

# --- virtme-ng -------------------------------------------------------------------------
venv="$vm/venv"
if [ ! -x "$venv/bin/vng" ]; then
  say "installing virtme-ng $vng_version into $venv"
  python3 -m venv "$venv" || die "python3 -m venv $venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "virtme-ng==$vng_version" >&2 ||
    die "pip install virtme-ng==$vng_version failed"
fi
export PATH="$venv/bin:$PATH"

# --- boot and run --------------------------------------------------------------------
# Quote CMD for the guest's shell so arguments with spaces survive.
quoted=$(printf '%q ' "$@")
script="cd $(printf '%q' "$root") && modprobe vivid $vivid_args && $quoted"
say "booting $kver (no KVM: a KVM guest hangs here after 'Probing EDD'), timeout ${timeout_s}s"
start=$(date +%s)
set +e
# Through a pipe: written straight into a redirected log file, the guest's output came
# back with runs of NULs over the lines before it (qemu writes at an offset of its own).
timeout -k 10 "$timeout_s" vng --disable-kvm --force-9p --run "$vmlinuz" --memory "$memory" \
  --exec "$script" </dev/null 2>&1 | cat
rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  say "error: the VM run passed ${timeout_s}s and was killed (EDGECLIP_VM_TIMEOUT)"
else
  say "VM run finished in ${elapsed}s with exit code $rc"
fi
exit "$rc"
