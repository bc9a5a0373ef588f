//! The library's error type: data, not strings, and always naming what failed.

use std::path::PathBuf;

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
    /// An inference backend failed to load or run a model.
    #[error("backend {backend}: {message}")]
    Backend {
        /// The backend's name (`tract`, `openvino`, ...).
        backend: &'static str,
        /// The backend's error, with its context chain.
        message: String,
    },
    /// An embedding store is unreadable, corrupt, or belongs to another model.
    #[error(transparent)]
    Store(#[from] edgeclip_store::StoreError),
    /// A caller passed something unusable (empty label list, wrong tensor size, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The library's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}
