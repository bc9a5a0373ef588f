//! Scoring image embeddings against label rows.
#![deny(missing_docs)]

mod error;
pub mod kernel;
mod matcher;
mod score;
pub mod softmax;
pub mod topk;

pub use edgeclip_store::{DType, Rows};
pub use error::{Error, Result};
pub use matcher::{Match, Matcher, Tag, Tags, Thresholds};
