#!/usr/bin/env bash
# Rebuilds the default model package from nothing: train, export, quantize,
# package, draw the samples, write the fixtures and the evaluation report.
#
#   python3 -m venv firmware-tools/.venv
#   firmware-tools/.venv/bin/pip install -r firmware-tools/requirements.txt
#   PYTHON=firmware-tools/.venv/bin/python firmware-tools/build-default-model.sh
#
# Training runs on CPU (about an hour on 2 cores for the shipped recipe).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
work="$root/firmware-tools/build"
pkg="$root/models/edgeclip-tiny"
mkdir -p "$work"
# The shipped model's schedule, in two phases: a 1400-step cosine schedule cut at
# step 600, then resumed on a 1000-step schedule (to fit the training time).
train() { (cd "$root/firmware-tools/train" && "$py" train_default.py --out "$work/tiny" \
    --batch 128 --warmup 100 --eval-every 200 --eval-size 480 "$@"); }
train --steps 1400 --stop-after 600
train --steps 1000
"$py" "$root/firmware-tools/export/export_onnx.py" --checkpoint "$work/tiny/checkpoint.pt" --out "$work/export"
(cd "$root/firmware-tools/export" && "$py" make_package.py "$work/export" "$pkg" --name edgeclip-tiny \
    --description "Tiny CLIP (ViT 64px/8, width 128, 4+4 layers, embed 128) trained by edgeclip on procedural shapes, point-cloud depth views and distance scenes")
cp "$work/tiny/train_log.jsonl" "$work/tiny/recipe.json" "$pkg/"
"$py" "$root/firmware-tools/fixtures/make_samples.py" "$pkg/samples"
"$py" "$root/firmware-tools/fixtures/make_model_fixtures.py" "$pkg" "$root/tests/fixtures"
