#!/usr/bin/env bash
# Prepares what the test suite needs beyond cargo, idempotently:
#  - a Python virtual environment (target/pyenv) with requirements-test.txt;
#  - the ViT-B/32-width slice and onnxruntime's outputs on it (target/scale-slice),
#    which are too large to commit (68 MB) and are rebuilt from a seed;
#  - the default model's held-out evaluation sets (target/heldout, 4,044 images drawn
#    from test-split seeds), which tests/accuracy.rs reads;
#  - the PointCLIP and DepthCLIP held-out sets (target/evalsets: 360 point clouds and 1,050
#    distance scenes from test-split seeds), which tests/pointclip_depthclip_accuracy.rs reads;
#  - 500 two-object scenes with true boxes (target/heldout/where), which
#    tests/where_accuracy.rs reads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/target/pyenv"
slice="$root/target/scale-slice"
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$root/target"
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/firmware-tools/requirements-test.txt"
if [ ! -f "$slice/meta.json" ]; then
  "$venv/bin/python" "$root/firmware-tools/fixtures/make_scale_slice.py" "$slice" 2>&1 | grep -v '^WARNING:root' || true
  [ -f "$slice/meta.json" ] || { echo "test-env: building the scale slice failed" >&2; exit 1; }
fi
heldout="$root/target/heldout"
if [ ! -f "$heldout/labels.json" ]; then
  "$venv/bin/python" "$root/firmware-tools/fixtures/make_model_fixtures.py" --heldout-only - "$heldout"
  [ -f "$heldout/labels.json" ] || { echo "test-env: drawing the held-out sets failed" >&2; exit 1; }
fi
# Two-object scenes for `serve`'s where-answers (tests/where_accuracy.rs).
if [ ! -f "$heldout/where/scenes.json" ]; then
  "$venv/bin/python" "$root/firmware-tools/fixtures/where_scenes.py" "$heldout/where" --n 500
  [ -f "$heldout/where/scenes.json" ] || { echo "test-env: drawing the where scenes failed" >&2; exit 1; }
fi
evalsets="$root/target/evalsets"
if [ ! -f "$evalsets/done" ]; then
  "$venv/bin/python" "$root/firmware-tools/fixtures/make_evalsets.py" "$evalsets"
  [ -f "$evalsets/done" ] || { echo "test-env: drawing the PointCLIP/DepthCLIP sets failed" >&2; exit 1; }
fi
# Debian packages:
#  - runtime/capture: the `v4l` crate's build runs bindgen on <linux/videodev2.h>, which needs
#    libclang (libclang-dev). ffmpeg only makes the capture fixtures, which are committed.
#  - tests/mqtt.rs and firmware-tools/bench/mqtt_replay.sh: a real broker (mosquitto); the tests
#    start their own on a free loopback port, so the package's system service is not needed.
pkgs=(libclang-dev mosquitto)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test-env: installing ${missing[*]}"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { as_root apt-get update -q && as_root apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi
