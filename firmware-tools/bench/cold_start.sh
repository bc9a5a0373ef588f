#!/usr/bin/env bash
# Cold start: process start to the first embedding, as a device runs it.
#   firmware-tools/bench/cold_start.sh [BINARY] [RUNS]
# BINARY defaults to the host's device-profile build (cargo build --profile device -p edgeclip-cli).
# Prints the median wall time of `edgeclip embed image` on one sample for fp32 and int8,
# the same for a text, and where the time goes (check, parse, plan, run) from the debug log.
# Then the same medians with the load check by SHA-256 instead of XXH3-64 (a copy of
# the package without its xxh3 digests), to show what the faster check saves.
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
        times+=("$(wall_us "$bin" --model "$pkg" "$@")")
    done
    local med
    med=$(printf '%s\n' "${times[@]}" | median)
    printf '%-28s median %7.1f ms over %d runs\n' "$label" "$(echo "$med / 1000" | bc -l)" "$runs"
}

all() { # heading
    echo "$1"
    for p in fp32 int8; do
        measure "image $p (1 image)" --precision "$p" embed image "$sample"
        measure "text $p (1 text)" --precision "$p" embed text "a red circle"
    done
}

echo "binary: $bin ($(stat -c %s "$bin") bytes)"
pkg=$model
all "load check XXH3-64 (as shipped):"
sha=$(mktemp -d)
trap 'rm -rf "$sha"' EXIT
cp -r "$model"/. "$sha"/
grep -v '^xxh3 = ' "$model/model.toml" > "$sha/model.toml"
pkg=$sha
all "load check SHA-256 (manifest without xxh3):"
pkg=$model
echo "where the time goes (one run each, debug log):"
for p in fp32 int8; do
    EDGECLIP_LOG=edgeclip=debug "$bin" --model "$model" --precision "$p" embed image "$sample" 2>&1 >/dev/null |
        grep -E "checked in|parsed in|\(batch 1\)" | sed -E "s|$root/||; s/^/  /"
done
