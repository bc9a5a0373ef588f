//! Atomic replacement of a file: readers and crashes see the old file or the new one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Temp file in the target's directory, fsync, rename over the target, fsync the directory.
pub(crate) fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |action, p: &Path, error| StoreError::Io {
        path: p.to_path_buf(),
        action,
        error,
    };
    let name = path.file_name().ok_or_else(|| {
        io(
            "choosing a temporary name",
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "no file name"),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    remove_stale_temps(&dir, &prefix);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .rand_bytes(TEMP_RANDOM)
        .tempfile_in(&dir)
        .map_err(|e| io("creating a temporary file", &dir, e))?;
    tmp.write_all(bytes)
        .map_err(|e| io("writing", tmp.path(), e))?;
    if let Some(perms) = target_permissions(path) {
        tmp.as_file()
            .set_permissions(perms)
            .map_err(|e| io("setting permissions of", tmp.path(), e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| io("syncing", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| io("renaming the temporary file over", path, e.error))?;
    sync_dir(&dir).map_err(|e| io("syncing directory", &dir, e))
}

/// Temporary files are `.NAME.XXXXXX.tmp` (6 random alphanumerics), which tells this
/// store's leftovers from those of a store whose name merely extends NAME.
pub(crate) const TEMP_SUFFIX: &str = ".tmp";
const TEMP_RANDOM: usize = 6;

/// Best effort: a leftover we cannot remove does not stop the write.
fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let middle = name
            .strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(TEMP_SUFFIX));
        if middle
            .is_some_and(|m| m.len() == TEMP_RANDOM && m.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The target's permissions, or rw-r--r-- for a new store (temp files are created 0600).
fn target_permissions(path: &Path) -> Option<fs::Permissions> {
    if let Ok(m) = fs::metadata(path) {
        return Some(m.permissions());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(fs::Permissions::from_mode(0o644))
    }
    #[cfg(not(unix))]
    None
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Directories cannot be opened for syncing on Windows; the rename is already durable there.
    Ok(())
}
