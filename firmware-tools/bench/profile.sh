#!/usr/bin/env bash
# Where tract's time goes on each int8 tower, after this project's rewrites: the
# profile example (time per operator of the optimized plan, the kernels the
# products use) on the default model and the ViT exports of int8.sh, one thread.
#   firmware-tools/bench/profile.sh [RUNS]      (writes firmware-tools/bench/PROFILE-int8.md)
# Needs the models int8.sh prepares under target/bench/models.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
models=$root/target/bench/models
runs=${1:-10}
out=$root/firmware-tools/bench/PROFILE-int8.md
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p edgeclip --example profile
bin=$root/target/release/examples/profile
{
  echo "# int8 profile: tract with edgeclip's operators, one thread"
  echo
  echo "Command: \`firmware-tools/bench/profile.sh $runs\` ($(date -u +%Y-%m-%d), commit $(git -C "$root" rev-parse --short HEAD))."
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores."
  echo "Per operator kind: median-run time summed over its nodes; then the slowest nodes with"
  echo "their kernel (\`_i32_\` kernels are the int8 products). \`Edgeclip*\` operators are this"
  echo "project's (runtime/backends/tract/src/ops)."
  for case in default/image default/text ViT-B-32/image ViT-B-32/text ViT-B-16/image gemm-repro/image; do
    file=$models/${case%%/*}/${case##*/}.int8.onnx
    [ -e "$file" ] || continue
    tower=${case##*/}
    n=$runs
    [ "${case%%/*}" = default ] && n=$((runs * 20))
    echo
    echo "## ${case%%/*} $tower"
    echo
    echo '```'
    "$bin" "$file" "$tower" 1 "$n" | sed "s|$root/||"
    echo '```'
  done
} > "$out"
echo "profile: firmware-tools/bench/PROFILE-int8.md"
