#!/usr/bin/env bash
# Prints the path of a Python with torch, open_clip and onnxruntime, for export_clip_arch.py:
# $EDGECLIP_TORCH_PYTHON if set, else target/export-venv (made and filled on first use).
# torch is needed only to export; the benches read the cached ONNX files.
#
#   "$(firmware-tools/bench/export-venv.sh)" firmware-tools/bench/export_clip_arch.py target/bench/models --arch ViT-B-32
set -euo pipefail
if [ -n "${EDGECLIP_TORCH_PYTHON:-}" ]; then
  echo "$EDGECLIP_TORCH_PYTHON"
  exit 0
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/export-venv"
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$root/target"
  python3 -m venv "$venv" >&2
fi
# ml_dtypes: onnxruntime.quantization imports it, and not every onnxruntime wheel pulls it in
if ! "$venv/bin/python" -c "import torch, open_clip, onnx, onnxruntime.quantization" 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check torch open_clip_torch onnx onnxruntime numpy ml_dtypes >&2
fi
echo "$venv/bin/python"
