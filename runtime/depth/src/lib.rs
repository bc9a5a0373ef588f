//! DepthCLIP: zero-shot monocular depth from CLIP's dense patch features and a few
//! distance words (Zhang et al., "Can Language Understand Depth?", ACM MM 2022; the
//! official code is `DepthCLIP_code/monoclip.py` and `DepthCLIP_code/eval.py` in the
//! DepthCLIP repository).
//!
//! Data flow: the image tower's projected `patch_tokens` (a `rows × cols` grid of
//! `dim`-wide features) → [`DepthHead::patch_depths`] (each patch L2-normalised,
//! cosine with each bin prompt's text embedding, × [`DepthConfig::scale`], softmax over
//! the bins, Σ weight × bin depth) → optionally [`grid::flip_average`] with the grid of
//! the mirrored image → [`grid::upsample`] (bilinear, `align_corners=True`) to the
//! image size → a [`DepthMap`] in metres → [`DepthMap::stats`],
//! [`DepthMap::write_png_mm`] (16-bit millimetres) and [`DepthMap::write_preview`].
//! [`DepthHead::depth_map`] runs that whole chain; [`DepthHead::scene_depth`] reads a
//! single depth off the pooled image embedding instead. [`metrics::evaluate`] scores
//! predictions against known depths (AbsRel, δ1, bin accuracy).
//!
//! The crate runs no model: the caller encodes [`DepthConfig::prompts`] with the text
//! tower once, builds a [`DepthHead`], and passes in each image's patch tokens. The
//! head keeps no per-frame state and [`DepthHead::patch_depths`],
//! [`grid::flip_average`] and [`grid::upsample`] write into buffers the caller owns,
//! so a frame loop allocates nothing.
//!
//! The official scale (100 × cosine, divided by a temperature of 0.1: 1000) was chosen
//! for CLIP RN50's layer-4 features, whose cosine scores with the prompts sit close
//! together. Another model's scores spread differently, so the scale is part of the
//! per-model [`DepthConfig`]; `runtime/depth/SCALE.md` measures the default model's.
//!
//! One step of the official code has no counterpart here: `MonoCLIP.forward` halves
//! RN50's 2048 layer-4 channels to the text width of 1024 with a nearest-neighbour
//! `interpolate(img_f, scale_factor=0.5)` over the channel axis, because those features
//! are not in the joint space. The patch tokens this crate takes are already projected
//! into the joint space, so they meet the text embeddings as they are.
//!
//! ```
//! use edgeclip_depth::{DepthConfig, DepthHead};
//!
//! // Toy 2-d "embeddings": in use these come from the text tower on config.prompts().
//! let config = DepthConfig {
//!     words: vec!["close".into(), "far".into()],
//!     bins_m: vec![1.0, 3.0],
//!     template: "This object is {}".into(),
//!     scale: 1000.0,
//! };
//! assert_eq!(config.prompts(), ["This object is close", "This object is far"]);
//! let head = DepthHead::new(config, &[1.0, 0.0, 0.0, 1.0])?;
//!
//! // A 1 × 2 grid of patch tokens: a close patch on the left, a far one on the right.
//! let tokens = [0.9, 0.1, 0.1, 0.9];
//! let mut grid = [0.0; 2];
//! head.patch_depths(&tokens, (1, 2), &mut grid)?;
//! assert_eq!(grid, [1.0, 3.0]);
//!
//! // The whole chain to a 2 × 3 map (no mirrored image).
//! let map = head.depth_map(&tokens, None, (1, 2), (2, 3))?;
//! assert_eq!(map.metres(), [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
//! assert_eq!(map.stats().median, 2.0);
//! # Ok::<(), edgeclip_depth::DepthError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod error;
pub mod grid;
mod head;
mod map;
pub mod metrics;

pub use config::{
    DepthConfig, MAX_BINS, OFFICIAL_BINS_M, OFFICIAL_SCALE, OFFICIAL_TEMPLATE, OFFICIAL_WORDS,
};
pub use error::{DepthError, DepthErrorKind};
pub use head::DepthHead;
pub use map::{DepthMap, DepthStats, PNG_NO_DEPTH};
