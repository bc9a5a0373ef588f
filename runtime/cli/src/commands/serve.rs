//! `edgeclip serve`: the query API over a frame source or posted images only.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _, Result};
use edgeclip_capture::{
    parse_size, Backoff, Converter, FrameSource, ImageFiles, RawFrames, Reconnecting,
};
use edgeclip_io::Limit;
use edgeclip_serve::listener::ConnectionLimits;
use edgeclip_serve::tls::TlsFiles;
use edgeclip_serve::{spawn_feed, AppState, FrameSlot, ServeConfig, ServeError, SourceKind};

use super::watch::camera::camera_request;
use super::watch::pixel_format;
use crate::args::ServeArgs;
use crate::context::{Ctx, Outcome};
use crate::output::Record;

/// Runs the server until SIGINT/SIGTERM.
pub fn run(ctx: &mut Ctx, args: ServeArgs) -> Result<Outcome> {
    // Before the encoder, decoder and runtime threads start allocating.
    edgeclip_serve::memory::limit_arenas();
    let config = config(&args, ctx.memory_budget())?;
    config.validate().map_err(ServeError::Config)?;
    let package = ctx.package()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (slot, feed) = start_source(&args, &stop)?;
    let state = AppState::new(
        package,
        ctx.engine()?,
        ctx.precision,
        slot,
        args.store.as_deref(),
        &config,
    )?;
    // Two workers answer HTTP; the encoders have threads of their own. Decoding
    // uploads runs on the blocking pool, kept small: each thread there can take a
    // malloc arena of its own, and 32 of them grew RSS by ~70 MiB under load.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let source = state.frames().kind().as_str();
    let token = config.token.is_some();
    let mut printed = Ok(());
    let served = runtime.block_on(async {
        let shutdown = edgeclip_serve::shutdown_signal().context("installing signal handlers")?;
        edgeclip_serve::run(Arc::new(state), &config, shutdown, |addr| {
            printed = ctx.out.print(&Record::Serving {
                address: addr.to_string(),
                token,
                source,
            });
        })
        .await
        .map_err(anyhow::Error::from)
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(feed) = feed {
        // A camera or file feed ends within one frame or its source's timeout; a read
        // from stdin may block until the writer sends more, so that one is left to
        // end with the process.
        if source != SourceKind::Stdin.as_str() {
            let _ = feed.join();
        }
    }
    served?;
    printed?;
    log::info!("server stopped");
    Ok(Outcome::Success)
}

/// The server's settings from the flags; the posted-image pixel limit from the
/// board's memory budget (in bytes) unless a flag sets it.
fn config(args: &ServeArgs, memory_budget: Option<u64>) -> Result<ServeConfig> {
    let token = match &args.token_file {
        Some(path) => Some(read_token(path)?),
        None => std::env::var("EDGECLIP_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    let positive =
        |n: u32, flag: &str| NonZeroU32::new(n).ok_or_else(|| anyhow!("{flag} must be at least 1"));
    let mut config = ServeConfig {
        bind: args.bind,
        token,
        body_limit: args.max_body,
        rate_per_second: positive(args.rate, "--rate")?,
        burst: positive(args.burst, "--burst")?,
        request_timeout: Duration::from_secs_f64(args.timeout),
        text_cache: args.text_cache,
        where_background: args.where_background.clone(),
        connections: ConnectionLimits {
            max_connections: args.max_connections as usize,
            max_per_client: args.max_connections_per_client as usize,
            head_timeout: Duration::from_secs_f64(args.head_timeout),
        },
        // A slow --fps is not a stale source: three periods at least.
        stale_after: Duration::from_secs_f64(
            args.stale_after
                .max(3.0 / args.fps.unwrap_or(f64::INFINITY)),
        ),
        tls: args
            .tls_cert
            .clone()
            .zip(args.tls_key.clone())
            .map(|(cert, key)| TlsFiles { cert, key }),
        ..ServeConfig::default()
    };
    config.max_image_pixels = match (args.max_image_pixels, memory_budget) {
        (Some(pixels), _) => pixels,
        (None, Some(bytes)) => config.image_pixels_for_budget(bytes),
        (None, None) => config.max_image_pixels,
    };
    Ok(config)
}

/// A token file holds one line; anything much larger is not one.
const TOKEN_LIMIT: Limit = Limit::new("a token file", 4096);

fn read_token(path: &Path) -> Result<String> {
    let text = edgeclip_io::read_text_limited(path, TOKEN_LIMIT)
        .map_err(|e| edgeclip::Error::io(path, e))?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        bail!("{}: the token file is empty", path.display());
    }
    Ok(token)
}

type Feed = Option<std::thread::JoinHandle<()>>;

/// The pace of looping files when `--fps` does not set one: a camera's rate.
/// The server only ever serves the newest frame, so decoding faster than a
/// camera would deliver spends a core on frames nobody reads.
const LOOPED_FILES_FPS: f64 = 30.0;

/// Opens the frame source the flags name (if any) on its capture thread.
fn start_source(args: &ServeArgs, stop: &Arc<AtomicBool>) -> Result<(Arc<FrameSlot>, Feed)> {
    // `--fps` is in range (`numbers::fps`): its period is a valid duration.
    let pace = args.fps.map(|fps| Duration::from_secs_f64(1.0 / fps));
    let (kind, source, events, pace): (_, Box<dyn FrameSource + Send>, _, _) =
        if let Some(device) = &args.camera {
            let config = camera_request(args.size.as_deref(), args.pixel_format, args.fps)?;
            let (tx, rx) = mpsc::channel();
            let camera = Reconnecting::camera(device, config, Backoff::default(), stop.clone(), tx);
            // The camera sets its own pace.
            (SourceKind::Camera, Box::new(camera), Some(rx), None)
        } else if let Some(spec) = &args.files {
            let files = ImageFiles::open(spec)?
                .looped(args.looped)
                .accept_truncated_jpegs(args.accept_truncated_jpegs);
            let looped_pace = Duration::from_secs_f64(1.0 / LOOPED_FILES_FPS);
            let pace = pace.or(args.looped.then_some(looped_pace));
            (SourceKind::Files, Box::new(files), None, pace)
        } else if let (Some(size), Some(pix)) = (&args.raw, args.pix) {
            let (width, height) = parse_size(size)?;
            let raw = RawFrames::new(std::io::stdin(), width, height, pixel_format(pix))?;
            (SourceKind::Stdin, Box::new(raw), None, pace)
        } else {
            return Ok((Arc::new(FrameSlot::new(SourceKind::None)), None));
        };
    let slot = Arc::new(FrameSlot::new(kind));
    let converter = Converter::default().accept_truncated_jpegs(args.accept_truncated_jpegs);
    let feed = spawn_feed(source, converter, slot.clone(), stop.clone(), events, pace)
        .context("starting the capture thread")?;
    Ok((slot, Some(feed)))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use proptest::prelude::*;

    use super::*;
    use crate::args::{Cli, Command};

    /// Numbers as a user might type them, hostile ones included.
    fn typed_number() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|v| v.to_string()),
            any::<f64>().prop_map(|v| format!("{v:e}")),
            any::<u64>().prop_map(|v| v.to_string()),
            (-40i32..40).prop_map(|e| format!("1e{e}")),
            Just("nan".to_owned()),
            Just("-inf".to_owned()),
            Just("0".to_owned()),
            Just("-0".to_owned()),
            Just("18446744073709551616".to_owned()),
        ]
    }

    proptest! {
        /// Whatever numbers the flags get, `serve` either refuses them at parsing
        /// (naming the flag) or builds settings from them: no panic converting them
        /// into durations, rates or caps.
        #[test]
        fn any_number_on_any_flag_is_refused_or_usable(
            flag in prop::sample::select(vec![
                "--timeout", "--head-timeout", "--stale-after", "--fps", "--rate",
                "--burst", "--max-body", "--text-cache", "--max-connections",
                "--max-connections-per-client", "--max-image-pixels",
            ]),
            value in typed_number(),
        ) {
            // `--flag=value`: a negative value is then a value, not a flag.
            let pair = format!("{flag}={value}");
            let argv = ["edgeclip", "serve", "--files", "x.png", pair.as_str()];
            match Cli::try_parse_from(argv) {
                Err(e) => prop_assert!(e.to_string().contains(flag), "{e}"),
                Ok(cli) => {
                    let Command::Serve(args) = cli.command else { unreachable!() };
                    if let Ok(config) = config(&args, None) {
                        let _ = config.validate();
                    }
                    let _pace = args.fps.map(|fps| Duration::from_secs_f64(1.0 / fps));
                }
            }
        }
    }
}
