#!/usr/bin/env bash
# Prepares what the test suite needs beyond cargo, idempotently:
#  - a Python virtual environment (target/pyenv) with requirements-test.txt;
#  - the ViT-B/32-width slice and onnxruntime's outputs on it (target/scale-slice),
#    which are too large to commit (68 MB) and are rebuilt from a seed.
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
