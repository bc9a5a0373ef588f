//! Label text embeddings on disk.
#![deny(missing_docs)]

mod rows;

pub use rows::{DType, Rows};
