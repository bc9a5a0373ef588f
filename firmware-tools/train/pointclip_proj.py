"""PointCLIP's zero-shot multi-view projection, written from its formulas in numpy.

The constants follow the official PointCLIP repository
(ZrrSkywalker/PointCLIP, `trainers/mv_utils_zs.py`):

* RESOLUTION = 128 pixels per view side, TRANS = -1.6 (camera translation on z);
* six views with Euler angles (x, y, z):
  (k * pi/2, 0, pi/2) for k = 0..3, (0, -pi/2, pi/2) and (0, pi/2, pi/2);
* rotation R = (Rx @ Ry @ Rz)^T, points' = points @ R - (0, 0, TRANS);
* perspective division: u = x/z * (W/H), v = y/z; pixel row = ceil((u + 1) H/2 - 1/2),
  column = ceil((v + 1) W/2 - 1/2) (its `distribute` with a 1x1 footprint);
* each pixel holds the 1/z-weighted mean of the depths that land on it,
  sum(z * 1/z) / sum(1/z); pixels no point reaches are 0.

The view is then resized bilinearly with align_corners=True to the encoder's
input size and repeated over 3 channels, with no mean/std normalisation.
"""

from __future__ import annotations

import numpy as np

RESOLUTION = 128
TRANS = -1.6
VIEW_ANGLES = np.array(
    [
        [0 * np.pi / 2, 0, np.pi / 2],
        [1 * np.pi / 2, 0, np.pi / 2],
        [2 * np.pi / 2, 0, np.pi / 2],
        [3 * np.pi / 2, 0, np.pi / 2],
        [0, -np.pi / 2, np.pi / 2],
        [0, np.pi / 2, np.pi / 2],
    ]
)
EPSILON = 1e-12


def euler_to_matrix(x: float, y: float, z: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return rx @ ry @ rz


VIEW_ROTATIONS = np.stack([euler_to_matrix(*a).T for a in VIEW_ANGLES]).astype(np.float32)


def depth_map(points: np.ndarray, resolution: int = RESOLUTION) -> np.ndarray:
    """Projects camera-space points (N, 3) to one (resolution, resolution) depth map."""
    h = w = resolution
    z = points[:, 2]
    u = points[:, 0] / (z + EPSILON) * (w / h)
    v = points[:, 1] / (z + EPSILON)
    row = np.ceil((u + 1) * h / 2 - 0.5)
    col = np.ceil((v + 1) * w / 2 - 0.5)
    keep = (row >= 0) & (row <= h - 1) & (col >= 0) & (col <= w - 1) & (z >= 0)
    idx = (row[keep] * w + col[keep]).astype(np.int64)
    weight = 1.0 / (z[keep] + EPSILON)
    num = np.bincount(idx, weights=z[keep] * weight, minlength=h * w)
    den = np.bincount(idx, weights=weight, minlength=h * w)
    den[den == 0] = 1.0
    return (num / den).reshape(h, w).astype(np.float32)


def project_views(points: np.ndarray, resolution: int = RESOLUTION) -> np.ndarray:
    """The six PointCLIP views of a cloud (N, 3) -> (6, resolution, resolution)."""
    translation = np.array([0, 0, TRANS], np.float32)
    return np.stack([depth_map(points @ rot - translation, resolution) for rot in VIEW_ROTATIONS])


def resize_view(view: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize with align_corners=True (torch.nn.functional.interpolate)."""
    h, w = view.shape
    ys = np.linspace(0, h - 1, size)
    xs = np.linspace(0, w - 1, size)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    top = view[y0][:, x0] * (1 - fx) + view[y0][:, x1] * fx
    bottom = view[y1][:, x0] * (1 - fx) + view[y1][:, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
