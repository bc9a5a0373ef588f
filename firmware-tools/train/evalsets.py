"""Held-out evaluation sets and the numpy reference metrics for the default model.

Everything here is generated from the "test" split seeds, never seen in
training. `plain_renderings` draws with plain PIL calls (flat background, pure
colours, no jitter) to check the model did not learn only the generator's look.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

import procedural as P

PLAIN_COLORS = {
    "red": (255, 0, 0),
    "green": (0, 160, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "purple": (128, 0, 128),
    "orange": (255, 165, 0),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}
PLAIN_BACKGROUNDS = [(255, 255, 255), (128, 128, 128), (0, 0, 0), (200, 200, 255)]


def labels48() -> list[tuple[str, str]]:
    return [(c, s) for c in P.COLORS for s in P.SHAPES]


def shape_set(held_out: bool, n: int, offset: int = 0):
    """Single-shape test images: (uint8 HWC, index into labels48)."""
    labels = labels48()
    out = []
    for i in range(n):
        rng = P.rng_for("test", offset + i)
        item = rng.choice(P.combos(held_out))
        out.append((np.asarray(P.render_shapes(rng, [item])), labels.index(item)))
    return out


def plain_rendering(color: str, shape: str, size: int, background, rng: random.Random) -> Image.Image:
    """One shape drawn with the simplest PIL calls, centred-ish, no antialiasing."""
    img = Image.new("RGB", (size, size), background)
    d = ImageDraw.Draw(img)
    c = size / 2 + rng.uniform(-0.1, 0.1) * size
    r = size * rng.uniform(0.25, 0.38)
    fill = PLAIN_COLORS[color]
    if shape == "circle":
        d.ellipse([c - r, c - r, c + r, c + r], fill=fill)
    elif shape == "square":
        d.rectangle([c - r, c - r, c + r, c + r], fill=fill)
    elif shape == "triangle":
        d.polygon([(c, c - r), (c + r, c + r * 0.8), (c - r, c + r * 0.8)], fill=fill)
    elif shape == "star":
        d.polygon(P.star_points(c, c, r * 1.2, 0.45, -math.pi / 2), fill=fill)
    elif shape == "cross":
        a = r * 0.33
        d.rectangle([c - a, c - r, c + a, c + r], fill=fill)
        d.rectangle([c - r, c - a, c + r, c + a], fill=fill)
    elif shape == "ring":
        d.ellipse([c - r, c - r, c + r, c + r], outline=fill, width=max(2, int(r * 0.3)))
    return img


PLAIN_SIZES = [96, 64, 128, 80, 112, 160]


def plain_set(size: int = 96, repeats: int = 1):
    """Every colour x shape on each plain background (where it is visible).

    With `repeats` > 1 the whole set is drawn again at the next size of
    PLAIN_SIZES, with new positions and radii (174 images per repeat).
    """
    labels = labels48()
    out = []
    rng = random.Random(12345)
    for rep in range(repeats):
        px = size if rep == 0 else PLAIN_SIZES[rep % len(PLAIN_SIZES)]
        for bg in PLAIN_BACKGROUNDS:
            for (color, shape) in labels:
                if P.color_distance(bg, PLAIN_COLORS[color]) < 100:
                    continue
                out.append((plain_rendering(color, shape, px, bg, rng), labels.index((color, shape))))
    return out


def cloud_set(n: int, offset: int = 500_000):
    """(6 views as float32 (6, 3, 64, 64), solid index)."""
    out = []
    for i in range(n):
        rng = P.rng_for("test", offset + i)
        k = i % len(P.SOLIDS)
        views = P.project_views(P.make_cloud(rng, P.SOLIDS[k]))
        v = np.stack([np.repeat(P.resize_view(x, P.IMAGE_SIZE)[None], 3, 0) for x in views])
        out.append((v, k))
    return out


def depth_set(n: int, offset: int = 900_000):
    """(uint8 HWC scene, true depth in metres)."""
    out = []
    for i in range(n):
        rng = P.rng_for("test", offset + i)
        d = P.sample_depth(rng)
        out.append((np.asarray(P.render_distance_scene(rng, d)), d))
    return out


def l2n(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def pointclip_predict(view_emb: np.ndarray, text_emb: np.ndarray, weights=None) -> np.ndarray:
    """PointCLIP zero-shot fusion: per-view cosine logits summed with view weights.

    view_emb: (clouds, 6, D) L2-normalised; text_emb: (classes, D) normalised.
    """
    w = np.ones(view_emb.shape[1]) if weights is None else np.asarray(weights)
    logits = np.einsum("nvd,cd->nvc", view_emb, text_emb)
    return (logits * w[None, :, None]).sum(1).argmax(-1)


def depthclip_depth(img_emb: np.ndarray, bin_text_emb: np.ndarray, temperature: float = 0.1) -> np.ndarray:
    """DepthCLIP: softmax(cos / T) over the 7 bin prompts, weighted sum of bin depths."""
    p = softmax(img_emb @ bin_text_emb.T / temperature, -1)
    return p @ np.asarray(P.DEPTH_BINS)
