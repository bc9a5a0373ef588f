#!/usr/bin/env bash
# Builds tests/camera_vm.rs on this host and runs it inside the vivid VM (run.sh), where
# /dev/video0 is a real V4L2 driver: capture in each format, the picture against a
# v4l2-ctl reference, unplug/replug through Reconnecting, bad input. One VM boot for all.
# The tests' output lines go to stdout (the CI log); the exit code is the tests'.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
say() { echo "test-camera: $*" >&2; }

start=$(date +%s)
say "building edgeclip and the camera_vm test binary"
# The whole workspace, as `cargo test --workspace` builds it: with `-p` cargo would
# unify features over fewer packages and rebuild tract and half the tree (minutes in
# CI). After the test command's own `cargo test --workspace` this is a no-op, and it
# builds the edgeclip binary the watch test runs. The test binary's path comes from
# cargo's JSON messages.
json=$(cargo test --workspace --no-run --message-format=json) ||
  { say "error: cargo test --workspace --no-run failed"; exit 1; }
bin=$(printf '%s\n' "$json" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if (m.get("reason") == "compiler-artifact" and m.get("executable")
            and m["target"]["name"] == "camera_vm" and m["profile"]["test"]):
        print(m["executable"])
' | tail -n1)
[ -n "$bin" ] && [ -x "$bin" ] || { say "error: cargo reported no camera_vm test executable"; exit 1; }
built=$(date +%s)
say "built $bin in $((built - start))s; running it inside the VM"

set +e
"$root/firmware-tools/vm/run.sh" env RUST_BACKTRACE=1 "$bin" --ignored --nocapture --test-threads=1
rc=$?
set -e
say "camera tests exited with $rc after $(($(date +%s) - built))s in the VM step ($(($(date +%s) - start))s in all)"
exit "$rc"
