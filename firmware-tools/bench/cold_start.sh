#!/usr/bin/env bash
# Cold start: process start to the first embedding, as a device runs it.
#   firmware-tools/bench/cold_start.sh [BINARY] [RUNS]
# BINARY defaults to the host's device-profile build (cargo build --profile device -p edgeclip-cli).
# Prints the median wall time of `edgeclip embed image` on one sample for fp32 and int8,
# the same for a text, and where the time goes (parse, plan, run) from the debug log.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/device/edgeclip}
runs=${2:-11}
model=$root/models/edgeclip-tiny
sample=$model/samples/red_circle.png

# shellcheck source=timing.sh
source "$root/firmware-tools/bench/timing.sh"

measure() { # label, args...
    local label=$1; shift
    local times=()
    for _ in $(seq "$runs"); do
        times+=("$(wall_us "$bin" --model "$model" "$@")")
    done
    local med
    med=$(printf '%s\n' "${times[@]}" | median)
    printf '%-28s median %7.1f ms over %d runs\n' "$label" "$(echo "$med / 1000" | bc -l)" "$runs"
}

echo "binary: $bin ($(stat -c %s "$bin") bytes)"
for p in fp32 int8; do
    measure "image $p (1 image)" --precision "$p" embed image "$sample"
    measure "text $p (1 text)" --precision "$p" embed text "a red circle"
done
echo "where the time goes (one run each, debug log):"
for p in fp32 int8; do
    EDGECLIP_LOG=edgeclip=debug "$bin" --model "$model" --precision "$p" embed image "$sample" 2>&1 >/dev/null |
        grep -E "parsed in|\(batch 1\)" | sed -E "s|$root/||; s/^/  /"
done
