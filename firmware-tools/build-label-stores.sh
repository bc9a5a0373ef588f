#!/usr/bin/env bash
# Rebuilds the label stores shipped with the default model (models/edgeclip-tiny/stores/)
# from the lists beside them, with the model's fp32 text tower and the default template.
#   firmware-tools/build-label-stores.sh [EDGECLIP_BINARY]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pkg=$root/models/edgeclip-tiny
if [ $# -ge 1 ]; then
    edgeclip=("$1")
else
    edgeclip=(cargo run --release --quiet --manifest-path "$root/Cargo.toml" -p edgeclip-cli --)
fi
"${edgeclip[@]}" --model "$pkg" labels build "$pkg/labels.txt" -o "$pkg/stores/procedural.emb" --dtype f16 --force
"${edgeclip[@]}" --model "$pkg" labels build "$pkg/stores/everyday.txt" -o "$pkg/stores/everyday.emb" --dtype f16 --force
