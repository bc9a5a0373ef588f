//! `edgeclip events list|tail|export`: the journal a `watch` run keeps, read back.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use edgeclip_events::Event;
use edgeclip_journal::{Reader, Record};

use crate::args::{
    EventKindArg, EventsCommand, EventsExportArgs, EventsFilterArgs, EventsTailArgs,
};
use crate::context::{Ctx, Outcome};
use crate::output::Record as Out;

/// Runs one `events` subcommand.
pub fn run(ctx: &mut Ctx, command: EventsCommand) -> Result<Outcome> {
    match command {
        EventsCommand::List(args) => list(ctx, &args),
        EventsCommand::Tail(args) => tail(ctx, &args),
        EventsCommand::Export(args) => export(&args),
    }
}

/// What the flags select.
struct Filter {
    since_ms: Option<u64>,
    until_ms: Option<u64>,
    after_seq: u64,
    labels: Vec<String>,
    kinds: Vec<&'static str>,
    strict: bool,
}

impl Filter {
    fn new(args: &EventsFilterArgs) -> Result<Self> {
        let now = unix_ms();
        let when = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| parse_when(s, now).with_context(|| format!("--{flag} {s}")))
                .transpose()
        };
        Ok(Self {
            since_ms: when("since", &args.since)?,
            until_ms: when("until", &args.until)?,
            after_seq: args.after_seq.unwrap_or(0),
            labels: args.label.clone(),
            kinds: args.kind.iter().map(|k| kind_name(*k)).collect(),
            strict: args.strict,
        })
    }

    fn matches(&self, record: &Record, event: &Event) -> bool {
        let label_ok = self.labels.is_empty()
            || matches!(event, Event::Appeared(p) | Event::Left(p) if self.labels.contains(&p.label));
        record.seq > self.after_seq
            && self.since_ms.is_none_or(|t| record.time_ms >= t)
            && self.until_ms.is_none_or(|t| record.time_ms < t)
            && (self.kinds.is_empty() || self.kinds.contains(&event.kind()))
            && label_ok
    }
}

fn kind_name(k: EventKindArg) -> &'static str {
    match k {
        EventKindArg::Appeared => "appeared",
        EventKindArg::Left => "left",
        EventKindArg::Status => "status",
        EventKindArg::Camera => "camera",
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// RFC 3339, or an age before `now_ms` (`90s`, `15m`, `2h`, `7d`), in Unix ms.
fn parse_when(s: &str, now_ms: u64) -> Result<u64> {
    let s = s.trim();
    if let Some(split) = s.find(|c: char| !c.is_ascii_digit()) {
        let (n, unit) = s.split_at(split);
        let unit_ms = match unit {
            "s" => Some(1_000),
            "m" => Some(60_000),
            "h" => Some(3_600_000),
            "d" => Some(86_400_000),
            _ => None,
        };
        if let (Ok(n), Some(unit_ms)) = (n.parse::<u64>(), unit_ms) {
            return Ok(now_ms.saturating_sub(n.saturating_mul(unit_ms)));
        }
    }
    let t: jiff::Timestamp = s
        .parse()
        .map_err(|_| anyhow::anyhow!("not an RFC 3339 time or an age like 15m, 2h, 7d"))?;
    u64::try_from(t.as_millisecond()).map_err(|_| anyhow::anyhow!("before 1970"))
}

/// Every record of the journal at `dir` passing `filter`, with its event; a
/// record that is not an event is reported and skipped.
fn each_match(
    reader: &mut Reader,
    filter: &Filter,
    mut f: impl FnMut(&Record, &Event) -> Result<()>,
) -> Result<()> {
    while let Some(record) = reader.next()? {
        match serde_json::from_slice::<Event>(&record.payload) {
            Ok(event) if filter.matches(&record, &event) => f(&record, &event)?,
            Ok(_) => {}
            Err(e) => log::warn!("journal record {}: not an event ({e}); skipped", record.seq),
        }
    }
    let skipped = reader.skipped();
    if skipped.stretches > 0 {
        log::warn!(
            "{}: skipped {} damaged bytes in {} stretches (--strict stops at the first)",
            reader.dir().display(),
            skipped.bytes,
            skipped.stretches
        );
    }
    Ok(())
}

fn open(dir: &Path, filter: &Filter) -> Result<Reader> {
    if !dir.is_dir() {
        bail!("{}: no journal here (not a folder)", dir.display());
    }
    let mut reader = Reader::open(dir)?.strict(filter.strict);
    reader.seek(filter.after_seq)?;
    Ok(reader)
}

fn list(ctx: &mut Ctx, args: &EventsFilterArgs) -> Result<Outcome> {
    let filter = Filter::new(args)?;
    let mut reader = open(&args.journal, &filter)?;
    each_match(&mut reader, &filter, |_, event| {
        ctx.out.print(&Out::Event(event))?;
        Ok(())
    })?;
    Ok(Outcome::Success)
}

fn tail(ctx: &mut Ctx, args: &EventsTailArgs) -> Result<Outcome> {
    let filter = Filter::new(&args.filter)?;
    let mut reader = open(&args.filter.journal, &filter)?;
    // Grown as lines come: `-n` may be any number, the journal holds fewer.
    let mut last = std::collections::VecDeque::with_capacity(args.lines.min(1024));
    each_match(&mut reader, &filter, |_, event| {
        if args.lines > 0 {
            if last.len() == args.lines {
                last.pop_front();
            }
            last.push_back(event.clone());
        }
        Ok(())
    })?;
    for event in &last {
        ctx.out.print(&Out::Event(event))?;
    }
    if !args.follow {
        return Ok(Outcome::Success);
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    while !stop.load(Ordering::Relaxed) {
        each_match(&mut reader, &filter, |_, event| {
            ctx.out.print(&Out::Event(event))?;
            Ok(())
        })?;
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(Outcome::Success)
}

fn export(args: &EventsExportArgs) -> Result<Outcome> {
    let filter = Filter::new(&args.filter)?;
    let mut reader = open(&args.filter.journal, &filter)?;
    let mut write_all = |w: &mut dyn std::io::Write| -> Result<()> {
        each_match(&mut reader, &filter, |record, _| {
            w.write_all(&record.payload)?;
            w.write_all(b"\n")?;
            Ok(())
        })?;
        w.flush()?;
        Ok(())
    };
    match &args.output {
        None => write_all(&mut std::io::stdout().lock())?,
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp =
                tempfile::NamedTempFile::new_in(dir).map_err(|e| edgeclip::Error::io(dir, e))?;
            {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                write_all(&mut w)?;
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| edgeclip::Error::io(path, e))?;
            tmp.persist(path)
                .map_err(|e| edgeclip::Error::io(path, e.error))?;
        }
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_takes_ages_and_rfc3339() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_when("90s", now).unwrap(), now - 90_000);
        assert_eq!(parse_when("2h", now).unwrap(), now - 7_200_000);
        assert_eq!(parse_when("7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(parse_when("1970-01-01T00:00:01Z", now).unwrap(), 1_000);
        assert!(parse_when("yesterday", now).is_err());
        assert!(parse_when("5y", now).is_err());
    }
}
