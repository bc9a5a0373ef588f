//! Outbox replay rate after an outage: `N` events wait in a journal (the broker
//! was away), then the outbox connects and delivers them; prints the time to the
//! last PUBACK and the rate.
//!
//! `cargo run --release -p edgeclip-mqtt --example replay_bench -- PORT [N]`
//! against a broker on 127.0.0.1:PORT (`firmware-tools/bench/mqtt_replay.sh`
//! starts one).

use std::time::{Duration, Instant};

use edgeclip_events::{Event, Meta, Presence};
use edgeclip_journal::{Durability, Journal, JournalConfig};
use edgeclip_mqtt::{MqttConfig, Outbox};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().ok_or("usage: replay_bench PORT [N]")?.parse()?;
    let n: u64 = args.next().map_or(Ok(10_000), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let mut journal = Journal::open(
        dir.path(),
        JournalConfig {
            durability: Durability::Os,
            ..JournalConfig::default()
        },
    )?;
    for seq in 1..=n {
        let presence = Presence {
            meta: Meta {
                id: format!("bench-{seq}"),
                seq,
                time_ms: 1_764_000_000_000 + seq * 100,
            },
            label: ["red mug", "person", "dog", "bicycle"][(seq / 2 % 4) as usize].into(),
            group: None,
            score: 0.87,
            first_seen_ms: seq * 100,
            last_seen_ms: seq * 100 + 900,
            first_frame: seq * 3,
            last_frame: seq * 3 + 9,
        };
        let event = if seq % 2 == 1 {
            Event::Appeared(presence)
        } else {
            Event::Left(presence)
        };
        journal.append(seq, seq, &serde_json::to_vec(&event)?)?;
    }
    journal.sync()?;
    let mut config = MqttConfig::new("127.0.0.1", port);
    config.client_id = format!("edgeclip-replay-bench-{}", std::process::id());
    config.prefix = "bench".into();
    config.discovery_prefix = None;
    let started = Instant::now();
    let outbox = Outbox::start(config, dir.path(), journal.durable(), Vec::new())?;
    let mut connected_at = None;
    loop {
        let stats = outbox.stats();
        if stats.connected && connected_at.is_none() {
            connected_at = Some(started.elapsed());
        }
        if stats.delivered_seq >= n {
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            return Err(format!("only {} of {n} delivered in 300 s", stats.delivered_seq).into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let total = started.elapsed();
    let connect = connected_at.unwrap_or_default();
    let replay = total - connect;
    let stats = outbox.stop();
    println!(
        "replayed {n} events ({} publishes) in {:.3} s after a {:.1} ms connect: {:.0} events/s",
        stats.published * 2,
        replay.as_secs_f64(),
        connect.as_secs_f64() * 1e3,
        n as f64 / replay.as_secs_f64()
    );
    Ok(())
}
