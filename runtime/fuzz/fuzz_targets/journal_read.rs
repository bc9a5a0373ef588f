//! Fuzzes the journal's readers and its recovery on open. The input is a journal
//! folder's segments laid end to end: it is cut before each later segment magic
//! (`ECJOURNL`) into up to four segment files, each named after the first sequence
//! number its header claims (so that names and headers mostly agree, as on a real
//! disk, and sometimes do not).
//!
//! Checked for every input: the lenient reader returns records in increasing
//! sequence order and ends; the strict reader ends with records or an error; then
//! `Journal::open` recovers the folder or refuses it, and a journal it opened takes
//! one more record, which a reader then finds as the last one.
#![no_main]

use edgeclip_journal::{Durability, Journal, JournalConfig, Reader, MAX_PAYLOAD};
use libfuzzer_sys::fuzz_target;

const MAGIC: &[u8] = b"ECJOURNL";
const MAX_SEGMENTS: usize = 4;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir_in(scratch()).expect("a scratch folder");
    let mut named = std::collections::BTreeSet::new();
    for (i, segment) in split_segments(data).into_iter().enumerate() {
        let claimed = segment
            .get(16..24)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .unwrap_or(i as u64);
        // Two segments claiming one number would be one file: keep both, renamed.
        let mut first = claimed;
        while !named.insert(first) {
            first = first.wrapping_add(1);
        }
        std::fs::write(dir.path().join(format!("{first:020}.ecj")), segment)
            .expect("a segment file writes");
    }

    if let Ok(mut reader) = Reader::open(dir.path()) {
        let mut last = None;
        while let Ok(Some(record)) = reader.next() {
            assert!(
                last.is_none_or(|seq| record.seq > seq),
                "records out of order"
            );
            assert!(record.payload.len() <= MAX_PAYLOAD);
            last = Some(record.seq);
        }
    }
    if let Ok(reader) = Reader::open(dir.path()) {
        let mut reader = reader.strict(true);
        while let Ok(Some(_)) = reader.next() {}
    }

    let config = JournalConfig {
        segment_bytes: 4096,
        durability: Durability::Os,
        ..JournalConfig::default()
    };
    let Ok(mut journal) = Journal::open(dir.path(), config) else {
        return;
    };
    let Some(seq) = journal.last_seq().checked_add(1) else {
        return;
    };
    journal
        .append(seq, 0, b"after recovery")
        .expect("a recovered journal appends");
    journal.close().expect("a recovered journal closes");
    let mut reader = Reader::open(dir.path()).expect("the recovered journal opens to read");
    let mut newest = None;
    while let Ok(Some(record)) = reader.next() {
        newest = Some(record);
    }
    let newest = newest.expect("the appended record is read back");
    assert_eq!(
        (newest.seq, &newest.payload[..]),
        (seq, &b"after recovery"[..])
    );
});

/// The input cut before each later occurrence of the segment magic.
fn split_segments(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = vec![0];
    let mut at = 1;
    while starts.len() < MAX_SEGMENTS {
        match data
            .get(at..)
            .and_then(|rest| rest.windows(MAGIC.len()).position(|w| w == MAGIC))
        {
            Some(offset) => {
                starts.push(at + offset);
                at += offset + 1;
            }
            None => break,
        }
    }
    starts.push(data.len());
    starts.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

/// Memory-backed scratch space when the machine has it: each input writes files.
fn scratch() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}
