"""Static int8 quantization of a CLIP tower for OpenVINO (form "qdq").

    python3 quantize_openvino.py image models/edgeclip-tiny/image.fp32.onnx \\
        models/edgeclip-tiny/image.int8.openvino.onnx --package models/edgeclip-tiny
    python3 quantize_openvino.py text models/edgeclip-tiny/text.fp32.onnx \\
        models/edgeclip-tiny/text.int8.openvino.onnx --package models/edgeclip-tiny
    python3 quantize_openvino.py random target/scale-slice/slice.fp32.onnx \\
        target/scale-slice/slice.int8-openvino.onnx --like target/scale-slice/input.bin

Needs onnx, onnxruntime and, for `image` and `text`, open_clip_torch (its eval
transform and tokenizer, through make_model_fixtures.py). Then list the files in
the package's model.toml with `backend = "openvino"`, `form = "qdq"` (see
models/README.md) and rebuild the OpenVINO fixtures with
firmware-tools/fixtures/make_openvino_fixtures.py.

Why a second int8 form: OpenVINO runs quantize.py's "dynamic-matmul-weights" form
(DynamicQuantizeLinear + MatMulInteger) slower than fp32, and rejects per-channel
QLinearMatMul. QuantizeLinear/DequantizeLinear pairs are what it maps to
FakeQuantize and runs with int8 kernels. The form here:

* onnxruntime's `quantize_static`, QDQ format, int8 weights per output channel
  (symmetric), uint8 activations, MinMax calibration;
* only MatMul/Gemm with a constant weight and the patch Conv are quantized. The
  attention MatMuls of two activations (q.k^T, attn.v) and everything around
  Softmax stay float, as in quantize.py; nothing touches the text tower's causal
  mask (its -inf constant would get an infinite scale);
* calibration on what the tower sees in training: `procedural.sample("train", i)`
  images (shapes and distance scenes through open_clip's eval transform, point-cloud
  views as raw depth maps, as PointCLIP feeds them) for the image tower; the
  package's labels under the training templates plus training captions, through
  open_clip's tokenizer, for the text tower. `random` calibrates a file with random
  weights (the ViT-B/32-width slice) on noisy copies of one input.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "fixtures"))
sys.path.insert(0, str(HERE.parent / "train"))

from quantize import activation_matmuls  # noqa: E402

FORM = "qdq"


def image_calibration(size: int, n: int) -> np.ndarray:
    """n training samples as the image tower's input, [n, 3, size, size] float32."""
    import procedural as P
    from make_model_fixtures import open_clip_transform
    from PIL import Image

    transform = open_clip_transform(size)
    rows = []
    for i in range(n):
        kind, x, _caption, _label = P.sample("train", i)
        if kind == P.KIND_CLOUD:
            rows.append(np.asarray(x, np.float32))  # PointCLIP feeds depth views unnormalized
        else:
            rows.append(transform(Image.fromarray(x).convert("RGB")).numpy())
    return np.stack(rows).astype(np.float32)


def labels(package: Path) -> list[str]:
    lines = (package / "labels.txt").read_text().splitlines()
    return [l.strip() for l in lines if l.strip() and not l.startswith("#")]


def text_prompts(package: Path, n: int) -> list[str]:
    """The package's labels under every training template, then n training captions."""
    import procedural as P

    prompts = [t.format(l) for l in labels(package) for t in P.SHAPE_TEMPLATES]
    prompts += [P.POINTCLIP_TEMPLATE.format(s) for s in P.SOLIDS]
    prompts += [P.DEPTH_TEMPLATE.format(w) for w in P.DEPTH_WORDS]
    prompts += [P.sample("train", i)[2] for i in range(n)]
    return prompts


def text_calibration(package: Path, n: int) -> np.ndarray:
    from open_clip.tokenizer import tokenize

    return tokenize(text_prompts(package, n)).numpy().astype(np.int64)


def random_calibration(like: Path, shape: list[int], n: int, seed: int = 0) -> np.ndarray:
    """n inputs for a model with random weights: `like` plus noise, or random normals."""
    g = np.random.default_rng(seed)
    if like is not None:
        base = np.fromfile(like, np.float32).reshape(shape[1:])
        return np.stack([base + g.normal(0, 0.5, base.shape) for _ in range(n)]).astype(np.float32)
    return g.normal(0, 1, (n, *shape[1:])).astype(np.float32)


class Reader:
    """onnxruntime's CalibrationDataReader over a stacked array, `batch` rows at a time."""

    def __init__(self, name: str, data: np.ndarray, batch: int = 16):
        self.feeds = iter([{name: data[i : i + batch]} for i in range(0, len(data), batch)])

    def get_next(self):
        return next(self.feeds, None)

    def rewind(self):  # not needed by MinMax; present for the interface
        pass


def quantize(src: Path, dst: Path, data: np.ndarray, activation_type: str = "u8",
             keep_attention_float: bool = True, method: str = "minmax", gather: bool = False) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # onnxruntime's basic optimizations (constant folding, standard ONNX ops only) and
        # ONNX shape inference; its symbolic shape inference fails on the batch-dynamic Reshapes.
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        model = onnx.load(str(prepared))
        for i, node in enumerate(model.graph.node):
            if not node.name:
                node.name = f"{node.op_type}_{i}"
        exclude = activation_matmuls(model) if keep_attention_float else []
        onnx.save(model, str(prepared))
        name = model.graph.input[0].name
        fixed_batch = model.graph.input[0].type.tensor_type.shape.dim[0].dim_value  # 0: dynamic
        quantize_static(
            str(prepared), str(dst), Reader(name, data, fixed_batch or 16),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul", "Gemm", "Conv"] + (["Gather"] if gather else []),
            nodes_to_exclude=exclude,
            per_channel=True,
            activation_type=QuantType.QUInt8 if activation_type == "u8" else QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method={"minmax": CalibrationMethod.MinMax,
                              "percentile": CalibrationMethod.Percentile,
                              "entropy": CalibrationMethod.Entropy}[method],
            extra_options={"ActivationSymmetric": activation_type == "s8", "WeightSymmetric": True},
        )
    check_form(onnx.load(str(dst)))


def check_form(model: onnx.ModelProto) -> None:
    ops = {n.op_type for n in model.graph.node}
    banned = {"QGemm", "QLinearMatMul", "QLinearConv", "MatMulInteger", "DynamicQuantizeLinear"}
    found = ops & banned
    if found:
        raise RuntimeError(f"quantized graph holds ops outside the {FORM} form: {sorted(found)}")
    if "QuantizeLinear" not in ops or "DequantizeLinear" not in ops:
        raise RuntimeError("quantized graph has no QuantizeLinear/DequantizeLinear: nothing was quantized")
    producers = {o: n for n in model.graph.node for o in n.output}
    for n in model.graph.node:
        if n.op_type == "Softmax" and n.input[0] in producers and producers[n.input[0]].op_type == "DequantizeLinear":
            raise RuntimeError(f"Softmax {n.name} reads a DequantizeLinear: attention was quantized")


def image_size(package: Path) -> int:
    line = next(l for l in (package / "model.toml").read_text().splitlines() if l.startswith("image_size"))
    return int(line.split("=")[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tower", choices=["image", "text", "random"])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--package", type=Path, help="model package (image_size, labels.txt)")
    ap.add_argument("--like", type=Path, help="random: a raw f32 input to add noise to")
    ap.add_argument("--n", type=int, default=512, help="calibration samples")
    ap.add_argument("--activations", choices=["u8", "s8"], default="u8")
    ap.add_argument("--method", choices=["minmax", "percentile", "entropy"], default="minmax")
    ap.add_argument("--quantize-attention", action="store_true",
                    help="also quantize the activation-activation MatMuls (less accurate)")
    args = ap.parse_args()
    if args.tower == "image":
        data = image_calibration(image_size(args.package), args.n)
    elif args.tower == "text":
        data = text_calibration(args.package, args.n)
    else:
        inp = onnx.load(str(args.src), load_external_data=False).graph.input[0]
        shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
        data = random_calibration(args.like, shape, args.n)
    quantize(args.src, args.dst, data, args.activations, not args.quantize_attention, args.method,
             gather=args.tower == "text")
    print(f"{args.dst}: {args.dst.stat().st_size / 1e6:.1f} MB ({FORM}, {len(data)} calibration inputs)")


if __name__ == "__main__":
    main()
