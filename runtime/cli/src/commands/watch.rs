//! `edgeclip watch`: the device's main loop over a camera, image files or raw
//! frames on stdin, printing `appeared` / `left` / `status` / `camera` events.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use edgeclip::encoder::ImageEncoder;
use edgeclip_capture::{parse_size, ImageFiles, PixelFormat, RawFrames};
use edgeclip_events::{Event, Sink, SinkError};
use edgeclip_pipeline::{Limits, Mode, TrackTable, Watch, WatchConfig, WatchTable};

use super::label_set;
use crate::args::{ModeArg, PixArg, WatchArgs};
use crate::context::{Ctx, Outcome};
use crate::output::{is_closed_pipe_io, Record};

mod camera;

/// A settings file: `[watch]` and `[track]`, every key optional.
#[derive(Debug, Default)]
struct ConfigFile {
    watch: WatchTable,
    track: TrackTable,
}

/// Runs `watch` until the source ends, a limit, SIGINT/SIGTERM or a closed output.
pub fn run(ctx: &mut Ctx, args: WatchArgs) -> Result<Outcome> {
    if args.camera.is_none() && (args.size.is_some() || args.pixel_format.is_some()) {
        // Checked here: clap's `requires` does not see through the source group.
        bail!("--size and --pixel-format are what to ask a camera for: they need --camera");
    }
    let config = resolve_config(&args)?;
    let limits = Limits {
        frames: args.frames,
        duration: args.duration.map(seconds).transpose()?,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    let package = ctx.package()?;
    let mut labels = label_set::open(ctx, &args.labels, &package)?;
    if config.mode == Mode::Tags {
        labels = labels.with_bias(config.bias);
    }
    let encoder = ImageEncoder::open(&package, ctx.engine()?, ctx.precision)?;
    let preprocess = package.manifest().preprocess.clone();
    let mut watch = Watch::new(encoder, preprocess, labels, config)?;
    let mut sink = PrinterSink { ctx, closed: false };
    let ended = if let Some(device) = &args.camera {
        camera::run(&mut watch, &args, device, limits, &stop, &mut sink)?
    } else if let Some(spec) = &args.files {
        let mut files = ImageFiles::open(spec)?.looped(args.looped);
        watch.set_camera_state("file");
        watch.run_inline(&mut files, args.fps, limits, &stop, &mut sink)?
    } else if let (Some(size), Some(pix)) = (&args.raw, args.pix) {
        let (width, height) = parse_size(size)?;
        let mut raw = RawFrames::new(std::io::stdin().lock(), width, height, pixel_format(pix))?;
        watch.set_camera_state("stdin");
        watch.run_inline(&mut raw, args.fps, limits, &stop, &mut sink)?
    } else {
        bail!("give --camera, --files or --raw");
    };
    let totals = watch.totals();
    log::info!(
        "watch ended ({ended:?}): {} frames, {} dropped, {} bad, {} events ({} not delivered)",
        totals.frames,
        totals.dropped,
        totals.bad,
        totals.events,
        totals.sink_errors
    );
    Ok(Outcome::Success)
}

/// Defaults, then the file, then the flags.
fn resolve_config(args: &WatchArgs) -> Result<WatchConfig> {
    let mut config = WatchConfig::default();
    if let Some(path) = &args.config {
        let file = read_config(path)?;
        config.apply(&file.watch, &file.track);
    }
    let watch = WatchTable {
        mode: args.mode.map(|m| match m {
            ModeArg::TopK => Mode::TopK,
            ModeArg::Tags => Mode::Tags,
        }),
        top_k: args.top_k,
        bias: args.bias,
        status_every_s: args.status_every,
    };
    let track = TrackTable {
        alpha: args.alpha,
        enter: args.enter,
        exit: args.exit,
        dwell_ms: args.dwell_ms,
        hold_ms: args.hold_ms,
    };
    config.apply(&watch, &track);
    if let Some(fps) = args.fps {
        if !(fps.is_finite() && fps > 0.0) {
            bail!("--fps {fps} must be a positive number");
        }
    }
    config
        .validate()
        .map_err(|e| anyhow::anyhow!("watch settings: {e}"))?;
    Ok(config)
}

fn read_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path).map_err(|e| edgeclip::Error::io(path, e))?;
    let bad = |message: String| -> anyhow::Error {
        edgeclip::Error::InvalidInput(format!("{}: {message}", path.display())).into()
    };
    let doc: toml::Table = toml::from_str(&text).map_err(|e| bad(e.message().to_owned()))?;
    if let Some(name) = doc
        .keys()
        .find(|k| !["watch", "track"].contains(&k.as_str()))
    {
        return Err(bad(format!("unknown table or key `{name}` (watch, track)")));
    }
    Ok(ConfigFile {
        watch: table(&doc, "watch").map_err(bad)?,
        track: table(&doc, "track").map_err(bad)?,
    })
}

/// Table `name` of `doc`; each key is read alone first so that an error names it
/// (serde's messages for a wrong type do not).
fn table<T: serde::de::DeserializeOwned + Default>(
    doc: &toml::Table,
    name: &str,
) -> std::result::Result<T, String> {
    let Some(value) = doc.get(name) else {
        return Ok(T::default());
    };
    let table = value
        .as_table()
        .ok_or_else(|| format!("`{name}` must be a table"))?;
    for (key, v) in table {
        let one = toml::Table::from_iter([(key.clone(), v.clone())]);
        T::deserialize(one).map_err(|e| format!("{name}.{key}: {}", e.message()))?;
    }
    T::deserialize(table.clone()).map_err(|e| format!("[{name}]: {}", e.message()))
}

fn seconds(s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("{s} is not a duration in seconds"))
}

fn pixel_format(pix: PixArg) -> PixelFormat {
    match pix {
        PixArg::Yuyv => PixelFormat::Yuyv,
        PixArg::Nv12 => PixelFormat::Nv12,
        PixArg::Rgb24 => PixelFormat::Rgb24,
    }
}

/// Events to the run's printer; a closed stdout ends the loop.
struct PrinterSink<'a> {
    ctx: &'a mut Ctx,
    closed: bool,
}

impl Sink for PrinterSink<'_> {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        if self.closed {
            return Err(SinkError::Closed);
        }
        match self.ctx.out.print(&Record::Event(event)) {
            Ok(()) => Ok(()),
            Err(e) if is_closed_pipe_io(&e) => {
                self.closed = true;
                Err(SinkError::Closed)
            }
            Err(e) => Err(SinkError::Io(e)),
        }
    }
}
