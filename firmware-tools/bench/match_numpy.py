"""numpy's per-query match time, beside edgeclip's (`match.sh` prints both).

Same sets as `runtime/matcher/benches/match.rs`: 1k/10k/100k unit rows × 512 dims in
f32, f16 and int8 (per-row symmetric scales), one unit query; the timed work is
`X @ q` (times the row scales for int8) and `np.argpartition` for the top 5, sorted.

numpy has no fast f16 or int8 matrix-vector product (float16 `@` is a scalar loop,
int8 `@` accumulates in int8 and overflows), so for those two it multiplies a float32
copy of the rows made outside the timed loop: its fastest way to the same scores, at
the cost of reading 4 bytes per value instead of 2 or 1. The rows differ from the
Rust bench's (numpy's RNG), which does not matter for a brute-force product.

Prints one JSON object per case: {"labels", "dtype", "median_s"}.
Run single-threaded: OPENBLAS_NUM_THREADS=1 (match.sh sets it, and OMP/MKL).
"""
import json
import sys
import time

import numpy as np

DIM = 512
SIZES = [1_000, 10_000, 100_000]


def unit_rows(rng, n):
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def median_time(fn, min_runs=20, min_seconds=1.0):
    fn()  # warm-up: page in, first BLAS call
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def top5(scores):
    idx = np.argpartition(-scores, 5)[:5]
    return idx[np.argsort(-scores[idx], kind="stable")]


def main():
    rng = np.random.default_rng(42)
    q = unit_rows(rng, 1)[0]
    for n in SIZES:
        x = unit_rows(rng, n)
        scales = np.abs(x).max(axis=1) / 127.0
        x_i8 = np.round(x / scales[:, None]).astype(np.int8)
        cases = {
            "f32": lambda: top5(x @ q),
            "f16": None,
            "int8": None,
        }
        x16_as_f32 = x.astype(np.float16).astype(np.float32)
        cases["f16"] = lambda: top5(x16_as_f32 @ q)
        x8_as_f32 = x_i8.astype(np.float32)
        cases["int8"] = lambda: top5((x8_as_f32 @ q) * scales)
        for dtype, fn in cases.items():
            print(json.dumps({"labels": n, "dtype": dtype, "median_s": median_time(fn)}))
            sys.stdout.flush()
        del x, x_i8, x16_as_f32, x8_as_f32


if __name__ == "__main__":
    main()
