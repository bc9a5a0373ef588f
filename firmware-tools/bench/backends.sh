#!/usr/bin/env bash
# Image and text latency per backend (tract, OpenVINO CPU f32 / int8 / bf16) at 1 and 2
# threads, beside onnxruntime on the same files: one table, from one run.
#   firmware-tools/bench/backends.sh [RUNS_SCALE]
# Needs firmware-tools/test-env.sh (target/pyenv with onnxruntime and openvino, the
# ViT-B/32-width slice). Prints the table and the CPU it ran on.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=$root/target/pyenv/bin/python
libs=$(ls -d "$root"/target/pyenv/lib/python3*/site-packages/openvino/libs 2>/dev/null | head -1)
out=$root/target/bench
mkdir -p "$out"
pkg=$root/models/edgeclip-tiny
slice=$root/target/scale-slice
files=("$pkg/image.fp32.onnx:image64" "$pkg/text.fp32.onnx:text" "$pkg/image.int8.onnx:image64" "$pkg/text.int8.onnx:text")
# The static int8 files for OpenVINO (firmware-tools/export/quantize_openvino.py), where built.
for t in image:image64 text:text; do
  [ -f "$pkg/${t%%:*}.int8.openvino.onnx" ] && files+=("$pkg/${t%%:*}.int8.openvino.onnx:${t##*:}")
done
slices=("$slice/slice.fp32.onnx:slice" "$slice/slice.int8.onnx:slice")
[ -f "$slice/slice.int8-openvino.onnx" ] && slices+=("$slice/slice.int8-openvino.onnx:slice")
"$py" "$root/firmware-tools/bench/ort_latency.py" "$out/ort.json" 300 "${files[@]}"
"$py" "$root/firmware-tools/bench/ort_latency.py" "$out/ort-slice.json" 40 "${slices[@]}"
"$py" -c "import json,sys; a=json.load(open(sys.argv[1])); a.update(json.load(open(sys.argv[2]))); json.dump(a, open(sys.argv[3],'w'))" \
  "$out/ort.json" "$out/ort-slice.json" "$out/ort-all.json"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
OPENVINO_LIB=$libs cargo run --quiet --release --manifest-path "$root/Cargo.toml" -p edgeclip \
  --example backend_table -- "$out/ort-all.json"
