"""ONNX tower of a model package -> .rknn for one Rockchip SoC (rknn-toolkit2).

    target/rknn-venv/bin/python firmware-tools/rknn/convert.py models/edgeclip-tiny \
        --soc rk3588 --precision int8 --tower image --calibration 300 \
        -o target/rknn-out/image.rk3588.int8.rknn

Writes the .rknn, a sidecar `<file>.json` (SoC, precision, input spec, sha256,
toolkit version, calibration) and regenerates `rknn.toml` in the output folder:
the package-manifest fragment listing every .rknn there per SoC with its hashes,
as model.toml's [[image.files]] / [[text.files]] entries (backend = "rknn", soc,
form = "rknn"; an fp16 build is listed as precision "fp32", the float file the
runtime asks for, since the NPU has no fp32), ready to paste into the manifest.

Image tower input: uint8 RGB NHWC [1, S, S, 3], mean/std folded into the model
(see rknn_common.py). int8 calibrates on TRAIN-split procedural images only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rknn_common as C


def input_spec(package: Path, tower: str) -> dict:
    size, mean, std = C.preprocess(package)
    man = C.manifest(package)
    if tower == "image":
        return {"name": man["image"]["input"], "layout": "nhwc", "dtype": "uint8", "shape": [1, size, size, 3],
                "channels": "rgb", "normalization": "folded (mean*255, std*255 from model.toml [preprocess])"}
    return {"name": man["text"]["input"], "layout": "nc", "dtype": "int64",
            "shape": [1, int(man["tokenizer"]["context_length"])], "normalization": "none"}


def write_listing(folder: Path) -> Path:
    """rknn.toml: every <name>.rknn with a sidecar in `folder`, grouped by tower."""
    rows = []
    for side in sorted(folder.glob("*.rknn.json")):
        meta = json.loads(side.read_text())
        if (folder / meta["path"]).exists():
            rows.append(meta)
    lines = ["# .rknn builds of the package towers (firmware-tools/rknn/convert.py); merge into model.toml",
             f"# rknn-toolkit2 {rows[0]['toolkit'] if rows else '?'}", ""]
    for r in sorted(rows, key=lambda r: (r["tower"], r["soc"], r["precision"])):
        spec = r["input"]
        precision = "fp32" if r["precision"] == "fp16" else r["precision"]
        lines += [f"# {r['precision']} on the NPU; input {spec['dtype']} {spec['layout']} {spec['shape']}, "
                  f"normalization {spec['normalization']}",
                  f"[[{r['tower']}.files]]", f'precision = "{precision}"', 'backend = "rknn"',
                  f'soc = "{r["soc"]}"', f'path = "{r["path"]}"', f'sha256 = "{r["sha256"]}"']
        if r.get("xxh3"):
            lines.append(f'xxh3 = "{r["xxh3"]}"')
        lines += ['form = "rknn"', ""]
    out = folder / "rknn.toml"
    out.write_text("\n".join(lines))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path)
    ap.add_argument("--soc", choices=C.SOCS, required=True)
    ap.add_argument("--precision", choices=C.PRECISIONS, required=True)
    ap.add_argument("--tower", choices=C.TOWERS, default="image")
    ap.add_argument("--calibration", type=int, default=300, help="TRAIN-split images for int8 calibration")
    ap.add_argument("-o", "--output", type=Path, help="default: target/rknn-out/<tower>.<soc>.<precision>.rknn")
    ap.add_argument("--log", type=Path, help="toolkit log (default: <output>.log)")
    args = ap.parse_args()

    out = args.output or C.REPO / "target" / "rknn-out" / f"{args.tower}.{args.soc}.{args.precision}.rknn"
    out.parent.mkdir(parents=True, exist_ok=True)
    log = args.log or out.with_suffix(".log")
    log.write_text("")
    dataset = None
    calib = None
    if args.precision == "int8":
        if args.tower != "image":
            sys.exit("int8 calibration is implemented for the image tower only")
        size, mean, std = C.preprocess(args.package)
        folder = out.parent / f"calibration-train-{size}px-{args.calibration}"
        dataset = folder / "dataset.txt"
        if not dataset.exists():
            dataset = C.write_dataset(C.calibration_images(args.calibration, size, mean, std), folder)
        calib = {"split": "train", "count": args.calibration, "source": "procedural.sample('train', 0..n-1)"}
    t = time.time()
    rknn = C.build(args.package, args.tower, args.soc, args.precision, dataset, log)
    with C.quiet(log):
        ret = rknn.export_rknn(str(out))
    rknn.release()
    if ret != 0:
        sys.exit(f"export_rknn failed ({ret}); see {log}")
    meta = {
        "tower": args.tower, "soc": args.soc, "precision": args.precision, "path": out.name,
        "sha256": C.sha256(out), "bytes": out.stat().st_size, "source_onnx": C.onnx_path(args.package, args.tower).name,
        "source_sha256": C.sha256(C.onnx_path(args.package, args.tower)),
        "input": input_spec(args.package, args.tower), "calibration": calib, "toolkit": C.toolkit_version(),
    }
    try:
        import xxhash

        meta["xxh3"] = xxhash.xxh3_64_hexdigest(out.read_bytes())
    except ImportError:
        pass
    (out.parent / (out.name + ".json")).write_text(json.dumps(meta, indent=1) + "\n")
    listing = write_listing(out.parent)
    print(f"{out}  sha256 {meta['sha256']}  {meta['bytes']} bytes  ({time.time() - t:.1f} s); listed in {listing}")


if __name__ == "__main__":
    main()
