"""Shared pieces of convert.py and simulate.py: the package's preprocess, the
calibration set and one RKNN build with the project's configuration.

The image tower is built so that the .rknn takes **uint8 RGB, NHWC, 1 x S x S x 3**
(S = model.toml [preprocess] image_size, after the usual resize + centre crop):
the package's mean/std are folded into rknn.config(mean_values=mean*255,
std_values=std*255), so the NPU computes (x - 255 m) / (255 s) = (x/255 - m) / s,
exactly open_clip's ToTensor + Normalize. The text tower takes int64 token ids
[1, 77] unchanged (no normalisation).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tomllib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent / "train"))
sys.path.insert(0, str(HERE.parent / "fixtures"))

SOCS = ("rk3588", "rk3576", "rk3568", "rk3566", "rk3562")
PRECISIONS = ("fp16", "int8")
TOWERS = ("image", "text")


def manifest(package: Path) -> dict:
    return tomllib.loads((package / "model.toml").read_text())


def preprocess(package: Path) -> tuple[int, list[float], list[float]]:
    p = manifest(package)["preprocess"]
    return int(p["image_size"]), [float(v) for v in p["mean"]], [float(v) for v in p["std"]]


def onnx_path(package: Path, tower: str) -> Path:
    """The fp32 ONNX of a tower (the toolkit quantises itself; it does not take
    the package's dynamic-int8 ONNX)."""
    m = manifest(package)
    f = next(f for f in m[tower]["files"] if f["precision"] == "fp32")
    return package / f["path"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def quiet(log: Path | None):
    """Sends the toolkit's chatter (progress bars on stdout/stderr) to `log`."""
    if log is None:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "a") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def calibration_images(n: int, size: int, mean: list[float], std: list[float]) -> list[np.ndarray]:
    """n uint8 HWC images from the TRAIN split of the procedural stream
    (procedural.sample("train", i), i = 0..n-1; the held-out sets use "test" seeds).

    Shape and distance-scene samples are the RGB images the model was trained on.
    Point-cloud samples are float views fed without normalisation in training;
    through the folded mean/std they become u = v * 255 s + 255 m (rounded).
    """
    import procedural as P
    from PIL import Image

    m, s = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    out = []
    for i in range(n):
        kind, x, _, _ = P.sample("train", i)
        if kind == P.KIND_CLOUD:
            x = np.clip(np.rint(x.transpose(1, 2, 0) * 255 * s + 255 * m), 0, 255).astype(np.uint8)
        if x.shape[0] != size:
            x = np.asarray(Image.fromarray(x).resize((size, size), Image.BICUBIC))
        out.append(x)
    return out


def write_dataset(images: list[np.ndarray], folder: Path) -> Path:
    """PNG files plus the list file rknn.build(dataset=...) reads (RGB images)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, x in enumerate(images):
        f = folder / f"{i:05d}.png"
        Image.fromarray(x).save(f)
        lines.append(str(f.resolve()))
    listing = folder / "dataset.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def build(package: Path, tower: str, soc: str, precision: str, dataset: Path | None,
          log: Path | None = None, verbose: bool = False):
    """RKNN object with the tower loaded and built (not exported, no runtime yet)."""
    from rknn.api import RKNN

    size, mean, std = preprocess(package)
    man = manifest(package)
    with quiet(log):
        rknn = RKNN(verbose=verbose)
        if tower == "image":
            rknn.config(mean_values=[[v * 255 for v in mean]], std_values=[[v * 255 for v in std]],
                        target_platform=soc)
            inputs, shapes = [man["image"]["input"]], [[1, 3, size, size]]
        else:
            rknn.config(target_platform=soc)
            inputs, shapes = [man["text"]["input"]], [[1, int(man["tokenizer"]["context_length"])]]
        ret = rknn.load_onnx(str(onnx_path(package, tower)), inputs=inputs, input_size_list=shapes)
        if ret != 0:
            raise RuntimeError(f"load_onnx failed ({ret}); see {log}")
        quant = precision == "int8"
        ret = rknn.build(do_quantization=quant, dataset=str(dataset) if quant else None)
        if ret != 0:
            raise RuntimeError(f"build failed ({ret}); see {log}")
    return rknn


def toolkit_version() -> str:
    from importlib.metadata import version

    return version("rknn-toolkit2")
