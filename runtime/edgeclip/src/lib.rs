//! edgeclip: CLIP-family vision-language inference for edge devices.
//!
//! Data flows through the modules in this order:
//!
//! ```text
//! image file / frame ─> preprocess ─> backend (any engine) ─> encoder ─> zero_shot ─> result
//!                                                    ^
//! text ─> tokenizer ───────────────────────────────────┘
//! ```
//!
//! A [`model::ModelPackage`] describes one model (files, preprocessing,
//! tokenizer) and is verified before anything runs.
#![deny(missing_docs)]

/// The backend seam (traits, tensors, options, registry): the
/// `edgeclip-backend` crate. Engines are crates of their own
/// (`edgeclip-backend-tract`, ...), assembled by `edgeclip-backends`.
pub use edgeclip_backend as backend;
pub mod embedding;
pub mod encoder;
pub mod error;
pub mod labels;
pub mod model;
pub mod preprocess;
pub mod prompts;
pub mod reference;
pub mod tokenizer;
pub mod zero_shot;

pub use error::{Error, ErrorKind, Result};
