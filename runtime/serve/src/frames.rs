//! The newest captured frame, shared with queries: a capture thread converts each
//! frame to RGB and swaps it into a one-frame slot, so a query for "latest" reads
//! the newest frame without ever waiting on the camera, and the camera never waits
//! on a query.
//!
//! The capture thread runs the capture crate's loop ([`Pump`]), the one every
//! consumer of a frame source runs, with its error policy; this module is only
//! where its frames go (the slot) and how its state reads in `/v1/health`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use edgeclip_capture::{
    wait_unless_stopped, Backoff, CameraEvent, Converter, Delivery, FrameRef, FrameSink,
    FrameSource, Pump, PumpCounters, PumpEnd, Recovery,
};
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
    /// The capture loop's counters (all zero while no loop feeds the slot).
    capture: Arc<PumpCounters>,
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
            capture: Arc::default(),
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
        self.capture.stats().bad
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
/// the source ends, fails for good, or `stop` is raised; with `pace`, pulls start at
/// least that far apart. Camera events (from a [`edgeclip_capture::Reconnecting`]
/// source) update the slot's state.
///
/// The loop and its error policy are [`Pump`]'s: a broken frame (or one the
/// converter refuses) is counted in [`FrameSlot::bad_frames`] and skipped, a timeout
/// is waited out again, and an error only reopening could answer ends the feed with
/// the state `failed: …` (a camera is opened through `Reconnecting`, which reopens it
/// itself). `converter` turns camera frames to RGB (its limits, and whether
/// truncated MJPEG frames are accepted).
pub fn spawn_feed(
    mut source: Box<dyn FrameSource + Send>,
    converter: Converter,
    slot: Arc<FrameSlot>,
    stop: Arc<AtomicBool>,
    events: Option<Receiver<CameraEvent>>,
    pace: Option<Duration>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("edgeclip-serve-capture".into())
        .spawn(move || {
            let pump = Pump::new()
                .with_stop(stop.clone())
                .with_pace(pace)
                .with_counters(slot.capture.clone());
            let mut sink = SlotSink {
                slot: &slot,
                events,
                converter,
                rgb: Vec::new(),
                spare: None,
            };
            slot.set_state("streaming");
            feed(&pump, &mut *source, &mut sink, &stop);
        })
}

/// Runs `pump` until the source ends, fails for good or `stop` is raised, keeping
/// the slot's state in words. A camera reopens itself (`Reconnecting`); files and
/// stdin are read again after a back-off, as a camera would be reopened, so a
/// passing fault (out of descriptors, EIO) does not end the feed for good.
fn feed(pump: &Pump, source: &mut dyn FrameSource, sink: &mut SlotSink<'_>, stop: &AtomicBool) {
    let slot = sink.slot;
    let backoff = Backoff::default();
    let mut attempt = 0u32;
    let mut frames_at_fault = slot.frames();
    loop {
        match pump.run(source, sink) {
            Ok(PumpEnd::SourceEnded) => {
                slot.set_state("ended");
                log::info!("frame source ended");
            }
            // The slot never closes, so only the stop flag ends the loop early.
            Ok(PumpEnd::Stopped | PumpEnd::ReceiverGone) => slot.set_state("stopped"),
            Err(e) if e.recovery() == Recovery::Reopen => {
                // Frames came since the last fault: this is a new one, waited
                // for from the shortest back-off again.
                if slot.frames() > frames_at_fault {
                    attempt = 0;
                }
                frames_at_fault = slot.frames();
                attempt = attempt.saturating_add(1);
                let wait = backoff.delay(attempt);
                slot.set_state(format!("lost: {e} (retry {attempt} in {wait:?})"));
                log::warn!("frame source: {e}; retrying in {wait:?}");
                if wait_unless_stopped(wait, stop) {
                    slot.set_state("stopped");
                    return;
                }
                slot.set_state("streaming");
                continue;
            }
            Err(e) => {
                slot.set_state(format!("failed: {e}"));
                log::error!("frame source failed: {e}");
            }
        }
        return;
    }
}

/// The capture loop's end in the server: frames converted to RGB into the slot.
struct SlotSink<'a> {
    slot: &'a FrameSlot,
    events: Option<Receiver<CameraEvent>>,
    converter: Converter,
    /// The converter's output, reused.
    rgb: Vec<u8>,
    /// A frame buffer no query holds any more, for the next frame.
    spare: Option<RgbImage>,
}

impl FrameSink for SlotSink<'_> {
    fn deliver(&mut self, frame: &FrameRef<'_>) -> Delivery {
        let (w, h) = match self.converter.to_rgb8(frame, &mut self.rgb) {
            Ok(size) => size,
            Err(e) => {
                log::warn!("frame skipped: {e}");
                return Delivery::Bad;
            }
        };
        let mut image = self
            .spare
            .take()
            .map(RgbImage::into_raw)
            .unwrap_or_default();
        image.clear();
        image.extend_from_slice(&self.rgb);
        match RgbImage::from_raw(w, h, image) {
            Some(image) => {
                self.spare = self.slot.publish(image);
                Delivery::Taken
            }
            None => {
                log::warn!("frame skipped: its size disagrees with its bytes");
                Delivery::Bad
            }
        }
    }

    fn pulled(&mut self) {
        if let Some(events) = &self.events {
            while let Ok(event) = events.try_recv() {
                self.slot.set_state(camera_state(&event));
            }
        }
    }
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
    use edgeclip_capture::{CaptureError, ImageFiles, SourceStats};
    use std::sync::mpsc;

    /// `names` as PNG files (`bad` ones hold no image) in a new directory.
    fn files(names: &[&str], bad: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let path = dir.path().join(name);
            if bad.contains(name) {
                std::fs::write(path, b"not a png").unwrap();
            } else {
                RgbImage::new(4, 2).save(path).unwrap();
            }
        }
        dir
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < until, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_file_feed_publishes_counts_bad_files_and_ends() {
        let dir = files(&["a.png", "b.png", "c.png"], &["b.png"]);
        let slot = Arc::new(FrameSlot::new(SourceKind::Files));
        let source = Box::new(ImageFiles::open(dir.path()).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let feed =
            spawn_feed(source, Converter::default(), slot.clone(), stop, None, None).unwrap();
        feed.join().unwrap();
        assert_eq!(slot.state(), "ended");
        assert_eq!((slot.frames(), slot.bad_frames()), (2, 1));
        let latest = slot.latest().unwrap();
        assert_eq!((latest.seq, latest.image.dimensions()), (2, (4, 2)));
    }

    #[test]
    fn a_looping_feed_is_paced_and_stops_on_the_flag() {
        let dir = files(&["a.png"], &[]);
        let slot = Arc::new(FrameSlot::new(SourceKind::Files));
        let source = Box::new(ImageFiles::open(dir.path()).unwrap().looped(true));
        let stop = Arc::new(AtomicBool::new(false));
        let pace = Duration::from_millis(20);
        let feed = spawn_feed(
            source,
            Converter::default(),
            slot.clone(),
            stop.clone(),
            None,
            Some(pace),
        )
        .unwrap();
        wait_for("the first frame", || slot.frames() > 0);
        let (first, started) = (slot.frames(), Instant::now());
        std::thread::sleep(Duration::from_millis(200));
        let played = slot.frames() - first;
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        feed.join().unwrap();
        assert_eq!(slot.state(), "stopped");
        // Unpaced, a 4x2 PNG decodes thousands of times in 200 ms. Paced, pulls
        // start 20 ms apart: one per 20 ms, plus the one under way when counting began.
        let most = elapsed.as_millis() as u64 / 20 + 2;
        assert!(
            played >= 2 && played <= most,
            "{played} frames in {elapsed:?}"
        );
    }

    /// Reports itself opened with its first frame; on the second pull waits for
    /// `go`, then times out; then fails for good.
    struct Camera {
        events: mpsc::Sender<CameraEvent>,
        go: mpsc::Receiver<()>,
        pulls: u32,
        rgb: [u8; 12],
    }

    impl FrameSource for Camera {
        fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
            self.pulls += 1;
            let device = "/dev/video7".to_string();
            match self.pulls {
                1 => {
                    let _ = self.events.send(CameraEvent::Opened {
                        device,
                        detail: "RGB3 2x2".into(),
                    });
                    Ok(Some(FrameRef {
                        width: 2,
                        height: 2,
                        stride: 0,
                        format: edgeclip_capture::PixelFormat::Rgb24,
                        color: Default::default(),
                        bytes: &self.rgb,
                        sequence: 0,
                        timestamp: Duration::ZERO,
                    }))
                }
                2 => {
                    let _ = self.go.recv();
                    Err(CaptureError::Timeout {
                        path: device.into(),
                        after: Duration::from_millis(1),
                    })
                }
                _ => Err(CaptureError::UnsupportedFormat {
                    path: device.into(),
                    reason: "the camera changed its format".into(),
                }),
            }
        }

        fn stats(&self) -> SourceStats {
            SourceStats::default()
        }
    }

    #[test]
    fn camera_events_set_the_state_and_a_fatal_error_ends_the_feed() {
        let (tx, rx) = mpsc::channel();
        let (go_tx, go) = mpsc::channel();
        let source = Box::new(Camera {
            events: tx,
            go,
            pulls: 0,
            rgb: [9; 12],
        });
        let slot = Arc::new(FrameSlot::new(SourceKind::Camera));
        assert_eq!(slot.state(), "starting");
        let stop = Arc::new(AtomicBool::new(false));
        let feed = spawn_feed(
            source,
            Converter::default(),
            slot.clone(),
            stop,
            Some(rx),
            None,
        )
        .unwrap();
        wait_for("the opened state", || {
            slot.state() == "streaming (RGB3 2x2)"
        });
        go_tx.send(()).unwrap();
        feed.join().unwrap();
        // The timeout was waited out (not a bad frame); the format error ended it.
        assert_eq!((slot.frames(), slot.bad_frames()), (1, 0));
        assert!(
            slot.state()
                .starts_with("failed: /dev/video7: unsupported format"),
            "{}",
            slot.state()
        );
    }

    #[test]
    fn camera_states_read_as_words() {
        let device = "/dev/video0".to_string();
        let event = CameraEvent::Opened {
            device: device.clone(),
            detail: "YUYV 640x480".into(),
        };
        assert_eq!(camera_state(&event), "streaming (YUYV 640x480)");
        let event = CameraEvent::Retrying {
            device,
            attempt: 2,
            wait: Duration::from_millis(200),
            error: "gone".into(),
        };
        assert_eq!(camera_state(&event), "reconnecting (attempt 2): gone");
    }

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
