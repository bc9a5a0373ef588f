#!/usr/bin/env bash
# Encode latency, edgeclip (tract) beside onnxruntime on the same files.
#   firmware-tools/bench/encode.sh [PYTHON]
# PYTHON defaults to the test environment (target/pyenv, from firmware-tools/test-env.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-$root/target/pyenv/bin/python}
"$py" "$root/firmware-tools/bench/ort_encode.py" "$root/models/edgeclip-tiny"
cargo bench --manifest-path "$root/Cargo.toml" -p edgeclip --bench encode -- --noplot 2>&1 \
  | grep -E "^(image|text|vit-b32-slice)/|time:"
