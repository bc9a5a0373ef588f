#!/usr/bin/env bash
# The project's int8 kernels (runtime/kernels) beside tract's own int8 products and
# onnxruntime, on this machine: each kernel this CPU runs, forced with
# EDGECLIP_INT8_ISA (`none`: tract's products), on the same ONNX files, inputs and
# thread counts as onnxruntime. Writes firmware-tools/bench/REPORT-int8-kernels.md.
#
#   firmware-tools/bench/kernels.sh [RUNS]      (default 200 timed runs per case)
#
# Cases: the default model's int8 image and text towers (batch 1, and text batch
# 64), the ViT-B/32-width slice (target/scale-slice, made by test-env.sh) and
# gemm-repro (ViT-B/16's MLP product alone, 197x768 @ 768x3072, make_gemm_repro.py),
# each at 1 and 2 threads; then the bare products of the kernels example. One
# process per case (bench_case / ort_case.py); medians of RUNS timed runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bench=$root/firmware-tools/bench
py=$root/target/pyenv/bin/python
runs=${1:-200}
out=$root/target/bench/kernels
models=$root/target/bench/models
report=$bench/REPORT-int8-kernels.md
mkdir -p "$out" "$models"
[ -x "$py" ] || { echo "kernels: run firmware-tools/test-env.sh first" >&2; exit 1; }
"$py" "$bench/make_gemm_repro.py" "$models" >&2
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p edgeclip --example bench_case
cargo build --quiet --release --manifest-path "$root/Cargo.toml" -p edgeclip-kernels --example gemm
bin=$root/target/release/examples/bench_case
gemm=$root/target/release/examples/gemm
kernels=$("$gemm" 1 4 1 1 | awk -F: 'NR > 1 {gsub(/ /, "", $1); print $1}' | grep -v portable | tr '\n' ' ')

rows=$out/rows.jsonl
: > "$rows"
case_runs() { # file tower batch -> runs for this case
  if [ "$3" -gt 1 ]; then echo $(( runs / 10 > 2 ? runs / 10 : 2 )); else echo "$runs"; fi
}
for spec in \
  "default image $root/models/edgeclip-tiny/image.int8.onnx 1" \
  "default text $root/models/edgeclip-tiny/text.int8.onnx 1" \
  "default text $root/models/edgeclip-tiny/text.int8.onnx 64" \
  "vit-b32-slice image $root/target/scale-slice/slice.int8.onnx 1" \
  "gemm-repro image $models/gemm-repro/image.int8.onnx 1"; do
  read -r model tower file batch <<<"$spec"
  [ -f "$file" ] || { echo "kernels: $file missing, skipped" >&2; continue; }
  n=$(case_runs "$file" "$tower" "$batch")
  case $model in vit-b32-slice) n=$(( n / 4 > 5 ? n / 4 : 5 ));; esac
  for threads in 1 2; do
    echo "kernels: $model $tower batch $batch, $threads thread(s)" >&2
    line=$("$py" "$bench/ort_case.py" "$file" "$tower" "$threads" "$batch" "$n")
    echo "{\"model\":\"$model\",\"kernel\":\"onnxruntime\",\"row\":$line}" >> "$rows"
    for k in none $kernels; do
      line=$(EDGECLIP_INT8_ISA=$k "$bin" "$file" "$tower" "$threads" "$batch" "$n")
      echo "{\"model\":\"$model\",\"kernel\":\"$k\",\"row\":$line}" >> "$rows"
    done
  done
done
products=$out/products.txt
: > "$products"
for shape in "65 128 512" "50 768 3072" "197 768 3072"; do
  # shellcheck disable=SC2086
  "$gemm" $shape 50 >> "$products"
done

"$py" - "$rows" "$products" "$report" "$runs" <<'PY'
import json, platform, subprocess, sys, datetime
rows_path, products_path, report, runs = sys.argv[1:]
rows = [json.loads(l) for l in open(rows_path)]
flags = open("/proc/cpuinfo").read().split("flags")[1].split("\n")[0].split()
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
isa = ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags)
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
out = [
    "# int8 kernels: edgeclip's own, tract's, onnxruntime's\n",
    f"Command: `firmware-tools/bench/kernels.sh {runs}`.  ",
    f"Date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC. Commit {commit}.  ",
    f"CPU: {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores; {isa}.\n",
    "Median milliseconds per call (one process per case, onnxruntime's CPU provider with the same threads);",
    "`none` is tract's own int8 products (EDGECLIP_INT8_ISA=none), the other columns the project's kernels",
    "forced by name; the ratio is the best kernel's median over onnxruntime's. One round: on a shared",
    "machine rerun it before reading a single ratio (medians moved by up to 2x between runs here).\n",
]
cases = []
for r in rows:
    key = (r["model"], r["row"]["tower"], r["row"]["batch"], r["row"]["threads"])
    if key not in cases:
        cases.append(key)
kernels = []
for r in rows:
    if r["kernel"] not in ("onnxruntime",) and r["kernel"] not in kernels:
        kernels.append(r["kernel"])
out.append("| model | tower | batch | threads | onnxruntime | " + " | ".join(kernels) + " | best / onnxruntime |")
out.append("|---|---|---:|---:|---:|" + "---:|" * len(kernels) + "---:|")
for key in cases:
    sel = {r["kernel"]: r["row"]["median_ms"] for r in rows
           if (r["model"], r["row"]["tower"], r["row"]["batch"], r["row"]["threads"]) == key}
    ours = [sel[k] for k in kernels if k != "none" and k in sel]
    ratio = min(ours) / sel["onnxruntime"] if ours else float("nan")
    cells = " | ".join(f"{sel.get(k, float('nan')):.3g}" for k in kernels)
    out.append(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {sel['onnxruntime']:.3g} | {cells} | {ratio:.2f} |")
out.append("\nBare products, one thread (`cargo run --release -p edgeclip-kernels --example gemm -- M K N 50`):\n")
out.append("```")
out.append(open(products_path).read().rstrip())
out.append("```")
open(report, "w").write("\n".join(out) + "\n")
print(open(report).read())
PY
