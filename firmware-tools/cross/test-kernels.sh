#!/usr/bin/env bash
# The int8 kernels' tests (runtime/kernels) on CPUs this machine is not, under
# qemu-user's CPU models: each model's kernels are detected as expected and are
# exact against the scalar reference (property tests, extremes, edges).
#
#   x86-64  EPYC-Rome   AVX2 only (no AVX-512, no VNNI): portable, avx2
#           Nehalem     no AVX2: portable only (products stay tract's)
#   aarch64 cortex-a72  NEON without dot product (Raspberry Pi 4): portable, neon
#           max         dot product and i8mm: portable, neon, dotprod, i8mm
#
# Needs qemu-user and the aarch64 cross toolchain (firmware-tools/cross/build.sh
# installs them). Run by firmware-tools/cross/test-aarch64.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

run() {
    local triple=$1 cpu=$2 expect=$3 runner=$4
    local var
    var="CARGO_TARGET_$(echo "$triple" | tr 'a-z-' 'A-Z_')_RUNNER"
    echo "test-kernels: $triple, CPU model $cpu (expecting: $expect)"
    env "$var=$runner" EDGECLIP_EXPECT_INT8_KERNELS="$expect" \
        cargo test --release --locked -p edgeclip-kernels --lib --target "$triple" -- --nocapture --test-threads 1 2>&1 |
        sed 's/qemu-[a-z0-9_]*: warning: TCG[^\n]*$//' | grep -E "^test |int8 kernels on|test result"
}

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
run x86_64-unknown-linux-gnu EPYC-Rome portable,avx2 "qemu-x86_64 -cpu EPYC-Rome"
run x86_64-unknown-linux-gnu Nehalem portable "qemu-x86_64 -cpu Nehalem"
run aarch64-unknown-linux-gnu cortex-a72 portable,neon "qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu"
run aarch64-unknown-linux-gnu max portable,neon,dotprod,i8mm "qemu-aarch64 -cpu max -L /usr/aarch64-linux-gnu"
