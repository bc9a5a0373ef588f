//! The crate's error type: each variant names the profile or host it is about.
//! Its [`BoardErrorKind`] is the class a caller acts on.

use std::fmt;
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

/// The class of a [`BoardError`], independent of the message: a caller (the CLI's
/// JSON error records) tells a broken profile from a name that names none
/// without parsing text.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BoardErrorKind {
    /// The operating system refused to read a profile file.
    Io,
    /// No usable profile: a profile is not valid TOML, has a missing, unknown or
    /// mistyped key, or breaks a rule; or detection found none for this host.
    BoardProfile,
    /// The caller named a board that no profile has.
    InvalidInput,
}

impl BoardErrorKind {
    /// The kind as written in JSON records: `io`, `board_profile`, `invalid_input`.
    pub fn as_str(self) -> &'static str {
        match self {
            BoardErrorKind::Io => "io",
            BoardErrorKind::BoardProfile => "board_profile",
            BoardErrorKind::InvalidInput => "invalid_input",
        }
    }
}

impl fmt::Display for BoardErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl BoardError {
    /// What class of failure this is.
    pub fn kind(&self) -> BoardErrorKind {
        match self {
            BoardError::Io { .. } => BoardErrorKind::Io,
            // No profile for the host is the profiles' gap, not the caller's input:
            // the fix is a profile (or `--board`), as for a broken one.
            BoardError::Parse { .. }
            | BoardError::Invalid { .. }
            | BoardError::NoProfile { .. } => BoardErrorKind::BoardProfile,
            // Like an unknown backend name: a flag that names nothing.
            BoardError::UnknownBoard { .. } => BoardErrorKind::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_profile_is_told_from_an_unknown_name() {
        let io = BoardError::Io {
            path: "b.toml".into(),
            error: std::io::ErrorKind::PermissionDenied.into(),
        };
        assert_eq!(io.kind(), BoardErrorKind::Io);
        let parse = crate::Profile::parse("b.toml", "threads = [").unwrap_err();
        assert!(matches!(parse, BoardError::Parse { .. }), "{parse}");
        assert_eq!(parse.kind().as_str(), "board_profile");
        let invalid = BoardError::Invalid {
            file: "b.toml".into(),
            message: "threads.count must be at least 1".into(),
        };
        assert_eq!(invalid.kind(), BoardErrorKind::BoardProfile);
        let none = BoardError::NoProfile {
            arch: "riscv64".into(),
            model: None,
            other_arch: Vec::new(),
        };
        assert_eq!(none.kind(), BoardErrorKind::BoardProfile);
        let unknown = crate::find("rpi9").unwrap_err();
        assert_eq!(unknown.kind(), BoardErrorKind::InvalidInput);
        assert_eq!(unknown.kind().to_string(), "invalid_input");
    }
}
