//! File-system helpers.

use std::path::Path;

use crate::error::JournalError;

/// Makes the creation, renaming or removal of files in `dir` durable.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| JournalError::io(dir, e))
}

/// Folders cannot be opened for syncing here; renames are durable on their own.
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> Result<(), JournalError> {
    Ok(())
}

/// Milliseconds since the Unix epoch now (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
