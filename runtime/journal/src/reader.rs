//! Reading a journal folder, while a writer may be appending to it.

use std::fs::{self, File};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{io_at, JournalError};
use crate::format::{self, Frame, Record, SeqRule, HEADER_LEN};
use crate::segment::{self, SegmentFile, SCAN_BUFFER};

/// Times a segment may vanish between listing the folder and opening it (retention
/// deleting it) before the reader gives up.
const OPEN_ATTEMPTS: usize = 4;

/// Reads the records of a journal folder in order, following the writer.
///
/// It takes no lock: a [`Journal`](crate::Journal) in this or another process
/// may be appending, rotating and deleting segments meanwhile. [`next`](Self::next)
/// returns `Ok(None)` at the end of what is written so far, and the records
/// appended later on a later call. A record being written (the newest segment
/// ends inside it) reads as not written yet. A damaged stretch (bytes no writer
/// produced, followed by valid records) is skipped with a warning naming the file,
/// the offset and the bytes, and counted in [`skipped`](Self::skipped); a
/// [`strict`](Self::strict) reader stops there with [`JournalError::Corrupt`]
/// instead, returned again by every later call.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    /// Records up to this seq are skipped: the last one returned or sought past.
    after: u64,
    cur: Option<Current>,
    strict: bool,
    skipped: Skipped,
}

/// Damaged stretches a [`Reader`] skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Damaged stretches.
    pub stretches: u64,
    /// Bytes in them.
    pub bytes: u64,
}

/// What happened at the end of the bytes of the current segment.
enum AtEnd {
    /// More to read (the file grew, or the next segment is open).
    Again,
    /// Nothing more is written yet.
    Wait,
}

impl Reader {
    /// A reader of the journal in `dir`, positioned before its first record.
    pub fn open(dir: &Path) -> Result<Reader, JournalError> {
        segment::list(dir)?;
        Ok(Reader {
            dir: dir.to_path_buf(),
            after: 0,
            cur: None,
            strict: false,
            skipped: Skipped::default(),
        })
    }

    /// With `true`, a damaged stretch is an error ([`JournalError::Corrupt`])
    /// instead of being skipped.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The damaged stretches skipped so far.
    pub fn skipped(&self) -> Skipped {
        self.skipped
    }

    /// Positions the reader so that [`next`](Self::next) returns the first
    /// record with a seq above `after_seq`; when retention deleted that one, the
    /// first record still there (the caller sees the gap in the seqs).
    pub fn seek(&mut self, after_seq: u64) -> Result<(), JournalError> {
        self.after = after_seq;
        self.cur = None;
        Ok(())
    }

    /// The seq of the last record returned, or the one sought past.
    pub fn position(&self) -> u64 {
        self.after
    }

    /// The journal's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The next record, or `Ok(None)` when every record written so far was read
    /// (call again later to follow the writer).
    // Not `Iterator`: the end is not final and errors are not either.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Record>, JournalError> {
        loop {
            let cur = match self.cur.as_mut() {
                Some(cur) => cur,
                None => match self.open_for_position()? {
                    Some(cur) => self.cur.insert(cur),
                    None => return Ok(None),
                },
            };
            match cur.read()? {
                Frame::Record(record) if record.seq <= self.after => {}
                Frame::Record(record) => {
                    self.after = record.seq;
                    return Ok(Some(record));
                }
                Frame::Corrupt(reason) if self.strict => return Err(cur.corrupt(reason)),
                Frame::Corrupt(reason) => match self.skip_damage(&reason)? {
                    AtEnd::Again => {}
                    AtEnd::Wait => return Ok(None),
                },
                Frame::End => match self.at_end(false)? {
                    AtEnd::Again => {}
                    AtEnd::Wait => return Ok(None),
                },
                Frame::Torn => match self.at_end(true)? {
                    AtEnd::Again => {}
                    AtEnd::Wait => return Ok(None),
                },
            }
        }
    }

    /// The seqs of the first and last records of the journal in `dir`, `None`
    /// when it holds none. The last is the newest segment's last valid record.
    pub fn bounds(dir: &Path) -> Result<Option<(u64, u64)>, JournalError> {
        let Some(first) = Reader::open(dir)?.next()? else {
            return Ok(None);
        };
        for seg in segment::list(dir)?.iter().rev() {
            let mut file = match File::open(&seg.path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(JournalError::io(&seg.path, e)),
            };
            if let Some(last) = segment::scan(&mut file, seg)?.last_seq {
                return Ok(Some((first.seq, last.max(first.seq))));
            }
        }
        Ok(Some((first.seq, first.seq)))
    }

    /// Opens the segment that holds the record after `self.after`: the newest
    /// one starting at or below it, else the oldest one.
    fn open_for_position(&self) -> Result<Option<Current>, JournalError> {
        for _ in 0..OPEN_ATTEMPTS {
            let segs = segment::list(&self.dir)?;
            let want = self.after.saturating_add(1);
            let index = segs.iter().rposition(|s| s.first_seq <= want).unwrap_or(0);
            let Some(seg) = segs.get(index) else {
                return Ok(None);
            };
            if let Some(cur) = Current::open(seg.clone(), &segs)? {
                return Ok(Some(cur));
            }
        }
        Err(vanished(&self.dir))
    }

    /// The current segment has no more whole frames: it may still grow, the
    /// writer may have moved on to the next segment, or the segment may have been
    /// replaced.
    fn at_end(&mut self, torn: bool) -> Result<AtEnd, JournalError> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(AtEnd::Again);
        };
        if cur.grew()? {
            return Ok(AtEnd::Again);
        }
        let segs = segment::list(&self.dir)?;
        if let Some(next) = segs.iter().find(|s| s.first_seq > cur.seg.first_seq) {
            // The writer syncs a segment before creating the next one, so once
            // the next exists this one's length is final.
            if cur.grew()? {
                return Ok(AtEnd::Again);
            }
            if torn {
                let reason = "the segment ends inside a record but is not the newest";
                if self.strict {
                    return Err(cur.corrupt(reason.into()));
                }
                return self.skip_damage(reason);
            }
            self.cur = Current::open(next.clone(), &segs)?;
            return Ok(AtEnd::Again);
        }
        if torn && !self.strict {
            // A record still being written has nothing valid after it; a length
            // that runs past valid records is damage.
            let (offset, path) = (cur.offset, cur.seg.path.clone());
            if let Some(bytes) = cur.resync()? {
                self.note_skip(&path, offset, bytes, "a record length past valid records");
                return Ok(AtEnd::Again);
            }
        }
        if !cur.is_listed()? {
            // Replaced or deleted (an empty newest segment recovered and deleted):
            // find the position again from the folder as it is now.
            self.cur = None;
            return Ok(if segs.is_empty() {
                AtEnd::Wait
            } else {
                AtEnd::Again
            });
        }
        Ok(AtEnd::Wait)
    }
}

impl Reader {
    /// Skips the damaged frame at the current offset: to the next valid frame of
    /// the segment, else (when a later segment exists, so this one is final) to
    /// the next segment. The newest segment's damaged tail is waited on: the
    /// writer's recovery cuts it, or the writer appends after it.
    fn skip_damage(&mut self, reason: &str) -> Result<AtEnd, JournalError> {
        let Some(cur) = self.cur.as_mut() else {
            return Ok(AtEnd::Again);
        };
        let (offset, path) = (cur.offset, cur.seg.path.clone());
        let bytes = match cur.resync()? {
            Some(bytes) => bytes,
            None => {
                let segs = segment::list(&self.dir)?;
                let Some(next) = segs.iter().find(|s| s.first_seq > cur.seg.first_seq) else {
                    return Ok(AtEnd::Wait);
                };
                let bytes = cur.len.saturating_sub(offset);
                self.cur = Current::open(next.clone(), &segs)?;
                bytes
            }
        };
        self.note_skip(&path, offset, bytes, reason);
        Ok(AtEnd::Again)
    }

    fn note_skip(&mut self, path: &Path, offset: u64, bytes: u64, reason: &str) {
        self.skipped.stretches += 1;
        self.skipped.bytes += bytes;
        log::warn!(
            "journal {}: skipped {bytes} damaged bytes at offset {offset} after seq {} ({reason})",
            path.display(),
            self.after
        );
    }
}

fn vanished(dir: &Path) -> JournalError {
    JournalError::io(
        dir,
        io::Error::new(
            io::ErrorKind::NotFound,
            "segment files keep disappearing between listing and opening them",
        ),
    )
}

/// An open segment and the reader's place in it.
#[derive(Debug)]
struct Current {
    seg: SegmentFile,
    file: BufReader<File>,
    /// Where the next frame starts; the buffered file is positioned there
    /// whenever the last read was not a whole record.
    offset: u64,
    /// The file's length when last looked at.
    len: u64,
    /// The seq of the last record read from this segment.
    prev: Option<u64>,
    /// The first seq of the segment after this one when it was opened, which
    /// this one's records stay below (see [`SeqRule::below`]).
    below: Option<u64>,
}

impl Current {
    /// Opens `seg`, one of the folder's segments `segs`, past its header; `None`
    /// when it no longer exists.
    fn open(seg: SegmentFile, segs: &[SegmentFile]) -> Result<Option<Current>, JournalError> {
        let below = segs
            .iter()
            .map(|s| s.first_seq)
            .filter(|&first| first > seg.first_seq)
            .min();
        let file = match File::open(&seg.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(JournalError::io(&seg.path, e)),
        };
        let len = file.metadata().map_err(io_at(&seg.path))?.len();
        let mut file = BufReader::with_capacity(SCAN_BUFFER, file);
        segment::read_header(&mut file, &seg.path, seg.first_seq)?;
        Ok(Some(Current {
            seg,
            file,
            offset: HEADER_LEN,
            len,
            prev: None,
            below,
        }))
    }

    /// The frame at the current offset. A bad frame is read a second time
    /// before it is reported: a writer recovering the file may have cut and
    /// rewritten it between the reads of its header and its payload.
    fn read(&mut self) -> Result<Frame, JournalError> {
        match self.read_once()? {
            Frame::Corrupt(_) => {
                self.grew()?;
                self.read_once()
            }
            frame => Ok(frame),
        }
    }

    fn read_once(&mut self) -> Result<Frame, JournalError> {
        let rule = SeqRule {
            first: self.seg.first_seq,
            prev: self.prev,
            below: self.below,
        };
        let remaining = self.len.saturating_sub(self.offset);
        let frame =
            format::read_frame(&mut self.file, remaining, rule).map_err(io_at(&self.seg.path))?;
        match &frame {
            Frame::Record(r) => {
                self.offset += format::frame_len(r.payload.len());
                self.prev = Some(r.seq);
            }
            // Bytes read past a frame that is not whole may change (a recovering
            // writer cuts them): drop them from the buffer.
            _ => self.rewind()?,
        }
        Ok(frame)
    }

    /// Moves past a damaged frame at the offset to the next valid frame of the
    /// segment ([`format::resync`]); the bytes skipped, `None` when no valid frame
    /// follows.
    fn resync(&mut self) -> Result<Option<u64>, JournalError> {
        let path = self.seg.path.clone();
        let rest =
            segment::read_from(&mut self.file, self.offset, self.len).map_err(io_at(&path))?;
        let rule = SeqRule {
            first: self.seg.first_seq,
            prev: self.prev,
            below: self.below,
        };
        let skip = format::resync(&rest, rule).map(|k| k as u64);
        if let Some(k) = skip {
            self.offset += k;
        }
        self.rewind()?;
        Ok(skip)
    }

    fn rewind(&mut self) -> Result<(), JournalError> {
        self.file
            .seek(SeekFrom::Start(self.offset))
            .map(drop)
            .map_err(io_at(&self.seg.path))
    }

    /// Looks at the file's length again; whether it now holds bytes past the
    /// offset that it did not hold before.
    fn grew(&mut self) -> Result<bool, JournalError> {
        let len = self
            .file
            .get_ref()
            .metadata()
            .map_err(io_at(&self.seg.path))?
            .len();
        let grew = len > self.len && len > self.offset;
        self.len = len;
        Ok(grew)
    }

    /// Whether the segment's path still names the file this reader has open.
    fn is_listed(&self) -> Result<bool, JournalError> {
        let at_path = match fs::metadata(&self.seg.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(JournalError::io(&self.seg.path, e)),
        };
        let open = self
            .file
            .get_ref()
            .metadata()
            .map_err(io_at(&self.seg.path))?;
        Ok(same_file(&open, &at_path))
    }

    fn corrupt(&self, reason: String) -> JournalError {
        JournalError::Corrupt {
            file: self.seg.path.clone(),
            offset: self.offset,
            reason,
        }
    }
}

#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// Without inode numbers: a file that still exists is taken for the same one.
#[cfg(not(unix))]
fn same_file(_a: &fs::Metadata, _b: &fs::Metadata) -> bool {
    true
}
