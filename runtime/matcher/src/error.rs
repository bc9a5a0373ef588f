//! What can go wrong when scoring a frame: every input size is checked up front.

use std::fmt;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A mismatch between the matcher's shape and the inputs it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The query embedding's length is not the matcher's dimension.
    #[error("query has {got} values, the matcher expects {expected}")]
    QueryDim {
        /// The matcher's dimension.
        expected: usize,
        /// The query's length.
        got: usize,
    },
    /// The rows do not hold `labels × dim` values.
    #[error("rows hold {got} values, expected {labels} labels × {dim} = {}", labels * dim)]
    RowsLen {
        /// Labels the matcher was built for.
        labels: usize,
        /// The matcher's dimension.
        dim: usize,
        /// Values in the rows.
        got: usize,
    },
    /// Int8 rows without exactly one scale per label.
    #[error("int8 rows have {got} scales, expected one per label ({expected})")]
    ScalesLen {
        /// Labels the matcher was built for.
        expected: usize,
        /// Scales given.
        got: usize,
    },
    /// Per-label thresholds given, but not one per label.
    #[error("{got} per-label thresholds, expected none or one per label ({expected})")]
    ThresholdsLen {
        /// Labels the matcher was built for.
        expected: usize,
        /// Thresholds given.
        got: usize,
    },
}

/// The class of an [`Error`], as the runtime's other crates classify theirs.
///
/// Every error of the matcher is a size that disagrees with the matcher's shape:
/// the caller handed in rows, a query, scales or thresholds that do not fit. One
/// class, kept as an enum so that callers match it like every other crate's kind.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An input's size does not fit the matcher's labels and dimension.
    InvalidInput,
}

impl ErrorKind {
    /// The kind as written in JSON records (`invalid_input`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// What class of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::QueryDim { .. }
            | Error::RowsLen { .. }
            | Error::ScalesLen { .. }
            | Error::ThresholdsLen { .. } => ErrorKind::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_mismatch_is_the_callers_input() {
        let errors = [
            Error::QueryDim {
                expected: 4,
                got: 3,
            },
            Error::RowsLen {
                labels: 2,
                dim: 4,
                got: 7,
            },
            Error::ScalesLen {
                expected: 2,
                got: 1,
            },
            Error::ThresholdsLen {
                expected: 2,
                got: 3,
            },
        ];
        for e in errors {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert_eq!(e.kind().as_str(), "invalid_input");
        }
    }
}
