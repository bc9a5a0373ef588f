//! PointCLIP V1's zero-shot projection, from the formulas of the official code
//! (ZrrSkywalker/PointCLIP, `trainers/mv_utils_zs.py`: `PCViews`, `points2depth`,
//! `distribute`) and the project's numpy port (`firmware-tools/train/pointclip_proj.py`),
//! which the fixtures in `tests/fixtures/projection/` hold this to within 1e-5.

use std::f64::consts::{FRAC_PI_2, PI};

use super::exact;
use super::rotation::{rotate, view_matrix};
use super::UnitSphere;

/// `PCViews.num_views`.
pub(super) const VIEWS: usize = 6;
/// `RESOLUTION`: the side of each view.
pub(super) const RESOLUTION: usize = 128;
/// `TRANS`: the camera sits 1.6 units from the origin (translation `(0, 0, TRANS)`).
const TRANS: f32 = -1.6;
/// The `epsilon` of `points2depth` and `distribute`.
const EPSILON: f32 = 1e-12;
/// `PCViews.__init__`'s Euler angles (x, y, z): four around the object, then two more.
const ANGLES: [[f64; 3]; VIEWS] = [
    [0.0, 0.0, FRAC_PI_2],
    [FRAC_PI_2, 0.0, FRAC_PI_2],
    [PI, 0.0, FRAC_PI_2],
    [3.0 * FRAC_PI_2, 0.0, FRAC_PI_2],
    [0.0, -FRAC_PI_2, FRAC_PI_2],
    [0.0, FRAC_PI_2, FRAC_PI_2],
];
/// PointCLIP's zero-shot setting sums the views with equal weights (`PointCLIP_ZS.model_inference`).
pub(super) const EQUAL_WEIGHTS: [f32; VIEWS] = [1.0; VIEWS];

const PIXELS: usize = RESOLUTION * RESOLUTION;
/// Points handled together: their pixels are computed in a loop the compiler can
/// vectorise, then scattered.
const CHUNK: usize = 256;

/// Writes views `first..first + out.len() / (128 * 128)` of `points` (each first moved
/// into the unit sphere by `frame`, when given) into `out`; `num` and `den` are scratch
/// for the per-pixel sums of z/z and 1/z.
pub(super) fn project(
    points: &[[f32; 3]],
    frame: Option<&UnitSphere>,
    first: usize,
    out: &mut [f32],
    num: &mut Vec<f32>,
    den: &mut Vec<f32>,
) {
    let count = out.len() / PIXELS;
    let cameras = &ANGLES.map(view_matrix)[first..first + count];
    for acc in [&mut *num, &mut *den] {
        acc.clear();
        acc.resize(count * (PIXELS + 1), 0.0);
    }
    accumulate(points, frame, cameras, num, den);
    // Each pixel is sum(z / z) / sum(1 / z): the 1/z-weighted mean depth; pixels no
    // point reached keep 0 (the official code divides 0 by a weight forced to 1).
    for (v, view) in out.chunks_exact_mut(PIXELS).enumerate() {
        let num = &num[v * (PIXELS + 1)..][..PIXELS];
        let den = &den[v * (PIXELS + 1)..][..PIXELS];
        for ((o, &n), &d) in view.iter_mut().zip(num).zip(den) {
            *o = if d != 0.0 { n / d } else { 0.0 };
        }
    }
}

/// Adds every point's z/z and 1/z to its pixel in each camera's accumulators
/// (`PIXELS + 1` values a camera, the last a spare slot for points that land nowhere,
/// so that the loop does not branch).
///
/// Every chunk of points is rotated into all the cameras before the next is read, so a
/// large cloud is read from memory once while the accumulators (2 × 64 KiB a view) stay
/// in cache.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn accumulate(
    points: &[[f32; 3]],
    frame: Option<&UnitSphere>,
    cameras: &[[[f32; 3]; 3]],
    num: &mut [f32],
    den: &mut [f32],
) {
    let mut xyz = [[0.0f32; CHUNK]; 3];
    let mut pixel = [0u32; CHUNK];
    let mut zw = [0.0f32; CHUNK];
    let mut w = [0.0f32; CHUNK];
    for chunk in points.chunks(CHUNK) {
        let n = chunk.len();
        for (k, &p) in chunk.iter().enumerate() {
            let p = frame.map_or(p, |f| f.apply(p));
            for axis in 0..3 {
                xyz[axis][k] = p[axis];
            }
        }
        for (v, m) in cameras.iter().enumerate() {
            let [xs, ys, zs] = &xyz;
            for k in 0..n {
                (pixel[k], zw[k], w[k]) = land([xs[k], ys[k], zs[k]], m);
            }
            let num = &mut num[v * (PIXELS + 1)..(v + 1) * (PIXELS + 1)];
            let den = &mut den[v * (PIXELS + 1)..(v + 1) * (PIXELS + 1)];
            for k in 0..n {
                num[pixel[k] as usize] += zw[k];
                den[pixel[k] as usize] += w[k];
            }
        }
    }
}

/// Where `p` lands in one camera: its pixel (`PIXELS`, the spare slot, behind the
/// camera or outside the image), z · (1/z) and the weight 1/z.
///
/// The float32 operations and their order follow the numpy port, so that a point on a
/// pixel boundary rounds the same way on both sides.
#[inline(always)]
fn land(p: [f32; 3], m: &[[f32; 3]; 3]) -> (u32, f32, f32) {
    let [x, y, z] = rotate(p, m);
    let z = z - TRANS;
    let zd = z + EPSILON;
    // Perspective division; the aspect factor W/H is 1.
    let u = x / zd;
    let v = y / zd;
    // `points2depth`: (u + 1) * H / 2, then `distribute` with a 1x1 footprint adds
    // -1/2 and takes the ceiling.
    // Clamping first keeps the outside outside and lets `exact::ceil` vectorise.
    let side = RESOLUTION as f32;
    let last = side - 1.0;
    let row = exact::ceil(exact::clamp((u + 1.0) * side / 2.0 - 0.5, -1.0, side));
    let col = exact::ceil(exact::clamp((v + 1.0) * side / 2.0 - 0.5, -1.0, side));
    // `distribute`'s mask keeps depths >= 0 (NaN fails it) and pixels in the image.
    let inside = (z >= 0.0) & (row >= 0.0) & (row <= last) & (col >= 0.0) & (col <= last);
    let pixel = if inside {
        row * side + col
    } else {
        PIXELS as f32
    };
    let w = 1.0 / zd;
    (exact::index(pixel) as u32, z * w, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn views_of(points: &[[f32; 3]]) -> Vec<f32> {
        let mut out = vec![0.0; VIEWS * PIXELS];
        project(points, None, 0, &mut out, &mut Vec::new(), &mut Vec::new());
        out
    }

    #[test]
    fn the_origin_lands_in_the_centre_of_every_view_at_depth_1_6() {
        let out = views_of(&[[0.0; 3]]);
        for v in 0..VIEWS {
            let view = &out[v * PIXELS..(v + 1) * PIXELS];
            let lit: Vec<usize> = (0..PIXELS).filter(|&i| view[i] != 0.0).collect();
            // (0 + 1) * 64 - 0.5 = 63.5 rounds up to 64.
            assert_eq!(lit, vec![64 * RESOLUTION + 64], "view {v}");
            assert!((view[lit[0]] - 1.6).abs() < 1e-6);
        }
    }

    #[test]
    fn a_pixel_holds_the_inverse_depth_weighted_mean() {
        // Two points on the first camera's axis at depths 1.1 and 2.1 (view 0 keeps z).
        let out = views_of(&[[0.0, 0.0, -0.5], [0.0, 0.0, 0.5]]);
        let expected = 2.0 / (1.0 / 1.1 + 1.0 / 2.1);
        assert!((out[64 * RESOLUTION + 64] - expected).abs() < 1e-5);
    }

    #[test]
    fn points_behind_the_camera_or_off_the_image_leave_it_empty() {
        // z = -2 is 0.4 behind the first camera; x = 5 at depth 1.6 is far off the image.
        let out = views_of(&[[0.0, 0.0, -2.0], [5.0, 0.0, 0.0]]);
        assert!(out[..PIXELS].iter().all(|&v| v == 0.0));
    }
}
