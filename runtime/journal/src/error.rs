//! Errors of the journal, each naming the file and the problem, and
//! [`JournalErrorKind`], their class.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong with a journal, a reader or a cursor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// A file or folder could not be read, written, synced, renamed or removed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Another [`Journal`](crate::Journal), in this process or another, holds the
    /// lock file of the folder.
    #[error("{}: the journal is already open for writing (locked by another writer)", .0.display())]
    Locked(PathBuf),
    /// [`Journal::append`](crate::Journal::append) was given a sequence number
    /// not above the last one written.
    #[error("record {seq} is out of order: the journal already holds records up to {last}")]
    OutOfOrder {
        /// The refused sequence number.
        seq: u64,
        /// The journal's last sequence number.
        last: u64,
    },
    /// A payload longer than [`MAX_PAYLOAD`](crate::MAX_PAYLOAD).
    #[error(
        "a payload of {len} bytes exceeds the journal's limit of {} bytes",
        crate::MAX_PAYLOAD
    )]
    TooLarge {
        /// The payload's length.
        len: usize,
    },
    /// A record frame that cannot have been written as it reads: a checksum
    /// mismatch, an impossible length, a sequence number out of order, or a torn
    /// frame where the file cannot still be growing.
    #[error("{}: corrupt record at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The segment file.
        file: PathBuf,
        /// Where the frame starts, in bytes from the start of the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A segment file whose header is not a valid journal segment header.
    #[error("{}: not a valid journal segment: {reason}", file.display())]
    BadSegment {
        /// The segment file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A cursor file that does not hold a valid cursor.
    #[error("{}: not a valid journal cursor: {reason}", file.display())]
    BadCursor {
        /// The cursor file.
        file: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A cursor name that cannot be a file name (empty, too long, or with a
    /// character other than ASCII letters, digits, `-` and `_`).
    #[error("cursor name {0:?}: use 1 to 64 ASCII letters, digits, '-' or '_'")]
    BadCursorName(String),
    /// A `[journal]` setting the journal cannot use.
    #[error("journal.{key}: {message}")]
    Settings {
        /// The key at fault.
        key: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// An earlier write or sync of this segment failed, so what the file holds
    /// past the last synced record is unknown; reopen the journal to recover it.
    #[error("{}: the journal stopped after a failed write or sync ({reason}); reopen it to recover", file.display())]
    Failed {
        /// The segment file.
        file: PathBuf,
        /// The failure that stopped the journal.
        reason: String,
    },
}

impl JournalError {
    /// An I/O error about `path`.
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `.map_err(io_at(path))`: tags an I/O error with the file it is about.
pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |e| JournalError::io(path, e)
}

/// The class of a journal error: what a caller acts on (repair or move a damaged
/// journal, stop the other writer, fix a setting), independent of the message.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JournalErrorKind {
    /// The operating system refused a read, write, sync, rename or removal (now, or
    /// earlier so that the journal stopped until reopened).
    Io,
    /// A segment or cursor file is not a valid one, or holds a corrupt record.
    JournalFile,
    /// Another writer, in this process or another, holds the journal's lock.
    JournalLocked,
    /// The caller handed in a record out of order, a payload too large, or a cursor
    /// name that cannot be a file name.
    InvalidInput,
    /// A setting of the journal is unusable (a durability policy that does not
    /// parse, a size of 0).
    Config,
}

impl JournalErrorKind {
    /// The kind as written in JSON records: `io`, `journal_file`, `journal_locked`,
    /// `invalid_input`, `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalErrorKind::Io => "io",
            JournalErrorKind::JournalFile => "journal_file",
            JournalErrorKind::JournalLocked => "journal_locked",
            JournalErrorKind::InvalidInput => "invalid_input",
            JournalErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for JournalErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl JournalError {
    /// What class of failure this is.
    pub fn kind(&self) -> JournalErrorKind {
        match self {
            // `Failed` repeats an earlier write or sync the OS refused: same cause.
            JournalError::Io { .. } | JournalError::Failed { .. } => JournalErrorKind::Io,
            JournalError::Corrupt { .. }
            | JournalError::BadSegment { .. }
            | JournalError::BadCursor { .. } => JournalErrorKind::JournalFile,
            JournalError::Locked(_) => JournalErrorKind::JournalLocked,
            JournalError::OutOfOrder { .. }
            | JournalError::TooLarge { .. }
            | JournalError::BadCursorName(_) => JournalErrorKind::InvalidInput,
            JournalError::Settings { .. } => JournalErrorKind::Config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_tell_a_damaged_journal_from_a_busy_one_and_the_callers_mistakes() {
        let file = PathBuf::from("j/00000000000000000001.ecj");
        let cases = [
            (
                JournalError::io(&file, io::ErrorKind::PermissionDenied.into()),
                JournalErrorKind::Io,
            ),
            (
                JournalError::Failed {
                    file: file.clone(),
                    reason: "sync failed".into(),
                },
                JournalErrorKind::Io,
            ),
            (
                JournalError::Corrupt {
                    file: file.clone(),
                    offset: 32,
                    reason: "checksum mismatch".into(),
                },
                JournalErrorKind::JournalFile,
            ),
            (
                JournalError::BadSegment {
                    file: file.clone(),
                    reason: "bad magic".into(),
                },
                JournalErrorKind::JournalFile,
            ),
            (
                JournalError::BadCursor {
                    file: "j/mqtt.cursor".into(),
                    reason: "3 bytes".into(),
                },
                JournalErrorKind::JournalFile,
            ),
            (
                JournalError::Locked("j".into()),
                JournalErrorKind::JournalLocked,
            ),
            (
                JournalError::OutOfOrder { seq: 3, last: 5 },
                JournalErrorKind::InvalidInput,
            ),
            (
                JournalError::TooLarge { len: usize::MAX },
                JournalErrorKind::InvalidInput,
            ),
            (
                JournalError::BadCursorName("../x".into()),
                JournalErrorKind::InvalidInput,
            ),
            (
                JournalError::Settings {
                    key: "segment_mib",
                    message: "must be at least 1".into(),
                },
                JournalErrorKind::Config,
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
        assert_eq!(JournalErrorKind::JournalLocked.as_str(), "journal_locked");
        assert_eq!(JournalErrorKind::JournalFile.to_string(), "journal_file");
    }
}
