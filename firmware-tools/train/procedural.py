"""Procedural image-caption data for the project's own small CLIP.

Three kinds of samples, mixed in one stream so one model serves plain CLIP
classification, PointCLIP and DepthCLIP:

* shapes: 1-2 coloured shapes on varied backgrounds, captioned
  "a photo of a red circle and a blue star." Some colour-shape combinations are
  held out of training entirely (HELD_OUT) to measure compositional zero-shot.
* point-cloud depth views: procedural 3D primitives projected with the
  PointCLIP multi-view projection (see pointclip_proj.py), captioned
  "point cloud depth map of a cube."
* distance scenes: one object on a ground plane at a known distance, captioned
  with the DepthCLIP words ("This object is close.").

Every sample is deterministic in (split, index): the stream is reproducible and
the train and test splits never share a random seed.
"""

from __future__ import annotations

import colorsys
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pointclip_proj import project_views, resize_view

IMAGE_SIZE = 64

COLORS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
SHAPES = ["circle", "square", "triangle", "star", "cross", "ring"]

# Several renderings of each colour name, so the model learns the name rather
# than one RGB value (plain renderings elsewhere use pure (255, 0, 0) etc.).
PALETTE = {
    "red": [(255, 0, 0), (200, 20, 20), (220, 50, 40), (178, 34, 34), (230, 0, 30)],
    "green": [(0, 128, 0), (0, 200, 0), (40, 170, 60), (50, 205, 50), (34, 139, 34), (0, 255, 0)],
    "blue": [(0, 0, 255), (30, 60, 200), (65, 105, 225), (0, 0, 160), (30, 144, 255)],
    "yellow": [(255, 255, 0), (240, 220, 40), (255, 215, 0), (250, 235, 80)],
    "purple": [(128, 0, 128), (148, 0, 211), (120, 60, 180), (160, 32, 240), (100, 30, 130)],
    "orange": [(255, 165, 0), (255, 140, 0), (250, 120, 30), (240, 130, 50)],
    "white": [(255, 255, 255), (240, 240, 240), (230, 230, 235), (250, 248, 240)],
    "black": [(0, 0, 0), (20, 20, 20), (40, 40, 45), (30, 25, 20)],
}

# Held out of every training image, as single shapes and inside pairs: each
# colour once, each shape at least once.
HELD_OUT = {
    ("red", "star"),
    ("green", "ring"),
    ("blue", "triangle"),
    ("yellow", "cross"),
    ("purple", "circle"),
    ("orange", "square"),
    ("white", "triangle"),
    ("black", "star"),
}

SHAPE_TEMPLATES = [
    "a photo of a {}.",
    "a {}.",
    "a drawing of a {}.",
    "a picture of a {}.",
    "an image of a {}.",
    "a rendering of a {}.",
]
PAIR_TEMPLATES = [
    "a photo of a {} and a {}.",
    "a {} and a {}.",
    "a drawing of a {} and a {}.",
    "a picture of a {} and a {}.",
]
EVAL_TEMPLATE = "a photo of a {}."

SOLIDS = ["cube", "sphere", "cylinder", "cone", "torus", "pyramid"]
POINTCLIP_TEMPLATE = "point cloud depth map of a {}."

# DepthCLIP's words and the depth (metres) each bin stands for.
DEPTH_WORDS = ["giant", "extremely close", "close", "not in distance", "a little remote", "far", "unseen"]
DEPTH_BINS = [1.00, 1.50, 2.00, 2.25, 2.50, 2.75, 3.00]
DEPTH_TEMPLATE = "This object is {}."

SPLIT_SEED = {"train": 0, "val": 1_000_003, "test": 2_000_029}


def rng_for(split: str, index: int) -> random.Random:
    return random.Random(SPLIT_SEED[split] * 7_919 + index)


def combos(held_out: bool) -> list[tuple[str, str]]:
    return [(c, s) for c in COLORS for s in SHAPES if ((c, s) in HELD_OUT) == held_out]


# ---------------------------------------------------------------- rendering


def jitter_color(rng: random.Random, name: str) -> tuple[int, int, int]:
    r, g, b = (v / 255 for v in rng.choice(PALETTE[name]))
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    if name in ("white", "black"):
        v = min(1.0, max(0.0, v + rng.uniform(-0.08, 0.08)))
        s = min(s + rng.uniform(0, 0.06), 1.0)
    else:
        h = (h + rng.uniform(-0.015, 0.015)) % 1.0
        s = min(1.0, max(0.55, s + rng.uniform(-0.15, 0.05)))
        v = min(1.0, max(0.45, v + rng.uniform(-0.15, 0.1)))
    return tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(h, s, v))


def color_distance(a, b) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))


def random_background(rng: random.Random, size: int, avoid: list[tuple[int, int, int]]) -> Image.Image:
    """A flat, gradient, noisy or patterned background far enough from `avoid`."""
    for _ in range(50):
        base = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.3:  # muted greys are common in real photos
            g = rng.randint(60, 200)
            base = (g + rng.randint(-10, 10), g + rng.randint(-10, 10), g + rng.randint(-10, 10))
        base = tuple(min(255, max(0, c)) for c in base)
        if all(color_distance(base, a) > 120 for a in avoid):
            break
    kind = rng.random()
    arr = np.empty((size, size, 3), np.float32)
    arr[:] = base
    if kind < 0.35:
        pass  # flat
    elif kind < 0.6:  # linear gradient towards a nearby colour
        other = np.array([min(255, max(0, c + rng.randint(-50, 50))) for c in base], np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:size, 0:size] / size
        t = (np.cos(angle) * xx + np.sin(angle) * yy)
        t = (t - t.min()) / (t.max() - t.min() + 1e-6)
        arr = arr * (1 - t[..., None]) + other * t[..., None]
    elif kind < 0.8:  # noise
        nrng = np.random.default_rng(rng.getrandbits(32))
        arr += nrng.normal(0, rng.uniform(4, 20), arr.shape)
    else:  # stripes or checks in low contrast
        yy, xx = np.mgrid[0:size, 0:size]
        period = rng.randint(size // 16 + 2, size // 4)
        pattern = ((xx // period) + (yy // period)) % 2 if rng.random() < 0.5 else (xx // period) % 2
        arr += (pattern[..., None] - 0.5) * rng.uniform(10, 40)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def regular_polygon(cx, cy, r, n, rotation):
    return [
        (cx + r * math.cos(rotation + 2 * math.pi * k / n), cy + r * math.sin(rotation + 2 * math.pi * k / n))
        for k in range(n)
    ]


def star_points(cx, cy, r, inner, rotation):
    pts = []
    for k in range(10):
        rr = r if k % 2 == 0 else r * inner
        a = rotation + math.pi * k / 5
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def cross_points(cx, cy, r, arm, rotation):
    a = arm * r
    raw = [(-a, -r), (a, -r), (a, -a), (r, -a), (r, a), (a, a), (a, r), (-a, r), (-a, a), (-r, a), (-r, -a), (-a, -a)]
    c, s = math.cos(rotation), math.sin(rotation)
    return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in raw]


def draw_shape(draw: ImageDraw.ImageDraw, rng: random.Random, shape: str, cx, cy, r, fill, bg_probe=None):
    rot = rng.uniform(0, 2 * math.pi)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.polygon(regular_polygon(cx, cy, r * 1.15, 4, rot), fill=fill)
    elif shape == "triangle":
        draw.polygon(regular_polygon(cx, cy, r * 1.2, 3, rot), fill=fill)
    elif shape == "star":
        draw.polygon(star_points(cx, cy, r * 1.25, rng.uniform(0.38, 0.5), rot), fill=fill)
    elif shape == "cross":
        draw.polygon(cross_points(cx, cy, r * 1.1, rng.uniform(0.25, 0.38), rot), fill=fill)
    elif shape == "ring":
        width = max(1, int(round(r * rng.uniform(0.22, 0.4))))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=width)
    else:
        raise ValueError(shape)


def _render_shapes_placed(rng: random.Random, items: list[tuple[str, str]]):
    """render_shapes' drawing: the 64x64 image and each item's (cx, cy, r) in 64-px units."""
    scale = rng.choice([1, 2, 3])
    size = IMAGE_SIZE * scale
    fills = [jitter_color(rng, c) for c, _ in items]
    img = random_background(rng, size, fills)
    draw = ImageDraw.Draw(img)
    placed = []
    for (color, shape), fill in zip(items, fills):
        for _ in range(30):
            if len(items) == 1:
                r = rng.uniform(0.14, 0.42) * size
            else:
                r = rng.uniform(0.11, 0.24) * size
            cx = rng.uniform(r, size - r)
            cy = rng.uniform(r, size - r)
            if all(math.hypot(cx - px, cy - py) > (r + pr) * 1.05 for px, py, pr in placed):
                break
        placed.append((cx, cy, r))
        draw_shape(draw, rng, shape, cx, cy, r, fill)
    if rng.random() < 0.25:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2) * scale))
    resample = rng.choice([Image.BILINEAR, Image.BICUBIC, Image.LANCZOS, Image.BOX, Image.NEAREST])
    return img.resize((IMAGE_SIZE, IMAGE_SIZE), resample), [(cx / scale, cy / scale, r / scale) for cx, cy, r in placed]


def render_shapes(rng: random.Random, items: list[tuple[str, str]]) -> Image.Image:
    """Draws 1-2 (colour, shape) items at random sizes, places and rotations."""
    return _render_shapes_placed(rng, items)[0]


def render_scene_with_boxes(rng: random.Random, items: list[tuple[str, str]]):
    """render_shapes (same image for the same rng state) plus each item's box.

    Returns (image, boxes): boxes[k] = (x0, y0, x1, y1) in 64-px image
    coordinates, the item's centre +- its radius r (stars, squares, triangles
    and crosses are drawn with a circumradius of 1.1-1.25 r, so their tips may
    reach slightly past the box).
    """
    img, placed = _render_shapes_placed(rng, items)
    return img, [(cx - r, cy - r, cx + r, cy + r) for cx, cy, r in placed]


def shape_caption(rng: random.Random, items) -> str:
    names = [f"{c} {s}" for c, s in items]
    if len(names) == 1:
        return rng.choice(SHAPE_TEMPLATES).format(names[0])
    return rng.choice(PAIR_TEMPLATES).format(*names)


def sample_items(rng: random.Random, held_out: bool) -> list[tuple[str, str]]:
    pool = combos(held_out)
    if held_out or rng.random() < 0.55:
        return [rng.choice(pool)]
    first = rng.choice(pool)
    second = rng.choice([c for c in pool if c != first])
    return [first, second]


# ---------------------------------------------------------------- 3D primitives


def sample_solid(rng: random.Random, solid: str, n: int) -> np.ndarray:
    """Points on the surface of a primitive, roughly inside the unit cube."""
    g = np.random.default_rng(rng.getrandbits(32))
    if solid == "cube":
        p = g.uniform(-1, 1, (n, 3))
        axis = g.integers(0, 3, n)
        p[np.arange(n), axis] = np.sign(g.uniform(-1, 1, n))
    elif solid == "sphere":
        p = g.normal(size=(n, 3))
        p /= np.linalg.norm(p, axis=1, keepdims=True)
    elif solid == "cylinder":
        t = g.uniform(0, 2 * np.pi, n)
        z = g.uniform(-1, 1, n)
        rad = np.ones(n)
        cap = g.random(n) < 0.25
        rad[cap] = np.sqrt(g.random(cap.sum()))
        z[cap] = np.sign(g.uniform(-1, 1, cap.sum()))
        p = np.stack([rad * np.cos(t), rad * np.sin(t), z], 1)
    elif solid == "cone":
        t = g.uniform(0, 2 * np.pi, n)
        h = np.sqrt(g.random(n))  # uniform on the lateral surface
        z = 1 - 2 * h
        rad = h
        base = g.random(n) < 0.2
        rad[base] = np.sqrt(g.random(base.sum()))
        z[base] = -1
        p = np.stack([rad * np.cos(t), rad * np.sin(t), z], 1)
    elif solid == "torus":
        big, small = 0.7, rng.uniform(0.2, 0.35)
        u = g.uniform(0, 2 * np.pi, n)
        v = g.uniform(0, 2 * np.pi, n)
        p = np.stack([(big + small * np.cos(v)) * np.cos(u), (big + small * np.cos(v)) * np.sin(u), small * np.sin(v)], 1)
    elif solid == "pyramid":
        apex = np.array([0, 0, 1.0])
        corners = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1]], float)
        faces = [(corners[i], corners[(i + 1) % 4], apex) for i in range(4)]
        pts = []
        face_idx = g.integers(0, 5, n)
        for k in range(n):
            if face_idx[k] == 4:
                pts.append([g.uniform(-1, 1), g.uniform(-1, 1), -1])
            else:
                a, b, c = faces[face_idx[k]]
                r1, r2 = g.random(), g.random()
                if r1 + r2 > 1:
                    r1, r2 = 1 - r1, 1 - r2
                pts.append(a + r1 * (b - a) + r2 * (c - a))
        p = np.array(pts)
    else:
        raise ValueError(solid)
    return p


def random_rotation(rng: random.Random) -> np.ndarray:
    g = np.random.default_rng(rng.getrandbits(32))
    q, r = np.linalg.qr(g.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def make_cloud(rng: random.Random, solid: str) -> np.ndarray:
    """A ModelNet-style cloud: random size/rotation/noise, centred, unit sphere."""
    n = rng.randint(512, 2048)
    p = sample_solid(rng, solid, n)
    p *= np.array([rng.uniform(0.7, 1.3) for _ in range(3)])
    p = p @ random_rotation(rng).T
    g = np.random.default_rng(rng.getrandbits(32))
    p += g.normal(0, rng.uniform(0, 0.02), p.shape)
    p -= p.mean(0)
    p /= np.linalg.norm(p, axis=1).max()
    return p.astype(np.float32)


# ---------------------------------------------------------------- distance scenes


def render_distance_scene(rng: random.Random, depth: float) -> Image.Image:
    """One object standing on a ground plane `depth` metres from the camera.

    Cues a monocular model can read: apparent size (~1/depth), how high the
    object's foot sits towards the horizon, and atmospheric blur/fade.
    """
    scale = 3
    size = IMAGE_SIZE * scale
    horizon = rng.uniform(0.25, 0.45) * size
    sky = tuple(rng.randint(120, 230) for _ in range(3))
    ground = tuple(rng.randint(40, 160) for _ in range(3))
    img = Image.new("RGB", (size, size), sky)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, horizon, size, size], fill=ground)
    # converging floor lines: perspective cue independent of the object
    for k in range(-6, 7):
        shade = tuple(max(0, c - 25) for c in ground)
        draw.line([(size / 2 + k * size * 0.02, horizon), (size / 2 + k * size * 0.5, size)], fill=shade, width=scale)
    focal = 0.55 * size
    cam_height = 0.9
    foot = horizon + focal * cam_height / depth
    r = 0.5 * focal * rng.uniform(0.42, 0.58) / depth
    cx = rng.uniform(r, size - r)
    color, shape = rng.choice(combos(False))
    fill = jitter_color(rng, color)
    fade = min(1.0, (depth - 0.8) / 3.0) * 0.35
    fill = tuple(int(f * (1 - fade) + s * fade) for f, s in zip(fill, sky))
    draw_shape(draw, rng, shape, cx, foot - r, r, fill)
    blur = 0.2 + 0.5 * (depth - 0.8)
    img = img.filter(ImageFilter.GaussianBlur(blur * rng.uniform(0.7, 1.3)))
    return img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)


def depth_bin(depth: float) -> int:
    return int(np.argmin([abs(depth - b) for b in DEPTH_BINS]))


def sample_depth(rng: random.Random) -> float:
    """A depth whose nearest bin is uniform over the 7 bins."""
    k = rng.randrange(len(DEPTH_BINS))
    lo = DEPTH_BINS[k] - (0.25 if k == 0 else (DEPTH_BINS[k] - DEPTH_BINS[k - 1]) / 2)
    hi = DEPTH_BINS[k] + (0.25 if k == len(DEPTH_BINS) - 1 else (DEPTH_BINS[k + 1] - DEPTH_BINS[k]) / 2)
    return rng.uniform(lo + 1e-3, hi - 1e-3)


# ---------------------------------------------------------------- samples

KIND_SHAPES, KIND_CLOUD, KIND_DEPTH = 0, 1, 2


def sample(split: str, index: int, mix=(0.62, 0.2, 0.18)):
    """Returns (kind, uint8 HWC image or float32 CHW depth views, caption, label).

    Shape images are RGB uint8 (normalised later with the model's mean/std).
    Cloud samples are the raw PointCLIP depth view (3 x 64 x 64 float32), fed
    to the encoder without normalisation exactly as PointCLIP does.
    """
    rng = rng_for(split, index)
    u = rng.random()
    if u < mix[0]:
        items = sample_items(rng, held_out=False)
        return KIND_SHAPES, np.asarray(render_shapes(rng, items)), shape_caption(rng, items), items
    if u < mix[0] + mix[1]:
        solid = rng.choice(SOLIDS)
        views = project_views(make_cloud(rng, solid))
        view = resize_view(views[rng.randrange(len(views))], IMAGE_SIZE)
        return KIND_CLOUD, np.repeat(view[None], 3, 0), POINTCLIP_TEMPLATE.format(solid), solid
    depth = sample_depth(rng)
    caption = DEPTH_TEMPLATE.format(DEPTH_WORDS[depth_bin(depth)])
    return KIND_DEPTH, np.asarray(render_distance_scene(rng, depth)), caption, depth
