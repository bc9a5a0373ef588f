//! PointCLIP V2's realistic projection, from the formulas of the official code
//! (yangyangyang127/PointCLIP_V2, `zeroshot_cls/trainers/mv_utils_zs.py`:
//! `Realistic_Projection`, `points2grid`, `Grid2Image`, `get3DGaussianKernel`) and the
//! project's numpy port (`firmware-tools/train/pointclip_v2_proj.py`), which the
//! fixtures in `tests/fixtures/projection/` hold this to.
//!
//! Per view: rotate, normalise the view's points into [-1, 1] (centre of the bounding
//! box, largest extent), scatter their depths into a 8×112×112 grid keeping the
//! largest per cell, densify with a 7×7 max, smooth with a 3×3 Gaussian, take the max
//! over depth, divide by the image's max and invert: a 110×110 image in [0, 1] with a
//! white (1) background.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use super::exact;
use super::rotation::{rotate, view_matrix};
use super::Scratch;

/// `Realistic_Projection.num_views`.
pub(super) const VIEWS: usize = 10;
/// `params['resolution']`: the grid's side.
const RESOLUTION: usize = 112;
/// `params['depth']`: depth bins of the grid.
const DEPTH: usize = 8;
/// `params['obj_ratio']`: x and y are shrunk so the object leaves a margin.
const OBJ_RATIO: f32 = 0.8;
/// `params['depth_bias']`.
const DEPTH_BIAS: f32 = 0.2;
/// `1 + params['depth_bias']`, written out so that it is exactly float32(1.2) as in
/// the numpy port.
const ONE_PLUS_DEPTH_BIAS: f32 = 1.2;
/// `params['maxpoolxy']` (`maxpoolz` is 1): the densifying max's window.
const POOL: usize = 7;
/// `params['maxpoolpadxy']` (`maxpoolpadz` is 0).
const POOL_PAD: usize = 2;
/// The side after the max pool: 112 + 2·2 − 7 + 1.
pub(super) const RAW_SIZE: usize = RESOLUTION + 2 * POOL_PAD - POOL + 1;
/// `params['convsigmaxy']` of the 3×3 (`params['convxy']`) Gaussian; `convz` is 1, so
/// its depth factor is exp(0) = 1.
const GAUSS_SIGMA: f64 = 3.0;
/// `TRANS`, the camera distance in `Realistic_Projection.__init__`'s translations.
const TRANS: f32 = -1.5;
/// `_views[:, 1, :]`: every view's translation. The per-view centring right after it
/// cancels it; it is kept because it changes float32 rounding as in the official code.
const TRANSLATION: [f32; 3] = [-0.5, -0.5, TRANS];
/// `_views[:, 0, :]`: Euler angles (x, y, z) — four diagonal views, four side views,
/// then two more.
const ANGLES: [[f64; 3]; VIEWS] = [
    [FRAC_PI_4, 0.0, FRAC_PI_2],
    [3.0 * FRAC_PI_4, 0.0, FRAC_PI_2],
    [5.0 * FRAC_PI_4, 0.0, FRAC_PI_2],
    [7.0 * FRAC_PI_4, 0.0, FRAC_PI_2],
    [0.0, 0.0, FRAC_PI_2],
    [FRAC_PI_2, 0.0, FRAC_PI_2],
    [PI, 0.0, FRAC_PI_2],
    [3.0 * FRAC_PI_2, 0.0, FRAC_PI_2],
    [0.0, -FRAC_PI_2, FRAC_PI_2],
    [0.0, FRAC_PI_2, FRAC_PI_2],
];
/// `_views_bias[:, 0, :]`: the tilt applied after each view's rotation "to reveal more
/// surface", π/9 around y for the first eight views and π/15 for the last two.
const TILTS: [[f64; 3]; VIEWS] = [
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 9.0, 0.0],
    [0.0, PI / 15.0, 0.0],
    [0.0, PI / 15.0, 0.0],
];
/// `zeroshot_cls/trainers/best_param.py`, `best_prompt_weight['modelnet40_vit_b32_test_weights']`.
pub(super) const VIT_B32_VIEW_WEIGHTS: [f32; VIEWS] =
    [0.75, 0.75, 0.75, 0.75, 0.25, 0.5, 0.5, 0.75, 0.5, 0.5];

const GRID: usize = RESOLUTION * RESOLUTION;
const IMAGE: usize = RAW_SIZE * RAW_SIZE;

/// One view's camera: the view rotation, then the tilt, then the translation
/// (`Realistic_Projection.point_transform`).
#[derive(Clone, Copy)]
struct Camera {
    rotation: [[f32; 3]; 3],
    tilt: [[f32; 3]; 3],
}

impl Camera {
    #[inline(always)]
    fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        let q = rotate(rotate(p, &self.rotation), &self.tilt);
        [0, 1, 2].map(|i| q[i] - TRANSLATION[i])
    }
}

/// The bounding box of one view's points, turned into `points2grid`'s normalisation.
#[derive(Clone, Copy)]
struct Frame {
    centre: [f32; 3],
    extent: f32,
}

impl Frame {
    fn of(lo: [f32; 3], hi: [f32; 3]) -> Self {
        let centre = [0, 1, 2].map(|i| (hi[i] + lo[i]) / 2.0);
        let extent = (0..3)
            .map(|i| hi[i] - lo[i])
            .fold(f32::NEG_INFINITY, f32::max);
        // All points in one place: the official code divides by 0 (NaN images); taking
        // 1 puts them in the centre instead.
        let extent = if extent > 0.0 { extent } else { 1.0 };
        Frame { centre, extent }
    }

    /// The grid cell (flat index of depth bin, row, column) of a camera-space point
    /// and the depth value it offers to that cell; the spare cell past the grid for a
    /// point with a non-finite coordinate (which only overflowing coordinates make).
    #[inline(always)]
    fn cell(&self, q: [f32; 3]) -> (u32, f32) {
        let [x, y, z] = [0, 1, 2].map(|i| (q[i] - self.centre[i]) / self.extent * 2.0);
        let x = x * OBJ_RATIO;
        let y = y * OBJ_RATIO;
        let side = RESOLUTION as f32;
        let last = (RESOLUTION - 2) as f32;
        let finite = x.is_finite() & y.is_finite() & z.is_finite();
        // ceil then clip to [1, 110], as `points2grid`; clamping to [0, 112] before
        // the ceiling changes nothing and keeps `exact::ceil` in its range.
        let gx = exact::clamp(
            exact::ceil(exact::clamp((x + 1.0) / 2.0 * side, 0.0, side)),
            1.0,
            last,
        );
        let gy = exact::clamp(
            exact::ceil(exact::clamp((y + 1.0) / 2.0 * side, 0.0, side)),
            1.0,
            last,
        );
        let dz = ((z + 1.0) / 2.0 + DEPTH_BIAS) / ONE_PLUS_DEPTH_BIAS * (DEPTH - 2) as f32;
        // The bin is the ceiling of the unclipped depth (1..=6 for normalised points;
        // the clamp only guards the index against rounding), the stored value the
        // depth clipped to [1, 6].
        let bin = exact::ceil(exact::clamp(dz, 0.0, (DEPTH - 1) as f32));
        let value = exact::clamp(dz, 1.0, (DEPTH - 2) as f32);
        // `points2grid` permutes its grid to [bin, gx, gy]: rows follow x.
        let flat = (bin * side + gx) * side + gy;
        let flat = if finite { flat } else { (DEPTH * GRID) as f32 };
        (exact::index(flat) as u32, value)
    }
}

/// Points handled together: their cells are computed in a loop the compiler can
/// vectorise, then scattered.
const CHUNK: usize = 256;

/// Writes views `first..first + out.len() / (110 * 110)` of `points` into `out`.
///
/// One pass over the points finds the views' bounding boxes; then, view by view, a
/// pass scatters the points into one 8×112×112 grid (400 KB, reused), which is
/// densified, smoothed and collapsed into the view's image.
pub(super) fn project(points: &[[f32; 3]], first: usize, out: &mut [f32], scratch: &mut Scratch) {
    let count = out.len() / IMAGE;
    let all: [Camera; VIEWS] = std::array::from_fn(|v| Camera {
        rotation: view_matrix(ANGLES[v]),
        tilt: view_matrix(TILTS[v]),
    });
    let cameras = &all[first..first + count];
    let Scratch {
        a: grid,
        b: padded,
        c: rows,
    } = scratch;
    grid.resize(DEPTH * GRID + 1, 0.0);
    // Its border must be 0 (the smoothing's padding), whatever the buffer held before.
    padded.clear();
    padded.resize(GRID, 0.0);
    rows.resize(RESOLUTION * RAW_SIZE, 0.0);
    let frames = bounds(points, cameras);
    for (v, image) in out.chunks_exact_mut(IMAGE).enumerate() {
        grid.fill(0.0);
        scatter(points, &cameras[v], &frames[v], grid);
        render(grid, rows, padded, image);
    }
}

/// `Grid2Image.forward` for one view: each depth slice densified and smoothed, the max
/// over depth, scaled by its max and inverted.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn render(grid: &[f32], rows: &mut [f32], padded: &mut [f32], image: &mut [f32]) {
    image.fill(0.0);
    for slice in grid.chunks_exact(GRID) {
        // An empty slice smooths to 0, which cannot raise the max over depth.
        if slice.iter().any(|&x| x != 0.0) {
            max_pool(slice, rows, padded);
            smooth_into_max(padded, image);
        }
    }
    finish(image);
}

/// Scatters every point's depth value into its cell of one view's grid, keeping the
/// largest (torch_scatter's reduce="max" into a grid of bg_clr = 0).
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn scatter(points: &[[f32; 3]], camera: &Camera, frame: &Frame, grid: &mut [f32]) {
    let mut cells = [0u32; CHUNK];
    let mut values = [0.0f32; CHUNK];
    for chunk in points.chunks(CHUNK) {
        for (k, &p) in chunk.iter().enumerate() {
            (cells[k], values[k]) = frame.cell(camera.apply(p));
        }
        for (&cell, &value) in cells[..chunk.len()].iter().zip(&values) {
            let slot = &mut grid[cell as usize];
            *slot = slot.max(value);
        }
    }
}

#[multiversion::multiversion(targets("x86_64+avx2"))]
fn bounds(points: &[[f32; 3]], cameras: &[Camera]) -> [Frame; VIEWS] {
    let mut lo = [[f32::INFINITY; 3]; VIEWS];
    let mut hi = [[f32::NEG_INFINITY; 3]; VIEWS];
    let mut q = [[0.0f32; CHUNK]; 3];
    for chunk in points.chunks(CHUNK) {
        for (v, camera) in cameras.iter().enumerate() {
            for (k, &p) in chunk.iter().enumerate() {
                let c = camera.apply(p);
                (q[0][k], q[1][k], q[2][k]) = (c[0], c[1], c[2]);
            }
            for axis in 0..3 {
                let (l, h) = min_max(&q[axis][..chunk.len()]);
                lo[v][axis] = lo[v][axis].min(l);
                hi[v][axis] = hi[v][axis].max(h);
            }
        }
    }
    std::array::from_fn(|v| Frame::of(lo[v], hi[v]))
}

/// Min and max of `values`, in eight lanes so that it vectorises.
#[inline(always)]
fn min_max(values: &[f32]) -> (f32, f32) {
    let mut lo = [f32::INFINITY; 8];
    let mut hi = [f32::NEG_INFINITY; 8];
    let mut lanes = values.chunks_exact(8);
    for lane in &mut lanes {
        for i in 0..8 {
            lo[i] = lo[i].min(lane[i]);
            hi[i] = hi[i].max(lane[i]);
        }
    }
    for &x in lanes.remainder() {
        lo[0] = lo[0].min(x);
        hi[0] = hi[0].max(x);
    }
    (
        lo.into_iter().fold(f32::INFINITY, f32::min),
        hi.into_iter().fold(f32::NEG_INFINITY, f32::max),
    )
}

/// The 7×7 max of one depth slice with stride 1 and padding 2 (`MaxPool3d`): output
/// pixel (i, j) covers input rows i−2..=i+4 and columns j−2..=j+4. A row pass into
/// `rows` (110 wide), then a column pass into the interior of `padded`, a 112×112
/// buffer whose zero border is the smoothing's zero padding.
///
/// The padding never wins a max: every window holds real cells, which are all ≥ 0, so
/// padding with 0 instead of −∞ changes nothing and keeps the loops branch-free.
#[inline(always)]
fn max_pool(slice: &[f32], rows: &mut [f32], padded: &mut [f32]) {
    let mut line = [0.0f32; RESOLUTION + 2 * POOL_PAD + 2];
    for (input, row) in slice
        .chunks_exact(RESOLUTION)
        .zip(rows.chunks_exact_mut(RAW_SIZE))
    {
        line[POOL_PAD..POOL_PAD + RESOLUTION].copy_from_slice(input);
        row.copy_from_slice(&line[..RAW_SIZE]);
        for k in 1..POOL {
            for (o, &x) in row.iter_mut().zip(&line[k..k + RAW_SIZE]) {
                *o = o.max(x);
            }
        }
    }
    for i in 0..RAW_SIZE {
        let out = &mut padded[(i + 1) * RESOLUTION + 1..][..RAW_SIZE];
        let window = i.saturating_sub(POOL_PAD)..(i + POOL - POOL_PAD).min(RESOLUTION);
        out.fill(0.0);
        for r in window {
            for (o, &x) in out.iter_mut().zip(&rows[r * RAW_SIZE..(r + 1) * RAW_SIZE]) {
                *o = o.max(x);
            }
        }
    }
}

/// The 3×3 Gaussian of `get3DGaussianKernel(3, 1, sigma=3, zsigma=1)`: the outer
/// product of exp(−x²/(2σ²)) for x in (−1, 0, 1), normalised to sum 1, each factor
/// rounded to f32 as the official code's float32 numpy arrays are.
fn gaussian() -> [[f32; 3]; 3] {
    let k =
        [-1.0f64, 0.0, 1.0].map(|x| (-(x * x) / (2.0 * GAUSS_SIGMA * GAUSS_SIGMA)).exp() as f32);
    let outer = [0, 1, 2].map(|i| [0, 1, 2].map(|j| k[i] * k[j]));
    let sum: f32 = outer.iter().flatten().sum();
    outer.map(|row| row.map(|w| w / sum))
}

/// Smooths a pooled slice (the interior of `padded`, whose zero border is `Conv3d`'s
/// padding (0, 1, 1)) with the Gaussian and keeps the per-pixel max with what `image`
/// holds (the max over depth). Taps are summed in kernel order, as the numpy port does.
#[inline(always)]
fn smooth_into_max(padded: &[f32], image: &mut [f32]) {
    let kernel = gaussian();
    for (i, out) in image.chunks_exact_mut(RAW_SIZE).enumerate() {
        let mut sum = [0.0f32; RAW_SIZE];
        for (di, krow) in kernel.iter().enumerate() {
            let src = &padded[(i + di) * RESOLUTION..(i + di + 1) * RESOLUTION];
            for (dj, &w) in krow.iter().enumerate() {
                for (s, &x) in sum.iter_mut().zip(&src[dj..dj + RAW_SIZE]) {
                    *s += w * x;
                }
            }
        }
        for (o, s) in out.iter_mut().zip(sum) {
            *o = o.max(s);
        }
    }
}

/// `img / img.max()` then `1 − img`; an image with nothing in it stays all 1.
#[inline(always)]
fn finish(image: &mut [f32]) {
    let top = image.iter().fold(0.0f32, |m, &x| m.max(x));
    for x in image.iter_mut() {
        let scaled = if top > 0.0 { *x / top } else { *x };
        *x = 1.0 - scaled;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_points(points: &[[f32; 3]]) -> Vec<f32> {
        let mut out = vec![0.0; VIEWS * IMAGE];
        project(points, 0, &mut out, &mut Scratch::default());
        out
    }

    #[test]
    fn the_gaussian_is_normalised_and_nearly_flat() {
        let k = gaussian();
        let sum: f32 = k.iter().flatten().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert!((k[1][1] - 0.119_571_52).abs() < 1e-7, "{}", k[1][1]);
        assert!((k[0][0] - 0.106_997_3).abs() < 1e-7, "{}", k[0][0]);
    }

    #[test]
    fn the_raw_size_is_110() {
        assert_eq!(RAW_SIZE, 110);
    }

    #[test]
    fn a_single_point_becomes_a_smoothed_7x7_spot() {
        let out = project_points(&[[0.3, -0.2, 0.9]]);
        for view in out.chunks_exact(IMAGE) {
            // The range is 0, so the point sits in the centre cell; the 7x7 max makes
            // it a 7x7 square and the 3x3 blur adds a ring around it.
            let dark = view.iter().filter(|&&v| v < 1.0).count();
            assert_eq!(dark, 9 * 9);
            assert!(view.iter().all(|&v| (0.0..=1.0).contains(&v)));
            assert_eq!(view.iter().cloned().fold(1.0f32, f32::min), 0.0);
        }
    }

    #[test]
    fn max_pool_window_is_offset_as_in_torch() {
        let mut slice = vec![0.0; GRID];
        slice[10 * RESOLUTION + 20] = 1.0;
        let mut rows = vec![0.0; RESOLUTION * RAW_SIZE];
        let mut padded = vec![0.0; GRID];
        max_pool(&slice, &mut rows, &mut padded);
        // The pooled slice sits one pixel in from the padded buffer's edges.
        let lit: Vec<(usize, usize)> = (0..GRID)
            .filter(|&k| padded[k] == 1.0)
            .map(|k| (k / RESOLUTION - 1, k % RESOLUTION - 1))
            .collect();
        let rows_lit: Vec<usize> = lit.iter().map(|p| p.0).collect();
        // Output i covers input i-2..=i+4, so input 10 lights outputs 6..=12.
        assert_eq!(*rows_lit.first().unwrap(), 6);
        assert_eq!(*rows_lit.last().unwrap(), 12);
        assert_eq!(lit.len(), 49);
    }
}
