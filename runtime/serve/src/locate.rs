//! Where-answers: from a patch-level similarity grid to a point and a box.
//!
//! The grid (one cosine per patch, `rows` × `cols`) is upsampled bilinearly to the
//! model's input square (half-pixel centres, as `align_corners=False`), smoothed
//! with a Gaussian so that a single noisy patch does not win, and its maximum is
//! the peak. The box is the 4-connected region around the peak whose smoothed
//! value is at least `max - box_drop * (max - min)`: the object's extent as the
//! similarity map sees it; the answer's point is the box's centre (on held-out
//! scenes it lands on the object more often than the peak does). Everything is in
//! input-square pixels; callers map it to the image through
//! [`edgeclip::preprocess::SourceWindow`].

use edgeclip::encoder::{ImageFeatures, PatchGrid};
use edgeclip::preprocess::SourceWindow;
use edgeclip::zero_shot::dot;

/// How a grid becomes an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocateParams {
    /// Side of the square the grid is upsampled to (the model's input size).
    pub size: usize,
    /// Standard deviation of the smoothing, in patches.
    pub sigma_patches: f32,
    /// The box keeps values within this fraction of the map's range below its
    /// maximum.
    pub box_drop: f32,
}

/// A located region, in input-square pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Located {
    /// The pixel with the highest smoothed similarity (column, row).
    pub peak: (usize, usize),
    /// The region: left, top, right, bottom, right and bottom exclusive.
    pub bbox: [usize; 4],
    /// The unsmoothed (upsampled) similarity at the peak.
    pub score: f32,
}

impl Located {
    /// The centre of the box (column, row), in fractional pixels.
    pub fn centre(&self) -> (f64, f64) {
        let [x0, y0, x1, y1] = self.bbox;
        ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0)
    }
}

/// Locates the best region of `grid` (`rows` × `cols` row-major values).
///
/// Returns `None` when the grid is empty, its length disagrees with its shape or
/// a value is not finite: there is nothing sound to answer then.
pub fn locate(grid: &[f32], rows: usize, cols: usize, params: &LocateParams) -> Option<Located> {
    let n = params.size;
    if rows == 0 || cols == 0 || n == 0 || grid.len() != rows * cols {
        return None;
    }
    if grid.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let raw = upsample(grid, rows, cols, n);
    let sigma = params.sigma_patches * n as f32 / cols.max(rows) as f32;
    let smooth = blur(&raw, n, sigma);
    let (best, max) =
        smooth
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (i, v)| if v > acc.1 { (i, v) } else { acc },
            );
    let min = smooth.iter().copied().fold(f32::INFINITY, f32::min);
    let floor = max - params.box_drop.clamp(0.0, 1.0) * (max - min);
    let bbox = region(&smooth, n, best, floor);
    Some(Located {
        peak: (best % n, best / n),
        bbox,
        score: raw[best],
    })
}

/// A where-answer in image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct WhereInImage {
    /// Left, top, right, bottom; right and bottom exclusive.
    pub bbox: [u32; 4],
    /// The box's centre.
    pub point: [u32; 2],
    /// The contrast similarity at the peak.
    pub score: f32,
    /// The contrast similarity of every patch, row-major.
    pub values: Vec<f32>,
    /// Patch rows and columns of `values`.
    pub shape: (usize, usize),
}

/// The dense features where-answers use: the value-path grid where the model
/// exports one (it localises far better: `firmware-tools/fixtures/where_dense_eval.py`),
/// else the patch tokens.
pub fn dense_grid(features: &ImageFeatures) -> Option<&PatchGrid> {
    features.values().or(features.patches())
}

/// Per patch, row-major: cosine with `text` minus cosine with `background`
/// (MaskCLIP-style contrast: what all images share cancels out).
pub fn similarity_grid(grid: &PatchGrid, text: &[f32], background: &[f32]) -> Vec<f32> {
    (0..grid.rows())
        .flat_map(|r| (0..grid.cols()).map(move |c| (r, c)))
        .map(|(r, c)| {
            let patch = grid.patch(r, c);
            dot(patch, text) - dot(patch, background)
        })
        .collect()
}

/// Where `text` is in a `width` × `height` image whose preprocessing kept `window`
/// (`size` = the model's input side), from the image's dense `grid`.
pub fn where_in_image(
    grid: &PatchGrid,
    text: &[f32],
    background: &[f32],
    window: SourceWindow,
    (width, height): (u32, u32),
    params: &LocateParams,
) -> Option<WhereInImage> {
    let values = similarity_grid(grid, text, background);
    let found = locate(&values, grid.rows(), grid.cols(), params)?;
    let size = params.size as u32;
    let (cx, cy) = found.centre();
    let (px, py) = window.to_source(cx, cy, size);
    Some(WhereInImage {
        bbox: box_in_image(found.bbox, window, size, (width, height)),
        point: [
            (px.max(0.0) as u32).min(width.saturating_sub(1)),
            (py.max(0.0) as u32).min(height.saturating_sub(1)),
        ],
        score: found.score,
        values,
        shape: (grid.rows(), grid.cols()),
    })
}

/// A box in the model's `size`-pixel square, in the pixels of the `width` ×
/// `height` image whose preprocessing kept `window`: at least one pixel wide and
/// high, and inside the image whatever its shape (a 1×1 image's box is `[0,0,1,1]`).
pub fn box_in_image(
    [x0, y0, x1, y1]: [usize; 4],
    window: SourceWindow,
    size: u32,
    (width, height): (u32, u32),
) -> [u32; 4] {
    let to_px = |u: usize, v: usize| -> (u32, u32) {
        let (x, y) = window.to_source(u as f64, v as f64, size);
        (
            (x.round().max(0.0) as u32).min(width),
            (y.round().max(0.0) as u32).min(height),
        )
    };
    let (bx0, by0) = to_px(x0, y0);
    let (bx1, by1) = to_px(x1, y1);
    let bx0 = bx0.min(width.saturating_sub(1));
    let by0 = by0.min(height.saturating_sub(1));
    [
        bx0,
        by0,
        bx1.clamp(bx0 + 1, width.max(1)),
        by1.clamp(by0 + 1, height.max(1)),
    ]
}

/// Bilinear upsampling of a `rows` × `cols` grid to `n` × `n`, sampling at pixel
/// centres (PyTorch's `align_corners=False`), edges clamped.
pub fn upsample(grid: &[f32], rows: usize, cols: usize, n: usize) -> Vec<f32> {
    let axis = |len: usize| -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|i| {
                let src = ((i as f32 + 0.5) * len as f32 / n as f32 - 0.5).max(0.0);
                let i0 = (src.floor() as usize).min(len - 1);
                let i1 = (i0 + 1).min(len - 1);
                (i0, i1, src - i0 as f32)
            })
            .collect()
    };
    let (ys, xs) = (axis(rows), axis(cols));
    let mut out = Vec::with_capacity(n * n);
    for &(y0, y1, fy) in &ys {
        for &(x0, x1, fx) in &xs {
            let top = grid[y0 * cols + x0] * (1.0 - fx) + grid[y0 * cols + x1] * fx;
            let bottom = grid[y1 * cols + x0] * (1.0 - fx) + grid[y1 * cols + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// Separable Gaussian blur of an `n` × `n` map, edges replicated; `sigma` in
/// pixels (none below 0.1).
pub fn blur(map: &[f32], n: usize, sigma: f32) -> Vec<f32> {
    if sigma < 0.1 {
        return map.to_vec();
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let at = |i: isize| i.clamp(0, n as isize - 1) as usize;
    let mut across = vec![0.0; n * n];
    for y in 0..n {
        for x in 0..n {
            across[y * n + x] = kernel
                .iter()
                .zip(-radius..)
                .map(|(k, d)| k * map[y * n + at(x as isize + d)])
                .sum::<f32>()
                / total;
        }
    }
    let mut out = vec![0.0; n * n];
    for y in 0..n {
        for x in 0..n {
            out[y * n + x] = kernel
                .iter()
                .zip(-radius..)
                .map(|(k, d)| k * across[at(y as isize + d) * n + x])
                .sum::<f32>()
                / total;
        }
    }
    out
}

/// Bounding box of the 4-connected pixels around `seed` with values ≥ `floor`.
fn region(map: &[f32], n: usize, seed: usize, floor: f32) -> [usize; 4] {
    let mut seen = vec![false; n * n];
    let mut stack = vec![seed];
    seen[seed] = true;
    let (mut x0, mut y0, mut x1, mut y1) = (n, n, 0, 0);
    while let Some(i) = stack.pop() {
        let (x, y) = (i % n, i / n);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x + 1);
        y1 = y1.max(y + 1);
        let mut visit = |j: usize| {
            if !seen[j] && map[j] >= floor {
                seen[j] = true;
                stack.push(j);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < n {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - n);
        }
        if y + 1 < n {
            visit(i + n);
        }
    }
    [x0, y0, x1, y1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PARAMS: LocateParams = LocateParams {
        size: 64,
        sigma_patches: 0.5,
        box_drop: 0.5,
    };

    #[test]
    fn a_single_hot_patch_is_found_where_it_is() {
        let mut grid = vec![0.0f32; 64];
        grid[2 * 8 + 5] = 1.0; // row 2, column 5: pixels x 40..48, y 16..24
        let found = locate(&grid, 8, 8, &PARAMS).unwrap();
        let (x, y) = found.peak;
        assert!((40..48).contains(&x) && (16..24).contains(&y), "{found:?}");
        let [x0, y0, x1, y1] = found.bbox;
        assert!(x0 >= 32 && x1 <= 56 && y0 >= 8 && y1 <= 32, "{found:?}");
    }

    #[test]
    fn the_boxes_of_one_pixel_wide_images_are_inside_them() {
        let config = edgeclip::preprocess::PreprocessConfig::openai(224);
        for (w, h) in [(1, 1), (1, 40_000), (40_000, 1)] {
            let window = edgeclip::preprocess::source_window(&config, w, h);
            let bbox = box_in_image([100, 100, 140, 140], window, 224, (w, h));
            assert!(
                bbox[2] <= w && bbox[3] <= h && bbox[0] < bbox[2] && bbox[1] < bbox[3],
                "{bbox:?}"
            );
        }
        let window = edgeclip::preprocess::source_window(&config, 1, 1);
        assert_eq!(
            box_in_image([0, 0, 224, 224], window, 224, (1, 1)),
            [0, 0, 1, 1]
        );
    }

    #[test]
    fn upsampling_a_constant_gives_the_constant_and_keeps_corners() {
        assert!(upsample(&[0.3; 4], 2, 2, 5)
            .iter()
            .all(|v| (v - 0.3).abs() < 1e-6));
        let up = upsample(&[0.0, 1.0, 2.0, 3.0], 2, 2, 8);
        assert_eq!((up[0], up[63]), (0.0, 3.0));
    }

    #[test]
    fn bad_grids_give_no_answer() {
        assert!(locate(&[], 0, 0, &PARAMS).is_none());
        assert!(locate(&[1.0; 3], 2, 2, &PARAMS).is_none());
        assert!(locate(&[f32::NAN; 4], 2, 2, &PARAMS).is_none());
    }

    proptest! {
        #[test]
        fn the_box_holds_the_point_and_stays_in_the_square(
            grid in proptest::collection::vec(-1.0f32..1.0, 16),
            sigma in 0.0f32..2.0,
            drop in 0.0f32..1.0,
        ) {
            let params = LocateParams { size: 32, sigma_patches: sigma, box_drop: drop };
            let found = locate(&grid, 4, 4, &params).unwrap();
            let [x0, y0, x1, y1] = found.bbox;
            let (x, y) = found.peak;
            prop_assert!(x0 <= x && x < x1 && y0 <= y && y < y1);
            let (cx, cy) = found.centre();
            prop_assert!(cx >= x0 as f64 && cx <= x1 as f64 && cy >= y0 as f64 && cy <= y1 as f64);
            prop_assert!(x1 <= 32 && y1 <= 32);
            prop_assert!(found.score >= -1.0 && found.score <= 1.0);
        }

        #[test]
        fn boxes_stay_inside_images_of_any_shape(
            width in 1u32..50_000,
            height in 1u32..50_000,
            corners in (0usize..=224, 0usize..=224, 0usize..=224, 0usize..=224),
        ) {
            let config = edgeclip::preprocess::PreprocessConfig::openai(224);
            let window = edgeclip::preprocess::source_window(&config, width, height);
            let (a, b, c, d) = corners;
            let bbox = [a.min(c), b.min(d), a.max(c), b.max(d)];
            let [x0, y0, x1, y1] = box_in_image(bbox, window, 224, (width, height));
            prop_assert!(x0 < x1 && x1 <= width, "{:?}", (x0, x1, width));
            prop_assert!(y0 < y1 && y1 <= height, "{:?}", (y0, y1, height));
        }

        #[test]
        fn blurring_keeps_values_within_their_range(
            map in proptest::collection::vec(-5.0f32..5.0, 36),
            sigma in 0.0f32..4.0,
        ) {
            let lo = map.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            for v in blur(&map, 6, sigma) {
                prop_assert!(v >= lo - 1e-4 && v <= hi + 1e-4);
            }
        }
    }
}
