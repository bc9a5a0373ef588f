//! Where `watch` events go besides the printer: the journal, the MQTT outbox that
//! publishes from it, and a GPIO indicator; each off the camera loop.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use edgeclip_events::{Sink, Spawned};
use edgeclip_journal::{Durability, Journal, JournalConfig};
use edgeclip_mqtt::{MqttConfig, MqttTable, Outbox};
use edgeclip_pipeline::JournalSink;
use serde::Deserialize;

/// Events a sink's queue holds while its thread is busy; beyond it, events are
/// counted and given up (edgeclip_events::spawned).
const QUEUE: usize = 4096;

/// The `[journal]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalTable {
    /// The journal's folder (relative to the settings file).
    pub dir: Option<PathBuf>,
    /// `every-record`, `interval:100ms`, `interval:50`, `interval:100ms,50`, `os`.
    pub durability: Option<String>,
    /// Size of one segment file, MiB.
    pub segment_mib: Option<u64>,
    /// Total size kept, MiB: the oldest segments go beyond it (the MQTT outbox's
    /// bound while the broker is away).
    pub retain_mib: Option<u64>,
    /// Age kept, days.
    pub retain_days: Option<f64>,
}

/// The `[gpio]` table: a pin driven while labels are present.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioTable {
    /// GPIO character device (default `/dev/gpiochip0`).
    pub chip: Option<PathBuf>,
    /// Line offset on the chip.
    pub line: Option<u32>,
    /// The pin is active when driven low.
    pub active_low: Option<bool>,
    /// Active while this label is present.
    pub label: Option<String>,
    /// Active while any label of this group is present.
    pub group: Option<String>,
    /// Active while any of these labels is present.
    pub labels: Option<Vec<String>>,
}

/// What the flags and the settings file say about outputs.
pub struct OutputSettings<'a> {
    /// `[journal]`.
    pub journal: &'a JournalTable,
    /// `[mqtt]`, if present.
    pub mqtt: Option<&'a MqttTable>,
    /// `[gpio]`, if present.
    pub gpio: Option<&'a GpioTable>,
    /// The settings file's folder, for relative paths.
    pub base: &'a Path,
    /// `--journal`.
    pub journal_flag: Option<&'a Path>,
    /// `--durability`.
    pub durability_flag: Option<&'a str>,
    /// `--mqtt`.
    pub mqtt_flag: Option<&'a str>,
}

/// The opened outputs.
pub struct Outputs {
    journal: Option<Spawned>,
    indicator: Option<Spawned>,
    outbox: Option<Outbox>,
    /// The journal's last sequence number at start: the loop continues after it.
    pub last_seq: u64,
}

impl Outputs {
    /// Opens the journal (recovering it), starts the outbox and takes the pin.
    pub fn open(settings: &OutputSettings<'_>, labels: Vec<String>) -> Result<Self> {
        let dir = settings
            .journal_flag
            .map(Path::to_path_buf)
            .or_else(|| settings.journal.dir.as_ref().map(|d| settings.base.join(d)));
        let mqtt = mqtt_config(settings)?;
        let Some(dir) = dir else {
            if mqtt.is_some() {
                bail!("MQTT publishes from the journal: give --journal DIR or [journal] dir");
            }
            return Ok(Self {
                journal: None,
                indicator: indicator(settings.gpio)?,
                outbox: None,
                last_seq: 0,
            });
        };
        let journal = Journal::open(&dir, journal_config(settings)?)
            .with_context(|| format!("opening the journal {}", dir.display()))?;
        let recovery = journal.recovery();
        if recovery.cut_bytes > 0 {
            log::warn!(
                "journal {}: cut {} bytes at the end ({}); continuing after record {}",
                dir.display(),
                recovery.cut_bytes,
                recovery.reason.as_deref().unwrap_or("torn write"),
                journal.last_seq()
            );
        }
        let last_seq = journal.last_seq();
        let mut sink = JournalSink::new(journal);
        let outbox = match mqtt {
            Some(config) => {
                let outbox = Outbox::start(config, &dir, sink.durable(), labels)?;
                let waker = outbox.waker();
                sink = sink.on_durable(move || waker.wake());
                Some(outbox)
            }
            None => None,
        };
        Ok(Self {
            journal: Some(Spawned::spawn("journal", sink, QUEUE)?),
            indicator: indicator(settings.gpio)?,
            outbox,
            last_seq,
        })
    }

    /// The sinks to hand events to, besides the printer.
    pub fn sinks(&mut self) -> impl Iterator<Item = &mut Spawned> {
        self.journal.iter_mut().chain(self.indicator.iter_mut())
    }

    /// Syncs the journal, releases the pin, and lets the outbox deliver what it
    /// can (up to its drain time) before it disconnects.
    pub fn close(mut self) {
        for sink in self.sinks() {
            if let Err(e) = sink.flush() {
                log::error!("closing an output: {e}");
            }
        }
        let (journal, indicator) = (self.journal.take(), self.indicator.take());
        for (name, sink) in [("journal", journal), ("gpio", indicator)] {
            if let Some(sink) = sink {
                if sink.failures() + sink.full() > 0 {
                    log::warn!(
                        "{name}: {} events failed, {} not queued (queue full)",
                        sink.failures(),
                        sink.full()
                    );
                }
            }
        }
        if let Some(outbox) = self.outbox.take() {
            let stats = outbox.stop();
            log::info!(
                "mqtt: {} records published, delivered through {}, {} connects, {} skipped",
                stats.published,
                stats.delivered_seq,
                stats.connects,
                stats.skipped
            );
        }
    }
}

fn journal_config(settings: &OutputSettings<'_>) -> Result<JournalConfig> {
    let t = settings.journal;
    let mut config = JournalConfig::default();
    if let Some(policy) = settings.durability_flag.or(t.durability.as_deref()) {
        config.durability = policy
            .parse::<Durability>()
            .with_context(|| format!("journal durability `{policy}`"))?;
    }
    let mib = |key: &str, v: Option<u64>| -> Result<Option<u64>> {
        match v {
            Some(0) => bail!("journal.{key} must be at least 1"),
            Some(n) => Ok(Some(n.saturating_mul(1 << 20))),
            None => Ok(None),
        }
    };
    if let Some(b) = mib("segment_mib", t.segment_mib)? {
        config.segment_bytes = b;
    }
    if let Some(b) = mib("retain_mib", t.retain_mib)? {
        config.retain_bytes = b;
    }
    if let Some(days) = t.retain_days {
        config.retain_age = Some(
            Duration::try_from_secs_f64(days * 86_400.0)
                .map_err(|_| anyhow::anyhow!("journal.retain_days {days} is not a duration"))?,
        );
    }
    Ok(config)
}

fn mqtt_config(settings: &OutputSettings<'_>) -> Result<Option<MqttConfig>> {
    let mut table = match (settings.mqtt, settings.mqtt_flag) {
        (None, None) => return Ok(None),
        (t, _) => t.cloned().unwrap_or_default(),
    };
    if let Some(flag) = settings.mqtt_flag {
        let (host, port) =
            match flag.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    Some(p.parse::<u16>().map_err(|_| {
                        anyhow::anyhow!("--mqtt {flag}: `{p}` is not a port number")
                    })?),
                ),
                None => (flag, None),
            };
        table.host = Some(host.to_owned());
        if port.is_some() {
            table.port = port;
        }
    }
    Ok(Some(MqttConfig::from_table(&table, settings.base)?))
}

fn indicator(table: Option<&GpioTable>) -> Result<Option<Spawned>> {
    let Some(table) = table else {
        return Ok(None);
    };
    gpio::open(table).map(Some)
}

#[cfg(all(target_os = "linux", feature = "gpio"))]
mod gpio {
    use anyhow::{bail, Context as _, Result};
    use edgeclip_events::indicator::{Indicator, IndicatorConfig, Watched};
    use edgeclip_events::Spawned;
    use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
    use linux_embedded_hal::CdevPin;

    use super::GpioTable;

    /// Requests the line as an output at its inactive level (no glitch at start)
    /// and runs the indicator on its own thread; the line is released when the
    /// indicator is dropped at the end of the run.
    pub fn open(t: &GpioTable) -> Result<Spawned> {
        let chip_path = t.chip.clone().unwrap_or_else(|| "/dev/gpiochip0".into());
        let Some(line) = t.line else {
            bail!(
                "[gpio] needs `line`, the line offset on {}",
                chip_path.display()
            );
        };
        let watched = match (&t.label, &t.group, &t.labels) {
            (Some(l), None, None) => Watched::Label(l.clone()),
            (None, Some(g), None) => Watched::Group(g.clone()),
            (None, None, Some(ls)) => Watched::AnyOf(ls.clone()),
            (None, None, None) => Watched::Any,
            _ => bail!("[gpio]: give one of label, group or labels"),
        };
        let active_low = t.active_low.unwrap_or(false);
        let what = || format!("GPIO {} line {line}", chip_path.display());
        let mut chip = Chip::new(&chip_path).with_context(what)?;
        let handle = chip
            .get_line(line)
            .and_then(|l| l.request(LineRequestFlags::OUTPUT, u8::from(active_low), "edgeclip"))
            .with_context(what)?;
        let pin = CdevPin::new(handle).with_context(what)?;
        let indicator = Indicator::new(
            pin,
            IndicatorConfig {
                watched,
                active_low,
            },
        )
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", what()))?;
        Ok(Spawned::spawn("gpio", indicator, super::QUEUE)?)
    }
}

#[cfg(not(all(target_os = "linux", feature = "gpio")))]
mod gpio {
    use anyhow::{bail, Result};
    use edgeclip_events::Spawned;

    use super::GpioTable;

    pub fn open(_: &GpioTable) -> Result<Spawned> {
        bail!("[gpio] needs a Linux build with the `gpio` feature")
    }
}
