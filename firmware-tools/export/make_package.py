"""Assembles an edgeclip model package from an export directory.

    python3 make_package.py work/export models/edgeclip-tiny --name edgeclip-tiny \
        --description "..."

Reads `image.fp32.onnx`, `text.fp32.onnx` and `export.json` (export_onnx.py),
makes the int8 files with quantize.py, and writes `model.toml` with the SHA-256
of every file. The manifest format is documented in models/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import xxhash

from quantize import FORM, quantize

FORMAT, FORMAT_VERSION = "edgeclip-model", 2


def digest(path: Path, h) -> str:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256(path: Path) -> str:
    return digest(path, hashlib.sha256())


def xxh3(path: Path) -> str:
    """XXH3-64, checked at every load (SHA-256 stays the digest of record)."""
    return digest(path, xxhash.xxh3_64())


def toml_value(v) -> str:
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def write_manifest(out: Path, name: str, family: str, description: str, info: dict,
                   depthclip_scale: float | None = None, pointclip_labels: list[str] | None = None,
                   pointclip_points: int | None = None) -> None:
    pre = info["preprocess"]
    lines = [
        "# edgeclip model package manifest (format documented in models/README.md)",
        f'format = "{FORMAT}"',
        f"format_version = {FORMAT_VERSION}",
        f"name = {toml_value(name)}",
        f"family = {toml_value(family)}",
        f"description = {toml_value(description)}",
        f"embed_dim = {info['embed_dim']}",
        f"logit_scale = {info['logit_scale']:.6f}",
        "",
        "[preprocess]",
        f"image_size = {pre['image_size']}",
        f"mean = {toml_value([round(float(x), 8) for x in pre['mean']])}",
        f"std = {toml_value([round(float(x), 8) for x in pre['std']])}",
        f"interpolation = {toml_value(pre['interpolation'])}",
        f"resize_mode = {toml_value(pre['resize_mode'])}",
        "",
        "[tokenizer]",
        'kind = "clip-bpe"',
        f"context_length = {info['context_length']}",
    ]
    image_extra = ['patch_tokens = "patch_tokens"']
    if info.get("value_tokens"):
        # MaskCLIP dense features (the last block's value path), for where-answers.
        image_extra.append('value_tokens = "value_tokens"')
    for tower, extra in (("image", image_extra), ("text", [])):
        lines += ["", f"[{tower}]", f'input = "{tower}"', 'embedding = "embedding"', *extra]
        for precision in ("fp32", "int8"):
            f = out / f"{tower}.{precision}.onnx"
            form = FORM if precision == "int8" else "onnx"
            lines += [
                "",
                f"[[{tower}.files]]",
                f'precision = "{precision}"',
                f'path = "{f.name}"',
                f'sha256 = "{sha256(f)}"',
                f'xxh3 = "{xxh3(f)}"',
                f'form = "{form}"',
            ]
    pointclip = []
    if pointclip_labels:
        pointclip.append(f"labels = {toml_value(pointclip_labels)}")
    if pointclip_points is not None:
        pointclip.append(f"points = {int(pointclip_points)}")
    if pointclip:
        lines += ["", "[pointclip]", *pointclip]
    if depthclip_scale is not None:
        # Measured per model by firmware-tools/fixtures/depthclip_scale_curve.py.
        lines += ["", "[depthclip]", f"scale = {float(depthclip_scale)!r}"]
    (out / "model.toml").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--family", default="clip-vit")
    ap.add_argument("--description", default="")
    ap.add_argument("--depthclip-scale", type=float, help="DepthCLIP logit scale measured for this model")
    ap.add_argument("--pointclip-labels", help="comma-separated classes the model knows in point clouds")
    ap.add_argument("--pointclip-points", type=int, help="point budget of the model's PointCLIP views")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    info = json.loads((args.export_dir / "export.json").read_text())
    for tower in ("image", "text"):
        shutil.copyfile(args.export_dir / f"{tower}.fp32.onnx", args.out / f"{tower}.fp32.onnx")
        quantize(args.out / f"{tower}.fp32.onnx", args.out / f"{tower}.int8.onnx")
    write_manifest(args.out, args.name, args.family, args.description, info, args.depthclip_scale,
                   args.pointclip_labels.split(",") if args.pointclip_labels else None, args.pointclip_points)
    print((args.out / "model.toml").read_text())


if __name__ == "__main__":
    main()
