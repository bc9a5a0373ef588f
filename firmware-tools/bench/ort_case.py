"""One row of the int8 benchmark on onnxruntime: the counterpart of bench_case.rs.

    python3 ort_case.py FILE image|text THREADS BATCH RUNS

Why: firmware-tools/bench/int8.sh sets edgeclip (tract) beside onnxruntime on the
same ONNX files, case by case, each in a process of its own so that its peak
memory is its own. This script is runtime/edgeclip/examples/bench_case.rs with
onnxruntime in place of tract: the same inputs (`image_input.bin`, float32 LE
1x... with the dimensions after the batch that the file declares for its input,
1x3xSxS for a CLIP image tower, 1x197x768 for a bare product's activations; or
`text_input.bin`, int64 LE 1x77; beside FILE, else the same synthetic item),
repeated to BATCH; a symbolic input dimension other than the batch is an error;
max(1, RUNS // 10) warm-up runs, then RUNS timed runs of the output `embedding`.
CPUExecutionProvider, THREADS intra-op threads, one inter-op thread, sequential
execution, the default graph optimizations.

Prints one JSON line with the fields bench_case prints: median and minimum
milliseconds, items per second, load time (session creation and the first run),
peak RSS (the Python interpreter and numpy included) and onnxruntime's version;
`cosine_vs_ort` is null, onnxruntime being the reference.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

PROMPT = [49406, 320, 1125, 539, 320, 736, 7117, 49407]


def item_dims(path: Path, shape: list) -> list[int]:
    """The input's dimensions after the batch, as the file declares them."""
    dims = list(shape[1:])
    symbolic = [(i + 1, d) for i, d in enumerate(dims) if not isinstance(d, int)]
    if symbolic:
        sys.exit(f"ort_case.py: {path}: input dimension(s) {symbolic} after the batch are symbolic; "
                 "only the batch may be")
    return dims


def image_item(path: Path, dims: list[int]) -> np.ndarray:
    """`image_input.bin` beside the file (1 x dims), else bench_case's synthetic item."""
    n = int(np.prod(dims, dtype=np.int64))
    blob = path.parent / "image_input.bin"
    if blob.is_file() and blob.stat().st_size == 4 * n:
        x = np.fromfile(blob, "<f4")
    else:
        x = (np.sin(np.arange(n, dtype=np.float32) * np.float32(0.0137)) * np.float32(1.8)).astype(np.float32)
    return x.reshape(1, *dims)


def text_item(path: Path) -> np.ndarray:
    """`text_input.bin` beside the file, else the prompt bench_case uses."""
    blob = path.parent / "text_input.bin"
    if blob.is_file() and blob.stat().st_size == 8 * 77:
        return np.fromfile(blob, "<i8").reshape(1, 77)
    ids = np.zeros((1, 77), np.int64)
    ids[0, : len(PROMPT)] = PROMPT
    return ids


def main() -> None:
    if len(sys.argv) != 6 or sys.argv[2] not in ("image", "text"):
        sys.exit("usage: ort_case.py FILE image|text THREADS BATCH RUNS")
    path = Path(sys.argv[1])
    tower = sys.argv[2]
    threads, batch, runs = (int(a) for a in sys.argv[3:6])

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL

    started = time.perf_counter()
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    if tower == "image":
        item = image_item(path, item_dims(path, session.get_inputs()[0].shape))
    else:
        item = text_item(path)
    feed = {name: np.ascontiguousarray(np.repeat(item, batch, axis=0))}
    session.run(["embedding"], feed)
    load_s = time.perf_counter() - started

    for _ in range(max(1, runs // 10)):
        session.run(["embedding"], feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        session.run(["embedding"], feed)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({
        "engine": "onnxruntime",
        "file": str(path),
        "tower": tower,
        "threads": threads,
        "batch": batch,
        "runs": runs,
        "median_ms": round(median, 4),
        "min_ms": round(times[0], 4),
        "items_per_s": round(batch * 1e3 / median, 2),
        "load_s": round(load_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cosine_vs_ort": None,
        "ort_version": ort.__version__,
    }))


if __name__ == "__main__":
    main()
