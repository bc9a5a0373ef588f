//! The watch loop: frames in, events out.
//!
//! Per frame: convert to RGB8 → preprocess → image tower → label scores →
//! smoothing and hysteresis ([`Tracker`]) → `appeared` / `left` events. Every
//! buffer of that path (RGB, the normalized tensor, the embedding, the scores) is
//! owned by [`Watch`] and reused, so a frame allocates nothing once the first one
//! has sized them; only events, which are rare, allocate.
//!
//! A bad frame (corrupt, truncated, the wrong size) is counted and skipped; a
//! failing sink is logged and counted; neither stops the loop. What does stop it:
//! the stop flag (SIGINT/SIGTERM), the frame or time limit, the end of a finite
//! source, a closed output, or a failure that every later frame would share (the
//! model or backend broke).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use edgeclip::encoder::{ImageEncoder, ImageFeatures};
use edgeclip::preprocess::{PreprocessConfig, Preprocessor};
use edgeclip::zero_shot::{LabelSet, ScoreKind};
use edgeclip::ErrorKind;
use edgeclip_capture::{
    wait_unless_stopped, Backoff, CaptureError, Converter, Delivery, Frame, FrameRef, FrameSink,
    FrameSource, Pump, PumpCounters, PumpEnd, Receiver, Recovery, RecvError,
};
use edgeclip_events::{CameraState, Event, Meta, Presence, Sink, SinkError, StageMs, Status};
use edgeclip_match::track::{Change, Tracker, Transition};

use crate::config::{Mode, WatchConfig};

/// Why the loop could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The settings are unusable.
    #[error("watch settings: {0}")]
    Config(String),
    /// The encoder or the label set failed in a way every frame would share.
    #[error(transparent)]
    Runtime(#[from] edgeclip::Error),
    /// The source failed for good (not a camera, a format it refuses, ...).
    #[error(transparent)]
    Source(#[from] edgeclip_capture::CaptureError),
}

/// The class of a [`WatchError`]: the settings, or the kind of the runtime's or the
/// source's error it carries, so that a camera that is not one reads as such
/// through the loop.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchErrorKind {
    /// The watch or tracking settings are unusable.
    Config,
    /// The encoder or the label set failed: the runtime's kind.
    Runtime(ErrorKind),
    /// The frame source failed for good: the capture crate's kind.
    Source(edgeclip_capture::CaptureErrorKind),
}

impl WatchErrorKind {
    /// The kind as written in JSON records: `config`, or the runtime's or the
    /// source's word (`backend`, `camera_unavailable`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WatchErrorKind::Config => "config",
            WatchErrorKind::Runtime(kind) => kind.as_str(),
            WatchErrorKind::Source(kind) => kind.as_str(),
        }
    }
}

impl std::fmt::Display for WatchErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl WatchError {
    /// What class of failure this is.
    pub fn kind(&self) -> WatchErrorKind {
        match self {
            WatchError::Config(_) => WatchErrorKind::Config,
            WatchError::Runtime(e) => WatchErrorKind::Runtime(e.kind()),
            WatchError::Source(e) => WatchErrorKind::Source(e.kind()),
        }
    }
}

/// When a run stops on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Stop after this many encoded frames.
    pub frames: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The source has no more frames.
    SourceEnded,
    /// A frame or time limit was reached.
    Limit,
    /// The stop flag was raised.
    Stopped,
    /// The output was closed by its reader.
    OutputClosed,
}

/// Counts of a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Frames encoded.
    pub frames: u64,
    /// Frames skipped by the hand-off or lost by the source.
    pub dropped: u64,
    /// Frames that could not be used.
    pub bad: u64,
    /// Events handed to the sink.
    pub events: u64,
    /// Events the sink failed to take.
    pub sink_errors: u64,
}

/// What one frame gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameOutcome {
    /// Encoded and tracked.
    Encoded,
    /// Unusable (counted, skipped).
    Bad,
}

/// Milliseconds each stage took, summed over a status interval.
#[derive(Debug, Clone, Copy, Default)]
struct Stages {
    frames: u64,
    wait: Duration,
    decode: Duration,
    preprocess: Duration,
    encode: Duration,
    matching: Duration,
}

impl Stages {
    fn mean_ms(&self) -> StageMs {
        let per = |d: Duration| d.as_secs_f64() * 1e3 / self.frames.max(1) as f64;
        StageMs {
            capture_wait: per(self.wait),
            decode: per(self.decode),
            preprocess: per(self.preprocess),
            encode: per(self.encode),
            matching: per(self.matching),
        }
    }
}

/// A camera state change from the capture side, for the `camera` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    /// The device or source.
    pub device: String,
    /// `opened`, `lost`, `retrying` or `back`.
    pub state: String,
    /// What happened.
    pub detail: String,
}

/// Numbers events and stamps them.
#[derive(Debug)]
struct Stamps {
    run: String,
    seq: u64,
}

impl Stamps {
    fn new() -> Self {
        let now = unix_ms();
        // Unique per start of the process, readable, and sortable by time.
        Self {
            run: format!("{now:x}-{:x}", std::process::id()),
            seq: 0,
        }
    }

    fn next(&mut self) -> Meta {
        self.seq += 1;
        Meta {
            id: format!("{}-{}", self.run, self.seq),
            seq: self.seq,
            time_ms: unix_ms(),
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The watch loop's state: the parts it wires and every buffer it reuses.
pub struct Watch {
    encoder: ImageEncoder,
    preprocessor: Preprocessor,
    labels: LabelSet,
    tracker: Tracker,
    converter: Converter,
    config: WatchConfig,
    score_kind: ScoreKind,
    rgb: Vec<u8>,
    chw: Vec<f32>,
    features: ImageFeatures,
    scores: Vec<f32>,
    transitions: Vec<Transition>,
    stamps: Stamps,
    stages: Stages,
    totals: Totals,
    camera: String,
    output_closed: bool,
    started: Instant,
    last_status: Instant,
    delivered_at_status: u64,
    /// `totals.bad` when the last status was emitted.
    bad_at_status: u64,
}

impl Watch {
    /// Wires an opened image encoder (its package's `preprocess` settings) and a
    /// label set under `config`.
    pub fn new(
        encoder: ImageEncoder,
        preprocess: PreprocessConfig,
        labels: LabelSet,
        config: WatchConfig,
    ) -> Result<Self, WatchError> {
        config.validate().map_err(WatchError::Config)?;
        let mut tracker = Tracker::new(labels.len(), config.track);
        if config.mode == Mode::Tags {
            tracker = tracker.with_enter_thresholds(labels.thresholds());
        }
        let score_kind = match config.mode {
            Mode::TopK => ScoreKind::Probability,
            Mode::Tags => ScoreKind::Tag,
        };
        let now = Instant::now();
        Ok(Self {
            chw: vec![0.0; encoder.input_len()],
            encoder,
            preprocessor: Preprocessor::new(preprocess),
            labels,
            tracker,
            converter: Converter::default(),
            config,
            score_kind,
            rgb: Vec::new(),
            features: ImageFeatures::new(),
            scores: Vec::new(),
            transitions: Vec::new(),
            stamps: Stamps::new(),
            stages: Stages::default(),
            totals: Totals::default(),
            camera: "file".into(),
            output_closed: false,
            started: now,
            last_status: now,
            delivered_at_status: 0,
            bad_at_status: 0,
        })
    }

    /// Numbers the next event `seq + 1`: with a journal, its last record, so the
    /// numbering (and the ids' order) continues across restarts.
    pub fn continue_after(&mut self, seq: u64) {
        self.stamps.seq = self.stamps.seq.max(seq);
    }

    /// Decodes MJPEG frames that end without their end-of-image marker instead of
    /// counting them as bad: for cameras that send every frame that way.
    pub fn accept_truncated_jpegs(&mut self, accept: bool) {
        self.converter = self.converter.clone().accept_truncated_jpegs(accept);
    }

    /// The label set frames are scored against.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// Counts so far.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// What the `camera` field of status events says (`file`, `stdin`,
    /// `streaming`, `lost`, ...).
    pub fn set_camera_state(&mut self, state: &str) {
        state.clone_into(&mut self.camera);
    }

    /// Runs one frame taken at `time_ms` on the frames' clock; transitions go to
    /// `sink`. A bad frame is counted and reported as [`FrameOutcome::Bad`].
    pub fn process(
        &mut self,
        frame: &FrameRef<'_>,
        time_ms: u64,
        sink: &mut dyn Sink,
    ) -> Result<FrameOutcome, WatchError> {
        let t0 = Instant::now();
        let (width, height) = match self.converter.to_rgb8(frame, &mut self.rgb) {
            Ok(size) => size,
            Err(e) => {
                log::debug!("frame {}: {e}", frame.sequence);
                self.totals.bad += 1;
                return Ok(FrameOutcome::Bad);
            }
        };
        let t1 = Instant::now();
        // A session that takes pixels (RKNN) gets the resized square as it is.
        let pixels = self.encoder.takes_pixels();
        let preprocessed = if pixels {
            self.preprocessor
                .resize_crop(&self.rgb, width, height)
                .map(drop)
        } else {
            self.preprocessor
                .run_into(&self.rgb, width, height, &mut self.chw)
        };
        if let Err(e) = preprocessed {
            log::debug!("frame {}: {e}", frame.sequence);
            self.totals.bad += 1;
            return Ok(FrameOutcome::Bad);
        }
        let t2 = Instant::now();
        let encoded = if pixels {
            self.encoder
                .encode_pixels(self.preprocessor.square(), &mut self.features)
        } else {
            self.encoder
                .encode_preprocessed(&self.chw, &mut self.features)
        };
        if let Err(e) = encoded {
            if e.kind() == ErrorKind::InvalidInput {
                self.totals.bad += 1;
                return Ok(FrameOutcome::Bad);
            }
            return Err(e.into());
        }
        let t3 = Instant::now();
        self.labels
            .scores_into(self.features.embedding(), self.score_kind, &mut self.scores)?;
        if self.config.mode == Mode::TopK {
            keep_top_k(&mut self.scores, self.config.top_k);
        }
        let transitions = &mut self.transitions;
        self.tracker
            .update(&self.scores, time_ms, frame.sequence, |t| {
                transitions.push(t)
            });
        let t4 = Instant::now();
        self.totals.frames += 1;
        let s = &mut self.stages;
        s.frames += 1;
        s.decode += t1 - t0;
        s.preprocess += t2 - t1;
        s.encode += t3 - t2;
        s.matching += t4 - t3;
        for i in 0..self.transitions.len() {
            let t = self.transitions[i];
            let event = self.presence_event(&t);
            self.emit(&event, sink);
        }
        self.transitions.clear();
        Ok(FrameOutcome::Encoded)
    }

    fn presence_event(&mut self, t: &Transition) -> Event {
        let presence = Presence {
            meta: self.stamps.next(),
            label: self.labels.label(t.label).to_owned(),
            group: self.labels.group(t.label).map(str::to_owned),
            score: t.score,
            first_seen_ms: t.first_seen_ms,
            last_seen_ms: t.last_seen_ms,
            first_frame: t.first_seq,
            last_frame: t.last_seq,
        };
        match t.change {
            Change::Appeared => Event::Appeared(presence),
            Change::Left => Event::Left(presence),
        }
    }

    /// Hands `event` to the sink; a failure is counted and logged, except a closed
    /// output, which is remembered so the loop can end.
    fn emit(&mut self, event: &Event, sink: &mut dyn Sink) {
        self.totals.events += 1;
        if let Err(e) = sink.send(event) {
            self.totals.sink_errors += 1;
            match e {
                SinkError::Closed => self.output_closed = true,
                e => log::warn!("event {} not delivered: {e}", event.meta().id),
            }
        }
    }

    /// Emits a `camera` event for a change of the source's state.
    pub fn camera_event(&mut self, change: SourceState, sink: &mut dyn Sink) {
        self.set_camera_state(&change.state);
        let event = Event::Camera(CameraState {
            meta: self.stamps.next(),
            device: change.device,
            state: change.state,
            detail: change.detail,
        });
        self.emit(&event, sink);
    }

    /// Emits a status event when one is due (`delivered`: frames the source has
    /// delivered so far, for fps in).
    fn maybe_status(&mut self, delivered: u64, sink: &mut dyn Sink) {
        let every = self.config.status_every_s;
        let elapsed = self.last_status.elapsed().as_secs_f64();
        if every <= 0.0 || elapsed < every {
            return;
        }
        self.status(delivered, sink);
    }

    /// Emits a status event now.
    pub fn status(&mut self, delivered: u64, sink: &mut dyn Sink) {
        let elapsed = self.last_status.elapsed().as_secs_f64().max(1e-9);
        let present = (0..self.labels.len())
            .filter(|&i| self.tracker.is_present(i))
            .map(|i| self.labels.label(i).to_owned())
            .collect();
        let event = Event::Status(Status {
            meta: self.stamps.next(),
            uptime_s: self.started.elapsed().as_secs_f64(),
            fps_in: delivered.saturating_sub(self.delivered_at_status) as f64 / elapsed,
            fps_out: self.stages.frames as f64 / elapsed,
            frames: self.totals.frames,
            dropped: self.totals.dropped,
            bad: self.totals.bad,
            stage_ms: self.stages.mean_ms(),
            camera: self.camera.clone(),
            present,
        });
        self.emit(&event, sink);
        self.stages = Stages::default();
        self.last_status = Instant::now();
        self.delivered_at_status = delivered;
        self.bad_at_status = self.totals.bad;
    }

    fn limit_reached(&self, limits: &Limits) -> bool {
        limits.frames.is_some_and(|n| self.totals.frames >= n)
            || limits.duration.is_some_and(|d| self.started.elapsed() >= d)
    }

    /// Runs frames pulled straight from `source`, in this thread, every frame in
    /// turn (a recording, a directory, frames piped in: nothing to drop). With
    /// `frame_fps`, a frame's time is its index / `frame_fps` (a recording's own
    /// clock); without, the source's timestamp.
    ///
    /// The capture crate's loop ([`Pump`]) pulls the frames, so a source's errors
    /// meet the same policy here as on a capture thread: a broken frame is counted
    /// bad and skipped, a timeout is pulled again, anything else ends the run.
    pub fn run_inline(
        &mut self,
        source: &mut dyn FrameSource,
        frame_fps: Option<f64>,
        limits: Limits,
        stop: &AtomicBool,
        sink: &mut dyn Sink,
    ) -> Result<Ended, WatchError> {
        let pump = Pump::new();
        let device = self.camera.clone();
        let mut inline = Inline {
            device,
            recovering: false,
            watch: self,
            sink,
            limits,
            stop,
            frame_fps,
            index: 0,
            source_bad: 0,
            pump: pump.counters(),
            last: Instant::now(),
            error: None,
        };
        let end = run_retrying(&pump, source, &mut inline);
        inline.count_source_bad();
        let Inline { error, sink, .. } = inline;
        if let Some(e) = error {
            return Err(e);
        }
        let end = end?;
        let ended = if stop.load(Ordering::Relaxed) {
            Ended::Stopped
        } else if self.output_closed {
            Ended::OutputClosed
        } else if end == PumpEnd::SourceEnded {
            Ended::SourceEnded
        } else {
            Ended::Limit
        };
        let stats = source.stats();
        self.totals.dropped = stats.dropped;
        self.finish(stats.delivered, sink);
        Ok(ended)
    }

    /// Runs frames a capture thread publishes into a newest-frame mailbox (a live
    /// camera: frames that arrive while one is encoded replace each other and are
    /// counted as dropped). `states` is polled for the capture side's state
    /// changes, reported as `camera` events as soon as they arrive, even while no
    /// frame comes (an unplugged camera).
    pub fn run_mailbox(
        &mut self,
        frames: &Receiver<Frame>,
        states: &mut dyn FnMut() -> Option<SourceState>,
        limits: Limits,
        stop: &AtomicBool,
        sink: &mut dyn Sink,
    ) -> Result<Ended, WatchError> {
        let poll = Duration::from_millis(100);
        let ended = loop {
            while let Some(change) = states() {
                self.camera_event(change, sink);
            }
            if stop.load(Ordering::Relaxed) {
                break Ended::Stopped;
            }
            if self.limit_reached(&limits) {
                break Ended::Limit;
            }
            let waited = Instant::now();
            let frame = match frames.recv_timeout(poll) {
                Ok(frame) => frame,
                Err(RecvError::Timeout) => {
                    self.maybe_status(frames.stats().published, sink);
                    continue;
                }
                Err(RecvError::Closed) => break Ended::SourceEnded,
            };
            self.stages.wait += waited.elapsed();
            let time_ms = frame.timestamp.as_millis() as u64;
            let result = self.process(&frame.as_ref(), time_ms, sink);
            frames.recycle(frame);
            result?;
            let stats = frames.stats();
            self.totals.dropped = stats.dropped;
            self.maybe_status(stats.published, sink);
            if self.output_closed {
                break Ended::OutputClosed;
            }
        };
        while let Some(change) = states() {
            self.camera_event(change, sink);
        }
        self.finish(frames.stats().published, sink);
        Ok(ended)
    }

    /// The last status of a run (when statuses are on and something happened since
    /// the previous one: frames, or only bad ones), then a flush.
    fn finish(&mut self, delivered: u64, sink: &mut dyn Sink) {
        let news = self.stages.frames > 0 || self.totals.bad > self.bad_at_status;
        if self.config.status_every_s > 0.0 && news {
            self.status(delivered, sink);
        }
        if let Err(e) = sink.flush() {
            if !matches!(e, SinkError::Closed) {
                log::warn!("flushing events: {e}");
            }
        }
    }
}

/// [`Watch::run_inline`]'s end of the capture loop: each frame is processed as
/// it arrives, on the loop's thread.
struct Inline<'w, 's> {
    /// The source's name in `camera` events (`file`, `stdin`).
    device: String,
    /// A fault was reported as `lost`: the next frame is reported as `back`.
    recovering: bool,
    watch: &'w mut Watch,
    sink: &'s mut dyn Sink,
    limits: Limits,
    stop: &'s AtomicBool,
    frame_fps: Option<f64>,
    /// Frames processed so far: the clock of a `frame_fps` run.
    index: u64,
    /// The loop's bad count already added to the watch's totals.
    source_bad: u64,
    pump: &'s Arc<PumpCounters>,
    /// When the last frame's processing ended: the wait for a frame starts there.
    last: Instant,
    /// The failure that ended the run, which the loop itself cannot carry.
    error: Option<WatchError>,
}

impl Inline<'_, '_> {
    /// Adds the frames the loop lost as broken since the last call to the
    /// watch's bad count (the watch counts the frames it could not use itself).
    fn count_source_bad(&mut self) {
        let bad = self.pump.stats().bad;
        self.watch.totals.bad += bad - self.source_bad;
        self.source_bad = bad;
    }
}

impl FrameSink for Inline<'_, '_> {
    fn deliver(&mut self, frame: &FrameRef<'_>) -> Delivery {
        self.watch.stages.wait += self.last.elapsed();
        self.count_source_bad();
        if std::mem::take(&mut self.recovering) {
            let back = SourceState {
                device: self.device.clone(),
                state: "back".into(),
                detail: "frames again".into(),
            };
            self.watch.camera_event(back, self.sink);
        }
        let time_ms = match self.frame_fps {
            Some(fps) => (self.index as f64 * 1000.0 / fps) as u64,
            None => frame.timestamp.as_millis() as u64,
        };
        self.index += 1;
        if let Err(e) = self.watch.process(frame, time_ms, self.sink) {
            self.error = Some(e);
            return Delivery::Closed;
        }
        let delivered = self.pump.stats().delivered + 1;
        self.watch.maybe_status(delivered, self.sink);
        self.last = Instant::now();
        // A frame the watch could not use is already counted in its totals.
        Delivery::Taken
    }

    fn is_open(&self) -> bool {
        !(self.stop.load(Ordering::Relaxed)
            || self.watch.output_closed
            || self.watch.limit_reached(&self.limits))
    }
}

/// Runs `pump` over `source` into `inline`, reading the source again after a
/// back-off when it fails in a way a camera would be reopened for (a file that
/// could not be read for lack of descriptors, EIO), as cameras are: a `lost`
/// camera event per fault, `back` with the next frame. Ends like the loop does
/// otherwise, or when the stop flag is raised during a back-off.
fn run_retrying(
    pump: &Pump,
    source: &mut dyn FrameSource,
    inline: &mut Inline<'_, '_>,
) -> Result<PumpEnd, CaptureError> {
    let backoff = Backoff::default();
    let mut attempt = 0u32;
    let mut delivered_at_fault = 0;
    loop {
        match pump.run(source, inline) {
            Err(e) if e.recovery() == Recovery::Reopen && inline.error.is_none() => {
                // Frames came since the last fault: a new one, from the shortest wait.
                let delivered = pump.counters().stats().delivered;
                if delivered > delivered_at_fault {
                    attempt = 0;
                }
                delivered_at_fault = delivered;
                attempt = attempt.saturating_add(1);
                let wait = backoff.delay(attempt);
                let lost = SourceState {
                    device: inline.device.clone(),
                    state: "lost".into(),
                    detail: format!("{e}; retry {attempt} in {} ms", wait.as_millis()),
                };
                inline.watch.camera_event(lost, inline.sink);
                inline.recovering = true;
                if wait_unless_stopped(wait, inline.stop) {
                    return Ok(PumpEnd::Stopped);
                }
            }
            end => return end,
        }
    }
}

/// Zeroes every score but the `k` highest (ties keep the lower label).
fn keep_top_k(scores: &mut [f32], k: usize) {
    if k >= scores.len() {
        return;
    }
    // The k-th highest score is the cut; the few labels a frame keeps make a
    // selection by repeated maximum cheaper than sorting a copy (and it allocates
    // nothing).
    let mut kept = 0;
    let mut cut = f32::INFINITY;
    while kept < k {
        let next = scores
            .iter()
            .copied()
            .filter(|&s| s < cut)
            .fold(f32::NEG_INFINITY, f32::max);
        if next == f32::NEG_INFINITY {
            break;
        }
        kept += scores.iter().filter(|&&s| s == next).count();
        cut = next;
    }
    for s in scores.iter_mut() {
        if *s < cut || s.is_nan() {
            *s = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_best_scores_only() {
        let mut s = [0.1, 0.5, 0.3, 0.05];
        keep_top_k(&mut s, 1);
        assert_eq!(s, [0.0, 0.5, 0.0, 0.0]);
        let mut s = [0.1, 0.5, 0.3, 0.05];
        keep_top_k(&mut s, 2);
        assert_eq!(s, [0.0, 0.5, 0.3, 0.0]);
        let mut s = [0.2, 0.2];
        keep_top_k(&mut s, 5);
        assert_eq!(s, [0.2, 0.2]);
        let mut s = [f32::NAN, 0.4, 0.1];
        keep_top_k(&mut s, 1);
        assert_eq!(s, [0.0, 0.4, 0.0]);
    }

    #[test]
    fn kinds_carry_the_runtimes_and_the_sources_through_the_loop() {
        let config = WatchConfig {
            top_k: 0,
            ..WatchConfig::default()
        };
        let refused = WatchError::Config(config.validate().unwrap_err());
        assert_eq!(refused.kind(), WatchErrorKind::Config);
        assert_eq!(refused.kind().as_str(), "config");
        let backend = WatchError::from(edgeclip::Error::from(edgeclip::backend::Error::Failed {
            backend: "tract",
            context: "out of memory".into(),
            source: None,
        }));
        assert_eq!(backend.kind(), WatchErrorKind::Runtime(ErrorKind::Backend));
        assert_eq!(backend.kind().as_str(), "backend");
        let camera = WatchError::from(edgeclip_capture::CaptureError::NotACamera {
            path: "/dev/null".into(),
            reason: "ENOTTY".into(),
        });
        assert_eq!(
            camera.kind(),
            WatchErrorKind::Source(edgeclip_capture::CaptureErrorKind::CameraUnavailable)
        );
        assert_eq!(camera.kind().to_string(), "camera_unavailable");
    }
}
