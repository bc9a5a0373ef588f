//! PointCLIP's multi-view depth projections: a cloud → a few grey depth images that
//! CLIP's image tower embeds, one embedding per view, fused with view weights.
//!
//! Two projections, both written from the formulas of the official code (each
//! constant's source is named beside it in `v1.rs` and `v2.rs`):
//!
//! * [`Projection::V1`] — PointCLIP (ZrrSkywalker/PointCLIP, `trainers/mv_utils_zs.py`):
//!   six perspective views, 128×128, each pixel the 1/z-weighted mean depth of the
//!   points landing on it, empty pixels 0. The default model was trained on exactly
//!   this (`firmware-tools/train/pointclip_proj.py`).
//! * [`Projection::V2`] — PointCLIP V2's "realistic projection"
//!   (yangyangyang127/PointCLIP_V2, `zeroshot_cls/trainers/mv_utils_zs.py`): ten views,
//!   each normalised on its own, quantised into a depth grid, densified, smoothed and
//!   inverted to 110×110 images in [0, 1] with a white background.
//!
//! Both write raw views `[views, H, W]` into a caller-owned [`Views`], which keeps its
//! buffers between calls so projecting cloud after cloud allocates nothing after the
//! first. [`to_encoder_input`] then resizes them to the encoder's input
//! (`[views, 3, size, size]`, bilinear with `align_corners=True`, no mean/std
//! normalisation, as both papers feed them). [`save_views`] writes them for people and
//! tools.
//!
//! ```
//! use edgeclip_points::project::{to_encoder_input, Projection, Views};
//! use edgeclip_points::PointCloud;
//!
//! let cloud = PointCloud::new(vec![[0.0, 0.0, 0.0], [0.5, 0.2, -0.1], [-0.3, 0.4, 0.2]]).unwrap();
//! let projection: Projection = "v2".parse().unwrap();
//! let mut views = Views::new();
//! projection.project(&cloud, &mut views);
//! assert_eq!((views.count(), views.size()), (10, 110));
//! let mut input = vec![0.0; views.encoder_input_len(224)];
//! to_encoder_input(&views, 224, &mut input).unwrap();
//! ```
//!
//! # Normalising a cloud before V1
//!
//! V1 projects the cloud as given, with the camera 1.6 units away from the origin, so
//! it expects what PointCLIP was evaluated on (ModelNet40 clouds centred on the origin
//! inside the unit sphere) and what the default model was trained on
//! (`procedural.make_cloud`: centred on the mean, divided by the largest distance from
//! it). A lidar cloud in metres, far from the origin, would project to nothing useful, so
//! `Projection::V1 { normalize: true }` (the default, and what `"v1".parse()` gives)
//! first applies that same normalisation ([`unit_sphere`]); `normalize: false` projects
//! the raw coordinates, which is the official math on its own (the fixtures compare
//! that). V2 needs no such step: it centres and scales each view itself, which makes it
//! invariant to translating and uniformly scaling the cloud.

mod exact;
mod resize;
mod rotation;
mod save;
mod v1;
mod v2;

use std::fmt;
use std::str::FromStr;

use crate::PointCloud;

pub use resize::to_encoder_input;
pub use save::{save_views, write_npy, SaveError};

/// Which PointCLIP projection turns a cloud into views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// PointCLIP V1: six 128×128 perspective depth views, empty pixels 0.
    V1 {
        /// Centre the cloud on its mean and scale it into the unit sphere first
        /// ([`unit_sphere`]); `false` projects the coordinates as given.
        normalize: bool,
    },
    /// PointCLIP V2's realistic projection: ten 110×110 views in [0, 1], background 1.
    V2,
}

impl Default for Projection {
    /// V1 with normalisation: the projection the default model was trained on.
    fn default() -> Self {
        Projection::V1 { normalize: true }
    }
}

/// Why a projection name or an encoder-input request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// A projection name other than `v1` or `v2`.
    #[error("unknown projection {0:?} (expected v1 or v2)")]
    UnknownProjection(String),
    /// `to_encoder_input` was asked for views that were never projected.
    #[error("no views to resize: nothing has been projected into this buffer")]
    NoViews,
    /// An encoder input size of 0 pixels.
    #[error("the encoder input size must be at least 1 pixel")]
    ZeroSize,
    /// The output slice does not hold exactly `[views, 3, size, size]` values.
    #[error("the encoder input buffer holds {actual} values, expected {expected}")]
    OutputLength {
        /// `views × 3 × size × size`.
        expected: usize,
        /// The slice's length.
        actual: usize,
    },
}

impl FromStr for Projection {
    type Err = ProjectError;

    /// `v1` (normalising the cloud first) or `v2`, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "v1" => Ok(Projection::V1 { normalize: true }),
            "v2" => Ok(Projection::V2),
            _ => Err(ProjectError::UnknownProjection(s.to_string())),
        }
    }
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Projection {
    /// `"v1"` or `"v2"`, as `--projection` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Projection::V1 { .. } => "v1",
            Projection::V2 => "v2",
        }
    }

    /// How many views a cloud becomes: 6 for V1, 10 for V2.
    pub fn view_count(&self) -> usize {
        match self {
            Projection::V1 { .. } => v1::VIEWS,
            Projection::V2 => v2::VIEWS,
        }
    }

    /// The side of a raw view before resizing: 128 for V1, 110 for V2.
    pub fn raw_size(&self) -> usize {
        match self {
            Projection::V1 { .. } => v1::RESOLUTION,
            Projection::V2 => v2::RAW_SIZE,
        }
    }

    /// The weights that fuse per-view embeddings when a model names none: equal for
    /// V1 (PointCLIP's zero-shot setting), PointCLIP V2's published ViT-B/32 ModelNet40
    /// weights for V2.
    pub fn default_view_weights(&self) -> &'static [f32] {
        match self {
            Projection::V1 { .. } => &v1::EQUAL_WEIGHTS,
            Projection::V2 => &v2::VIT_B32_VIEW_WEIGHTS,
        }
    }

    /// Projects `cloud` into `out`, replacing what it held: `[view_count, raw_size,
    /// raw_size]` values in the official view order. Reuses `out`'s buffers, so it
    /// allocates only the first time a `Views` meets a projection, and splits the views
    /// over threads for large clouds ([`Views::set_threads`]).
    pub fn project(&self, cloud: &PointCloud, out: &mut Views) {
        out.prepare(*self);
        let points = cloud.points();
        let workers = out.workers_for(points.len() * self.view_count());
        let plane = out.size * out.size;
        let Views { data, scratch, .. } = out;
        match *self {
            Projection::V1 { normalize } => {
                let frame = normalize.then(|| UnitSphere::of(points));
                split(workers, plane, data, scratch, |first, out, s| {
                    v1::project(points, frame.as_ref(), first, out, &mut s.a, &mut s.b)
                })
            }
            Projection::V2 => split(workers, plane, data, scratch, |first, out, s| {
                v2::project(points, first, out, s)
            }),
        }
    }
}

/// Below this many point-views (points × views) a cloud is projected on the calling
/// thread: starting threads costs more than it saves, and allocates.
const PARALLEL_MIN_POINT_VIEWS: usize = 1_000_000;

/// Runs `project(first_view, views_out, scratch)` on `workers` threads, each over a
/// contiguous block of views (`plane` values each) with its own scratch.
fn split(
    workers: usize,
    plane: usize,
    data: &mut [f32],
    scratch: &mut Vec<Scratch>,
    project: impl Fn(usize, &mut [f32], &mut Scratch) + Sync,
) {
    let views = data.len() / plane;
    let per = views.div_ceil(workers.max(1));
    if scratch.len() < workers.max(1) {
        scratch.resize_with(workers.max(1), Scratch::default);
    }
    if per >= views {
        return project(0, data, &mut scratch[0]);
    }
    std::thread::scope(|s| {
        let project = &project;
        for (i, (out, sc)) in data
            .chunks_mut(per * plane)
            .zip(scratch.iter_mut())
            .enumerate()
        {
            s.spawn(move || project(i * per, out, sc));
        }
    });
}

/// Raw views `[count, size, size]`, row-major, written by [`Projection::project`].
///
/// Also holds the projection's working buffers, so keep one `Views` per stream of
/// clouds rather than one per cloud.
#[derive(Debug, Clone, Default)]
pub struct Views {
    projection: Option<Projection>,
    count: usize,
    size: usize,
    data: Vec<f32>,
    /// One per worker thread.
    scratch: Vec<Scratch>,
    /// 0: as many as the machine has.
    threads: usize,
}

/// One worker's working memory (V1: the per-pixel sums of z/z and 1/z; V2: one view's
/// depth grid, its pooled slice with a zero border, and the pooling's row pass).
#[derive(Debug, Clone, Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

impl Views {
    /// An empty buffer; the first projection sizes it.
    pub fn new() -> Self {
        Self::default()
    }

    fn prepare(&mut self, projection: Projection) {
        self.projection = Some(projection);
        self.count = projection.view_count();
        self.size = projection.raw_size();
        self.data.resize(self.count * self.size * self.size, 0.0);
    }

    /// Limits the threads a large cloud's projection may use (0, the default: as many
    /// as the machine has; 1: always the calling thread). Clouds under a million
    /// point-views (points × views) always use the calling thread.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads;
    }

    fn workers_for(&self, point_views: usize) -> usize {
        if point_views < PARALLEL_MIN_POINT_VIEWS {
            return 1;
        }
        let available = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        available.min(self.count).max(1)
    }

    /// The projection that wrote these views, `None` before the first.
    pub fn projection(&self) -> Option<Projection> {
        self.projection
    }

    /// How many views (0 before the first projection).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The side of each square view in pixels (0 before the first projection).
    pub fn size(&self) -> usize {
        self.size
    }

    /// All views, `[count, size, size]` row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data[..self.count * self.size * self.size]
    }

    /// View `index` (official order), `size × size` row-major. Panics past `count`.
    pub fn view(&self, index: usize) -> &[f32] {
        assert!(index < self.count, "view {index} of {}", self.count);
        let n = self.size * self.size;
        &self.data[index * n..(index + 1) * n]
    }

    /// How many values [`to_encoder_input`] writes for `size`: `count × 3 × size²`.
    pub fn encoder_input_len(&self, size: usize) -> usize {
        self.count * 3 * size * size
    }
}

/// `cloud` centred on its mean and divided by the largest distance from it — the
/// normalisation of the default model's training clouds (`procedural.make_cloud`) and
/// of ModelNet40, which [`Projection::V1`] applies when `normalize` is set.
pub fn unit_sphere(cloud: &PointCloud) -> PointCloud {
    let frame = UnitSphere::of(cloud.points());
    let points = cloud.points().iter().map(|&p| frame.apply(p)).collect();
    PointCloud::new(points).expect("a normalised finite cloud stays finite and non-empty")
}

/// The centre and scale of [`unit_sphere`], computed in f64 because lidar clouds in
/// metres can sit far from the origin, where f32 sums lose the shape.
#[derive(Debug, Clone, Copy)]
pub(super) struct UnitSphere {
    centre: [f64; 3],
    inv_scale: f64,
}

impl UnitSphere {
    fn of(points: &[[f32; 3]]) -> Self {
        let mut sum = [0.0f64; 3];
        for p in points {
            for (s, &c) in sum.iter_mut().zip(p) {
                *s += f64::from(c);
            }
        }
        let n = points.len().max(1) as f64;
        let centre = sum.map(|s| s / n);
        let max_sq = points
            .iter()
            .map(|p| {
                (0..3)
                    .map(|i| (f64::from(p[i]) - centre[i]).powi(2))
                    .sum::<f64>()
            })
            .fold(0.0f64, f64::max);
        let scale = max_sq.sqrt();
        // A cloud of one repeated point has no size to scale; it stays at the origin.
        let inv_scale = if scale > 0.0 && scale.is_finite() {
            1.0 / scale
        } else {
            1.0
        };
        UnitSphere { centre, inv_scale }
    }

    #[inline(always)]
    pub(super) fn apply(&self, p: [f32; 3]) -> [f32; 3] {
        [0, 1, 2].map(|i| ((f64::from(p[i]) - self.centre[i]) * self.inv_scale) as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(points: &[[f32; 3]]) -> PointCloud {
        PointCloud::new(points.to_vec()).unwrap()
    }

    #[test]
    fn names_parse_and_print() {
        assert_eq!(
            "v1".parse::<Projection>().unwrap(),
            Projection::V1 { normalize: true }
        );
        assert_eq!("V2".parse::<Projection>().unwrap(), Projection::V2);
        assert!(matches!(
            "v3".parse::<Projection>(),
            Err(ProjectError::UnknownProjection(_))
        ));
        assert_eq!(Projection::V2.to_string(), "v2");
        assert_eq!(Projection::default().to_string(), "v1");
    }

    #[test]
    fn shapes_and_weights() {
        let v1 = Projection::V1 { normalize: false };
        assert_eq!((v1.view_count(), v1.raw_size()), (6, 128));
        assert_eq!(
            (Projection::V2.view_count(), Projection::V2.raw_size()),
            (10, 110)
        );
        assert_eq!(v1.default_view_weights(), &[1.0; 6]);
        assert_eq!(Projection::V2.default_view_weights().len(), 10);
    }

    #[test]
    fn unit_sphere_centres_and_scales() {
        let c = unit_sphere(&cloud(&[
            [10.0, 0.0, 0.0],
            [14.0, 0.0, 0.0],
            [12.0, 2.0, 0.0],
        ]));
        let n = c.len() as f32;
        for axis in 0..3 {
            let mean: f32 = c.points().iter().map(|p| p[axis]).sum::<f32>() / n;
            assert!(mean.abs() < 1e-6);
        }
        let max = c
            .points()
            .iter()
            .map(|p| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt());
        assert!((max.fold(0.0f32, f32::max) - 1.0).abs() < 1e-6);
        // One repeated point: no scale to divide by, it just moves to the origin.
        let single = unit_sphere(&cloud(&[[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]));
        assert_eq!(single.points(), &[[0.0; 3]; 2]);
    }

    #[test]
    fn a_views_buffer_is_reused_across_projections() {
        let mut views = Views::new();
        assert_eq!(
            (views.count(), views.size(), views.projection()),
            (0, 0, None)
        );
        let c = cloud(&[[0.1, 0.2, 0.3], [-0.2, 0.1, 0.0]]);
        Projection::V2.project(&c, &mut views);
        assert_eq!(views.as_slice().len(), 10 * 110 * 110);
        Projection::default().project(&c, &mut views);
        assert_eq!(views.as_slice().len(), 6 * 128 * 128);
        assert_eq!(views.view(5).len(), 128 * 128);
        assert_eq!(views.projection(), Some(Projection::V1 { normalize: true }));
        // Back to V2 in a buffer V1 used: the same views as in a fresh buffer.
        Projection::V2.project(&c, &mut views);
        let mut fresh = Views::new();
        Projection::V2.project(&c, &mut fresh);
        assert_eq!(views.as_slice(), fresh.as_slice());
    }

    #[test]
    fn threads_change_nothing() {
        // 200k points: over the threshold for both projections.
        let points = (0..200_000)
            .map(|i| {
                let t = i as f32 * 0.001;
                [
                    t.sin() * (1.0 + (t * 7.0).cos() * 0.2),
                    t.cos(),
                    (t * 3.0).sin() * 0.5,
                ]
            })
            .collect();
        let c = PointCloud::new(points).unwrap();
        for projection in [Projection::default(), Projection::V2] {
            let mut one = Views::new();
            one.set_threads(1);
            projection.project(&c, &mut one);
            for threads in [3, 4] {
                let mut many = Views::new();
                many.set_threads(threads);
                projection.project(&c, &mut many);
                assert_eq!(many.workers_for(c.len() * projection.view_count()), threads);
                assert_eq!(
                    one.as_slice(),
                    many.as_slice(),
                    "{projection} on {threads} threads"
                );
            }
        }
    }

    #[test]
    fn v1_normalisation_makes_far_clouds_visible() {
        let far: Vec<[f32; 3]> = (0..200)
            .map(|i| {
                let t = i as f32 * 0.1;
                [
                    1000.0 + t.cos() * 5.0,
                    -400.0 + t.sin() * 5.0,
                    30.0 + (i % 7) as f32,
                ]
            })
            .collect();
        let c = cloud(&far);
        let mut views = Views::new();
        Projection::V1 { normalize: false }.project(&c, &mut views);
        let raw_lit = views.as_slice().iter().filter(|&&v| v > 0.0).count();
        Projection::V1 { normalize: true }.project(&c, &mut views);
        let lit = views.as_slice().iter().filter(|&&v| v > 0.0).count();
        assert!(
            lit > 6 * 20 && lit > raw_lit,
            "{lit} lit pixels, {raw_lit} without normalising"
        );
    }
}
