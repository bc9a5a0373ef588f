//! Load generator for `edgeclip serve`, run as a second process next to the server:
//!
//! ```sh
//! cargo run --release -p edgeclip-serve --example load -- --url http://127.0.0.1:7878 \
//!     --clients 1,8,32 --requests 200 --image photo.jpg --texts "a red circle,a blue star" \
//!     --where --pid "$(pidof edgeclip)"
//! ```
//!
//! One round per client count: `--requests` `POST /v1/query` requests in all, split across
//! that many threads, each with its own keep-alive connection. Per round it prints the
//! errors (non-200 answers and transport failures, by status), latency percentiles of the
//! successful requests, their throughput and, with `--pid`, the server's resident memory
//! (`VmRSS`) and its peak so far (`VmHWM`) before and after the round.
//!
//! An untimed warm-up request goes first: an unreachable server or a wrong token fails at
//! once, and the rounds then find the texts in the server's text cache, so they measure
//! the image tower and the HTTP path. `--max-seconds` bounds the whole run; a round cut
//! short reports what it did. Exits non-zero if any request failed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use base64::Engine;
use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Load generator for `edgeclip serve`")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:7878")]
    url: String,
    /// Client counts, comma-separated: one round each, in this order.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
    clients: Vec<usize>,
    /// Requests per round, split across its clients.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// JPEG or PNG to post with every request; without it the server's newest frame
    /// (`"image": "latest"`) is queried.
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,
    /// Texts to query, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    texts: Vec<String>,
    /// Also ask where each text is (`"where": true`).
    #[arg(long = "where")]
    locate: bool,
    /// Bearer token; defaults to the `EDGECLIP_TOKEN` environment variable.
    #[arg(long)]
    token: Option<String>,
    /// The server's process id, to report its memory from `/proc/PID/status`.
    #[arg(long)]
    pid: Option<u32>,
    /// Time limit of the whole run, in seconds.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
    /// Print each round as a JSON line instead of a table row.
    #[arg(long)]
    json: bool,
    /// Make each round last this many seconds, every client sending one request after
    /// another until then, instead of `--requests` in all.
    #[arg(long, value_name = "S")]
    round_seconds: Option<f64>,
    /// After the rounds, wait this many seconds with no request and report the
    /// server's memory again (with `--pid`): what it keeps once the load is over.
    #[arg(long, value_name = "S", default_value_t = 0.0)]
    idle_seconds: f64,
}

/// What one client thread (or a whole round, merged) did.
#[derive(Default)]
struct Tally {
    /// Latency of every 200 answer, body read included.
    latencies: Vec<Duration>,
    /// Failed requests by HTTP status, or `transport` for those with no answer.
    errors: BTreeMap<String, usize>,
    /// The first failure's detail, to say why without flooding the terminal.
    first_error: Option<String>,
    /// Whether the deadline stopped the thread before its share was sent.
    cut: bool,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (status, n) in other.errors {
            *self.errors.entry(status).or_default() += n;
        }
        self.first_error = self.first_error.take().or(other.first_error);
        self.cut |= other.cut;
    }
}

/// Sends the query once and reads the whole answer, which keeps the connection reusable.
fn send(agent: &ureq::Agent, url: &str, token: Option<&str>, body: &str) -> Answer {
    let mut request = agent.post(url).content_type("application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.send(body)?;
    let answer = response.body_mut().read_to_vec()?;
    Ok((response.status().as_u16(), answer))
}

/// An HTTP status and body, or why there was none.
type Answer = Result<(u16, Vec<u8>), ureq::Error>;

/// An agent whose requests cannot outlive the run's deadline. Status errors are
/// answers to count, not failures of the call.
fn agent(deadline: Instant) -> ureq::Agent {
    let left = deadline.saturating_duration_since(Instant::now());
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(left.max(Duration::from_millis(1))))
        .build();
    ureq::Agent::new_with_config(config)
}

/// One client thread: `n` requests one after another on one connection, none
/// started after `until`.
fn client(
    url: &str,
    token: Option<&str>,
    body: &str,
    n: usize,
    until: Instant,
    deadline: Instant,
) -> Tally {
    let agent = agent(deadline);
    let mut tally = Tally::default();
    for _ in 0..n {
        let now = Instant::now();
        if now >= deadline {
            tally.cut = true;
            break;
        }
        if now >= until {
            break;
        }
        let started = Instant::now();
        let (key, detail) = match send(&agent, url, token, body) {
            Ok((200, _)) => {
                tally.latencies.push(started.elapsed());
                continue;
            }
            Ok((status, answer)) => (
                status.to_string(),
                String::from_utf8_lossy(&answer).into_owned(),
            ),
            Err(e) => ("transport".to_string(), e.to_string()),
        };
        tally
            .first_error
            .get_or_insert_with(|| format!("{key}: {detail}"));
        *tally.errors.entry(key).or_default() += 1;
    }
    tally
}

/// `VmRSS` and `VmHWM` of `pid` in MiB, or `None` if the process is gone.
fn memory(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    // Lines such as `VmRSS:\t   51234 kB`.
    let kib = |key: &str| -> Option<f64> {
        let value = status.lines().find_map(|l| l.strip_prefix(key))?;
        value.split_whitespace().next()?.parse().ok()
    };
    Some((kib("VmRSS:")? / 1024.0, kib("VmHWM:")? / 1024.0))
}

/// The `p`-quantile of sorted `latencies` (nearest rank), in milliseconds.
fn percentile(latencies: &[Duration], p: f64) -> Option<f64> {
    let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len().max(1));
    latencies.get(rank - 1).map(|d| d.as_secs_f64() * 1e3)
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(!args.clients.contains(&0), "--clients must all be above 0");
    let token = args.token.or_else(|| std::env::var("EDGECLIP_TOKEN").ok());
    let token = token.as_deref().map(str::trim);
    let image = match &args.image {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        None => "latest".to_string(),
    };
    // Serialized once: the clients measure the server, not their own JSON encoding.
    let body = json!({ "texts": args.texts, "image": image, "where": args.locate }).to_string();
    let url = format!("{}/v1/query", args.url.trim_end_matches('/'));
    let deadline = Instant::now() + Duration::from_secs(args.max_seconds);

    let warm_up = client(&url, token, &body, 1, deadline, deadline);
    if let Some(e) = warm_up.first_error {
        bail!("the warm-up request failed: {e}");
    }

    if !args.json {
        println!("clients requests errors   p50_ms   p99_ms   max_ms    req/s         rss_MiB         hwm_MiB");
    }
    let mut failed = 0;
    for &clients in &args.clients {
        if Instant::now() >= deadline {
            eprintln!("--max-seconds reached: {clients} clients and later rounds not run");
            break;
        }
        let before = args.pid.and_then(memory);
        let started = Instant::now();
        let until = match args.round_seconds {
            Some(s) => (started + Duration::from_secs_f64(s)).min(deadline),
            None => deadline,
        };
        let mut round = Tally::default();
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..clients)
                .map(|i| {
                    // The first `requests % clients` threads take one more.
                    let n = match args.round_seconds {
                        Some(_) => usize::MAX,
                        None => args.requests / clients + usize::from(i < args.requests % clients),
                    };
                    let (url, body) = (&url, &body);
                    s.spawn(move || client(url, token, body, n, until, deadline))
                })
                .collect();
            for t in threads {
                round.merge(t.join().expect("a client thread panicked"));
            }
        });
        let elapsed = started.elapsed().as_secs_f64();
        let after = args.pid.and_then(memory);
        round.latencies.sort_unstable();
        let (ok, errors) = (round.latencies.len(), round.errors.values().sum::<usize>());
        failed += errors;
        let p50 = percentile(&round.latencies, 0.50);
        let p99 = percentile(&round.latencies, 0.99);
        let max = round.latencies.last().map(|d| d.as_secs_f64() * 1e3);
        let rate = ok as f64 / elapsed;

        if args.json {
            let row = json!({
                "clients": clients, "requests": ok + errors, "ok": ok, "errors": errors,
                "errors_by_status": round.errors, "p50_ms": p50, "p99_ms": p99, "max_ms": max,
                "req_per_s": rate, "elapsed_s": elapsed, "stopped_early": round.cut,
                "rss_mib_before": before.map(|m| m.0), "rss_mib_after": after.map(|m| m.0),
                "hwm_mib_before": before.map(|m| m.1), "hwm_mib_after": after.map(|m| m.1),
            });
            println!("{row}");
        } else {
            let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}"));
            let (p50, p99, max) = (ms(p50), ms(p99), ms(max));
            let mib = |m: Option<(f64, f64)>, pick: fn((f64, f64)) -> f64| ms(m.map(pick));
            let rss = format!("{} -> {}", mib(before, |m| m.0), mib(after, |m| m.0));
            let hwm = format!("{} -> {}", mib(before, |m| m.1), mib(after, |m| m.1));
            let mut note = String::new();
            if errors > 0 {
                note += &format!("  {:?}", round.errors);
            }
            if round.cut {
                note += "  (stopped at --max-seconds)";
            }
            let sent = ok + errors;
            println!("{clients:>7} {sent:>8} {errors:>6} {p50:>8} {p99:>8} {max:>8} {rate:>8.1} {rss:>15} {hwm:>15}{note}");
        }
        if let Some(e) = &round.first_error {
            eprintln!("{clients} clients, first failure: {e}");
        }
    }
    if args.idle_seconds > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(args.idle_seconds));
        if let Some((rss, hwm)) = args.pid.and_then(memory) {
            if args.json {
                println!(
                    "{}",
                    json!({"idle_s": args.idle_seconds, "rss_mib": rss, "hwm_mib": hwm})
                );
            } else {
                println!(
                    "after {:.0} s idle: rss {rss:.1} MiB, hwm {hwm:.1} MiB",
                    args.idle_seconds
                );
            }
        }
    }
    ensure!(failed == 0, "{failed} requests failed");
    Ok(())
}
