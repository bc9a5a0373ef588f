#!/usr/bin/env bash
# Size against speed of the binary shipped to boards: builds `edgeclip` for this host once
# per variant of the `device` profile and times the same work with each build.
#
#   firmware-tools/bench/device_profile.sh [RUNS] [VARIANT...]
#
# Variants (default: all of them):
#   shipped    the `device` profile as committed
#   cold-3     without its size-optimized start-up crates ([profile.device.package]):
#              every crate at opt-level 3
#   no-unwind  plus -C force-unwind-tables=no
#   non-pie    plus -C relocation-model=static (no .rela.dyn; the executable loses ASLR)
#   s          opt-level "s" everywhere
#
# Each variant builds in target/profile-variants/NAME (a full fat-LTO build, minutes each).
# Work timed, on one thread: embedding 280 images (the samples, 40 times each) and 280
# texts, fp32 and int8, plus one cold start (process start to the first image embedding).
# Runs are interleaved across variants; the report gives each median and its ratio to
# the first variant named.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
shift || true
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(shipped cold-3 no-unwind non-pie s)
model=$root/models/edgeclip-tiny
# shellcheck source=timing.sh
source "$root/firmware-tools/bench/timing.sh"

# The crates the committed profile builds for size: `name = { opt-level = "s" }` lines
# under [profile.device.package].
mapfile -t cold_crates < <(awk '/^\[/ {on = ($0 == "[profile.device.package]"); next}
    on && /opt-level/ {print $1}' "$root/Cargo.toml")

build() { # variant
    local v=$1 rustflags="" config=()
    case "$v" in
    shipped) ;;
    no-unwind) rustflags="-C force-unwind-tables=no" ;;
    non-pie) rustflags="-C relocation-model=static" ;;
    cold-3)
        for c in "${cold_crates[@]}"; do
            config+=(--config "profile.device.package.$c.opt-level=3")
        done
        ;;
    s) config+=(--config 'profile.device.opt-level="s"') ;;
    *) echo "device_profile.sh: unknown variant $v" >&2; exit 2 ;;
    esac
    local t0=$(date +%s)
    RUSTFLAGS="$rustflags" CARGO_TARGET_DIR="$root/target/profile-variants/$v" \
        cargo build --quiet --manifest-path "$root/Cargo.toml" --profile device \
        -p edgeclip-cli --locked "${config[@]}"
    echo "built $v in $(($(date +%s) - t0)) s" >&2
}

bin_of() { echo "$root/target/profile-variants/$1/device/edgeclip"; }

images=()
for _ in $(seq 40); do images+=("$model"/samples/*); done
texts=()
while IFS= read -r label; do
    case "$label" in '#'* | '') continue ;; esac
    for t in "a photo of a" "a drawing of a" "a rendering of a" "a picture of the" \
        "a close-up photo of a" "point cloud depth map of a"; do
        texts+=("$t ${label%%	*}.")
    done
done < "$model/labels.txt"
texts=("${texts[@]:0:280}")

ms() { echo $(($(wall_us "$@") / 1000)); }

works=(image-fp32 text-fp32 image-int8 text-int8 cold-int8)
work() { # binary, work
    local bin=$1 w=$2 p=${2#*-}
    case "$w" in
    image-*) ms "$bin" --model "$model" --threads 1 --precision "$p" embed image "${images[@]}" ;;
    text-*) ms "$bin" --model "$model" --threads 1 --precision "$p" embed text "${texts[@]}" ;;
    cold-*) ms "$bin" --model "$model" --threads 1 --precision "$p" embed image "${images[0]}" ;;
    esac
}

for v in "${variants[@]}"; do
    [ -x "$(bin_of "$v")" ] && [ -z "${REBUILD:-}" ] || build "$v"
done

results=$(mktemp)
for _ in $(seq "$runs"); do
    for w in "${works[@]}"; do
        for v in "${variants[@]}"; do
            echo "$v $w $(work "$(bin_of "$v")" "$w")" >> "$results"
        done
    done
done

section() { # binary, name -> the section's size in MB, or "-"
    size -A "$1" | awk -v s="$2" '$1 == s {printf "%.1fM", $2 / 1e6; f=1} END {if (!f) printf "-"}'
}
printf '%-10s %10s %8s %8s %9s' variant bytes .text .eh_frame .rela.dyn
for w in "${works[@]}"; do printf ' %16s' "$w ms"; done
echo
for v in "${variants[@]}"; do
    bin=$(bin_of "$v")
    printf '%-10s %10s %8s %8s %9s' "$v" "$(stat -c %s "$bin")" "$(section "$bin" .text)" \
        "$(section "$bin" .eh_frame)" "$(section "$bin" .rela.dyn)"
    for w in "${works[@]}"; do
        m=$(awk -v v="$v" -v w="$w" '$1 == v && $2 == w {print $3}' "$results" | median)
        base=$(awk -v v="${variants[0]}" -v w="$w" '$1 == v && $2 == w {print $3}' "$results" | median)
        printf ' %9s (%.2fx)' "$m" "$(echo "$m / $base" | bc -l)"
    done
    echo
done
echo "(medians of $runs interleaved runs, one thread; ratios against ${variants[0]})"
rm -f "$results"
