#!/usr/bin/env bash
# Creates (or brings up to date) rknn-toolkit2's own virtual environment at
# <repo>/target/rknn-venv from requirements.txt. Idempotent: does nothing when the
# venv already holds this exact requirements.txt (stamp file), and pip skips
# anything already installed otherwise.
#   firmware-tools/rknn/setup-venv.sh            # PYTHON=python3.11 to choose the interpreter
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${RKNN_VENV:-$ROOT/target/rknn-venv}"  # RKNN_VENV= to put it elsewhere
REQ="$HERE/requirements.txt"
PY="${PYTHON:-python3}"

case "$("$PY" -c 'import sys, platform; print(f"{sys.version_info[0]}.{sys.version_info[1]} {platform.machine()}")')" in
  "3.11 x86_64") ;;
  *) echo "rknn-toolkit2 2.5.0 is pinned as its cp311 x86_64 wheel: need python 3.11 on x86_64 (set PYTHON=)" >&2; exit 1 ;;
esac

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
STAMP="$VENV/.requirements.sha256"
WANT="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  # --no-deps: requirements.txt is the complete, resolved set (see its header).
  "$VENV/bin/python" -m pip install --no-deps -r "$REQ"
  echo "$WANT" > "$STAMP"
fi
"$VENV/bin/python" -c 'from rknn.api import RKNN; import onnxruntime, open_clip' >/dev/null
echo "rknn venv ready: $VENV"
