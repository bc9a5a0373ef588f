"""One int8 matrix product as an ONNX model, for the int8 benchmark: a reproduction of
the engine's GEMM rate beside onnxruntime's.

    python3 make_gemm_repro.py OUT_DIR

Why: in the ViT encodes firmware-tools/bench/int8.sh measures, what is left slow
on edgeclip (tract) is the int8 matrix product itself; the largest of them, and
the one that dominates ViT-B/16's image tower, is the MLP's c_fc: 197 tokens of
width 768 against a 768 x 3072 weight (tract: i32 GEMM m=3072 k=768 n=197). A
model holding that product alone times the product and nothing else on both
engines, with the same loading, threading and process as the CLIP towers
(bench_case / ort_case.py), so the gap can be looked at (and a fix checked)
without a whole tower around it.

OUT_DIR/gemm-repro/ gets, laid out like export_clip_arch.py's directories (the
image tower only):

* image.int8.onnx: input `image` float32 [batch, 197, 768], then the node
  pattern onnxruntime's quantize_dynamic writes for a MatMul with a constant
  weight (firmware-tools/export/quantize.py's "dynamic-matmul-weights" form):
  DynamicQuantizeLinear on the input, MatMulInteger(x_q, W_q, x_zp, W_zp)
  against a constant int8 768 x 3072 weight (seeded normal * 0.02, symmetric
  per-tensor scale, zero point 0 as an int8 scalar initializer), Cast to
  float, Mul(x_scale, W_scale), Mul -> output `embedding` float32
  [batch, 197, 3072];
* image.fp32.onnx: the same product in float, MatMul with the dequantized
  weight (W_q * W_scale), same input and output names;
* image_input.bin (float32 LE, 1x197x768, seeded standard normal, about what a
  LayerNorm hands c_fc) and onnxruntime's batch-1 outputs on it,
  image.<precision>.ort.bin (float32 LE, 1x197x3072);
* meta.json in export_clip_arch.py's layout; the tower's `gflops` is
  2 x 197 x 768 x 3072 / 1e9 (one batch-1 product).

opset 17 and the IR version of the shipped package's files. Needs numpy, onnx
and onnxruntime, not torch. Fails unless onnxruntime's int8 output has a cosine
above 0.999 to its fp32 one. Skipped when OUT_DIR/gemm-repro/meta.json exists.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from towers import PRECISIONS, reference_outputs, tower_record

NAME = "gemm-repro"
TOKENS, WIDTH, HIDDEN = 197, 768, 3072
OPSET = 17
IR_VERSION = 8
FORM = "dynamic-matmul-weights"
SEED = 0

MIN_COSINE = 0.999


def weight(rng: np.random.Generator) -> tuple[np.ndarray, np.float32]:
    """int8 weight [WIDTH, HIDDEN] and its scale, as quantize_dynamic's symmetric
    per-tensor QInt8 makes them: scale = max|w| / 127, zero point 0."""
    w = (rng.standard_normal((WIDTH, HIDDEN)) * 0.02).astype(np.float32)
    scale = np.float32(np.abs(w).max() / 127.0)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def io(batch: str = "batch") -> tuple[onnx.ValueInfoProto, onnx.ValueInfoProto]:
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, TOKENS, WIDTH])
    y = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, TOKENS, HIDDEN])
    return x, y


def finish(graph: onnx.GraphProto, producer: str) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def int8_model(q: np.ndarray, scale: np.float32) -> onnx.ModelProto:
    """The pattern quantize_dynamic writes for MatMul(image, W)."""
    w = "fc.weight"
    inits = [
        numpy_helper.from_array(q, f"{w}_quantized"),
        numpy_helper.from_array(np.array(scale, np.float32), f"{w}_scale"),
        numpy_helper.from_array(np.array(0, np.int8), f"{w}_zero_point"),
    ]
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["image"],
                         ["image_quantized", "image_scale", "image_zero_point"], name="image_QuantizeLinear"),
        helper.make_node("MatMulInteger", ["image_quantized", f"{w}_quantized", "image_zero_point", f"{w}_zero_point"],
                         ["embedding_output_quantized"], name="MatMul_quant"),
        helper.make_node("Cast", ["embedding_output_quantized"], ["embedding_output_quantized_cast_output"],
                         name="embedding_output_quantized_cast", to=TensorProto.FLOAT),
        helper.make_node("Mul", ["image_scale", f"{w}_scale"], ["MatMul_quant_scales_mul:0"],
                         name="MatMul_quant_scales_mul"),
        helper.make_node("Mul", ["embedding_output_quantized_cast_output", "MatMul_quant_scales_mul:0"], ["embedding"],
                         name="MatMul_quant_output_scale_mul"),
    ]
    x, y = io()
    return finish(helper.make_graph(nodes, NAME, [x], [y], inits), "onnx.quantize")


def fp32_model(q: np.ndarray, scale: np.float32) -> onnx.ModelProto:
    """MatMul(image, W) with W the int8 weight dequantized."""
    w = numpy_helper.from_array((q.astype(np.float32) * scale).astype(np.float32), "fc.weight")
    node = helper.make_node("MatMul", ["image", "fc.weight"], ["embedding"], name="MatMul")
    x, y = io()
    return finish(helper.make_graph([node], NAME, [x], [y], [w]), "make_gemm_repro")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make_gemm_repro.py OUT_DIR")
    out = Path(sys.argv[1]) / NAME
    if (out / "meta.json").exists():
        print(f"{NAME}: cached in {out}", file=sys.stderr)
        return
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    q, scale = weight(rng)
    x = rng.standard_normal((1, TOKENS, WIDTH)).astype(np.float32)
    x.tofile(out / "image_input.bin")
    onnx.save(fp32_model(q, scale), str(out / "image.fp32.onnx"))
    onnx.save(int8_model(q, scale), str(out / "image.int8.onnx"))

    outputs = reference_outputs(out, "image", x)
    record = tower_record(out, "image", x, outputs, 2 * TOKENS * WIDTH * HIDDEN / 1e9)
    cos = record["ort_int8_vs_fp32_cosine"]
    if not cos > MIN_COSINE:
        # no meta.json: the next run makes the files again
        sys.exit(f"{NAME}: onnxruntime's int8 output has cosine {cos:.6f} to fp32, not above {MIN_COSINE}")

    meta = {
        "arch": NAME,
        "pretrained": None,
        "seed": SEED,
        "opset": OPSET,
        "int8_form": FORM,
        "product": {"tokens": TOKENS, "k": WIDTH, "n": HIDDEN,
                    "what": "ViT-B/16 MLP c_fc: [batch, 197, 768] @ [768, 3072]"},
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__},
        "towers": {"image": record},
        "timings_s": {"make": round(time.perf_counter() - started, 1)},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    print(f"{NAME}: made in {out} (onnxruntime int8 vs fp32 cosine {cos:.6f})", file=sys.stderr)


if __name__ == "__main__":
    main()
