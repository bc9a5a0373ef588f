//! The one error type of the crate, and its [`StoreErrorKind`].

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong reading, checking, building or writing a store.
///
/// Variants about a file carry its path; the others concern rows and labels
/// handed to the builder in memory.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file could not be opened, mapped, written or renamed.
    #[error("{}: {action}: {error}", path.display())]
    Io {
        /// The file (or directory) concerned.
        path: PathBuf,
        /// What was being done ("opening", "renaming the temporary file", ...).
        action: &'static str,
        /// The underlying error. Part of the message, so not also returned as
        /// `source()`: error chains (`{:#}`) would print it twice.
        error: io::Error,
    },
    /// The file does not start with the store magic: it is not a store.
    #[error("{}: not an edgeclip store (magic {found:02x?}, expected {expected:02x?})", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first bytes found (fewer than 8 if the file is shorter).
        found: Vec<u8>,
        /// The magic of every store.
        expected: [u8; 8],
    },
    /// The file is a store of a format version this build cannot read.
    #[error("{}: unsupported store format version {found} (this build reads version {supported}); rebuild the store", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file is shorter than its header says.
    #[error("{}: truncated: {detail}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What the header promised and what is there.
        detail: String,
    },
    /// The bytes do not hash to the checksum stored in the header.
    #[error("{}: checksum mismatch: header says {stored:016x}, contents hash to {computed:016x} (file damaged or modified)", path.display())]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the contents.
        computed: u64,
    },
    /// A structural inconsistency: a field, an offset, a section or a value is invalid.
    #[error("{}: corrupt store: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offending numbers.
        detail: String,
    },
    /// Two rows of a file carry the same label.
    #[error("{}: label {label:?} appears twice (rows {first} and {second})", path.display())]
    DuplicateLabel {
        /// The file.
        path: PathBuf,
        /// The repeated label.
        label: String,
        /// First row with it.
        first: usize,
        /// Second row with it.
        second: usize,
    },
    /// The store was produced by another model (or text encoder) than the one in use.
    #[error("{}: store was built for {store}, but the model is {model}; rebuild the store with this model", path.display())]
    ModelMismatch {
        /// The store file.
        path: PathBuf,
        /// Short form of the store's fingerprint.
        store: String,
        /// Short form of what the model accepts.
        model: String,
    },
    /// A builder was asked for a dim the format cannot hold (0 or above u32::MAX).
    #[error("invalid dim {dim}: must be between 1 and {}", u32::MAX)]
    InvalidDim {
        /// The dim asked for.
        dim: usize,
    },
    /// A row handed to the builder has the wrong number of values.
    #[error("row for label {label:?} has {found} values, the store's dim is {expected}")]
    DimMismatch {
        /// The label of the row.
        label: String,
        /// The store's dim.
        expected: usize,
        /// The row's length.
        found: usize,
    },
    /// A row handed to the builder cannot be normalized (non-finite value or zero norm).
    #[error("row for label {label:?} is invalid: {reason}")]
    InvalidRow {
        /// The label of the row.
        label: String,
        /// Why.
        reason: String,
    },
    /// Metadata handed to the builder is invalid (non-finite threshold).
    #[error("metadata for label {label:?} is invalid: {reason}")]
    InvalidMeta {
        /// The label.
        label: String,
        /// Why.
        reason: String,
    },
    /// The label is already in the store.
    #[error("label {label:?} is already in the store")]
    LabelExists {
        /// The label.
        label: String,
    },
    /// The label to remove is not in the store.
    #[error("label {label:?} is not in the store")]
    UnknownLabel {
        /// The label.
        label: String,
    },
    /// The store or one of its strings does not fit the format's size fields.
    #[error("too large for the store format: {detail}")]
    TooLarge {
        /// What overflowed.
        detail: String,
    },
}

/// The class of a [`StoreError`]: whose fault it is, independent of the message.
///
/// A caller acts on the class (rebuild a damaged store, rebuild for this model, fix
/// the rows it hands the builder) without matching every variant. [`as_str`] gives
/// the word JSON consumers see; the words are shared with the runtime's own kinds
/// where the meaning is the same.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
///
/// [`as_str`]: StoreErrorKind::as_str
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The operating system refused to open, map, write or rename a file.
    Io,
    /// The file is not a store, or is damaged, truncated or of an unreadable version.
    StoreFile,
    /// The store was built by another model or text encoder than the one in use.
    ModelMismatch,
    /// Rows, labels or metadata handed to the builder are unusable.
    InvalidInput,
}

impl StoreErrorKind {
    /// The kind as written in JSON records: `io`, `store_file`, `model_mismatch`,
    /// `invalid_input`.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreErrorKind::Io => "io",
            StoreErrorKind::StoreFile => "store_file",
            StoreErrorKind::ModelMismatch => "model_mismatch",
            StoreErrorKind::InvalidInput => "invalid_input",
        }
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StoreError {
    /// What class of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        match self {
            StoreError::Io { .. } => StoreErrorKind::Io,
            // A repeated label is read from the file, not handed in: the file is bad.
            StoreError::BadMagic { .. }
            | StoreError::UnsupportedVersion { .. }
            | StoreError::Truncated { .. }
            | StoreError::Checksum { .. }
            | StoreError::Corrupt { .. }
            | StoreError::DuplicateLabel { .. } => StoreErrorKind::StoreFile,
            StoreError::ModelMismatch { .. } => StoreErrorKind::ModelMismatch,
            // Everything the builder and the editors are given in memory; `TooLarge`
            // is a label list or a string too large for the format's size fields.
            StoreError::InvalidDim { .. }
            | StoreError::DimMismatch { .. }
            | StoreError::InvalidRow { .. }
            | StoreError::InvalidMeta { .. }
            | StoreError::LabelExists { .. }
            | StoreError::UnknownLabel { .. }
            | StoreError::TooLarge { .. } => StoreErrorKind::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_name_whose_fault_it_is() {
        let path = PathBuf::from("s.emb");
        let cases = [
            (
                StoreError::Io {
                    path: path.clone(),
                    action: "opening",
                    error: io::ErrorKind::NotFound.into(),
                },
                "io",
            ),
            (
                StoreError::BadMagic {
                    path: path.clone(),
                    found: vec![0; 3],
                    expected: crate::MAGIC,
                },
                "store_file",
            ),
            (
                StoreError::UnsupportedVersion {
                    path: path.clone(),
                    found: 9,
                    supported: 1,
                },
                "store_file",
            ),
            (
                StoreError::Truncated {
                    path: path.clone(),
                    detail: "x".into(),
                },
                "store_file",
            ),
            (
                StoreError::Checksum {
                    path: path.clone(),
                    stored: 1,
                    computed: 2,
                },
                "store_file",
            ),
            (
                StoreError::Corrupt {
                    path: path.clone(),
                    detail: "x".into(),
                },
                "store_file",
            ),
            (
                StoreError::DuplicateLabel {
                    path: path.clone(),
                    label: "cat".into(),
                    first: 0,
                    second: 1,
                },
                "store_file",
            ),
            (
                StoreError::ModelMismatch {
                    path: path.clone(),
                    store: "a".into(),
                    model: "b".into(),
                },
                "model_mismatch",
            ),
            (StoreError::InvalidDim { dim: 0 }, "invalid_input"),
            (
                StoreError::DimMismatch {
                    label: "cat".into(),
                    expected: 4,
                    found: 3,
                },
                "invalid_input",
            ),
            (
                StoreError::InvalidRow {
                    label: "cat".into(),
                    reason: "zero norm".into(),
                },
                "invalid_input",
            ),
            (
                StoreError::InvalidMeta {
                    label: "cat".into(),
                    reason: "NaN threshold".into(),
                },
                "invalid_input",
            ),
            (
                StoreError::LabelExists {
                    label: "cat".into(),
                },
                "invalid_input",
            ),
            (
                StoreError::UnknownLabel {
                    label: "cat".into(),
                },
                "invalid_input",
            ),
            (StoreError::TooLarge { detail: "x".into() }, "invalid_input"),
        ];
        for (error, word) in cases {
            assert_eq!(error.kind().as_str(), word, "{error}");
            assert_eq!(error.kind().to_string(), word);
        }
    }
}
