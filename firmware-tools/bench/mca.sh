#!/usr/bin/env bash
# The aarch64 int8 micro-kernels without a board: builds the kernels crate for
# aarch64 (generic ARMv8-A code, as the device build ships), and runs each
# kernel's inner loop through llvm-mca for the cores the boards have
# (Cortex-A72: Raspberry Pi 4; A55: RK3566 and the little cores of RK3588; A76:
# Raspberry Pi 5 and RK3588's big cores). Prints a markdown table: multiply-
# accumulates per cycle against llvm-mca's own peak for the instruction. A
# model's estimate: no board's cycles were counted.
#
#   firmware-tools/bench/mca.sh
#
# Needs the aarch64 cross toolchain (firmware-tools/cross/build.sh installs it)
# and llvm-mca (Debian's `llvm` package; installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."

target=aarch64-unknown-linux-gnu
if ! command -v llvm-mca >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q --no-install-recommends llvm; else sudo apt-get install -y -q --no-install-recommends llvm; fi
fi
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    cargo rustc --release --locked -p edgeclip-kernels --lib --target "$target" -- --emit asm >&2
asm=$(ls -t target/"$target"/release/deps/edgeclip_kernels-*.s | head -1)
echo "llvm-mca $(llvm-mca --version | grep -o 'version [0-9.]*'), commit $(git rev-parse --short HEAD)"
echo
python3 firmware-tools/bench/mca_loops.py "$asm"
