#!/usr/bin/env bash
# Builds the VM-only test binaries on this host and runs them inside the qemu VM (run.sh),
# one after the other in one VM boot:
# - tests/camera_vm.rs: /dev/video0 is a real V4L2 driver (vivid): capture in each format,
#   the picture against a v4l2-ctl reference, unplug/replug through Reconnecting, bad input;
# - tests/power_loss_vm.rs: the event journal and the label-store writer on ext4 over
#   dm-log-writes, the log replayed to many points to check what survives a power cut.
# The tests' output lines go to stdout (the CI log); the exit code is non-zero if either
# binary fails (each one's exit code is printed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
say() { echo "test-camera: $*" >&2; }
# Boot (~45 s), the camera tests (~2 min) and the power-loss test (1.5-2.5 min) took
# 4-5 minutes under emulation here; room for a busier machine.
export EDGECLIP_VM_TIMEOUT=${EDGECLIP_VM_TIMEOUT:-900}

start=$(date +%s)
say "building edgeclip and the camera_vm and power_loss_vm test binaries"
# The whole workspace, as `cargo test --workspace` builds it: with `-p` cargo would
# unify features over fewer packages and rebuild tract and half the tree (minutes in
# CI). After the test command's own `cargo test --workspace` this is a no-op, and it
# builds the edgeclip binary the watch test runs. The test binaries' paths come from
# cargo's JSON messages.
json=$(cargo test --workspace --no-run --message-format=json) ||
  { say "error: cargo test --workspace --no-run failed"; exit 1; }
test_bin() {
  printf '%s\n' "$json" | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if (m.get("reason") == "compiler-artifact" and m.get("executable")
            and m["target"]["name"] == sys.argv[1] and m["profile"]["test"]):
        print(m["executable"])
' "$1" | tail -n1
}
camera=$(test_bin camera_vm)
power=$(test_bin power_loss_vm)
for bin in "$camera" "$power"; do
  [ -n "$bin" ] && [ -x "$bin" ] || { say "error: cargo reported no camera_vm or power_loss_vm test executable"; exit 1; }
done
built=$(date +%s)
say "built $camera and $power in $((built - start))s; running them inside the VM"

# Both run whatever the first one's result; the guest prints each exit code. One line:
# run.sh quotes it with printf %q, and a newline would come out as bash-only $'...'.
guest='export RUST_BACKTRACE=1; "$1" --ignored --nocapture --test-threads=1; camera=$?;'
guest+=' echo "test-camera: camera_vm exited with $camera" >&2;'
guest+=' "$2" --ignored --nocapture --test-threads=1; power=$?;'
guest+=' echo "test-camera: power_loss_vm exited with $power" >&2;'
guest+=' [ "$camera" = 0 ] && [ "$power" = 0 ]'
set +e
"$root/firmware-tools/vm/run.sh" bash -c "$guest" vm-tests "$camera" "$power"
rc=$?
set -e
say "VM tests exited with $rc after $(($(date +%s) - built))s in the VM step ($(($(date +%s) - start))s in all)"
exit "$rc"
