"""Agreement of the .rknn builds with onnxruntime on the held-out images, on
rknn-toolkit2's x86 simulator.

    target/rknn-venv/bin/python firmware-tools/rknn/simulate.py models/edgeclip-tiny target/heldout \
        --soc rk3588 rk3566 --precision fp16 int8 --n 200

The simulator cannot run a .rknn file (init_runtime() without a target refuses a
model from load_rknn), so each (SoC, precision) is rebuilt from the ONNX with
exactly convert.py's configuration (rknn_common.build, same calibration set);
the rebuilt model is exported to a temporary file and compared byte-wise with
convert.py's output in --rknn-dir when one is there (exports are not
byte-reproducible: expect same size and ~10^3 differing bytes).

Held-out images: the PNGs and labels.json that
`firmware-tools/fixtures/make_model_fixtures.py --heldout-only - <heldout>` writes
("test"-split seeds), first --n of each of the sets seen, held_out and plain.
The simulator gets open_clip's resize + centre crop as uint8 RGB NHWC (the .rknn
input); onnxruntime gets the full open_clip transform (float NCHW, normalised) on
the package's fp32 ONNX. Label embeddings: onnxruntime, the package's
text.fp32.onnx, "a photo of a {label}." (make_model_fixtures.Towers, as eval.json).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import rknn_common as C
import make_model_fixtures as F  # firmware-tools/fixtures (path set by rknn_common)

SETS = ("seen", "held_out", "plain")


def cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (F.l2n(a) * F.l2n(b)).sum(-1)


def load_heldout(heldout: Path, n: int, size: int):
    meta = json.loads((heldout / "labels.json").read_text())
    transform = F.open_clip_transform(size)
    crop = F.open_clip_transform(size).transforms[:2]  # Resize, CenterCrop: the uint8 image before ToTensor
    u8, x, y, names = [], [], [], []
    for name in SETS:
        for f, label in meta["sets"][name][:n]:
            im = Image.open(heldout / f).convert("RGB")
            c = im
            for t in crop:
                c = t(c)
            u8.append(np.asarray(c, np.uint8))
            x.append(transform(im).numpy())
            y.append(label)
            names.append(name)
    return meta, np.stack(u8), np.stack(x).astype(np.float32), np.array(y), np.array(names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path)
    ap.add_argument("heldout", type=Path, help="folder written by make_model_fixtures.py (labels.json + PNGs)")
    ap.add_argument("--soc", nargs="+", choices=C.SOCS, default=["rk3588"])
    ap.add_argument("--precision", nargs="+", choices=C.PRECISIONS, default=["fp16", "int8"])
    ap.add_argument("--n", type=int, default=200, help="images per set (seen, held_out, plain)")
    ap.add_argument("--calibration", type=int, default=300, help="as convert.py --calibration")
    ap.add_argument("--rknn-dir", type=Path, default=C.REPO / "target" / "rknn-out",
                    help="convert.py outputs (calibration set reused, sha256 compared); results json written here")
    ap.add_argument("--text", action="store_true",
                    help="also the text tower (fp16 only): label-prompt embeddings vs onnxruntime, and zero-shot "
                         "top-1 with the simulator's label embeddings against onnxruntime's image embeddings")
    args = ap.parse_args()

    size, mean, std = C.preprocess(args.package)
    meta, u8, x, y, names = load_heldout(args.heldout, args.n, size)
    # The uint8 crop through the folded normalisation is exactly the float input onnxruntime gets.
    folded = ((u8.astype(np.float32) / 255 - np.float32(mean)) / np.float32(std)).transpose(0, 3, 1, 2)
    assert np.abs(folded - x).max() < 1e-5, np.abs(folded - x).max()

    towers = F.Towers(args.package, "fp32")
    label_emb = towers.embed_texts([meta["template"].format(l) for l in meta["labels"]])
    ort_out = towers.image.run(["embedding", "patch_tokens", "value_tokens"], {"image": x})
    ort_emb = F.l2n(ort_out[0])
    ort_top1 = (ort_emb @ label_emb.T).argmax(1)
    rows = [{"soc": "-", "precision": "onnxruntime fp32", "n": len(y), "cos_mean": 1.0, "cos_min": 1.0,
             "tokens_cos_mean": 1.0, "top1_agree": 1.0, "top1_acc": float((ort_top1 == y).mean()),
             **{f"acc_{s}": float((ort_top1 == y)[names == s].mean()) for s in SETS}}]

    args.rknn_dir.mkdir(parents=True, exist_ok=True)
    for soc in args.soc:
        for precision in args.precision:
            dataset = None
            if precision == "int8":
                folder = args.rknn_dir / f"calibration-train-{size}px-{args.calibration}"
                dataset = folder / "dataset.txt"
                if not dataset.exists():
                    dataset = C.write_dataset(C.calibration_images(args.calibration, size, mean, std), folder)
            log = args.rknn_dir / f"simulate.{soc}.{precision}.log"
            log.write_text("")
            t0 = time.time()
            rknn = C.build(args.package, "image", soc, precision, dataset, log)
            with tempfile.TemporaryDirectory() as tmp, C.quiet(log):
                rknn.export_rknn(str(Path(tmp) / "m.rknn"))
                rebuilt = (Path(tmp) / "m.rknn").read_bytes()
            # The toolkit's export is not byte-reproducible (a few hundred bytes of what look like
            # heap addresses change between identical builds): count differing bytes instead.
            converted = args.rknn_dir / f"image.{soc}.{precision}.rknn"
            diff = None
            if converted.exists():
                a = np.frombuffer(converted.read_bytes(), np.uint8)
                b = np.frombuffer(rebuilt, np.uint8)
                diff = int((a != b).sum()) if len(a) == len(b) else f"size {len(a)} != {len(b)}"
            with C.quiet(log):
                if rknn.init_runtime() != 0:  # no target: the x86 simulator
                    raise RuntimeError(f"init_runtime failed; see {log}")
                t1 = time.time()
                outs = [rknn.inference(inputs=[u8[i : i + 1]], data_format="nhwc") for i in range(len(u8))]
                t2 = time.time()
            rknn.release()
            emb = np.concatenate([o[0].reshape(1, -1) for o in outs])
            tok = np.concatenate([o[1].reshape(1, *ort_out[1].shape[1:]) for o in outs])
            top1 = (F.l2n(emb) @ label_emb.T).argmax(1)
            c = cos(emb, ort_out[0])
            rows.append({
                "soc": soc, "precision": f"rknn {precision}", "n": len(y),
                "cos_mean": float(c.mean()), "cos_min": float(c.min()),
                "tokens_cos_mean": float(cos(tok, ort_out[1]).mean()),
                "top1_agree": float((top1 == ort_top1).mean()), "top1_acc": float((top1 == y).mean()),
                **{f"acc_{s}": float((top1 == y)[names == s].mean()) for s in SETS},
                "bytes": len(rebuilt), "bytes_differing_from_converted": diff,
                "build_s": round(t1 - t0, 1), "sim_ms_per_image": round(1000 * (t2 - t1) / len(u8), 1),
            })
            print(f"{soc} {precision}: done ({t2 - t0:.0f} s)", flush=True)

    if args.text:
        from open_clip.tokenizer import tokenize

        prompts = [meta["template"].format(l) for l in meta["labels"]] + F.PROMPTS
        toks = tokenize(prompts).numpy().astype(np.int64)
        ort_txt = towers.text.run(["embedding"], {"text": toks})[0]
        for soc in args.soc:
            log = args.rknn_dir / f"simulate.text.{soc}.fp16.log"
            log.write_text("")
            rknn = C.build(args.package, "text", soc, "fp16", None, log)
            with C.quiet(log):
                if rknn.init_runtime() != 0:
                    raise RuntimeError(f"init_runtime failed; see {log}")
                txt = np.concatenate([rknn.inference(inputs=[toks[i : i + 1]])[0].reshape(1, -1)
                                      for i in range(len(toks))])
            rknn.release()
            c = cos(txt, ort_txt)
            top1 = (ort_emb @ F.l2n(txt[: len(meta["labels"])]).T).argmax(1)
            rows.append({"soc": soc, "precision": "rknn fp16 TEXT", "n": len(toks),
                         "cos_mean": float(c.mean()), "cos_min": float(c.min()), "tokens_cos_mean": float("nan"),
                         "top1_agree": float((top1 == ort_top1).mean()), "top1_acc": float((top1 == y).mean()),
                         **{f"acc_{s}": float((top1 == y)[names == s].mean()) for s in SETS}})
            print(f"{soc} text fp16: done", flush=True)

    hdr = f"{'soc':7} {'model':17} {'n':>4} {'cos mean':>9} {'cos min':>8} {'tok cos':>8} {'top1=ort':>8} {'top1 acc':>8}  seen/held_out/plain"
    print(hdr)
    for r in rows:
        print(f"{r['soc']:7} {r['precision']:17} {r['n']:4d} {r['cos_mean']:9.6f} {r['cos_min']:8.6f} "
              f"{r['tokens_cos_mean']:8.6f} {r['top1_agree']:8.4f} {r['top1_acc']:8.4f}  "
              + "/".join(f"{r['acc_' + s]:.3f}" for s in SETS))
    out = args.rknn_dir / "simulate.json"
    out.write_text(json.dumps({"heldout_per_set": args.n, "sets": SETS, "toolkit": C.toolkit_version(),
                               "rows": rows}, indent=1) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
