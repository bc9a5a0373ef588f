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
use edgeclip_pipeline::{
    Fanout, Limits, Mode, SettingsFile, TrackTable, Watch, WatchConfig, WatchError, WatchTable,
};

use super::label_source;
use crate::args::{ModeArg, PixArg, WatchArgs};
use crate::context::{Ctx, Outcome};
use crate::output::{is_closed_pipe_io, Record};

pub(crate) mod camera;
mod outputs;

use outputs::{OutputSettings, Outputs};

/// Runs `watch` until the source ends, a limit, SIGINT/SIGTERM or a closed output.
pub fn run(ctx: &mut Ctx, args: WatchArgs) -> Result<Outcome> {
    if args.camera.is_none() && (args.size.is_some() || args.pixel_format.is_some()) {
        // Checked here: clap's `requires` does not see through the source group.
        bail!("--size and --pixel-format are what to ask a camera for: they need --camera");
    }
    let file = match &args.config {
        Some(path) => read_config(path)?,
        None => SettingsFile::default(),
    };
    let config = resolve_config(&args, &file)?;
    let limits = Limits {
        frames: args.frames,
        duration: args.duration.map(seconds).transpose()?,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing signal handlers")?;
    }
    let package = ctx.package()?;
    let mut labels = label_source::open(ctx, &args.labels, &package)?;
    if config.mode == Mode::Tags {
        labels = labels.with_bias(config.bias);
    }
    let encoder = ImageEncoder::open(&package, ctx.engine()?, ctx.precision)?;
    let preprocess = package.manifest().preprocess.clone();
    let base = args
        .config
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let settings = OutputSettings {
        journal: &file.journal,
        mqtt: file.mqtt.as_ref(),
        gpio: file.gpio.as_ref(),
        base: &base,
        journal_flag: args.journal.as_deref(),
        durability_flag: args.durability.as_deref(),
        mqtt_flag: args.mqtt.as_deref(),
    };
    let names = (0..labels.len())
        .map(|i| labels.label(i).to_owned())
        .collect();
    let mut outputs = Outputs::open(&settings, names)?;
    let mut watch = Watch::new(encoder, preprocess, labels, config)?;
    watch.accept_truncated_jpegs(args.accept_truncated_jpegs);
    watch.continue_after(outputs.last_seq);
    let ended = run_source(ctx, &mut watch, &args, limits, &stop, &mut outputs);
    outputs.close();
    let ended = ended?;
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

/// Runs the loop over the chosen source, events to the printer and `outputs`.
fn run_source(
    ctx: &mut Ctx,
    watch: &mut Watch,
    args: &WatchArgs,
    limits: Limits,
    stop: &Arc<AtomicBool>,
    outputs: &mut Outputs,
) -> Result<edgeclip_pipeline::Ended> {
    let mut sink = Fanout::new();
    sink.push(PrinterSink { ctx, closed: false });
    for output in outputs.sinks() {
        sink.push(output);
    }
    let watch = &mut *watch;
    let ended = if let Some(device) = &args.camera {
        camera::run(watch, args, device, limits, stop, &mut sink)?
    } else if let Some(spec) = &args.files {
        let mut files = ImageFiles::open(spec)?
            .looped(args.looped)
            .accept_truncated_jpegs(args.accept_truncated_jpegs);
        watch.set_camera_state("file");
        watch.run_inline(&mut files, args.fps, limits, stop, &mut sink)?
    } else if let (Some(size), Some(pix)) = (&args.raw, args.pix) {
        let (width, height) = parse_size(size)?;
        let mut raw = RawFrames::new(std::io::stdin().lock(), width, height, pixel_format(pix))?;
        watch.set_camera_state("stdin");
        watch.run_inline(&mut raw, args.fps, limits, stop, &mut sink)?
    } else {
        bail!("give --camera, --files or --raw");
    };
    Ok(ended)
}

/// Defaults, then the file, then the flags.
fn resolve_config(args: &WatchArgs, file: &SettingsFile) -> Result<WatchConfig> {
    let mut config = WatchConfig::default();
    config.apply(&file.watch, &file.track);
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
    config.validate().map_err(WatchError::Config)?;
    Ok(config)
}

/// The largest settings file read: a full one is about 2 KiB.
const CONFIG_LIMIT: edgeclip_io::Limit = edgeclip_io::Limit::new("a settings file", 1 << 20);

fn read_config(path: &Path) -> Result<SettingsFile> {
    let text = edgeclip_io::read_text_limited(path, CONFIG_LIMIT)
        .map_err(|e| edgeclip::Error::io(path, e))?;
    // A settings file that does not parse is the settings' fault (`config`), as a
    // value that breaks a rule is, whichever table it is in.
    SettingsFile::parse(&text)
        .map_err(|message| WatchError::Config(format!("{}: {message}", path.display())).into())
}

fn seconds(s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("{s} is not a duration in seconds"))
}

/// The pixel layout `--pix` names.
pub(crate) fn pixel_format(pix: PixArg) -> PixelFormat {
    match pix {
        PixArg::Yuyv => PixelFormat::Yuyv,
        PixArg::Nv12 => PixelFormat::Nv12,
        PixArg::Rgb24 => PixelFormat::Rgb24,
        PixArg::I420 => PixelFormat::Yu12,
        PixArg::Yv12 => PixelFormat::Yv12,
        PixArg::Nv21 => PixelFormat::Nv21,
        PixArg::Uyvy => PixelFormat::Uyvy,
        PixArg::Bgr24 => PixelFormat::Bgr24,
        PixArg::Grey => PixelFormat::Grey,
        PixArg::RpicamI420 => PixelFormat::RpicamI420,
        PixArg::RpicamI420Pi5 => PixelFormat::RpicamI420Pi5,
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
