//! Segment files: names, listing, headers, creation and whole-file scans.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{io_at, JournalError};
use crate::format::{self, Frame, SeqRule, EXTENSION, HEADER_LEN};
use crate::fsutil;

/// Read buffer for scanning segments: large enough that a scan is a few reads.
pub(crate) const SCAN_BUFFER: usize = 64 << 10;

const TMP_SUFFIX: &str = ".tmp";

/// The file name of the segment starting at `first_seq`: 20 decimal digits, so
/// that names sort like the numbers.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.{EXTENSION}")
}

/// The first sequence number a segment file name stands for, if it is one.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(EXTENSION)?.strip_suffix('.')?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A segment file found in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentFile {
    /// The sequence number in its name.
    pub first_seq: u64,
    /// Its path.
    pub path: PathBuf,
}

/// The segment files of `dir`, oldest first. Other files are ignored.
pub(crate) fn list(dir: &Path) -> Result<Vec<SegmentFile>, JournalError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        if let Some(first_seq) = name.to_str().and_then(parse_name) {
            found.push(SegmentFile {
                first_seq,
                path: entry.path(),
            });
        }
    }
    found.sort_by_key(|s| s.first_seq);
    Ok(found)
}

/// Removes segment files a crash left half-created (`*.ecj.tmp`).
pub(crate) fn remove_leftovers(dir: &Path) -> Result<(), JournalError> {
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name();
        let leftover = name
            .to_str()
            .and_then(|n| n.strip_suffix(TMP_SUFFIX))
            .and_then(parse_name)
            .is_some();
        if leftover {
            let path = entry.path();
            log::warn!(
                "journal: removing {}, left by an interrupted rotation",
                path.display()
            );
            fs::remove_file(&path).map_err(io_at(&path))?;
        }
    }
    Ok(())
}

/// Reads and checks the header of `file`, which must be named for `expected`.
pub(crate) fn read_header(
    file: &mut impl Read,
    path: &Path,
    expected: u64,
) -> Result<(), JournalError> {
    let bad = |reason: String| JournalError::BadSegment {
        file: path.to_path_buf(),
        reason,
    };
    let mut h = [0u8; HEADER_LEN as usize];
    match file.read_exact(&mut h) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(bad(format!("shorter than its {HEADER_LEN}-byte header")));
        }
        Err(e) => return Err(JournalError::io(path, e)),
    }
    let first_seq = format::decode_header(&h).map_err(bad)?;
    if first_seq != expected {
        return Err(bad(format!(
            "header says first seq {first_seq} but the name says {expected}"
        )));
    }
    Ok(())
}

/// Creates the segment starting at `first_seq` in `dir`, opened for appending.
/// The header is written and synced under a temporary name and renamed into
/// place, so a segment file always has a whole header.
pub(crate) fn create(dir: &Path, first_seq: u64) -> Result<(PathBuf, File), JournalError> {
    let path = dir.join(file_name(first_seq));
    let tmp = dir.join(format!("{}{TMP_SUFFIX}", file_name(first_seq)));
    let mut file = File::create(&tmp).map_err(io_at(&tmp))?;
    file.write_all(&format::encode_header(first_seq))
        .and_then(|()| file.sync_data())
        .map_err(io_at(&tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io_at(&path))?;
    fsutil::sync_dir(dir)?;
    let file = fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(io_at(&path))?;
    Ok((path, file))
}

/// What a scan of a segment found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Valid records, in order.
    pub records: u64,
    /// The last valid record's sequence number.
    pub last_seq: Option<u64>,
    /// The newest `time_ms` of the valid records.
    pub newest_time: Option<u64>,
    /// Where the last valid record ends.
    pub good_len: u64,
    /// The file's length when scanned.
    pub file_len: u64,
    /// Damaged stretches followed by valid records, as (offset, bytes): left in
    /// place, and skipped by readers.
    pub skipped: Vec<(u64, u64)>,
    /// Why the scan stopped before the end of the file ("torn record at offset N",
    /// ...): bad bytes with no valid record after them.
    pub stop: Option<String>,
}

impl Scan {
    /// Bytes in the damaged stretches skipped over.
    pub fn skipped_bytes(&self) -> u64 {
        self.skipped.iter().map(|&(_, bytes)| bytes).sum()
    }
}

/// Reads `file` (positioned anywhere) from its start: checks the header, then
/// every frame to the end. A torn or corrupt frame followed by a valid one (found
/// by [`format::resync`]) is a damaged stretch, skipped; one with none after it
/// ends the scan (a torn or damaged tail).
pub(crate) fn scan(file: &mut File, seg: &SegmentFile) -> Result<Scan, JournalError> {
    let path = seg.path.as_path();
    let file_len = file.metadata().map_err(io_at(path))?.len();
    file.seek(SeekFrom::Start(0)).map_err(io_at(path))?;
    let mut r = BufReader::with_capacity(SCAN_BUFFER, file);
    read_header(&mut r, path, seg.first_seq)?;
    let mut scan = Scan {
        good_len: HEADER_LEN,
        file_len,
        ..Scan::default()
    };
    let mut offset = HEADER_LEN;
    loop {
        // The newest segment, which the writer scans, has no next one.
        let rule = SeqRule {
            first: seg.first_seq,
            prev: scan.last_seq,
            below: None,
        };
        let reason =
            match format::read_frame(&mut r, file_len - offset, rule).map_err(io_at(path))? {
                Frame::Record(rec) => {
                    scan.records += 1;
                    scan.last_seq = Some(rec.seq);
                    let newest = scan.newest_time.map_or(rec.time_ms, |t| t.max(rec.time_ms));
                    scan.newest_time = Some(newest);
                    offset += format::frame_len(rec.payload.len());
                    scan.good_len = offset;
                    continue;
                }
                Frame::End => return Ok(scan),
                Frame::Torn => "torn record".to_owned(),
                Frame::Corrupt(reason) => reason,
            };
        let rest = read_from(&mut r, offset, file_len).map_err(io_at(path))?;
        match format::resync(&rest, rule) {
            Some(skip) => {
                log::warn!(
                    "journal {}: skipping {skip} damaged bytes at offset {offset} ({reason})",
                    path.display()
                );
                scan.skipped.push((offset, skip as u64));
                offset += skip as u64;
                r.seek(SeekFrom::Start(offset)).map_err(io_at(path))?;
            }
            None => {
                scan.stop = Some(format!("{reason} at offset {offset}"));
                return Ok(scan);
            }
        }
    }
}

/// The bytes of `r` from `offset` to `len`.
pub(crate) fn read_from(r: &mut (impl Read + Seek), offset: u64, len: u64) -> io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(offset))?;
    let mut rest = Vec::with_capacity(usize::try_from(len.saturating_sub(offset)).unwrap_or(0));
    r.take(len.saturating_sub(offset)).read_to_end(&mut rest)?;
    Ok(rest)
}

/// Whether a segment file holds nothing a writer finished: shorter than its
/// header, or a header of zeros (the file was created, its blocks never
/// written). Such a newest segment is removed on open.
pub(crate) fn is_unwritten(path: &Path) -> Result<bool, JournalError> {
    let mut file = File::open(path).map_err(io_at(path))?;
    let mut h = [0u8; HEADER_LEN as usize];
    match file.read_exact(&mut h) {
        Ok(()) => Ok(h.iter().all(|&b| b == 0)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(true),
        Err(e) => Err(JournalError::io(path, e)),
    }
}
