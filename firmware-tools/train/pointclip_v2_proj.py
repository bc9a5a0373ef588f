"""PointCLIP V2's realistic multi-view projection, written from its formulas in numpy.

The reference for the Rust projection (`runtime/points/src/project/v2.rs`). Every
constant below comes from the official PointCLIP V2 repository
(yangyangyang127/PointCLIP_V2), file `zeroshot_cls/trainers/mv_utils_zs.py`, unless
another file is named:

* `params` dict: resolution 112, depth 8, obj_ratio 0.8, depth_bias 0.2, bg_clr 0;
  maxpoolxy 7 / maxpoolpadxy 2 / maxpoolz 1 / maxpoolpadz 0; convxy 3 / convpadxy 1 /
  convsigmaxy 3 / convz 1 / convsigmaz 1 / convpadz 0.
* `Realistic_Projection.__init__`: ten views, Euler angles (x, y, z)
  (k pi/4, 0, pi/2) for k = 1, 3, 5, 7, then (k pi/2, 0, pi/2) for k = 0..3, then
  (0, -pi/2, pi/2) and (0, pi/2, pi/2); a second "bias" rotation per view,
  (0, pi/9, 0) for the first eight and (0, pi/15, 0) for the last two ("to reveal
  more surface"); translation (-0.5, -0.5, TRANS) with TRANS = -1.5.
* `euler2mat`: R = Rx @ Ry @ Rz (same as PointCLIP V1); both rotations are used
  transposed, `point_transform`: p' = (p @ R1^T) @ R2^T - translation.
* `points2grid`, per view: centre = (max + min) / 2 over the points, range = the
  largest of the three extents, p = (p - centre) / range * 2, then x and y times
  obj_ratio. Grid coordinates: gx = ceil((x + 1) / 2 * 112) and gy likewise, both
  clipped to [1, 110]; depth value dz = ((z + 1) / 2 + 0.2) / 1.2 * 6 clipped to
  [1, 6], depth bin ceil(dz) before clipping (never clipped, 1..6 for normalised
  points). The grid [8, 112, 112] starts at bg_clr (0) and takes, per cell, the max
  of the depth *values* dz (not the bin) of the points landing in it (torch_scatter
  `scatter(..., reduce="max")`). Its flat index is bin*112*112 + gy*112 + gx, then the
  grid is permuted so image rows follow gx and columns gy.
* `Grid2Image.forward`: MaxPool3d kernel (1, 7, 7), stride 1, padding (0, 2, 2)
  (-inf padding), so 112 -> 110 and output pixel i covers input rows i-2 .. i+4;
  Conv3d (1, 3, 3) with padding (0, 1, 1) (zero padding) and no bias, weights
  `get3DGaussianKernel(3, 1, sigma=3, zsigma=1)`: the outer product of
  exp(-x^2 / (2 * 3^2)) for x in (-1, 0, 1), normalised to sum 1 (the z factor is
  exp(0) = 1); max over the depth axis; divide by the image's max; 1 - img; repeated
  over 3 channels.
* `zeroshot_cls/trainers/zeroshot.py`, `PointCLIPV2_ZS.real_proj`: bilinear resize to
  224 with align_corners=True, no mean/std normalisation; `model_inference`: each view
  embedding L2-normalised, times its view weight, concatenated.
* `zeroshot_cls/trainers/best_param.py`: the view weights, e.g.
  `modelnet40_vit_b32_test_weights` = VIT_B32_VIEW_WEIGHTS below.

Choices where the official code leaves something open (the Rust code makes the same):

* The rotation matrices are computed in float64 and rounded to float32 (the official
  code builds them in float32 torch); everything after that is float32, as on the GPU.
* The translation is subtracted as in the official code although the per-view centring
  right after it cancels it; it only changes float32 rounding.
* A view whose points all coincide (range 0) would divide by zero (NaN in the official
  code); here the range is taken as 1, so the points land in the centre.
* An image whose max is 0 cannot happen for a non-empty cloud (every depth value is at
  least 1); it is left at 1 (all background) rather than NaN.
"""

from __future__ import annotations

import numpy as np

from pointclip_proj import euler_to_matrix, resize_view  # noqa: F401  (resize_view re-exported)

RESOLUTION = 112  # params['resolution']
DEPTH = 8  # params['depth']
OBJ_RATIO = 0.8  # params['obj_ratio']
DEPTH_BIAS = 0.2  # params['depth_bias']
BG = 0.0  # params['bg_clr']
POOL = 7  # params['maxpoolxy'] (maxpoolz = 1)
POOL_PAD = 2  # params['maxpoolpadxy'] (maxpoolpadz = 0)
GAUSS_SIZE = 3  # params['convxy'] (convz = 1)
GAUSS_SIGMA = 3.0  # params['convsigmaxy']
GAUSS_PAD = 1  # params['convpadxy']
RAW_SIZE = RESOLUTION + 2 * POOL_PAD - POOL + 1  # 110
TRANS = -1.5  # module constant TRANS

VIEW_ANGLES = np.array(
    [
        [1 * np.pi / 4, 0, np.pi / 2],
        [3 * np.pi / 4, 0, np.pi / 2],
        [5 * np.pi / 4, 0, np.pi / 2],
        [7 * np.pi / 4, 0, np.pi / 2],
        [0 * np.pi / 2, 0, np.pi / 2],
        [1 * np.pi / 2, 0, np.pi / 2],
        [2 * np.pi / 2, 0, np.pi / 2],
        [3 * np.pi / 2, 0, np.pi / 2],
        [0, -np.pi / 2, np.pi / 2],
        [0, np.pi / 2, np.pi / 2],
    ]
)
TILT_ANGLES = np.array([[0, np.pi / 9, 0]] * 8 + [[0, np.pi / 15, 0]] * 2)
TRANSLATION = np.array([-0.5, -0.5, TRANS], np.float32)

# best_param.py, best_prompt_weight['modelnet40_vit_b32_test_weights'].
VIT_B32_VIEW_WEIGHTS = [0.75, 0.75, 0.75, 0.75, 0.25, 0.5, 0.5, 0.75, 0.5, 0.5]

ROTATIONS = np.stack([euler_to_matrix(*a).T for a in VIEW_ANGLES]).astype(np.float32)
TILTS = np.stack([euler_to_matrix(*a).T for a in TILT_ANGLES]).astype(np.float32)


def gaussian_kernel() -> np.ndarray:
    """The 3x3 smoothing kernel of `get2DGaussianKernel(3, 3)`, float32, sum 1."""
    xs = np.arange(GAUSS_SIZE, dtype=np.float32) - GAUSS_SIZE // 2
    k = np.exp(-(xs**2) / np.float32(2 * GAUSS_SIGMA**2)).astype(np.float32)
    kernel = np.outer(k, k).astype(np.float32)
    return (kernel / kernel.sum()).astype(np.float32)


def view_points(points: np.ndarray, view: int) -> np.ndarray:
    """Camera-space points of one view: both rotations, then the translation."""
    p = points.astype(np.float32) @ ROTATIONS[view]
    p = p @ TILTS[view]
    return p - TRANSLATION


def depth_grid(p: np.ndarray) -> np.ndarray:
    """Per-view normalisation and the scatter-max into the (DEPTH, 112, 112) grid.

    The grid is indexed [bin, gx, gy] (already in the official code's permuted order).
    """
    pmax, pmin = p.max(0), p.min(0)
    centre = (pmax + pmin) / np.float32(2)
    extent = (pmax - pmin).max()
    if extent == 0:
        extent = np.float32(1)
    p = (p - centre) / extent * np.float32(2)
    x = p[:, 0] * np.float32(OBJ_RATIO)
    y = p[:, 1] * np.float32(OBJ_RATIO)
    z = p[:, 2]
    gx = np.clip(np.ceil((x + np.float32(1)) / np.float32(2) * np.float32(RESOLUTION)), 1, RESOLUTION - 2)
    gy = np.clip(np.ceil((y + np.float32(1)) / np.float32(2) * np.float32(RESOLUTION)), 1, RESOLUTION - 2)
    dz = ((z + np.float32(1)) / np.float32(2) + np.float32(DEPTH_BIAS)) / np.float32(1 + DEPTH_BIAS) * np.float32(
        DEPTH - 2
    )
    bins = np.ceil(dz).astype(np.int64)
    value = np.clip(dz, 1, DEPTH - 2).astype(np.float32)
    grid = np.full(DEPTH * RESOLUTION * RESOLUTION, BG, np.float32)
    flat = (bins * RESOLUTION + gx.astype(np.int64)) * RESOLUTION + gy.astype(np.int64)
    np.maximum.at(grid, flat, value)
    return grid.reshape(DEPTH, RESOLUTION, RESOLUTION)


def max_pool(grid: np.ndarray) -> np.ndarray:
    """7x7 max with stride 1 and -inf padding 2 on each side: (D, 112, 112) -> (D, 110, 110)."""
    padded = np.pad(grid, ((0, 0), (POOL_PAD, POOL_PAD), (POOL_PAD, POOL_PAD)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (POOL, POOL), axis=(1, 2))
    return windows.max(axis=(-2, -1)).astype(np.float32)


def smooth(grid: np.ndarray) -> np.ndarray:
    """3x3 Gaussian, zero padding 1, per depth slice (a correlation; the kernel is symmetric)."""
    kernel = gaussian_kernel()
    padded = np.pad(grid, ((0, 0), (GAUSS_PAD, GAUSS_PAD), (GAUSS_PAD, GAUSS_PAD)))
    h, w = grid.shape[1:]
    out = np.zeros_like(grid)
    for di in range(GAUSS_SIZE):
        for dj in range(GAUSS_SIZE):
            out += kernel[di, dj] * padded[:, di : di + h, dj : dj + w]
    return out


def view_image(points: np.ndarray, view: int) -> np.ndarray:
    """One raw V2 view (110, 110), values in [0, 1], background 1."""
    img = smooth(max_pool(depth_grid(view_points(points, view)))).max(axis=0)
    top = img.max()
    if top > 0:
        img = img / top
    return (np.float32(1) - img).astype(np.float32)


def project_views(points: np.ndarray) -> np.ndarray:
    """The ten PointCLIP V2 views of a cloud (N, 3) -> (10, 110, 110), official order."""
    return np.stack([view_image(points, v) for v in range(len(VIEW_ANGLES))])
