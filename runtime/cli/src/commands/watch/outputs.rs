//! Where `watch` events go besides the printer: the journal, the MQTT outbox that
//! publishes from it, and a GPIO indicator; each off the camera loop.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use edgeclip_events::gpio::GpioTable;
use edgeclip_events::{Sink, Spawned};
use edgeclip_journal::{Journal, JournalTable};
use edgeclip_mqtt::{MqttConfig, MqttTable, Outbox};
use edgeclip_pipeline::JournalSink;

/// Events a sink's queue holds while its thread is busy; beyond it, events are
/// counted and given up (edgeclip_events::spawned).
const QUEUE: usize = 4096;

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
            .or_else(|| settings.journal.dir_in(settings.base));
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
        let config = settings.journal.config(settings.durability_flag)?;
        let journal = Journal::open(&dir, config)
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
    use anyhow::{Context as _, Result};
    use edgeclip_events::gpio::GpioTable;
    use edgeclip_events::indicator::Indicator;
    use edgeclip_events::Spawned;
    use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
    use linux_embedded_hal::CdevPin;

    /// Requests the line as an output at its inactive level (no glitch at start)
    /// and runs the indicator on its own thread; the line is released when the
    /// indicator is dropped at the end of the run.
    pub fn open(table: &GpioTable) -> Result<Spawned> {
        let setup = table.resolve()?;
        let (line, active_low) = (setup.line, setup.config.active_low);
        let what = || format!("GPIO {} line {line}", setup.chip.display());
        let mut chip = Chip::new(&setup.chip).with_context(what)?;
        let handle = chip
            .get_line(line)
            .and_then(|l| l.request(LineRequestFlags::OUTPUT, u8::from(active_low), "edgeclip"))
            .with_context(what)?;
        let pin = CdevPin::new(handle).with_context(what)?;
        let indicator = Indicator::new(pin, setup.config.clone())
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", what()))?;
        Ok(Spawned::spawn("gpio", indicator, super::QUEUE)?)
    }
}

#[cfg(not(all(target_os = "linux", feature = "gpio")))]
mod gpio {
    use anyhow::{bail, Result};
    use edgeclip_events::gpio::GpioTable;
    use edgeclip_events::Spawned;

    /// Checks the table, then refuses: this build drives no GPIO.
    pub fn open(table: &GpioTable) -> Result<Spawned> {
        table.resolve()?;
        bail!("[gpio] needs a Linux build with the `gpio` feature")
    }
}
