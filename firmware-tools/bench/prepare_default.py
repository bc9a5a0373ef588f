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
  batch-1 forward counted by towers.gflops().

Needs onnx, onnxruntime and numpy, not torch (the shared pieces are in
towers.py). Skipped when OUT_DIR/default/meta.json exists.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tomllib
from pathlib import Path

import onnx
import onnxruntime as ort

from towers import PRECISIONS, gflops, inputs, reference_outputs, tower_record

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "models" / "edgeclip-tiny"
TOWERS = ("image", "text")
SEED = 0


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: prepare_default.py OUT_DIR")
    out = Path(sys.argv[1]) / "default"
    if (out / "meta.json").exists():
        print(f"default: cached in {out}", file=sys.stderr)
        return
    started = time.perf_counter()
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

    towers = {}
    for name in TOWERS:
        outputs = reference_outputs(out, name, feeds[name])
        gf = gflops(out / f"{name}.fp32.onnx", {name: feeds[name]})
        towers[name] = tower_record(out, name, feeds[name], outputs, gf)
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
