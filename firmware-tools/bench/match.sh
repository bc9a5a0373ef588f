#!/usr/bin/env bash
# Per-query match time (logits + top-5), edgeclip beside numpy and the memory
# bandwidth floor, for 1k/10k/100k labels × 512 dims in f32, f16 and int8.
#   firmware-tools/bench/match.sh [PYTHON]
# PYTHON defaults to the test environment (target/pyenv, from firmware-tools/test-env.sh).
# Both sides run single-threaded: the matcher is single-threaded, and numpy's BLAS is
# pinned to one thread here.
#
# floor = bytes of rows (and int8 scales) read per query / memory copy bandwidth
# (a 256 MiB copy, bytes copied per second); "read floor" uses a 256 MiB read-only
# sum instead, the stricter bound since matching only reads its rows.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${1:-$root/target/pyenv/bin/python}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

numpy_out=$(mktemp)
trap 'rm -f "$numpy_out"' EXIT
cargo bench --manifest-path "$root/Cargo.toml" -p edgeclip-match --bench match -- \
  --noplot 'bandwidth|match/' >&2
"$py" "$root/firmware-tools/bench/match_numpy.py" >"$numpy_out"

"$py" - "$root/target/criterion" "$numpy_out" <<'PY'
import json, sys, pathlib
crit, numpy_file = pathlib.Path(sys.argv[1]), sys.argv[2]
def median_s(*parts):
    est = json.loads((crit.joinpath(*parts) / "new" / "estimates.json").read_text())
    return est["median"]["point_estimate"] * 1e-9
buf = 256 << 20
copy_bw = buf / median_s("bandwidth", "copy")
read_bw = buf / median_s("bandwidth", "read")
numpy = {(r["labels"], r["dtype"]): r["median_s"]
         for r in map(json.loads, open(numpy_file))}
width = {"f32": 4, "f16": 2, "int8": 1}
def t(s):
    return f"{s * 1e3:.3f} ms" if s >= 1e-3 else f"{s * 1e6:.1f} µs"
print(f"memory bandwidth: copy {copy_bw / 1e9:.1f} GB/s, read {read_bw / 1e9:.1f} GB/s")
head = ["labels", "dtype", "edgeclip", "floor", "×floor", "read floor", "×read",
        "numpy", "vs numpy"]
rows = []
for n in [1000, 10000, 100000]:
    for d in ["f32", "f16", "int8"]:
        ours = median_s("match", d, str(n))
        nbytes = n * 512 * width[d] + (4 * n if d == "int8" else 0)
        floor, rfloor = nbytes / copy_bw, nbytes / read_bw
        np_s = numpy[(n, d)]
        rows.append([f"{n}", d, t(ours), t(floor), f"{ours / floor:.2f}", t(rfloor),
                     f"{ours / rfloor:.2f}", t(np_s), f"{np_s / ours:.2f}×"])
w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
for r in [head] + rows:
    print("  ".join(c.rjust(w[i]) for i, c in enumerate(r)))
PY
