#!/usr/bin/env bash
# Store building speed: encodes a generated list of 10,000 labels (colour × adjective ×
# everyday object, from models/edgeclip-tiny/stores/everyday.txt) into a store and prints
# the binary's own report (labels, size, seconds, labels/s). On a terminal a progress
# bar runs while it encodes.
#   firmware-tools/bench/build_store.sh [EDGECLIP_BINARY] [THREADS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/target/device/edgeclip}
threads=${2:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -v '^#' "$root/models/edgeclip-tiny/stores/everyday.txt" | cut -f1 | sed '/^$/d' > "$work/objects"
for colour in red green blue yellow black white orange purple grey brown pink silver; do
    for adjective in small large old new broken shiny; do
        sed "s/^/$colour $adjective /" "$work/objects"
    done
done > "$work/all.txt"
head -n 10000 "$work/all.txt" > "$work/labels.txt"
echo "labels: $(wc -l < "$work/labels.txt") (e.g. \"$(sed -n 4321p "$work/labels.txt")\")"
for dtype in f16 int8; do
    "$bin" --model "$root/models/edgeclip-tiny" --threads "$threads" \
        labels build "$work/labels.txt" -o "$work/labels.$dtype.emb" --dtype "$dtype"
done
