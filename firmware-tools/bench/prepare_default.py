"""Lays out the shipped default model like an exported architecture, for the int8 benchmark.

    python3 prepare_default.py OUT_DIR

Why: firmware-tools/bench/int8.sh measures every model the same way, from a
directory that holds the four towers and, beside them, the inputs, onnxruntime's
outputs on them and meta.json (export_clip_arch.py writes such a directory for
each open_clip architecture). This makes OUT_DIR/default/ for models/edgeclip-tiny:

* image.fp32.onnx, image.int8.onnx, text.fp32.onnx, text.int8.onnx: symbolic
  links into the package (OUT_DIR is under target/, never committed);
* image_input.bin (float32 LE, 1x3xSxS, seeded normal * 0.5, S the package's
  image_size) and text_input.bin (int64 LE, 1x77, one tokenized prompt), as
  export_clip_arch.py draws them;
* <tower>.<precision>.ort.bin: onnxruntime's batch-1 `embedding` on them (float32 LE);
* meta.json in export_clip_arch.py's layout, with per tower the GFLOPs of one
  batch-1 forward counted by its gflops().

Needs onnx, onnxruntime and numpy, not torch: where torch is missing, the three
definitions used here are read out of export_clip_arch.py's source rather than
imported with the module. Skipped when OUT_DIR/default/meta.json exists.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "models" / "edgeclip-tiny"
TOWERS = ("image", "text")
PRECISIONS = ("fp32", "int8")
SEED = 0


def export_helpers():
    """PROMPT, inputs() and gflops() of export_clip_arch.py.

    Imported when torch is there; otherwise their definitions alone are executed,
    the module's top level importing torch and the export code.
    """
    here = Path(__file__).resolve().parent
    try:
        sys.path.insert(0, str(here))
        import export_clip_arch as m

        return m.PROMPT, m.inputs, m.gflops
    except (ImportError, OSError):
        pass
    finally:
        sys.path.remove(str(here))
    source = here / "export_clip_arch.py"
    tree = ast.parse(source.read_text(), str(source))
    wanted = {"PROMPT", "inputs", "gflops"}
    body = [
        node for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in wanted)
        or (isinstance(node, ast.Assign) and any(getattr(t, "id", None) in wanted for t in node.targets))
    ]
    namespace = {"np": np, "onnx": onnx, "Path": Path}
    exec(compile(ast.Module(body=body, type_ignores=[]), str(source), "exec"), namespace)
    return namespace["PROMPT"], namespace["inputs"], namespace["gflops"]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: prepare_default.py OUT_DIR")
    out = Path(sys.argv[1]) / "default"
    if (out / "meta.json").exists():
        print(f"default: cached in {out}", file=sys.stderr)
        return
    started = time.perf_counter()
    _, inputs, gflops = export_helpers()
    manifest = tomllib.loads((PACKAGE / "model.toml").read_text())
    size = int(manifest["preprocess"]["image_size"])
    context = int(manifest.get("tokenizer", {}).get("context_length", 77))
    forms = {f["precision"]: f.get("form") for f in manifest["image"]["files"] if "backend" not in f}

    out.mkdir(parents=True, exist_ok=True)
    for tower in TOWERS:
        for precision in PRECISIONS:
            link = out / f"{tower}.{precision}.onnx"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(os.path.relpath(PACKAGE / link.name, out))
    feeds = inputs(size, context, SEED)
    for name, x in feeds.items():
        x.tofile(out / f"{name}_input.bin")

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    towers = {}
    for name in TOWERS:
        outputs = {}
        for precision in PRECISIONS:
            path = out / f"{name}.{precision}.onnx"
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            y = session.run(["embedding"], {name: feeds[name]})[0].astype(np.float32)
            y.tofile(out / f"{name}.{precision}.ort.bin")
            outputs[precision] = y
        towers[name] = {
            "input": {"name": name, "dtype": str(feeds[name].dtype), "shape": ["batch", *feeds[name].shape[1:]]},
            "output": {"name": "embedding", "dtype": "float32", "shape": ["batch", int(outputs["fp32"].shape[-1])]},
            "gflops": round(gflops(out / f"{name}.fp32.onnx", {name: feeds[name]}), 3),
            "ort_int8_vs_fp32_cosine": cosine(outputs["fp32"], outputs["int8"]),
            "mb": {p: round((out / f"{name}.{p}.onnx").stat().st_size / 1e6, 1) for p in PRECISIONS},
        }
    model = onnx.load(str(out / "image.fp32.onnx"), load_external_data=False)
    meta = {
        "arch": manifest["name"],
        "pretrained": "models/edgeclip-tiny",
        "seed": SEED,
        "opset": next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None),
        "int8_form": forms.get("int8"),
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__},
        "towers": towers,
        "timings_s": {"prepare": round(time.perf_counter() - started, 1)},
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    print(f"default: prepared in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
