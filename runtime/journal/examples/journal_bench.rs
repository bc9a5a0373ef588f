//! Journal append throughput and latency under each durability policy, with
//! 200-byte payloads (a typical event's JSON).
//!
//! `cargo run --release -p edgeclip-journal --example journal_bench -- [DIR] [N]`
//! (DIR: where to write, default a temporary folder, which should be on the
//! device's real storage; N: records for the cheap policies, default 20,000,
//! and a tenth of it for `every-record`).

use std::time::Instant;

use edgeclip_journal::{Journal, JournalConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args.next().map(std::path::PathBuf::from);
    let n: u64 = args.next().map_or(Ok(20_000), |s| s.parse())?;
    let payload = vec![b'x'; 200];
    println!("policy                 records   records/s   median µs   p99 µs");
    for policy in ["every-record", "interval:100ms", "interval:1000", "os"] {
        let tmp = match &base {
            Some(b) => tempfile::tempdir_in(b)?,
            None => tempfile::tempdir()?,
        };
        let count = if policy == "every-record" {
            (n / 10).max(1)
        } else {
            n
        };
        let mut journal = Journal::open(
            tmp.path(),
            JournalConfig {
                durability: policy.parse()?,
                ..JournalConfig::default()
            },
        )?;
        let mut latencies = Vec::with_capacity(count as usize);
        let started = Instant::now();
        for seq in 1..=count {
            let t = Instant::now();
            journal.append(seq, seq, &payload)?;
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
        }
        journal.sync()?;
        let total = started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        println!(
            "{policy:<20} {count:>9} {:>11.0} {:>11.1} {:>8.1}",
            count as f64 / total,
            at(0.5),
            at(0.99)
        );
    }
    Ok(())
}
