#!/usr/bin/env bash
# Cross-builds the `edgeclip` binary for a board from an x86_64 Debian/Ubuntu host.
#
#   firmware-tools/cross/build.sh [TARGET]      (default: aarch64-unknown-linux-gnu)
#
# Installs what is missing (the rustup target, the GNU cross linker and libc, qemu-user
# to run the result here), builds with the `device` profile (fat LTO, one codegen unit,
# panic=abort, stripped) and prints the binary's path and size. The binary lands in
# target/TARGET/device/edgeclip. Run it here with:
#
#   qemu-aarch64 -L /usr/aarch64-linux-gnu target/aarch64-unknown-linux-gnu/device/edgeclip …
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${1:-aarch64-unknown-linux-gnu}"
case "$target" in
aarch64-unknown-linux-gnu)
    gnu=aarch64-linux-gnu
    packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
    ;;
*)
    echo "cross/build.sh: no recipe for target $target (known: aarch64-unknown-linux-gnu)" >&2
    exit 2
    ;;
esac

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "cross/build.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}" ||
        { as_root apt-get update -q && as_root apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

env_target="$(echo "$target" | tr 'a-z-' 'A-Z_')"
export "CARGO_TARGET_${env_target}_LINKER=${gnu}-gcc"

start=$(date +%s)
cargo build --profile device --target "$target" -p edgeclip-cli --locked
bin="target/$target/device/edgeclip"
echo "cross/build.sh: built $bin in $(($(date +%s) - start)) s"
echo "binary size ($target, device profile, stripped): $(stat -c %s "$bin") bytes"
