//! Crash safety: a writer process is SIGKILLed at random points, over and over;
//! after every kill the journal opens, reads back with no corrupt record, holds a
//! contiguous run of sequence numbers, and has every record the writer had
//! reported durable.
//!
//! The writer is this test binary itself, re-run with `EDGECLIP_JOURNAL_CRASH_CHILD`
//! set to the journal folder.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgeclip_journal::{Journal, JournalConfig, Reader};

const CHILD: &str = "EDGECLIP_JOURNAL_CRASH_CHILD";
const KILLS: u32 = 1000;

fn payload(seq: u64) -> Vec<u8> {
    (0..(seq % 300) as usize + 1)
        .map(|i| (seq as usize ^ i) as u8)
        .collect()
}

fn config(policy: &str) -> JournalConfig {
    JournalConfig {
        segment_bytes: 64 << 10,
        retain_bytes: 512 << 10,
        durability: policy.parse().unwrap(),
        ..JournalConfig::default()
    }
}

/// The writer: appends until killed, printing `durable <seq>` as it moves.
fn child(dir: &str, policy: &str) -> ! {
    let mut journal = Journal::open(Path::new(dir), config(policy)).unwrap();
    let mut out = std::io::stdout().lock();
    let mut reported = journal.durable_seq();
    writeln!(out, "durable {reported}").unwrap();
    out.flush().unwrap();
    let mut seq = journal.last_seq();
    loop {
        seq += 1;
        journal.append(seq, seq, &payload(seq)).unwrap();
        if journal.durable_seq() != reported {
            reported = journal.durable_seq();
            writeln!(out, "durable {reported}").unwrap();
            out.flush().unwrap();
        }
    }
}

/// xorshift: random enough for kill timings, no dependency.
fn random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_random_points_loses_nothing_durable() {
    if let Ok(dir) = std::env::var(CHILD) {
        let policy = std::env::var("EDGECLIP_JOURNAL_CRASH_POLICY").unwrap();
        child(&dir, &policy);
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id());
    let started = Instant::now();
    let (mut verified, mut cut_tails) = (0u64, 0u64);
    for kill in 0..KILLS {
        let policy = if kill % 2 == 0 {
            "every-record"
        } else {
            "interval:5ms,20"
        };
        let mut writer = Command::new(&exe)
            .args([
                "sigkill_at_random_points_loses_nothing_durable",
                "--exact",
                "--nocapture",
            ])
            .env(CHILD, dir.path())
            .env("EDGECLIP_JOURNAL_CRASH_POLICY", policy)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let durable = Arc::new(AtomicU64::new(0));
        let seen = durable.clone();
        let stdout = writer.stdout.take().unwrap();
        let lines = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(n) = line.strip_prefix("durable ").and_then(|n| n.parse().ok()) {
                    seen.fetch_max(n, Ordering::SeqCst);
                }
            }
        });
        std::thread::sleep(Duration::from_millis(1 + random(&mut state) % 40));
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();
        lines.join().unwrap();
        let reported = durable.load(Ordering::SeqCst);

        let journal = Journal::open(dir.path(), config(policy))
            .unwrap_or_else(|e| panic!("kill {kill}: open failed: {e}"));
        cut_tails += u64::from(journal.recovery().cut_bytes > 0);
        let last = journal.last_seq();
        drop(journal);
        let mut reader = Reader::open(dir.path()).unwrap();
        let mut previous: Option<u64> = None;
        while let Some(r) = reader
            .next()
            .unwrap_or_else(|e| panic!("kill {kill}: corrupt record: {e}"))
        {
            assert_eq!(
                r.payload,
                payload(r.seq),
                "kill {kill}: record {} damaged",
                r.seq
            );
            if let Some(p) = previous {
                assert_eq!(r.seq, p + 1, "kill {kill}: a gap after {p}");
            }
            previous = Some(r.seq);
            verified += 1;
        }
        assert_eq!(previous.unwrap_or(0), last, "kill {kill}");
        assert!(
            last >= reported,
            "kill {kill} ({policy}): reported durable {reported}, journal ends at {last}"
        );
    }
    println!(
        "{KILLS} kills, {verified} records verified, {cut_tails} torn tails cut, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
