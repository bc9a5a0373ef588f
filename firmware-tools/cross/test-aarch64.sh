#!/usr/bin/env bash
# The aarch64 stage of the test suite: cross-builds `edgeclip` for
# aarch64-unknown-linux-gnu (device profile, as shipped) and runs it under qemu-user
# against onnxruntime's reference outputs, the open_clip tokenizer corpus and this
# host's own build (tests/cross_target.rs); then the int8 kernels' tests on emulated
# x86 and ARM CPU models (test-kernels.sh). Run after `cargo test --workspace`, which
# builds the host binary the outputs are compared with.
set -euo pipefail
cd "$(dirname "$0")/../.."

target=aarch64-unknown-linux-gnu
start=$(date +%s)
firmware-tools/cross/build.sh "$target"
built=$(date +%s)

export EDGECLIP_CROSS_BIN="$PWD/target/$target/device/edgeclip"
export EDGECLIP_CROSS_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test --workspace --test cross_target -- --ignored --nocapture
done=$(date +%s)
firmware-tools/cross/test-kernels.sh
kernels=$(date +%s)
echo "aarch64 stage: cross build $((built - start)) s, tests under qemu $((done - built)) s, int8 kernels on emulated CPUs $((kernels - done)) s"
