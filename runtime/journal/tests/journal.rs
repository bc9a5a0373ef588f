//! The journal's writer, recovery and reader through the public API.

use std::path::{Path, PathBuf};

use edgeclip_journal::{Durability, Journal, JournalConfig, JournalError, Reader, Record};
use proptest::prelude::*;

fn config(segment_bytes: u64) -> JournalConfig {
    JournalConfig {
        segment_bytes,
        ..JournalConfig::default()
    }
}

fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
}

fn read_all(dir: &Path) -> Result<Vec<Record>, JournalError> {
    let mut r = Reader::open(dir)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next()? {
        out.push(rec);
    }
    Ok(out)
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ecj"))
        .collect();
    v.sort();
    v
}

/// The bytes of record `seq`'s frame as [`write`] makes it.
fn frame_len(seq: u64) -> u64 {
    24 + 40 + seq % 7
}

fn write(dir: &Path, n: u64, segment_bytes: u64) {
    let mut j = Journal::open(dir, config(segment_bytes)).unwrap();
    for seq in 1..=n {
        j.append(seq, seq * 10, &payload(seq, 40 + seq as usize % 7))
            .unwrap();
    }
}

#[test]
fn records_read_back_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 100, 1024);
    assert!(segments(dir.path()).len() > 3, "rotation happened");
    let all = read_all(dir.path()).unwrap();
    assert_eq!(all.len(), 100);
    for (i, r) in all.iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!((r.seq, r.time_ms), (seq, seq * 10));
        assert_eq!(r.payload, payload(seq, 40 + seq as usize % 7));
    }
    let mut r = Reader::open(dir.path()).unwrap();
    r.seek(57).unwrap();
    assert_eq!(r.next().unwrap().unwrap().seq, 58);
}

#[test]
fn a_torn_tail_is_cut_at_every_byte_and_the_sequence_continues() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 5, 1 << 20);
    let seg = segments(dir.path()).pop().unwrap();
    let full = std::fs::read(&seg).unwrap();
    let last_len = 24 + 45; // frame header + record 5's payload
    let last_start = full.len() - last_len;
    for cut in last_start + 1..full.len() {
        std::fs::write(&seg, &full[..cut]).unwrap();
        let mut j = Journal::open(dir.path(), config(1 << 20)).unwrap();
        assert_eq!(j.last_seq(), 4, "cut at {cut}");
        assert_eq!(j.recovery().cut_bytes, (cut - last_start) as u64);
        assert!(j.recovery().reason.as_deref().unwrap().contains("torn"));
        j.append(5, 50, &payload(5, 45)).unwrap();
        drop(j);
        assert_eq!(read_all(dir.path()).unwrap().len(), 5);
    }
}

#[test]
fn a_flipped_byte_in_the_last_record_is_cut_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 3, 1 << 20);
    let seg = segments(dir.path()).pop().unwrap();
    let full = std::fs::read(&seg).unwrap();
    let last_start = full.len() - (24 + 40 + 3);
    for at in last_start..full.len() {
        let mut bad = full.clone();
        bad[at] ^= 0x40;
        std::fs::write(&seg, &bad).unwrap();
        let j = Journal::open(dir.path(), config(1 << 20)).unwrap();
        assert_eq!(j.last_seq(), 2, "flip at {at}");
        assert!(j.recovery().reason.is_some());
        drop(j);
        assert_eq!(read_all(dir.path()).unwrap().len(), 2);
        std::fs::write(&seg, &full).unwrap();
    }
}

#[test]
fn damage_in_an_older_segment_is_skipped_and_counted_or_stops_a_strict_reader() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 40, 512);
    let first = segments(dir.path())[0].clone();
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[40] ^= 1; // inside record 1
    std::fs::write(&first, bytes).unwrap();
    let mut reader = Reader::open(dir.path()).unwrap();
    let mut seqs = Vec::new();
    while let Some(rec) = reader.next().unwrap() {
        seqs.push(rec.seq);
    }
    assert_eq!(
        seqs,
        (2..=40).collect::<Vec<_>>(),
        "only the damaged record is lost"
    );
    let skipped = reader.skipped();
    assert_eq!(skipped.stretches, 1);
    assert_eq!(skipped.bytes, frame_len(1), "one record's frame");
    let mut strict = Reader::open(dir.path()).unwrap().strict(true);
    let err = strict.next().unwrap_err().to_string();
    assert!(
        err.contains(&first.display().to_string()) && err.contains("checksum"),
        "{err}"
    );
}

#[test]
fn a_flipped_bit_in_the_newest_segment_loses_only_its_record() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 30, 1 << 20);
    let seg = segments(dir.path()).pop().unwrap();
    let full = std::fs::read(&seg).unwrap();
    // Every byte of record 10's frame.
    let start = 32 + (1..10).map(frame_len).sum::<u64>() as usize;
    for at in start..start + frame_len(10) as usize {
        let mut bad = full.clone();
        bad[at] ^= 0x10;
        std::fs::write(&seg, &bad).unwrap();
        let j = Journal::open(dir.path(), config(1 << 20)).unwrap();
        assert_eq!(
            j.last_seq(),
            30,
            "flip at {at}: the records after it are kept"
        );
        assert_eq!(j.recovery().skipped_bytes, frame_len(10), "flip at {at}");
        assert_eq!(j.recovery().cut_bytes, 0, "flip at {at}");
        drop(j);
        let seqs: Vec<u64> = read_all(dir.path())
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        let expected: Vec<u64> = (1..=30).filter(|&s| s != 10).collect();
        assert_eq!(seqs, expected, "flip at {at}");
        std::fs::write(&seg, &full).unwrap();
    }
}

#[test]
fn records_an_older_segment_holds_past_the_next_one_never_hide_new_records() {
    // Segment 1 holds records 1..=10; a segment that says it starts at 6 follows,
    // its only record damaged. Its name claims 6..: the older segment's 6..=10
    // are not in their place, and the writer, which numbers on from the newest
    // segment, will write a 6 of its own.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 10, 1 << 20);
    let other = tempfile::tempdir().unwrap();
    {
        let mut j = Journal::open(other.path(), config(1 << 20)).unwrap();
        j.append(6, 60, b"damaged below").unwrap();
    }
    let newest = segments(other.path()).pop().unwrap();
    let mut bytes = std::fs::read(&newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(dir.path().join(newest.file_name().unwrap()), &bytes).unwrap();

    let mut j = Journal::open(dir.path(), config(1 << 20)).unwrap();
    assert_eq!(j.last_seq(), 5);
    j.append(6, 61, b"written after recovery").unwrap();
    drop(j);
    let mut r = Reader::open(dir.path()).unwrap();
    let mut read = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        read.push(rec);
    }
    let seqs: Vec<u64> = read.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    assert_eq!(read[5].payload, b"written after recovery");
    let skipped = (6..=10).map(frame_len).sum::<u64>();
    assert_eq!(
        r.skipped().bytes,
        skipped,
        "records 6..=10 of segment 1, reported"
    );

    let mut strict = Reader::open(dir.path()).unwrap().strict(true);
    for _ in 1..=5 {
        strict.next().unwrap();
    }
    let e = strict.next().unwrap_err().to_string();
    assert!(e.contains("next segment's first seq 6"), "{e}");
}

#[test]
fn empty_short_and_zeroed_newest_segments_are_removed_and_numbering_goes_on() {
    for tail in [
        &[][..],
        &[b'E', b'C', b'J'][..],
        &[0u8; 32][..],
        &[0u8; 4096][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), 5, 16);
        // A power cut after the next segment's file was made, before its blocks.
        let unwritten = dir.path().join("00000000000000000006.ecj");
        std::fs::write(&unwritten, tail).unwrap();
        let mut j = Journal::open(dir.path(), config(1 << 20)).unwrap();
        assert_eq!(
            j.recovery().removed,
            vec![unwritten.clone()],
            "{} bytes",
            tail.len()
        );
        assert!(!unwritten.exists());
        assert_eq!(j.last_seq(), 5);
        j.append(6, 60, b"after").unwrap();
        drop(j);
        let seqs: Vec<u64> = read_all(dir.path())
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6], "{} bytes", tail.len());
    }
    // The only segment unwritten: its name still says where numbering was.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("00000000000000000042.ecj"), [0u8; 32]).unwrap();
    let j = Journal::open(dir.path(), config(1 << 20)).unwrap();
    assert_eq!(j.last_seq(), 41);
}

#[test]
fn out_of_order_too_large_and_locked_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    j.append(5, 0, b"x").unwrap();
    assert!(matches!(
        j.append(5, 0, b"x"),
        Err(JournalError::OutOfOrder { seq: 5, last: 5 })
    ));
    j.append(9, 0, b"gap allowed").unwrap();
    let big = vec![0u8; edgeclip_journal::MAX_PAYLOAD + 1];
    assert!(matches!(
        j.append(10, 0, &big),
        Err(JournalError::TooLarge { .. })
    ));
    let second = Journal::open(dir.path(), JournalConfig::default());
    assert!(matches!(second, Err(JournalError::Locked(_))));
    drop(j);
    assert_eq!(
        Journal::open(dir.path(), JournalConfig::default())
            .unwrap()
            .last_seq(),
        9
    );
}

#[test]
fn retention_deletes_the_oldest_segments_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(
        dir.path(),
        JournalConfig {
            segment_bytes: 1024,
            retain_bytes: 4096,
            ..JournalConfig::default()
        },
    )
    .unwrap();
    for seq in 1..=500 {
        j.append(seq, 0, &payload(seq, 60)).unwrap();
    }
    let total: u64 = segments(dir.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(total <= 4096 + 1024, "{total} bytes kept");
    assert!(j.stats().segments_deleted > 0);
    let all = read_all(dir.path()).unwrap();
    assert_eq!(all.last().unwrap().seq, 500);
    assert!(
        all.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "a contiguous tail"
    );
    let mut r = Reader::open(dir.path()).unwrap();
    r.seek(3).unwrap();
    assert_eq!(
        r.next().unwrap().unwrap().seq,
        all[0].seq,
        "the first record there is"
    );
}

#[test]
fn retention_by_age_deletes_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(
        dir.path(),
        JournalConfig {
            segment_bytes: 256,
            retain_age: Some(std::time::Duration::from_millis(200)),
            ..JournalConfig::default()
        },
    )
    .unwrap();
    for seq in 1..=20 {
        j.append(seq, 0, &payload(seq, 60)).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    for seq in 21..=24 {
        j.append(seq, 0, &payload(seq, 60)).unwrap();
    }
    let all = read_all(dir.path()).unwrap();
    assert!(
        all[0].seq > 15,
        "old segments gone: first is {}",
        all[0].seq
    );
}

#[test]
fn a_reader_follows_appends_and_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), config(300)).unwrap();
    let mut r = Reader::open(dir.path()).unwrap();
    assert!(r.next().unwrap().is_none(), "empty journal");
    let mut seen = Vec::new();
    for seq in 1..=30 {
        j.append(seq, 0, &payload(seq, 50)).unwrap();
        while let Some(rec) = r.next().unwrap() {
            seen.push(rec.seq);
        }
    }
    assert_eq!(seen, (1..=30).collect::<Vec<_>>());
}

#[test]
fn interval_and_os_policies_report_durability_as_they_promise() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(
        dir.path(),
        JournalConfig {
            durability: Durability::Interval { ms: 50, records: 3 },
            ..JournalConfig::default()
        },
    )
    .unwrap();
    j.append(1, 0, b"a").unwrap();
    j.append(2, 0, b"b").unwrap();
    assert_eq!(j.durable_seq(), 0);
    j.append(3, 0, b"c").unwrap();
    assert_eq!(j.durable_seq(), 3, "three records");
    j.append(4, 0, b"d").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(60));
    j.tick().unwrap();
    assert_eq!(j.durable_seq(), 4, "50 ms");
    let durable = j.durable();
    assert_eq!(
        durable.wait_beyond(3, std::time::Duration::from_millis(1)),
        4
    );
    drop(j);
    assert!(durable.is_closed());

    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(
        dir.path(),
        JournalConfig {
            durability: Durability::Os,
            ..JournalConfig::default()
        },
    )
    .unwrap();
    j.append(1, 0, b"a").unwrap();
    assert_eq!(j.durable_seq(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever happens to the files' tails and bytes, opening and reading never
    /// panic, and nothing comes back that was not written.
    #[test]
    fn damage_never_panics_or_invents_records(
        sizes in proptest::collection::vec(0usize..2000, 1..30),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        {
            let mut j = Journal::open(dir.path(), config(4096)).unwrap();
            for (i, len) in sizes.iter().enumerate() {
                let seq = i as u64 + 1;
                let p = payload(seq, *len);
                j.append(seq, seq, &p).unwrap();
                written.push(Record { seq, time_ms: seq, payload: p });
            }
        }
        let seg = segments(dir.path()).pop().unwrap();
        let mut bytes = std::fs::read(&seg).unwrap();
        for (at, mask) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        std::fs::write(&seg, &bytes).unwrap();
        let _ = read_all(dir.path());
        if let Ok(j) = Journal::open(dir.path(), config(4096)) {
            drop(j);
            let back = read_all(dir.path()).unwrap();
            for r in &back {
                prop_assert!(written.contains(r), "record {} was not written", r.seq);
            }
        }
    }
}
