//! The single writer of a journal folder: recovery, appends, rotation, retention
//! and syncing.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::durability::{Durability, Unsynced};
use crate::durable::DurableSeq;
use crate::error::{io_at, JournalError};
use crate::format::{self, HEADER_LEN, MAX_PAYLOAD};
use crate::fsutil;
use crate::segment::{self, SegmentFile};

/// Name of the lock file the writer holds in the journal folder.
pub const LOCK_FILE: &str = "lock";

/// How a [`Journal`] lays out, bounds and syncs its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// Size a segment may reach before the next record goes to a new one
    /// (default 4 MiB). A record larger than this gets a segment of its own.
    pub segment_bytes: u64,
    /// Total size of all segments above which the oldest whole segments are
    /// deleted at each rotation (default 256 MiB). The segment being written is
    /// never deleted.
    pub retain_bytes: u64,
    /// Segments whose newest record's `time_ms` is older than this (compared with
    /// the system clock) are deleted at each rotation, oldest first (default:
    /// kept whatever their age).
    pub retain_age: Option<Duration>,
    /// When appends are synced (default [`Durability::EveryRecord`]).
    pub durability: Durability,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            segment_bytes: 4 << 20,
            retain_bytes: 256 << 20,
            retain_age: None,
            durability: Durability::default(),
        }
    }
}

/// What [`Journal::open`] found in the newest segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Valid records kept in the newest segment.
    pub records: u64,
    /// Bytes cut from its end (a torn or corrupt tail); 0 when it was whole.
    pub cut_bytes: u64,
    /// Why the tail was cut: `torn record at offset N`, `checksum mismatch at
    /// offset N`, ...; `None` when nothing was cut.
    pub reason: Option<String>,
    /// Damaged bytes in the middle of the newest segment, followed by valid
    /// records: left in place (the records after them are kept) and skipped by
    /// readers.
    pub skipped_bytes: u64,
    /// Unwritten newest segments removed (shorter than a header, or a header of
    /// zeros: created, never written), newest first.
    pub removed: Vec<PathBuf>,
    /// The newest segment, `None` when the journal had none.
    pub file: Option<PathBuf>,
}

/// Counters of a [`Journal`] since it was opened, and its size now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Records appended.
    pub records_appended: u64,
    /// Bytes appended (record frames, headers not counted).
    pub bytes_appended: u64,
    /// Syncs of a segment that had unsynced records.
    pub syncs: u64,
    /// New segments started because the active one was full.
    pub rotations: u64,
    /// Segments deleted by retention.
    pub segments_deleted: u64,
    /// Records in the segments deleted by retention.
    pub records_deleted: u64,
    /// Segment files now.
    pub segments: u64,
    /// Bytes in all segment files now.
    pub bytes_on_disk: u64,
}

/// A segment before the active one: complete and synced.
#[derive(Debug)]
struct Sealed {
    seg: SegmentFile,
    bytes: u64,
    /// Found by scanning, only when retention needs it.
    summary: Option<Summary>,
}

#[derive(Debug, Clone, Copy)]
struct Summary {
    records: u64,
    newest_time: Option<u64>,
}

impl Sealed {
    /// Checks the header of a segment written before this journal was opened.
    fn check(seg: SegmentFile) -> Result<Sealed, JournalError> {
        let mut file = File::open(&seg.path).map_err(io_at(&seg.path))?;
        segment::read_header(&mut file, &seg.path, seg.first_seq)?;
        let bytes = file.metadata().map_err(io_at(&seg.path))?.len();
        Ok(Sealed {
            seg,
            bytes,
            summary: None,
        })
    }

    fn summary(&mut self) -> Result<Summary, JournalError> {
        if let Some(s) = self.summary {
            return Ok(s);
        }
        let mut file = File::open(&self.seg.path).map_err(io_at(&self.seg.path))?;
        let scan = segment::scan(&mut file, &self.seg)?;
        let s = Summary {
            records: scan.records,
            newest_time: scan.newest_time,
        };
        self.summary = Some(s);
        Ok(s)
    }
}

/// The segment being appended to.
#[derive(Debug)]
struct Active {
    seg: SegmentFile,
    file: File,
    len: u64,
    records: u64,
    newest_time: Option<u64>,
}

impl Active {
    fn create(dir: &Path, first_seq: u64) -> Result<Active, JournalError> {
        let (path, file) = segment::create(dir, first_seq)?;
        Ok(Active {
            seg: SegmentFile { first_seq, path },
            file,
            len: HEADER_LEN,
            records: 0,
            newest_time: None,
        })
    }

    /// Opens the newest segment and cuts a torn or corrupt tail.
    fn recover(seg: SegmentFile) -> Result<(Active, Recovery, Option<u64>), JournalError> {
        let path = seg.path.clone();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        let scan = segment::scan(&mut file, &seg)?;
        let cut_bytes = scan.file_len - scan.good_len;
        if !scan.skipped.is_empty() {
            log::warn!(
                "journal {}: {} damaged bytes in {} stretches left in place, the records after them kept",
                path.display(),
                scan.skipped_bytes(),
                scan.skipped.len()
            );
        }
        if cut_bytes > 0 {
            log::warn!(
                "journal {}: cutting {cut_bytes} bytes after {} good records ({})",
                path.display(),
                scan.records,
                scan.stop.as_deref().unwrap_or("unknown")
            );
            file.set_len(scan.good_len).map_err(io_at(&path))?;
        }
        // The records found may still be only in the page cache of a writer
        // that crashed; once synced they are durable, and reported so.
        file.sync_data().map_err(io_at(&path))?;
        let recovery = Recovery {
            records: scan.records,
            cut_bytes,
            skipped_bytes: scan.skipped_bytes(),
            reason: scan.stop.filter(|_| cut_bytes > 0),
            file: Some(path),
            removed: Vec::new(),
        };
        let active = Active {
            seg,
            file,
            len: scan.good_len,
            records: scan.records,
            newest_time: scan.newest_time,
        };
        Ok((active, recovery, scan.last_seq))
    }
}

/// Removes the newest segments of `segs` while they are unwritten (shorter than a
/// header, or a header of zeros: a power cut after the file was created but before
/// its blocks reached the disk), as `FORMAT.md` says; returns the newest left and
/// the ones removed.
fn remove_unwritten(
    dir: &Path,
    segs: &mut Vec<SegmentFile>,
) -> Result<(Option<SegmentFile>, Vec<SegmentFile>), JournalError> {
    let mut removed = Vec::new();
    while let Some(seg) = segs.pop() {
        if !segment::is_unwritten(&seg.path)? {
            return Ok((Some(seg), removed));
        }
        log::warn!(
            "journal: removing {}, a segment that was created but never written",
            seg.path.display()
        );
        fs::remove_file(&seg.path).map_err(io_at(&seg.path))?;
        fsutil::sync_dir(dir)?;
        removed.push(seg);
    }
    Ok((None, removed))
}

/// The single writer of a journal folder.
///
/// Holds an exclusive lock on `dir/lock` while open, so a second writer, in this
/// process or another, gets [`JournalError::Locked`]. Dropping it syncs what is
/// unsynced (errors are logged; use [`Journal::close`] to see them) and closes
/// its [`DurableSeq`].
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    config: JournalConfig,
    _lock: File,
    sealed: VecDeque<Sealed>,
    active: Option<Active>,
    last_seq: u64,
    durable_seq: u64,
    durable: DurableSeq,
    unsynced: Unsynced,
    recovery: Recovery,
    stats: JournalStats,
    frame: Vec<u8>,
    /// Set when a write could not be undone or a sync failed: what the active
    /// segment holds past the last sync is then unknown.
    failed: Option<String>,
}

impl Journal {
    /// Opens (creating the folder if needed) the journal in `dir` for writing,
    /// recovering it as `FORMAT.md` says: an unwritten newest segment is removed,
    /// then the newest segment is scanned, a damaged stretch followed by valid
    /// records is left for readers to skip, and a torn or damaged tail is cut back
    /// to the last good record (logged as warnings, reported by
    /// [`recovery`](Self::recovery)). Older segments were synced before the next
    /// one was started and are trusted, but each one's header is checked: a bad
    /// one is [`JournalError::BadSegment`]. Then retention applies.
    pub fn open(dir: &Path, config: JournalConfig) -> Result<Journal, JournalError> {
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let lock = lock(dir)?;
        segment::remove_leftovers(dir)?;
        let mut segs = segment::list(dir)?;
        let (newest, removed) = remove_unwritten(dir, &mut segs)?;
        // A removed segment's name still says which seqs went before it.
        let floor = removed
            .iter()
            .map(|s| s.first_seq.saturating_sub(1))
            .min()
            .unwrap_or(0);
        let sealed = segs
            .into_iter()
            .map(Sealed::check)
            .collect::<Result<VecDeque<_>, _>>()?;
        let (active, mut recovery, last_seq) = match newest {
            None => (None, Recovery::default(), floor),
            Some(seg) => {
                let first_seq = seg.first_seq;
                let (active, recovery, last) = Active::recover(seg)?;
                // An empty newest segment still says which seqs went before it:
                // keeping that lets appends continue above them even when
                // retention already deleted every older segment.
                let last_seq = last.unwrap_or(first_seq.saturating_sub(1)).max(floor);
                (Some(active), recovery, last_seq)
            }
        };
        recovery.removed = removed.into_iter().map(|s| s.path).collect();
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            config,
            _lock: lock,
            sealed,
            active,
            last_seq,
            durable_seq: last_seq,
            durable: DurableSeq::new(last_seq),
            unsynced: Unsynced::default(),
            recovery,
            stats: JournalStats::default(),
            frame: Vec::new(),
            failed: None,
        };
        journal.retain_or_warn();
        Ok(journal)
    }

    /// What opening found in the newest segment.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The sequence number of the last record appended (0 when the journal is
    /// empty); the next append must be above it.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The highest sequence number known synced to storage.
    pub fn durable_seq(&self) -> u64 {
        self.durable_seq
    }

    /// A handle on [`durable_seq`](Self::durable_seq) that other threads can
    /// read and wait on.
    pub fn durable(&self) -> DurableSeq {
        self.durable.clone()
    }

    /// The journal's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &JournalConfig {
        &self.config
    }

    /// Counters since opening, and the size now.
    pub fn stats(&self) -> JournalStats {
        let active = self.active.as_ref();
        JournalStats {
            segments: self.sealed.len() as u64 + u64::from(active.is_some()),
            bytes_on_disk: self.total_bytes(),
            ..self.stats
        }
    }

    /// Appends one record. `seq` must be above [`last_seq`](Self::last_seq)
    /// (gaps are allowed), else [`JournalError::OutOfOrder`]; a payload longer
    /// than [`MAX_PAYLOAD`] is [`JournalError::TooLarge`]. Starts a new segment
    /// first when this record would make the active one exceed
    /// [`JournalConfig::segment_bytes`], then applies retention; syncs as
    /// [`JournalConfig::durability`] says.
    ///
    /// On an error the record is not in the journal (a partial write is cut
    /// back), except that a failed sync leaves it written but not durable; after
    /// a failed sync, or a partial write that could not be cut back, every call
    /// fails with [`JournalError::Failed`] until the journal is reopened.
    pub fn append(&mut self, seq: u64, time_ms: u64, payload: &[u8]) -> Result<(), JournalError> {
        self.check_usable()?;
        if payload.len() > MAX_PAYLOAD {
            return Err(JournalError::TooLarge { len: payload.len() });
        }
        if seq <= self.last_seq {
            return Err(JournalError::OutOfOrder {
                seq,
                last: self.last_seq,
            });
        }
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        format::encode_frame(seq, time_ms, payload, &mut frame);
        let written = self.write_frame(seq, time_ms, &frame);
        self.frame = frame;
        let rotated = written?;
        self.last_seq = seq;
        self.unsynced.add();
        if rotated {
            self.retain_or_warn();
        }
        if self.unsynced.due_after_append(self.config.durability) {
            self.sync()?;
        } else if self.config.durability == Durability::Os {
            // `os` promises survival of a process crash only: written is durable.
            self.durable_seq = seq;
            self.durable.advance(seq);
        }
        Ok(())
    }

    /// Syncs if an [`Durability::Interval`] policy's time ran out since the
    /// oldest unsynced record; otherwise returns at once. Call it periodically
    /// when appends may stop for longer than the interval.
    pub fn tick(&mut self) -> Result<(), JournalError> {
        if self.unsynced.time_is_up(self.config.durability) {
            self.sync()?;
        }
        Ok(())
    }

    /// Syncs the active segment, making every record appended so far durable;
    /// returns at once when nothing is unsynced.
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.check_usable()?;
        if !self.unsynced.any() {
            return Ok(());
        }
        if let Some(active) = &self.active {
            if let Err(e) = active.file.sync_data() {
                // After a failed fsync the kernel may drop the dirty pages and
                // report success next time: nothing unsynced can be trusted.
                self.failed = Some(format!("sync failed: {e}"));
                return Err(JournalError::io(&active.seg.path, e));
            }
        }
        self.unsynced.clear();
        self.stats.syncs += 1;
        self.durable_seq = self.last_seq;
        self.durable.advance(self.last_seq);
        Ok(())
    }

    /// Syncs and closes the journal, reporting a failed sync that dropping it
    /// would only log.
    pub fn close(mut self) -> Result<(), JournalError> {
        self.sync()
    }

    fn check_usable(&self) -> Result<(), JournalError> {
        match (&self.failed, &self.active) {
            (Some(reason), Some(active)) => Err(JournalError::Failed {
                file: active.seg.path.clone(),
                reason: reason.clone(),
            }),
            (Some(reason), None) => Err(JournalError::Failed {
                file: self.dir.clone(),
                reason: reason.clone(),
            }),
            (None, _) => Ok(()),
        }
    }

    /// Writes `frame` (the record `seq`) to the active segment, rotating first
    /// if it would overflow; returns whether it rotated.
    fn write_frame(&mut self, seq: u64, time_ms: u64, frame: &[u8]) -> Result<bool, JournalError> {
        let (active, rotated) = self.make_room(seq, frame.len() as u64)?;
        if let Err(e) = active.file.write_all(frame) {
            // A partial frame would sit in front of every later record; cut it.
            let undo = active.file.set_len(active.len).err();
            let err = JournalError::io(&active.seg.path, e);
            if let Some(undo) = undo {
                self.failed = Some(format!("a partial write could not be cut back: {undo}"));
            }
            return Err(err);
        }
        active.len += frame.len() as u64;
        active.records += 1;
        active.newest_time = Some(active.newest_time.map_or(time_ms, |t| t.max(time_ms)));
        self.stats.records_appended += 1;
        self.stats.bytes_appended += frame.len() as u64;
        Ok(rotated)
    }

    /// The active segment with room for `frame_len` more bytes (a new one,
    /// starting at `seq`, if the current one is full or there is none), and
    /// whether a full one was sealed.
    fn make_room(&mut self, seq: u64, frame_len: u64) -> Result<(&mut Active, bool), JournalError> {
        let full = self.active.as_ref().is_some_and(|a| {
            a.records > 0 && a.len.saturating_add(frame_len) > self.config.segment_bytes
        });
        if full {
            self.seal_active()?;
            self.stats.rotations += 1;
        }
        let active = match self.active.take() {
            Some(active) => active,
            None => Active::create(&self.dir, seq)?,
        };
        Ok((self.active.insert(active), full))
    }

    /// Syncs the active segment and moves it to the sealed ones, so that every
    /// segment but the newest is whole and durable (what recovery relies on).
    fn seal_active(&mut self) -> Result<(), JournalError> {
        self.sync()?;
        if let Some(active) = self.active.take() {
            self.sealed.push_back(Sealed {
                bytes: active.len,
                summary: Some(Summary {
                    records: active.records,
                    newest_time: active.newest_time,
                }),
                seg: active.seg,
            });
        }
        Ok(())
    }

    fn total_bytes(&self) -> u64 {
        let sealed: u64 = self.sealed.iter().map(|s| s.bytes).sum();
        sealed + self.active.as_ref().map_or(0, |a| a.len)
    }

    /// Retention failing leaves more on disk than configured, which the next
    /// rotation retries; it is no reason to refuse a record.
    fn retain_or_warn(&mut self) {
        if let Err(e) = self.apply_retention() {
            log::warn!("journal {}: retention: {e}", self.dir.display());
        }
    }

    /// Deletes the oldest sealed segments while the journal is over
    /// `retain_bytes` or the oldest one's newest record is older than
    /// `retain_age`. Only whole segments from the oldest end go, so what
    /// remains is always one contiguous run of records.
    fn apply_retention(&mut self) -> Result<(), JournalError> {
        let cutoff = self.config.retain_age.map(|age| {
            let age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
            fsutil::now_ms().saturating_sub(age_ms)
        });
        let mut deleted = false;
        while !self.sealed.is_empty() {
            let over = self.total_bytes() > self.config.retain_bytes;
            let too_old = match (cutoff, self.sealed.front_mut()) {
                (Some(cutoff), Some(oldest)) => {
                    oldest.summary()?.newest_time.is_none_or(|t| t < cutoff)
                }
                _ => false,
            };
            if !over && !too_old {
                break;
            }
            self.delete_oldest()?;
            deleted = true;
        }
        if deleted {
            fsutil::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn delete_oldest(&mut self) -> Result<(), JournalError> {
        let Some(oldest) = self.sealed.front_mut() else {
            return Ok(());
        };
        // Only for the counter: an unreadable segment is deleted all the same.
        let records = oldest.summary().map_or(0, |s| s.records);
        let path = oldest.seg.path.clone();
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(JournalError::io(&path, e)),
        }
        log::debug!(
            "journal: retention deleted {} ({records} records)",
            path.display()
        );
        self.sealed.pop_front();
        self.stats.segments_deleted += 1;
        self.stats.records_deleted += records;
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if self.failed.is_none() {
            if let Err(e) = self.sync() {
                log::warn!("journal {}: final sync: {e}", self.dir.display());
            }
        }
        self.durable.close();
    }
}

/// Takes the writer's lock of `dir`: an advisory lock on `dir/lock`, released
/// by the operating system when the process ends, however it ends.
fn lock(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_at(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(JournalError::Locked(path)),
        Err(TryLockError::Error(e)) => Err(JournalError::io(&path, e)),
    }
}
