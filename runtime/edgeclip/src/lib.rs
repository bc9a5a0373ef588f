//! edgeclip: CLIP-family vision-language inference for edge devices.
//!
//! Data flows through the modules in this order:
//!
//! ```text
//! image file / frame ─> preprocess ─> backend (tract | delegates) ─> encoder ─> matcher ─> result
//!                                                    ^
//! text ─> tokenizer ───────────────────────────────────┘
//! ```
//!
//! A [`model::ModelPackage`] describes one model (files, preprocessing,
//! tokenizer) and is verified before anything runs.
#![deny(missing_docs)]

pub mod backend;
pub mod embedding;
pub mod encoder;
pub mod error;
pub mod labels;
pub mod matcher;
pub mod model;
pub mod preprocess;
pub mod prompts;
pub mod tokenizer;
pub mod verify;

pub use error::{Error, ErrorKind, Result};
