"""Exports standard open_clip architectures, with random weights, for the speed benches.

    python3 export_clip_arch.py OUT_DIR --arch ViT-B-32 [--arch ViT-B-16] [--seed 0] [--force] [--threads 1]

Why: encode latency at real CLIP size depends on the architecture (widths,
depth, patch size) and the numeric form, not on the values of the weights, so a
bench needs no trained checkpoint and no download: `open_clip.create_model(arch,
pretrained=None)` gives the exact graph of the published model. torch and
open_clip are needed only here (firmware-tools/bench/export-venv.sh finds or
makes a Python that has them); the benches read the cached files. They are
large (hundreds of MB per architecture) and rebuilt from the seed, so they live
under target/ (e.g. target/bench/models) and are never committed.

Per architecture, OUT_DIR/<arch>/ gets:

* image.fp32.onnx: input `image` float32 [batch, 3, S, S]; output `embedding`
  [batch, D], `model.encode_image(x)` (projected, not normalised);
* text.fp32.onnx: input `text` int64 [batch, 77]; output `embedding` [batch, D],
  `model.encode_text(t)` (not normalised);
* image.int8.onnx, text.int8.onnx: the same quantized by
  firmware-tools/export/quantize.py, the form the shipped models use;
* image_input.bin (float32 LE, 1x3xSxS, seeded normal * 0.5) and text_input.bin
  (int64 LE, 1x77, one tokenized prompt), and onnxruntime's outputs on them,
  <tower>.<precision>.ort.bin (float32 LE);
* meta.json: arch, seed, versions, per tower the input, the GFLOPs of one
  batch-1 forward (2 x multiply-adds of the graph's MatMul/Gemm/Conv nodes,
  attention's batched MatMuls included) and the cosine between onnxruntime's fp32 and int8 outputs.

The export follows firmware-tools/export/export_onnx.py (opset, names, the
text tower wrapper, the fused attention fast path turned off). An architecture
whose meta.json exists is skipped unless --force.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "firmware-tools/export"))
from export_onnx import OPSET, TextTower  # noqa: E402
from quantize import FORM, activation_matmuls, check_form, quantize  # noqa: E402
from towers import gflops, inputs, reference_outputs, tower_record  # noqa: E402

TOWERS = ("image", "text")


class ImageTower(nn.Module):
    """The pooled, projected image embedding alone (no patch tokens)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor):
        return self.model.encode_image(image)


def export_towers(model: nn.Module, out: Path, feeds: dict[str, np.ndarray]) -> None:
    towers = {"image": ImageTower(model), "text": TextTower(model)}
    with torch.no_grad():
        for name, tower in towers.items():
            x = torch.from_numpy(np.repeat(feeds[name], 2, axis=0))
            torch.onnx.export(
                tower, (x,), out / f"{name}.fp32.onnx", opset_version=OPSET, dynamo=False,
                do_constant_folding=True, input_names=[name], output_names=["embedding"],
                dynamic_axes={name: {0: "batch"}, "embedding": {0: "batch"}},
            )




def weight_matmuls_left(path: Path) -> list[str]:
    """Float MatMuls with a constant operand: the quantized form must have none."""
    model = onnx.load(str(path))
    floats = [n.name for n in model.graph.node if n.op_type == "MatMul"]
    return sorted(set(floats) - set(activation_matmuls(model)))


def export_arch(arch: str, out: Path, seed: int) -> dict:
    import onnxruntime as ort
    import onnxruntime.quantization  # noqa: F401  (fails here, before the export, without ml_dtypes)
    import open_clip

    timings = {}
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    t = time.perf_counter()
    model = open_clip.create_model(arch, pretrained=None, device="cpu").eval()
    timings["create_model"] = time.perf_counter() - t
    size = model.visual.image_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    feeds = inputs(size, int(model.context_length), seed)
    for name, x in feeds.items():
        x.tofile(out / f"{name}_input.bin")
    # the fused fast path exports as an op ONNX does not have
    torch.backends.mha.set_fastpath_enabled(False)
    t = time.perf_counter()
    export_towers(model, out, feeds)
    timings["export_fp32"] = time.perf_counter() - t
    del model

    towers = {}
    for name in TOWERS:
        fp32, int8 = out / f"{name}.fp32.onnx", out / f"{name}.int8.onnx"
        t = time.perf_counter()
        quantize(fp32, int8)
        timings[f"quantize_{name}"] = time.perf_counter() - t
        check_form(onnx.load(str(int8)))
        left = weight_matmuls_left(int8)
        if left:
            raise RuntimeError(f"{int8}: float MatMuls with constant weights: {left}")
        outputs = reference_outputs(out, name, feeds[name])
        towers[name] = tower_record(out, name, feeds[name], outputs, gflops(fp32, {name: feeds[name]}))
    meta = {
        "arch": arch,
        "pretrained": None,
        "seed": seed,
        "opset": OPSET,
        "int8_form": FORM,
        "versions": {"torch": torch.__version__, "open_clip": open_clip.__version__,
                     "onnx": onnx.__version__, "onnxruntime": ort.__version__},
        "towers": towers,
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--arch", action="append", required=True, help="open_clip model name, e.g. ViT-B-32 (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="re-export an architecture whose meta.json exists")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for arch in args.arch:
        out = args.out / arch
        if (out / "meta.json").exists() and not args.force:
            print(f"{arch}: cached in {out}", file=sys.stderr)
            continue
        t = time.perf_counter()
        meta = export_arch(arch, out, args.seed)
        print(f"{arch}: exported in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        print(json.dumps(meta))


if __name__ == "__main__":
    main()
