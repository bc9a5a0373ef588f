//! Point clouds for PointCLIP: reading them from files, and projecting them to the
//! depth-map views that CLIP's image tower classifies.
//!
//! Data flow: a file (PLY, PCD, XYZ text or `.npy`) → [`read`] → a [`PointCloud`]
//! (finite xyz points, at least one) → [`project`] (PointCLIP V1's six perspective
//! views or V2's ten realistic views) → views as `f32` depth images → resized and
//! batched by the caller into the image tower → per-view embeddings fused over the
//! views into class scores.
#![deny(missing_docs)]

mod cloud;
mod kind;
pub mod project;
pub mod read;
pub mod settings;

pub use cloud::{CloudError, PointCloud};
pub use kind::PointsErrorKind;
pub use settings::PointClipSettings;
