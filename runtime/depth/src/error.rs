//! The one error type of the crate, and its [`DepthErrorKind`].

use std::fmt;
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

/// The class of a [`DepthError`]: a configuration to fix, values handed in that do
/// not fit, or a file the operating system would not write.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DepthErrorKind {
    /// The DepthCLIP configuration (bins, words, template, scale) is unusable.
    Config,
    /// Values handed in are unusable: lengths that disagree with their shape, an
    /// empty grid, a text embedding without direction, a depth that is not a finite
    /// positive number, a map too large for an image file or one the encoder refuses.
    InvalidInput,
    /// The operating system refused to write an image file.
    Io,
}

impl DepthErrorKind {
    /// The kind as written in JSON records: `config`, `invalid_input`, `io`.
    pub fn as_str(self) -> &'static str {
        match self {
            DepthErrorKind::Config => "config",
            DepthErrorKind::InvalidInput => "invalid_input",
            DepthErrorKind::Io => "io",
        }
    }
}

impl fmt::Display for DepthErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DepthError {
    /// What class of failure this is.
    pub fn kind(&self) -> DepthErrorKind {
        match self {
            DepthError::Config(_) => DepthErrorKind::Config,
            DepthError::Shape { .. }
            | DepthError::TextEmbedding { .. }
            | DepthError::BadDepth { .. }
            | DepthError::EmptyGrid { .. }
            | DepthError::TooLarge { .. } => DepthErrorKind::InvalidInput,
            DepthError::Write { source, .. } => match source {
                image::ImageError::IoError(_) => DepthErrorKind::Io,
                // The encoder refused the picture itself (its size, layout or
                // format), as `TooLarge` does before it is asked: the map handed
                // in cannot be that file. Reading is not done here, but `Decoding`
                // is matched rather than hidden behind a wildcard.
                image::ImageError::Encoding(_)
                | image::ImageError::Parameter(_)
                | image::ImageError::Limits(_)
                | image::ImageError::Unsupported(_)
                | image::ImageError::Decoding(_) => DepthErrorKind::InvalidInput,
            },
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use image::error::{LimitError, LimitErrorKind};

    #[test]
    fn kinds_tell_the_config_from_the_values_and_the_os() {
        let mut config = crate::DepthConfig::default();
        config.words.pop();
        let refused = config.validate().unwrap_err();
        assert_eq!(refused.kind(), DepthErrorKind::Config, "{refused}");
        let values = [
            DepthError::Shape {
                what: "features",
                expected: 4,
                got: 3,
            },
            DepthError::TextEmbedding { index: 1 },
            DepthError::BadDepth {
                index: 0,
                value: f32::NAN,
            },
            DepthError::EmptyGrid {
                what: "grid",
                rows: 0,
                cols: 3,
            },
            DepthError::TooLarge {
                width: usize::MAX,
                height: 1,
            },
        ];
        for e in values {
            assert_eq!(e.kind(), DepthErrorKind::InvalidInput, "{e}");
        }
        let write = |source| DepthError::Write {
            path: "d.png".into(),
            source,
        };
        let os = write(image::ImageError::IoError(
            std::io::ErrorKind::PermissionDenied.into(),
        ));
        assert_eq!(os.kind().as_str(), "io");
        let refused = write(image::ImageError::Limits(LimitError::from_kind(
            LimitErrorKind::DimensionError,
        )));
        assert_eq!(refused.kind().as_str(), "invalid_input");
    }
}
