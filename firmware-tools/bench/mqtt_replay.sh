#!/usr/bin/env bash
# Outbox replay rate after an outage of N events (default 10,000), RUNS times
# (default 5), against a mosquitto started here on a free loopback port; prints
# each run and the median rate. Needs mosquitto (firmware-tools/test-env.sh).
#   firmware-tools/bench/mqtt_replay.sh [N] [RUNS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/firmware-tools/bench/timing.sh"
n=${1:-10000}
runs=${2:-5}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$mosquitto" -p "$port" > /dev/null 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
cd "$root"
cargo build --quiet --release -p edgeclip-mqtt --example replay_bench
rates=()
for _ in $(seq "$runs"); do
  line=$(target/release/examples/replay_bench "$port" "$n")
  echo "$line"
  rates+=("$(echo "$line" | awk '{print $(NF-1)}')")
done
printf '%s\n' "${rates[@]}" | median | xargs printf 'median: %s events/s\n'
