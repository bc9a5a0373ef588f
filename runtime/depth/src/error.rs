//! The one error type of the crate.

use std::path::PathBuf;

/// Why a configuration, an input or an output file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DepthError {
    /// The configuration is unusable; the message says which field and why.
    #[error("invalid DepthCLIP config: {0}")]
    Config(String),
    /// A slice does not have the length its shape implies.
    #[error("{what}: expected {expected} values, got {got}")]
    Shape {
        /// Which argument.
        what: &'static str,
        /// The length the shape implies.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A bin text embedding is zero, or not finite, so it has no direction to compare with.
    #[error("bin {index}'s text embedding has no direction (all zero or not finite)")]
    TextEmbedding {
        /// The bin's index.
        index: usize,
    },
    /// A depth map value that is NaN, infinite or not positive.
    #[error("depth map value {index} is {value}, not a finite positive depth")]
    BadDepth {
        /// The value's index in row-major order.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A grid or an output size with no rows or no columns where values are needed.
    #[error("{what} is {rows}x{cols}: needs at least one row and one column")]
    EmptyGrid {
        /// Which argument.
        what: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
    /// A depth map too large for an image file (a side over `u32::MAX`).
    #[error("a {width}x{height} depth map is too large for an image file")]
    TooLarge {
        /// Its width.
        width: usize,
        /// Its height.
        height: usize,
    },
    /// Writing an image file failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the encoder or the file system said.
        #[source]
        source: image::ImageError,
    },
}

/// A [`DepthError::Shape`] unless a buffer holds the `expected` number of values.
pub(crate) fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), DepthError> {
    if expected == got {
        Ok(())
    } else {
        Err(DepthError::Shape {
            what,
            expected,
            got,
        })
    }
}
