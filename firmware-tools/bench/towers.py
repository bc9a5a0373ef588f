"""What the benchmark's model directories share: inputs, FLOPs, onnxruntime's
reference outputs and the per-tower record of meta.json.

Used by export_clip_arch.py (the open_clip exports), prepare_default.py (the
shipped default model) and make_gemm_repro.py (the one-product reproduction).
Needs numpy, onnx and onnxruntime, not torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

PROMPT = [49406, 320, 1125, 539, 320, 736, 7117, 49407]
PRECISIONS = ("fp32", "int8")


def inputs(image_size: int, context_length: int, seed: int) -> dict[str, np.ndarray]:
    image = (np.random.default_rng(seed).standard_normal((1, 3, image_size, image_size)) * 0.5).astype(np.float32)
    text = np.zeros((1, context_length), np.int64)
    text[0, : len(PROMPT)] = PROMPT
    return {"image": image, "text": text}


def gflops(path: Path, feed: dict[str, np.ndarray]) -> float:
    """2 x multiply-adds of one batch-1 forward, over MatMul, Gemm and Conv.

    The operand shapes are the graph's own tensors, read from one onnxruntime run
    with them added as outputs: onnx's static shape inference leaves the
    attention's head dimension unknown (the exporter computes it with Div/Cast
    on Shape outputs, which its data propagation does not follow).
    """
    import onnxruntime as ort

    model = onnx.load(str(path))
    inits = {i.name: list(i.dims) for i in model.graph.initializer}
    wanted = []
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Gemm"):
            wanted += node.input[:2]
        elif node.op_type == "Conv":
            wanted += [node.input[1], node.output[0]]
    probe = sorted({n for n in wanted if n not in inits} - {o.name for o in model.graph.output} - set(feed))
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in probe)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    del model
    shapes = dict(inits)
    shapes.update({k: list(v.shape) for k, v in feed.items()})
    shapes.update({n: list(y.shape) for n, y in zip(probe, session.run(probe, feed))})
    model = onnx.load(str(path), load_external_data=False)
    flops = 0
    for node in model.graph.node:
        if node.op_type == "MatMul":
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            a2, b2 = (a if len(a) > 1 else [1] + a), (b if len(b) > 1 else b + [1])
            batch = np.broadcast_shapes(tuple(a2[:-2]), tuple(b2[:-2]))
            flops += 2 * int(np.prod(batch, dtype=np.int64)) * a2[-2] * a2[-1] * b2[-1]
        elif node.op_type == "Gemm":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            m, k = (a[1], a[0]) if attrs.get("transA", 0) else (a[0], a[1])
            n = b[0] if attrs.get("transB", 0) else b[1]
            flops += 2 * m * k * n
        elif node.op_type == "Conv":
            w, y = shapes[node.input[1]], shapes[node.output[0]]
            flops += 2 * int(np.prod(y, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
    return flops / 1e9


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def reference_outputs(out: Path, name: str, feed: np.ndarray) -> dict[str, np.ndarray]:
    """onnxruntime's `embedding` of `<name>.<precision>.onnx` on `feed`, one thread,
    also written as `<name>.<precision>.ort.bin` (float32 LE)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    outputs = {}
    for precision in PRECISIONS:
        session = ort.InferenceSession(str(out / f"{name}.{precision}.onnx"), opts, providers=["CPUExecutionProvider"])
        y = session.run(["embedding"], {name: feed})[0].astype(np.float32)
        y.tofile(out / f"{name}.{precision}.ort.bin")
        outputs[precision] = y
    return outputs


def tower_record(out: Path, name: str, feed: np.ndarray, outputs: dict[str, np.ndarray], gflops_: float) -> dict:
    """A tower's entry in meta.json."""
    return {
        "input": {"name": name, "dtype": str(feed.dtype), "shape": ["batch", *feed.shape[1:]]},
        "output": {"name": "embedding", "dtype": "float32", "shape": ["batch", *map(int, outputs["fp32"].shape[1:])]},
        "gflops": round(gflops_, 3),
        "ort_int8_vs_fp32_cosine": cosine(outputs["fp32"], outputs["int8"]),
        "mb": {p: round((out / f"{name}.{p}.onnx").stat().st_size / 1e6, 1) for p in PRECISIONS},
    }
