//! `watch --camera`: a capture thread that keeps the camera open through faults,
//! handing the newest frame to the loop.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{Context as _, Result};
use edgeclip_capture::{
    mailbox, parse_size, pump, Backoff, CameraConfig, CameraEvent, PixelFormat, Reconnecting,
    Request,
};
use edgeclip_events::Sink;
use edgeclip_pipeline::{Ended, Limits, SourceState, Watch};

use crate::args::{CameraFormatArg, WatchArgs};

/// Captures from `device` on a thread of its own until the loop ends.
pub fn run(
    watch: &mut Watch,
    args: &WatchArgs,
    device: &Path,
    limits: Limits,
    stop: &Arc<AtomicBool>,
    sink: &mut dyn Sink,
) -> Result<Ended> {
    let config = camera_config(args)?;
    let (events_tx, events_rx) = mpsc::channel();
    let (frames_tx, frames_rx) = mailbox();
    // The capture side stops with the loop: its own flag, raised by a signal too.
    let capture_stop = Arc::new(AtomicBool::new(false));
    let mut source = Reconnecting::camera(
        device,
        config,
        Backoff {
            initial: Duration::from_millis(args.reconnect_ms),
            max: Backoff::default()
                .max
                .max(Duration::from_millis(args.reconnect_ms)),
        },
        capture_stop.clone(),
        events_tx,
    );
    watch.set_camera_state("opening");
    let capture = std::thread::Builder::new()
        .name("edgeclip-capture".into())
        .spawn(move || pump(&mut source, &frames_tx))
        .context("starting the capture thread")?;
    let mut states = || events_rx.try_recv().ok().map(source_state);
    let ended = watch.run_mailbox(&frames_rx, &mut states, limits, stop, sink);
    capture_stop.store(true, Ordering::Relaxed);
    drop(frames_rx);
    let captured = capture
        .join()
        .map_err(|_| anyhow::anyhow!("the capture thread panicked"))?;
    let ended = ended?;
    // A capture error that retrying cannot fix ends the loop (the mailbox closes);
    // it is the run's error.
    captured.with_context(|| format!("capturing from {}", device.display()))?;
    Ok(ended)
}

fn camera_config(args: &WatchArgs) -> Result<CameraConfig> {
    camera_request(args.size.as_deref(), args.pixel_format, args.fps)
}

/// The camera settings `--size`, `--pixel-format` and `--fps` ask for (`watch` and
/// `serve`).
pub fn camera_request(
    size: Option<&str>,
    pixel_format: Option<CameraFormatArg>,
    fps: Option<f64>,
) -> Result<CameraConfig> {
    let mut request = Request {
        format: pixel_format.map(|f| match f {
            CameraFormatArg::Yuyv => PixelFormat::Yuyv,
            CameraFormatArg::Nv12 => PixelFormat::Nv12,
            CameraFormatArg::Rgb24 => PixelFormat::Rgb24,
            CameraFormatArg::Mjpeg => PixelFormat::Mjpeg,
            CameraFormatArg::Yu12 => PixelFormat::Yu12,
            CameraFormatArg::Yv12 => PixelFormat::Yv12,
            CameraFormatArg::Nv21 => PixelFormat::Nv21,
            CameraFormatArg::Uyvy => PixelFormat::Uyvy,
            CameraFormatArg::Bgr24 => PixelFormat::Bgr24,
            CameraFormatArg::Grey => PixelFormat::Grey,
        }),
        fps,
        ..Request::default()
    };
    if let Some(size) = size {
        (request.width, request.height) = parse_size(size)?;
    }
    Ok(CameraConfig {
        request,
        ..CameraConfig::default()
    })
}

/// The `camera` event of a capture-side state change.
fn source_state(event: CameraEvent) -> SourceState {
    let (device, state, detail) = match event {
        CameraEvent::Opened { device, detail } => (device, "opened", detail),
        CameraEvent::Waiting { device, error } => (device, "waiting", error),
        CameraEvent::Lost { device, error } => (device, "lost", error),
        CameraEvent::Retrying {
            device,
            attempt,
            wait,
            error,
        } => (
            device,
            "retrying",
            format!("attempt {attempt} in {} ms: {error}", wait.as_millis()),
        ),
        CameraEvent::Back {
            device,
            after,
            detail,
        } => (
            device,
            "back",
            format!("after {} ms: {detail}", after.as_millis()),
        ),
        CameraEvent::GaveUp { device, error } => (device, "gave_up", error),
        CameraEvent::Stopped { device } => (device, "stopped", String::new()),
    };
    SourceState {
        device,
        state: state.to_owned(),
        detail,
    }
}
