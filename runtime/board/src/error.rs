//! The crate's error type: each variant names the profile or host it is about.

use std::path::PathBuf;

/// What can go wrong loading, choosing or detecting a board profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoardError {
    /// A profile file could not be read.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error. Part of the message, so not also returned as
        /// `source()`: error chains would print it twice.
        error: std::io::Error,
    },
    /// A profile is not valid TOML, or has a missing, unknown or mistyped key.
    #[error("{file}: invalid board profile: {message}")]
    Parse {
        /// The profile file (or the name it was given).
        file: String,
        /// The TOML parser's message, with the line and column.
        message: String,
    },
    /// A profile parses but breaks a rule (no thread, a repeated core, an unknown
    /// backend, ...).
    #[error("{file}: invalid board profile: {message}")]
    Invalid {
        /// The profile file (or the name it was given).
        file: String,
        /// The rule broken, naming the key.
        message: String,
    },
    /// No profile has this name.
    #[error("unknown board `{name}` (known boards: {})", known.join(", "))]
    UnknownBoard {
        /// The name asked for.
        name: String,
        /// The names of the profiles there are.
        known: Vec<String>,
    },
    /// Detection found no profile for this host: no board matched and no generic
    /// profile is for its architecture.
    #[error(
        "no board profile for this host (arch {arch}{}){}; choose one with --board NAME or --board FILE.toml",
        model.as_ref().map(|m| format!(", device-tree model {m:?}")).unwrap_or_default(),
        if other_arch.is_empty() { String::new() } else {
            format!("; {} matched but {} for another architecture", other_arch.join(", "),
                if other_arch.len() == 1 { "is" } else { "are" })
        }
    )]
    NoProfile {
        /// The host's architecture.
        arch: String,
        /// The host's device-tree model, when it has one.
        model: Option<String>,
        /// Profiles whose board evidence matched but whose architecture is not the
        /// host's (a Raspberry Pi 4 running a 32-bit `arm` build).
        other_arch: Vec<String>,
    },
}
