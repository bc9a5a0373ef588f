"""onnxruntime latency on a package's files: the reference for benches/encode.rs.

    python3 ort_encode.py models/edgeclip-tiny

Batch 1, the same inputs as the Rust bench, 1 and 2 intra-op threads; prints the
median and interquartile range in milliseconds over 200 runs after 20 warm-ups.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def median_ms(run, n=200, warmup=20):
    for _ in range(warmup):
        run()
    t = []
    for _ in range(n):
        s = time.perf_counter()
        run()
        t.append((time.perf_counter() - s) * 1e3)
    q1, med, q3 = np.percentile(t, [25, 50, 75])
    return med, q1, q3


def main() -> None:
    pkg = Path(sys.argv[1])
    size = int(next(l for l in (pkg / "model.toml").read_text().splitlines() if l.startswith("image_size")).split("=")[1])
    image = np.full((1, 3, size, size), 0.1, np.float32)
    text = np.zeros((1, 77), np.int64)
    text[0, :8] = [49406, 320, 1125, 539, 320, 736, 7117, 49407]
    print(f"onnxruntime {ort.__version__}")
    for precision in ("fp32", "int8"):
        for threads in (1, 2):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            for tower, feed in (("image", {"image": image}), ("text", {"text": text})):
                s = ort.InferenceSession(str(pkg / f"{tower}.{precision}.onnx"), opts, providers=["CPUExecutionProvider"])
                med, q1, q3 = median_ms(lambda: s.run(["embedding"], feed))
                print(f"{tower}/{precision}/{threads}t  median {med:.3f} ms  (IQR {q1:.3f}-{q3:.3f})")
    slice_dir = Path(__file__).resolve().parents[2] / "target" / "scale-slice"
    if (slice_dir / "input.bin").exists():
        x = np.fromfile(slice_dir / "input.bin", np.float32).reshape(1, 3, 224, 224)
        for precision in ("fp32", "int8"):
            for threads in (1, 2):
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                s = ort.InferenceSession(str(slice_dir / f"slice.{precision}.onnx"), opts, providers=["CPUExecutionProvider"])
                med, q1, q3 = median_ms(lambda: s.run(None, {"image": x}), n=50, warmup=5)
                print(f"vit-b32-slice/{precision}/{threads}t  median {med:.3f} ms  (IQR {q1:.3f}-{q3:.3f})")


if __name__ == "__main__":
    main()
