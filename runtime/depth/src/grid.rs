//! Patch grid to image: the horizontal-flip average and bilinear upsampling of the
//! official evaluation (`DepthCLIP_code/eval.py`, `validate`).
//!
//! Grids and images are row-major `f32` slices with their size given as
//! `(rows, cols)` or `(height, width)`.

use crate::error::check_len;
use crate::DepthError;

/// Averages a patch depth grid with the grid predicted for the horizontally mirrored
/// image: the mirrored grid is flipped back (column `c` ↔ `cols - 1 - c`) and the
/// mean of the two is written into `depths`. `eval.py` does this to the network's
/// output before upsampling, as test-time augmentation.
pub fn flip_average(
    depths: &mut [f32],
    mirrored: &[f32],
    grid: (usize, usize),
) -> Result<(), DepthError> {
    let (rows, cols) = grid;
    check_len("depths (rows × cols)", rows * cols, depths.len())?;
    check_len("mirrored depths (rows × cols)", rows * cols, mirrored.len())?;
    if cols == 0 {
        return Ok(());
    }
    for (row, mirrored_row) in depths
        .chunks_exact_mut(cols)
        .zip(mirrored.chunks_exact(cols))
    {
        for (d, m) in row.iter_mut().zip(mirrored_row.iter().rev()) {
            *d = (0.5 * (*d as f64 + *m as f64)) as f32;
        }
    }
    Ok(())
}

/// Bilinear upsampling of a `grid = (rows, cols)` to `size = (height, width)` with
/// PyTorch's `align_corners=True` convention, as `eval.py` calls
/// `F.interpolate(..., mode='bilinear', align_corners=True)`: the centres of the
/// corner cells of both grids coincide, so output pixel `(y, x)` samples the grid at
/// `(y·(rows−1)/(height−1), x·(cols−1)/(width−1))` (at 0 when the output has a single
/// row or column). The corner values are reproduced exactly and a constant grid
/// stays exactly constant. Any size works, smaller than the grid too.
pub fn upsample(
    grid: &[f32],
    grid_size: (usize, usize),
    size: (usize, usize),
    out: &mut [f32],
) -> Result<(), DepthError> {
    let (rows, cols) = grid_size;
    let (height, width) = size;
    check_len("grid (rows × cols)", rows * cols, grid.len())?;
    check_len("upsampled (height × width)", height * width, out.len())?;
    if out.is_empty() {
        return Ok(());
    }
    if rows == 0 || cols == 0 {
        return Err(DepthError::EmptyGrid {
            what: "grid",
            rows,
            cols,
        });
    }
    for (y, out_row) in out.chunks_exact_mut(width).enumerate() {
        let (y0, y1, ty) = source(y, height, rows);
        let (top, bottom) = (&grid[y0 * cols..][..cols], &grid[y1 * cols..][..cols]);
        for (x, o) in out_row.iter_mut().enumerate() {
            let (x0, x1, tx) = source(x, width, cols);
            let upper = lerp(top[x0] as f64, top[x1] as f64, tx);
            let lower = lerp(bottom[x0] as f64, bottom[x1] as f64, tx);
            *o = lerp(upper, lower, ty) as f32;
        }
    }
    Ok(())
}

/// The two source cells and the weight of the second for output index `i` of `n_out`
/// samples over `n_in` cells, corners aligned.
fn source(i: usize, n_out: usize, n_in: usize) -> (usize, usize, f64) {
    if n_out == 1 {
        return (0, 0, 0.0);
    }
    // The product before the division keeps the last sample exactly on the last cell.
    let s = (i * (n_in - 1)) as f64 / (n_out - 1) as f64;
    let i0 = (s.floor() as usize).min(n_in - 1);
    let i1 = (i0 + 1).min(n_in - 1);
    (i0, i1, s - i0 as f64)
}

/// `a + (b − a)·t`: exactly `a` at `t = 0` and when `a == b`; f64 keeps `b − a` finite
/// for any pair of finite f32 values.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn flip_average_flips_the_mirrored_grid_back() {
        let mut d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mirrored = [30.0, 20.0, 10.0, 60.0, 50.0, 40.0];
        flip_average(&mut d, &mirrored, (2, 3)).unwrap();
        assert_eq!(d, [5.5, 11.0, 16.5, 22.0, 27.5, 33.0]);
        assert!(flip_average(&mut d, &mirrored[..5], (2, 3)).is_err());
    }

    #[test]
    fn upsample_matches_hand_computed_values() {
        // 2x2 -> 3x3: the middle samples fall halfway between cells.
        let g = [0.0, 2.0, 4.0, 6.0];
        let mut out = [0.0; 9];
        upsample(&g, (2, 2), (3, 3), &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 5.0, 6.0]);
        // 1x3 -> 1x5 and a single output pixel takes the first cell.
        let mut row = [0.0; 5];
        upsample(&[1.0, 3.0, 2.0], (1, 3), (1, 5), &mut row).unwrap();
        assert_eq!(row, [1.0, 2.0, 3.0, 2.5, 2.0]);
        let mut one = [0.0];
        upsample(&g, (2, 2), (1, 1), &mut one).unwrap();
        assert_eq!(one, [0.0]);
    }

    #[test]
    fn upsample_refuses_bad_sizes() {
        let mut out = [0.0; 4];
        assert!(matches!(
            upsample(&[], (0, 3), (2, 2), &mut out),
            Err(DepthError::EmptyGrid { .. })
        ));
        assert!(matches!(
            upsample(&[1.0; 4], (2, 2), (2, 3), &mut out),
            Err(DepthError::Shape {
                expected: 6,
                got: 4,
                ..
            })
        ));
        upsample(&[1.0; 4], (2, 2), (0, 5), &mut []).unwrap();
    }

    fn grid_and_size() -> impl Strategy<Value = (Vec<f32>, (usize, usize), (usize, usize))> {
        (1usize..9, 1usize..9, 1usize..70, 1usize..70).prop_flat_map(|(r, c, h, w)| {
            let values = prop::collection::vec(-1e30f32..1e30, r * c);
            (values, Just((r, c)), Just((h, w)))
        })
    }

    proptest! {
        #[test]
        fn a_constant_grid_upsamples_to_the_same_constant(
            v in prop::num::f32::NORMAL | prop::num::f32::ZERO,
            (r, c, h, w) in (1usize..9, 1usize..9, 1usize..70, 1usize..70),
        ) {
            let mut out = vec![0.0; h * w];
            upsample(&vec![v; r * c], (r, c), (h, w), &mut out).unwrap();
            prop_assert!(out.iter().all(|&o| o == v));
        }

        #[test]
        fn corners_are_preserved_exactly((g, (r, c), (h, w)) in grid_and_size()) {
            prop_assume!(h > 1 && w > 1);
            let mut out = vec![0.0; h * w];
            upsample(&g, (r, c), (h, w), &mut out).unwrap();
            prop_assert_eq!(out[0], g[0]);
            prop_assert_eq!(out[w - 1], g[c - 1]);
            prop_assert_eq!(out[(h - 1) * w], g[(r - 1) * c]);
            prop_assert_eq!(out[h * w - 1], g[r * c - 1]);
        }

        #[test]
        fn upsampled_values_stay_within_the_grid_range((g, rc, hw) in grid_and_size()) {
            let mut out = vec![0.0; hw.0 * hw.1];
            upsample(&g, rc, hw, &mut out).unwrap();
            let lo = g.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = g.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            prop_assert!(out.iter().all(|o| (lo..=hi).contains(o)));
        }
    }
}
