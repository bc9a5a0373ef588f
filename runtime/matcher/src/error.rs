//! What can go wrong when scoring a frame: every input size is checked up front.

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
