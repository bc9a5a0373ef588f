//! The error every backend returns: what failed, and whose fault it is.
//!
//! [`Error::kind`] separates a backend that cannot run here (another one may)
//! from a model file it cannot take (no backend will) and from an engine that
//! failed on a file it accepted. Where the engine has an error value of its own
//! it stays the [`std::error::Error::source`], so a chain printer shows it and a
//! caller can downcast it.

use std::fmt;
use std::path::{Path, PathBuf};

/// An engine's own error, kept whole.
pub type EngineError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a backend can fail with. Variants name the backend or the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend cannot run on this machine: its library, device or build
    /// feature is missing. The model is not at fault; another backend may run it.
    #[error("backend {backend} is unavailable: {reason}")]
    Unavailable {
        /// The backend's name.
        backend: &'static str,
        /// Why it cannot run here.
        reason: String,
    },
    /// No backend of that name is built into this binary.
    #[error("unknown backend `{name}` (this build has: {})", known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The backends this build has.
        known: Vec<&'static str>,
    },
    /// A backend's settings (a board profile's table, a flag) are unusable.
    #[error("backend {backend}: {message}")]
    Settings {
        /// The backend whose settings they are.
        backend: &'static str,
        /// What is wrong with them, naming the key.
        message: String,
    },
    /// A model file is missing, corrupt or not what the package promises.
    #[error("{}: {message}", path.display())]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A backend that can run here failed on a file it accepted.
    #[error("backend {backend}: {context}")]
    Failed {
        /// The backend's name.
        backend: &'static str,
        /// What it was doing (the file, the call).
        context: String,
        /// The engine's own error, where it has one.
        #[source]
        source: Option<EngineError>,
    },
    /// A file could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error. Part of the message, so not also the
        /// `source()`: chains would print it twice.
        error: std::io::Error,
    },
    /// A caller passed something unusable (wrong tensor size, bad device name).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

/// The class of an [`Error`], independent of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The backend cannot run on this machine.
    Unavailable,
    /// The caller asked for something unusable: an unknown backend, bad
    /// settings, a tensor of the wrong size.
    InvalidInput,
    /// The operating system refused a read.
    Io,
    /// The model file is at fault.
    Model,
    /// The engine failed on a file it accepted.
    Failed,
}

impl ErrorKind {
    /// The kind as the CLI's JSON error records spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unavailable => "backend_unavailable",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Io => "io",
            ErrorKind::Model => "model_file",
            ErrorKind::Failed => "backend",
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
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Unknown { .. } | Error::Settings { .. } | Error::InvalidInput(_) => {
                ErrorKind::InvalidInput
            }
            Error::Model { .. } => ErrorKind::Model,
            Error::Failed { .. } => ErrorKind::Failed,
            Error::Io { .. } => ErrorKind::Io,
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }

    /// An [`Error::Model`]: `path` is not what the package promises.
    pub fn model(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Model {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An [`Error::Failed`] with no engine error behind it (a C call's code).
    pub fn failed(backend: &'static str, context: impl Into<String>) -> Self {
        Error::Failed {
            backend,
            context: context.into(),
            source: None,
        }
    }

    /// The refusal of [`Input::Pixels`](crate::Input::Pixels) by a session that
    /// takes only normalised floats ([`Session::takes_pixels`](crate::Session::takes_pixels)
    /// is false): the caller's mistake, so [`Error::InvalidInput`].
    pub fn pixels_not_taken(backend: &'static str, path: &Path) -> Self {
        Error::InvalidInput(format!(
            "{}: backend {backend} takes the normalised f32 image, not raw pixels",
            path.display()
        ))
    }

    /// An [`Error::Failed`] keeping the engine's `source`.
    pub fn failed_with(
        backend: &'static str,
        context: impl Into<String>,
        source: impl Into<EngineError>,
    ) -> Self {
        Error::Failed {
            backend,
            context: context.into(),
            source: Some(source.into()),
        }
    }
}

/// The backend crates' result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_engines_error_stays_the_source() {
        #[derive(Debug, thiserror::Error)]
        #[error("node 3: shape mismatch")]
        struct EngineFault;
        let e = Error::failed_with("tract", "image.onnx", EngineFault);
        assert_eq!(e.kind(), ErrorKind::Failed);
        assert_eq!(e.to_string(), "backend tract: image.onnx");
        let source = e.source().expect("kept");
        assert!(source.downcast_ref::<EngineFault>().is_some());
    }

    #[test]
    fn kinds_keep_the_cli_words() {
        let unavailable = Error::Unavailable {
            backend: "rknn",
            reason: "librknnrt.so not found".into(),
        };
        assert_eq!(unavailable.kind().as_str(), "backend_unavailable");
        assert_eq!(Error::model("a.onnx", "x").kind().as_str(), "model_file");
        assert_eq!(
            Error::failed("rknn", "rknn_run returned -1")
                .kind()
                .as_str(),
            "backend"
        );
        let unknown = Error::Unknown {
            name: "cuda".into(),
            known: vec!["tract"],
        };
        assert_eq!(unknown.kind(), ErrorKind::InvalidInput);
    }
}
