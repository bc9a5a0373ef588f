//! The newest captured frame, shared with queries: a capture thread converts each
//! frame to RGB and swaps it into a one-frame slot, so a query for "latest" reads
//! the newest frame without ever waiting on the camera, and the camera never waits
//! on a query.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edgeclip_capture::{CameraEvent, Converter, FrameSource, Recovery};
use image::RgbImage;

/// What kind of source feeds the server (reported by `/v1/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A V4L2 camera.
    Camera,
    /// Image files.
    Files,
    /// Raw frames on standard input.
    Stdin,
    /// No source: posted images only.
    None,
}

impl SourceKind {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Camera => "camera",
            SourceKind::Files => "files",
            SourceKind::Stdin => "stdin",
            SourceKind::None => "none",
        }
    }
}

/// One converted frame.
#[derive(Debug)]
pub struct Frame {
    /// Counts frames from 1 in capture order.
    pub seq: u64,
    /// The frame as RGB8.
    pub image: RgbImage,
    /// When it was converted.
    pub captured: Instant,
}

impl Frame {
    /// Milliseconds since the frame was captured.
    pub fn age_ms(&self) -> f64 {
        self.captured.elapsed().as_secs_f64() * 1e3
    }
}

/// The slot the capture thread writes and queries read.
#[derive(Debug)]
pub struct FrameSlot {
    kind: SourceKind,
    latest: Mutex<Option<Arc<Frame>>>,
    state: Mutex<String>,
    frames: AtomicU64,
    bad: AtomicU64,
}

impl FrameSlot {
    /// An empty slot for a source of `kind`.
    pub fn new(kind: SourceKind) -> Self {
        let state = if kind == SourceKind::None {
            "none"
        } else {
            "starting"
        };
        Self {
            kind,
            latest: Mutex::new(None),
            state: Mutex::new(state.into()),
            frames: AtomicU64::new(0),
            bad: AtomicU64::new(0),
        }
    }

    /// The source's kind.
    pub fn kind(&self) -> SourceKind {
        self.kind
    }

    /// The newest frame, if any arrived.
    pub fn latest(&self) -> Option<Arc<Frame>> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Frames converted so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Frames the source or the converter rejected.
    pub fn bad_frames(&self) -> u64 {
        self.bad.load(Ordering::Relaxed)
    }

    /// The source's state in words (`streaming`, `ended`, `lost: ...`).
    pub fn state(&self) -> String {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_state(&self, state: impl Into<String>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state.into();
    }

    /// Puts `image` in the slot as the newest frame and returns the previous one's
    /// buffer when no query holds it any more, for reuse.
    pub fn publish(&self, image: RgbImage) -> Option<RgbImage> {
        let seq = self.frames.fetch_add(1, Ordering::Relaxed) + 1;
        let frame = Arc::new(Frame {
            seq,
            image,
            captured: Instant::now(),
        });
        let old = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(frame);
        old.and_then(Arc::into_inner).map(|f| f.image)
    }
}

/// Runs `source` on a thread of its own, publishing every frame into `slot` until
/// the source ends, fails for good, or `stop` is raised. Camera events (from a
/// [`edgeclip_capture::Reconnecting`] source) update the slot's state.
pub fn spawn_feed(
    mut source: Box<dyn FrameSource + Send>,
    slot: Arc<FrameSlot>,
    stop: Arc<AtomicBool>,
    events: Option<Receiver<CameraEvent>>,
    pace: Option<Duration>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("edgeclip-serve-capture".into())
        .spawn(move || {
            let converter = Converter::default();
            let mut rgb = Vec::new();
            let mut spare: Option<RgbImage> = None;
            slot.set_state("streaming");
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let next = source.next_frame();
                if let Some(events) = &events {
                    while let Ok(event) = events.try_recv() {
                        slot.set_state(camera_state(&event));
                    }
                }
                let frame = match next {
                    Ok(Some(frame)) => frame,
                    Ok(None) => {
                        slot.set_state("ended");
                        log::info!("frame source ended");
                        return;
                    }
                    Err(e) if e.recovery() == Recovery::Skip || e.recovery() == Recovery::Retry => {
                        slot.bad.fetch_add(1, Ordering::Relaxed);
                        log::warn!("frame skipped: {e}");
                        continue;
                    }
                    Err(e) => {
                        slot.set_state(format!("failed: {e}"));
                        log::error!("frame source failed: {e}");
                        return;
                    }
                };
                match converter.to_rgb8(&frame, &mut rgb) {
                    Ok((w, h)) => {
                        let mut image = spare.take().map(RgbImage::into_raw).unwrap_or_default();
                        image.clear();
                        image.extend_from_slice(&rgb);
                        match RgbImage::from_raw(w, h, image) {
                            Some(image) => spare = slot.publish(image),
                            None => slot.set_state("failed: frame size disagrees with its bytes"),
                        }
                    }
                    Err(e) => {
                        slot.bad.fetch_add(1, Ordering::Relaxed);
                        log::warn!("frame skipped: {e}");
                    }
                }
                if let Some(pace) = pace {
                    if let Some(rest) = pace.checked_sub(started.elapsed()) {
                        std::thread::sleep(rest);
                    }
                }
            }
            slot.set_state("stopped");
        })
}

fn camera_state(event: &CameraEvent) -> String {
    match event {
        CameraEvent::Opened { detail, .. } | CameraEvent::Back { detail, .. } => {
            format!("streaming ({detail})")
        }
        CameraEvent::Waiting { error, .. } => format!("waiting: {error}"),
        CameraEvent::Lost { error, .. } => format!("lost: {error}"),
        CameraEvent::Retrying { attempt, error, .. } => {
            format!("reconnecting (attempt {attempt}): {error}")
        }
        CameraEvent::GaveUp { error, .. } => format!("failed: {error}"),
        CameraEvent::Stopped { .. } => "stopped".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_frame_wins_and_free_buffers_come_back() {
        let slot = FrameSlot::new(SourceKind::Files);
        assert!(slot.latest().is_none());
        assert!(slot.publish(RgbImage::new(2, 2)).is_none());
        let held = slot.latest().unwrap();
        // A query holds frame 1: its buffer cannot be reused.
        assert!(slot.publish(RgbImage::new(3, 3)).is_none());
        assert_eq!(held.seq, 1);
        drop(held);
        // Nobody holds frame 2: its buffer comes back.
        let back = slot.publish(RgbImage::new(4, 4)).unwrap();
        assert_eq!(back.dimensions(), (3, 3));
        assert_eq!(slot.latest().unwrap().seq, 3);
        assert_eq!(slot.frames(), 3);
    }
}
