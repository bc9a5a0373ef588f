#!/usr/bin/env bash
# edgeclip (tract) beside onnxruntime on the same ONNX files, fp32 and int8: the
# default model and random-weight ViT-B/32 and ViT-B/16, image and text towers, 1 and
# 2 threads, batch 1 (and text batch 64); then gemm-repro, ViT-B/16's MLP c_fc product
# alone ([1, 197, 768] @ [768, 3072], made by make_gemm_repro.py), batch 1, 1 and 2
# threads: the engines' int8 GEMM rates side by side. Writes
# firmware-tools/bench/REPORT-int8.md.
#   firmware-tools/bench/int8.sh [ROUNDS]        (default 2 rounds)
# Needs firmware-tools/test-env.sh (target/pyenv with onnxruntime and numpy). The ViT
# exports (target/bench/models) are made once by export_clip_arch.py with a Python that
# has torch (export-venv.sh); without one, the models already there are measured.
# Each case runs onnxruntime then edgeclip, one process each (ort_case.py, the
# bench_case example), one case after another; every round repeats all cases.
# EDGECLIP_BENCH_BIN: a prebuilt bench_case to use instead of cargo's.
# EDGECLIP_BENCH_QUICK=1: a check of the pipeline: runs / 10 (at least 2), one round.
# Raw rows: target/bench/int8/results.jsonl, the machine: target/bench/int8/machine.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$root/firmware-tools/bench
py=$root/target/pyenv/bin/python
models=$root/target/bench/models
out=$root/target/bench/int8
results=$out/results.jsonl
report=$root/firmware-tools/bench/REPORT-int8.md
rounds=${1:-2}
quick=${EDGECLIP_BENCH_QUICK:-0}
[ "$quick" = 1 ] && rounds=1
started=$(date +%s)

[ -x "$py" ] || { echo "int8: target/pyenv/bin/python missing; run firmware-tools/test-env.sh first" >&2; exit 1; }
mkdir -p "$models" "$out"

echo "int8: ViT-B-32 and ViT-B-16 exports (cached ones are skipped)" >&2
if ! torch_py=$("$bench/export-venv.sh"); then
  echo "int8: no Python with torch (export-venv.sh failed, above); going on with the models there are" >&2
elif ! "$torch_py" "$bench/export_clip_arch.py" "$models" --arch ViT-B-32 --arch ViT-B-16 >&2; then
  echo "int8: export_clip_arch.py failed (above); going on with the models there are" >&2
fi
"$py" "$bench/prepare_default.py" "$models"
"$py" "$bench/make_gemm_repro.py" "$models" \
  || echo "int8: make_gemm_repro.py failed (above); going on without gemm-repro" >&2

if [ -n "${EDGECLIP_BENCH_BIN:-}" ]; then
  bin=$EDGECLIP_BENCH_BIN
  build="prebuilt (EDGECLIP_BENCH_BIN)"
else
  echo "int8: cargo build --release -p edgeclip --example bench_case" >&2
  cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p edgeclip --example bench_case
  bin=$root/target/release/examples/bench_case
  build="cargo build --release -p edgeclip --example bench_case"
fi

# Per model, its cases, tower:batch: gemm-repro has the image tower (the product) alone.
cases_for() { # model
  if [ "$1" = gemm-repro ]; then echo "image:1"; else echo "image:1 text:1 text:64"; fi
}

present=()
for m in default ViT-B-32 ViT-B-16 gemm-repro; do
  ok=1
  files=(meta.json)
  for c in $(cases_for "$m"); do files+=("${c%%:*}.fp32.onnx" "${c%%:*}.int8.onnx"); done
  for f in "${files[@]}"; do
    [ -e "$models/$m/$f" ] || ok=0
  done
  if [ "$ok" = 1 ]; then present+=("$m"); else echo "int8: $m missing from target/bench/models, left out" >&2; fi
done
[ "${#present[@]}" -gt 0 ] || { echo "int8: no model to measure" >&2; exit 1; }

echo "int8: single-core fp32 GEMM rate" >&2
gemm=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "$py" -c '
import time
import numpy as np
n = 1024
rng = np.random.default_rng(0)
a = rng.standard_normal((n, n), dtype=np.float32)
b = rng.standard_normal((n, n), dtype=np.float32)
a @ b
best = float("inf")
for _ in range(10):
    t = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - t)
print(f"{2 * n**3 / best / 1e9:.2f}")')
base_rss=$("$py" -c 'import onnxruntime,numpy,resource;print(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024,1))')
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$([ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ] && echo true || echo false)

# The machine and the run's settings, for report.py.
"$py" - "$out/machine.json" "$models" "$gemm" "$base_rss" "$rounds" "$quick" "$commit" "$dirty" "$build" "${present[@]}" <<'EOF'
import datetime, json, os, platform, sys
path, models, gemm, base_rss, rounds, quick, commit, dirty, build, *present = sys.argv[1:]
fields = {}
for line in open("/proc/cpuinfo"):
    key, _, value = line.partition(":")
    fields.setdefault(key.strip(), value.strip())
name = fields.get("model name") or fields.get("Model") or fields.get("Hardware") or platform.processor() or platform.machine()
have = set((fields.get("flags") or fields.get("Features") or "").split())
arm = platform.machine() in ("aarch64", "arm64") or "Features" in fields
interest = ["asimd", "asimddp", "i8mm", "sve"] if arm else ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"]
gflops = {}
for m in present:
    meta = json.load(open(os.path.join(models, m, "meta.json")))
    gflops[m] = {t: v["gflops"] for t, v in meta["towers"].items()}
json.dump({
    "cpu": name,
    "arch": platform.machine(),
    "cores": os.cpu_count(),
    "flags": {f: f in have for f in interest},
    "gemm_gflops_1core": float(gemm),
    "python_baseline_rss_mb": round(float(base_rss), 1),
    "rounds": int(rounds),
    "quick": quick == "1",
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "commit": commit,
    "dirty": dirty == "true",
    "edgeclip_build": build,
    "models": present,
    "gflops": gflops,
}, open(path, "w"), indent=2)
EOF
echo "int8: $(nproc) cores, single-core GEMM $gemm GFLOP/s, Python with onnxruntime alone ${base_rss} MB" >&2

runs_for() { # model batch
  local n
  if [ "$1" = default ] || [ "$1" = gemm-repro ]; then
    if [ "$2" = 1 ]; then n=200; else n=20; fi
  else
    if [ "$2" = 1 ]; then n=20; else n=3; fi
  fi
  if [ "$quick" = 1 ]; then
    n=$((n / 10))
    [ "$n" -lt 2 ] && n=2
  fi
  echo "$n"
}

# Appends one result line with round, model and precision in front; a failed case
# becomes a line with "error". Prints the median to stderr.
record() { # round model precision engine tower threads batch runs stdout-line|"" error-text
  "$py" -c '
import json, sys
rnd, model, precision, engine, tower, threads, batch, runs, line, error = sys.argv[1:]
head = {"round": int(rnd), "model": model, "precision": precision}
if line:
    row = {**head, **json.loads(line)}
    median, rss = row["median_ms"], row["peak_rss_mb"]
    print(f"    {engine:<11} {median:10.3f} ms median, {rss:.0f} MB", file=sys.stderr)
else:
    row = {**head, "engine": engine, "tower": tower, "threads": int(threads), "batch": int(batch),
           "runs": int(runs), "error": error}
    print(f"    {engine:<11} failed: {error}", file=sys.stderr)
print(json.dumps(row))' "$@" >> "$results"
}

total=0
for model in "${present[@]}"; do
  read -ra cases <<< "$(cases_for "$model")"
  total=$((total + rounds * 2 * 2 * ${#cases[@]}))
done
: > "$results"
n=0
for round in $(seq "$rounds"); do
  for model in "${present[@]}"; do
    read -ra cases <<< "$(cases_for "$model")"
    for precision in fp32 int8; do
      for threads in 1 2; do
        for c in "${cases[@]}"; do
          tower=${c%%:*}
          batch=${c##*:}
          runs=$(runs_for "$model" "$batch")
          file=$models/$model/$tower.$precision.onnx
          n=$((n + 1))
          echo "int8: [round $round/$rounds, case $n/$total] $model $tower $precision ${threads}t batch $batch, $runs runs" >&2
          for engine in onnxruntime edgeclip; do
            if [ "$engine" = onnxruntime ]; then cmd=("$py" "$bench/ort_case.py"); else cmd=("$bin"); fi
            if line=$("${cmd[@]}" "$file" "$tower" "$threads" "$batch" "$runs" 2>"$out/stderr.txt" | tail -n 1) \
              && [ -n "$line" ]; then
              record "$round" "$model" "$precision" "$engine" "$tower" "$threads" "$batch" "$runs" "$line" ""
            else
              record "$round" "$model" "$precision" "$engine" "$tower" "$threads" "$batch" "$runs" "" \
                "$(tail -n 3 "$out/stderr.txt" | tr '\n' ' ')"
            fi
          done
        done
      done
    done
  done
done

"$py" -c '
import json, sys
m = json.load(open(sys.argv[1])); m["wall_s"] = int(sys.argv[2]); json.dump(m, open(sys.argv[1], "w"), indent=2)
' "$out/machine.json" "$(($(date +%s) - started))"
"$py" "$bench/report.py" "$out" "$report"
echo "int8: report in firmware-tools/bench/REPORT-int8.md, rows in target/bench/int8/results.jsonl" >&2
