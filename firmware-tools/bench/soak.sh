#!/usr/bin/env bash
# Soak: `edgeclip watch` over the default model's samples, looped, for FRAMES frames,
# with its resident memory sampled while it runs.
#   firmware-tools/bench/soak.sh [BINARY] [FRAMES] [PRECISION]
# BINARY defaults to the release build (cargo build --release -p edgeclip-cli).
# Prints RSS at start (after the first status), its maximum and at the end, the frames
# per second, and the per-stage milliseconds averaged over the run's status records.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/release/edgeclip}
frames=${2:-200000}
precision=${3:-fp32}
model=$root/models/edgeclip-tiny
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" --model "$model" --precision "$precision" --json watch \
    --files "$model/samples" --loop --fps 10 --frames "$frames" --status-every 10 \
    --labels-file "$model/labels.txt" > "$work/events.jsonl" &
pid=$!
start=$(date +%s)
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$(($(date +%s) - start)) $rss" >> "$work/rss"
    sleep 5
done
wait "$pid"
echo "soak: $bin, $frames frames, $precision, $(($(date +%s) - start)) s"
python3 - "$work/events.jsonl" "$work/rss" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
status = [e["data"] for e in events if e["type"] == "status"]
rss = [tuple(map(int, l.split())) for l in open(sys.argv[2])]
last = status[-1]
print(f"frames {last['frames']}, dropped {last['dropped']}, bad {last['bad']}, "
      f"{last['frames'] / last['uptime_s']:.1f} frames/s over {last['uptime_s']:.0f} s, "
      f"{sum(e['type'] in ('appeared', 'left') for e in events)} appeared/left events")
# RSS from the first sample after the first status (warm), its maximum, the last one.
warm = [kb for t, kb in rss if t >= 10] or [kb for _, kb in rss]
print(f"RSS KiB: start {warm[0]}, max {max(warm)}, end {warm[-1]} ({len(rss)} samples, every 5 s)")
stages = ["capture_wait", "decode", "preprocess", "encode", "matching"]
mean = {s: sum(st["stage_ms"][s] for st in status) / len(status) for s in stages}
print("per-stage ms (mean of status intervals): " +
      ", ".join(f"{s} {mean[s]:.3f}" for s in stages))
PY
