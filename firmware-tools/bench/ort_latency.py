"""onnxruntime latency of ONNX files, as JSON: the reference column of backends.sh.

    python3 ort_latency.py OUT.json RUNS FILE:INPUT [FILE:INPUT ...]

INPUT is `image64` (a [1,3,64,64] image), `text` (one tokenized prompt) or `slice`
(target/scale-slice/input.bin, [1,3,224,224]). Each file runs at 1 and 2 intra-op
threads with sequential execution, batch 1, after 10 warm-up runs; OUT gets
{"FILE": {"1": {"median_ms", "min_ms"}, "2": {...}}}.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]


def feed(kind: str) -> np.ndarray:
    if kind == "image64":
        return np.full((1, 3, 64, 64), 0.1, np.float32)
    if kind == "text":
        ids = np.zeros((1, 77), np.int64)
        ids[0, :8] = [49406, 320, 1125, 539, 320, 736, 7117, 49407]
        return ids
    if kind == "slice":
        return np.fromfile(ROOT / "target/scale-slice/input.bin", np.float32).reshape(1, 3, 224, 224)
    raise SystemExit(f"unknown input kind {kind}")


def main() -> None:
    out, runs, specs = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    result = {"onnxruntime": ort.__version__}
    for spec in specs:
        path, kind = spec.rsplit(":", 1)
        x = feed(kind)
        result[path] = {}
        for threads in (1, 2):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            s = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            name = s.get_inputs()[0].name
            for _ in range(10):
                s.run(None, {name: x})
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                s.run(None, {name: x})
                times.append((time.perf_counter() - t) * 1e3)
            result[path][str(threads)] = {"median_ms": float(np.median(times)), "min_ms": float(np.min(times))}
            print(f"onnxruntime {Path(path).name} {threads}t: {np.median(times):.3f} ms", file=sys.stderr)
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
