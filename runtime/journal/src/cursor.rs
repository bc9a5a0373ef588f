//! A named, durable position in a journal (the MQTT outbox's "sent up to here").

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::error::io_at;
use crate::JournalError;

const MAGIC: &[u8; 4] = b"ECUR";

/// A position stored in `<dir>/<name>.cursor`: 16 bytes, `ECUR`, the sequence
/// number (u64 LE) and a CRC-32C of the two.
#[derive(Debug)]
pub struct Cursor {
    dir: PathBuf,
    path: PathBuf,
    seq: u64,
}

impl Cursor {
    /// Opens (or starts at 0) the cursor `name` in `dir`.
    pub fn open(dir: &Path, name: &str) -> Result<Self, JournalError> {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let path = dir.join(format!("{name}.cursor"));
        let seq = match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes).map_err(|reason| JournalError::BadCursor {
                file: path.clone(),
                reason,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_at(&path)(e)),
        };
        Ok(Self {
            dir: dir.to_owned(),
            path,
            seq,
        })
    }

    /// The stored position (0 when new).
    pub fn get(&self) -> u64 {
        self.seq
    }

    /// Stores `seq` atomically: a power cut leaves the old or the new value.
    pub fn store(&mut self, seq: u64) -> Result<(), JournalError> {
        let tmp = self.path.with_extension("cursor.tmp");
        let mut bytes = Vec::with_capacity(16);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&bytes).to_le_bytes());
        let mut f = std::fs::File::create(&tmp).map_err(io_at(&tmp))?;
        f.write_all(&bytes).map_err(io_at(&tmp))?;
        f.sync_data().map_err(io_at(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io_at(&self.path))?;
        crate::fsutil::sync_dir(&self.dir)?;
        self.seq = seq;
        Ok(())
    }
}

fn parse(b: &[u8]) -> Result<u64, String> {
    if b.len() != 16 || &b[..4] != MAGIC {
        return Err(format!("{} bytes without the ECUR magic", b.len()));
    }
    let crc = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes"));
    if crc != crc32c::crc32c(&b[..12]) {
        return Err("checksum mismatch".into());
    }
    Ok(u64::from_le_bytes(b[4..12].try_into().expect("8 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cursor::open(dir.path(), "outbox").unwrap();
        assert_eq!(c.get(), 0);
        c.store(41).unwrap();
        assert_eq!(Cursor::open(dir.path(), "outbox").unwrap().get(), 41);
        let path = dir.path().join("outbox.cursor");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[5] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = Cursor::open(dir.path(), "outbox").unwrap_err().to_string();
        assert!(
            err.contains("outbox.cursor") && err.contains("checksum"),
            "{err}"
        );
    }
}
