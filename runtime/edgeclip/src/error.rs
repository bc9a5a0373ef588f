//! The library's error type: data, not strings, and always naming what failed.
//!
//! Every [`Error`] has an [`ErrorKind`] (as embedded-hal's errors do), so a caller
//! can act on the class of a failure without parsing its message: an HTTP API maps
//! kinds to status codes, a backend fallback retries on
//! [`ErrorKind::BackendUnavailable`] but not on [`ErrorKind::ModelFile`], and the
//! CLI prints the kind in its JSON error records. Errors of the crates below
//! (`edgeclip-store`, `edgeclip-match`) are kept whole as sources.

use std::fmt;
use std::path::PathBuf;

use edgeclip_store::{StoreError, StoreErrorKind};

/// Everything that can go wrong in the runtime. Variants carry the file or
/// input they are about, so a message alone tells the user what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error. Part of the message, so not also returned
        /// as `source()`: error chains (`{:#}`) would print it twice.
        error: std::io::Error,
    },
    /// A model manifest is missing, malformed or inconsistent.
    #[error("{}: invalid model manifest: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A model file is missing, corrupt, of the wrong hash or of the wrong shape.
    #[error("{}: {message}", path.display())]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An image could not be decoded.
    #[error("{}: not a readable image: {message}", path.display())]
    Image {
        /// The image file (or `-` for stdin).
        path: PathBuf,
        /// The decoder's complaint.
        message: String,
    },
    /// An inference backend is unavailable, was misconfigured, or failed; its
    /// own kind says which.
    #[error(transparent)]
    Backend(#[from] edgeclip_backend::Error),
    /// Two things that must come from the same model do not (a store built by
    /// another model or tokenizer, a reference of another package).
    #[error("{}: {message}", path.display())]
    ModelMismatch {
        /// The file that belongs to another model.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// An embedding store is unreadable, corrupt, or belongs to another model.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Scoring an embedding against a label set failed (sizes disagree).
    #[error("matching against the label set")]
    Match(#[from] edgeclip_match::Error),
    /// A caller passed something unusable (empty label list, wrong tensor size, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The class of an [`Error`]: what went wrong, independent of the message.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input (image, text, label list, flag) is unusable.
    InvalidInput,
    /// The operating system refused a read or write.
    Io,
    /// A model package or one of its files is missing, corrupt or inconsistent.
    ModelFile,
    /// An embedding store is not a store, damaged or truncated.
    StoreFile,
    /// Files that must come from one model come from different ones.
    ModelMismatch,
    /// The backend cannot run on this machine (library, device or feature missing).
    BackendUnavailable,
    /// A backend that can run here failed while loading or running a model.
    Backend,
}

impl ErrorKind {
    /// The kind as written in JSON records (`invalid_input`, `model_file`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Io => "io",
            ErrorKind::ModelFile => "model_file",
            ErrorKind::StoreFile => "store_file",
            ErrorKind::ModelMismatch => "model_mismatch",
            ErrorKind::BackendUnavailable => "backend_unavailable",
            ErrorKind::Backend => "backend",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }

    /// What class of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::Manifest { .. } | Error::Model { .. } => ErrorKind::ModelFile,
            Error::Image { .. } | Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Backend(e) => backend_kind(e),
            Error::ModelMismatch { .. } => ErrorKind::ModelMismatch,
            Error::Store(e) => store_kind(e),
            Error::Match(_) => ErrorKind::InvalidInput,
        }
    }
}

/// The kind of a backend error, in the library's classes.
fn backend_kind(e: &edgeclip_backend::Error) -> ErrorKind {
    use edgeclip_backend::ErrorKind as Backend;
    match e.kind() {
        Backend::Unavailable => ErrorKind::BackendUnavailable,
        Backend::InvalidInput => ErrorKind::InvalidInput,
        Backend::Io => ErrorKind::Io,
        Backend::Model => ErrorKind::ModelFile,
        Backend::Failed => ErrorKind::Backend,
        // Kinds added later are the backend's failures until mapped here.
        _ => ErrorKind::Backend,
    }
}

/// The kind of a store error: the store crate's own class, in the runtime's words.
fn store_kind(e: &StoreError) -> ErrorKind {
    match e.kind() {
        StoreErrorKind::Io => ErrorKind::Io,
        StoreErrorKind::StoreFile => ErrorKind::StoreFile,
        StoreErrorKind::ModelMismatch => ErrorKind::ModelMismatch,
        StoreErrorKind::InvalidInput => ErrorKind::InvalidInput,
        // Another crate's non-exhaustive enum: a class added later is still a
        // problem with a store until it is mapped here.
        _ => ErrorKind::StoreFile,
    }
}

/// The library's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn kinds_follow_the_cause() {
        let io = Error::io("a.png", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(io.kind(), ErrorKind::Io);
        let unavailable = Error::from(edgeclip_backend::Error::Unavailable {
            backend: "openvino",
            reason: "libopenvino_c not found".into(),
        });
        assert_eq!(unavailable.kind(), ErrorKind::BackendUnavailable);
        let mismatch = Error::from(StoreError::ModelMismatch {
            path: "s.emb".into(),
            store: "a".into(),
            model: "b".into(),
        });
        assert_eq!(mismatch.kind(), ErrorKind::ModelMismatch);
        let corrupt = Error::from(StoreError::Corrupt {
            path: "s.emb".into(),
            detail: "x".into(),
        });
        assert_eq!(corrupt.kind(), ErrorKind::StoreFile);
        let builder = Error::from(StoreError::UnknownLabel { label: "x".into() });
        assert_eq!(builder.kind(), ErrorKind::InvalidInput);
        assert_eq!(ErrorKind::ModelMismatch.as_str(), "model_mismatch");
    }

    #[test]
    fn matcher_errors_stay_sources() {
        let e = Error::from(edgeclip_match::Error::QueryDim {
            expected: 128,
            got: 3,
        });
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let source = e.source().expect("the matcher's error is the source");
        assert!(source.downcast_ref::<edgeclip_match::Error>().is_some());
        assert!(source.to_string().contains("128"));
    }
}
