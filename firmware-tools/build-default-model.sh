#!/usr/bin/env bash
# Rebuilds the default model package from nothing: train, export, quantize,
# package, draw the samples, write the fixtures and the evaluation report.
#
#   python3 -m venv firmware-tools/.venv
#   firmware-tools/.venv/bin/pip install -r firmware-tools/requirements.txt
#   PYTHON=firmware-tools/.venv/bin/python firmware-tools/build-default-model.sh
#
# The shipped model trained for 423 s on one data-centre GPU (NVIDIA H200, bfloat16
# autocast, 7 processes rendering samples): 8,839 steps of 1,024, 21,400 samples/s.
# Its cosine schedule followed wall-clock progress over a 420 s budget; this script
# replays it by steps (--steps 8839), so the schedule is the same on any device. On a
# 2-core x86_64 CPU the same run takes about 30 hours at 83 samples/s (WORKERS=1 there).
# DEVICE=cpu forces the CPU; the default is CUDA when torch sees a GPU. WORKERS sets the
# processes rendering samples (default 7).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
work="$root/firmware-tools/build"
pkg="$root/models/edgeclip-tiny"
device=${DEVICE:-auto}
mkdir -p "$work"
# On a GPU: bfloat16 autocast and a 3M-sample cache in GPU memory (37 GB); on a CPU,
# a 1M-sample cache (12 GB of RAM).
gpu=(--cache-size 1000000)
if [ "$device" != cpu ] && "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  gpu=(--amp --cache-size 3000000)
fi
(cd "$root/firmware-tools/train" && "$py" train_default.py --out "$work/tiny" --device "$device" "${gpu[@]}" \
    --batch 1024 --lr 0.0015 --warmup 1000 --steps 8839 --workers "${WORKERS:-7}" --ready 16384 --log-every 100 --eval-every 2000)
"$py" "$root/firmware-tools/export/export_onnx.py" --checkpoint "$work/tiny/checkpoint.pt" --out "$work/export"
# The DepthCLIP scale is the one firmware-tools/fixtures/depthclip_scale_curve.py
# measured for the shipped model; measure it again for a model trained differently.
(cd "$root/firmware-tools/export" && "$py" make_package.py "$work/export" "$pkg" --name edgeclip-tiny \
    --description "Tiny CLIP (ViT 64px/8, width 128, 4+4 layers, embed 128) trained by edgeclip on procedural shapes, point-cloud depth views and distance scenes" \
    --pointclip-labels cube,sphere,cylinder,cone,torus,pyramid --pointclip-points 1024 --depthclip-scale 20)
cp "$work/tiny/train_log.jsonl" "$work/tiny/recipe.json" "$pkg/"
"$py" "$root/firmware-tools/fixtures/make_samples.py" "$pkg/samples"
"$py" "$root/firmware-tools/fixtures/make_model_fixtures.py" "$pkg" "$root/target/heldout"
"$py" "$root/firmware-tools/fixtures/make_depth_fixtures.py" --scale 20
"$py" "$root/firmware-tools/fixtures/depthclip_scale_curve.py" --n 1200 --confirm 600
"$root/firmware-tools/build-label-stores.sh"
