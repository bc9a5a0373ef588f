//! Size-limited reads of regular files.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The most bytes a kind of file may hold, and its name for the error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What the file is, as the message names it ("a board profile").
    pub what: &'static str,
    /// The most bytes it may hold.
    pub bytes: u64,
}

impl Limit {
    /// A limit of `bytes` for files that are `what`.
    pub const fn new(what: &'static str, bytes: u64) -> Self {
        Self { what, bytes }
    }

    fn too_large(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "larger than {} bytes, the limit for {}",
                self.bytes, self.what
            ),
        )
    }
}

/// Opens `path` for reading if it is a regular file (after symlinks), and refuses
/// FIFOs, sockets and devices: opening a FIFO blocks until a writer comes, and a
/// device such as `/dev/zero` never ends. The open itself does not block (it is
/// non-blocking, which reads of a regular file ignore).
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file (a {})", describe(kind)),
        ));
    }
    Ok(file)
}

/// Refuses `path` unless it is a regular file (after symlinks); for files handed to
/// a library that opens them itself.
pub fn require_regular(path: &Path) -> io::Result<()> {
    open_regular(path).map(drop)
}

/// Reads the regular file at `path` whole, refusing it when it holds more than
/// `limit` bytes (checked as it is read, so a file that grows meanwhile is caught
/// too).
pub fn read_limited(path: &Path, limit: Limit) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > limit.bytes {
        return Err(limit.too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(limit.too_large());
    }
    Ok(bytes)
}

/// [`read_limited`], then UTF-8.
pub fn read_text_limited(path: &Path, limit: Limit) -> io::Result<String> {
    String::from_utf8(read_limited(path, limit)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not UTF-8 text: {e}")))
}

fn describe(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Limit = Limit::new("a test file", 8);

    #[test]
    fn files_within_the_limit_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345678").unwrap();
        assert_eq!(read_limited(&path, SMALL).unwrap(), b"12345678");
        assert_eq!(read_text_limited(&path, SMALL).unwrap(), "12345678");
    }

    #[test]
    fn a_larger_file_is_refused_naming_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"123456789").unwrap();
        let e = read_limited(&path, SMALL).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            e.to_string(),
            "larger than 8 bytes, the limit for a test file"
        );
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_without_blocking() {
        let e = read_limited(Path::new("/dev/zero"), SMALL).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("model.onnx");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(require_regular(&link)
            .unwrap_err()
            .to_string()
            .contains("character device"));
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(open_regular(&fifo)
            .unwrap_err()
            .to_string()
            .contains("FIFO"));
        assert!(open_regular(dir.path())
            .unwrap_err()
            .to_string()
            .contains("directory"));
    }

    #[test]
    fn text_that_is_not_utf8_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let e = read_text_limited(&path, SMALL).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
