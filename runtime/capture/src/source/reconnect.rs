//! A source that survives camera faults: [`Reconnecting`] wraps an opener of another
//! [`FrameSource`] and, when the device goes away (ENODEV), fails (EIO), stops sending
//! frames (repeated timeouts) or is not there yet, closes it, backs off, opens it again
//! and resumes — reporting every state change as a [`CameraEvent`] on a channel.
//!
//! ```text
//!   start ──open fails──> Waiting ─> Retrying(1) ─> Retrying(2) … ──open ok──> Opened
//!   streaming ──ENODEV/EIO/timeouts──> Lost ─> Retrying(n) … ──open ok──> Back
//!   any open or frame error that retrying cannot fix ──> GaveUp (the error is returned)
//!   the stop flag, checked during every wait ──> Stopped (next_frame returns Ok(None))
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{FrameSource, SourceStats};
use crate::error::{CaptureError, Recovery};
use crate::frame::{Frame, FrameRef};

/// How long to wait between opening attempts: `initial`, doubling after every failed
/// attempt, never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 100 ms doubling to 5 s: a replugged USB camera is usually back within a second, and
    /// one attempt every 5 s costs nothing on a device left unplugged for days.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt` (1-based; 0 is treated as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

/// A change in the camera's state, sent by [`Reconnecting`] as it happens (so a consumer
/// on another thread sees `Lost` while the capture thread is still waiting to reopen).
/// Errors are carried as their messages: the error values themselves stay with the
/// capture thread.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraEvent {
    /// The device was opened for the first time.
    Opened {
        /// The device's name (its path, for a camera).
        device: String,
        /// What was opened (for a camera, the negotiated format, size and rate).
        detail: String,
    },
    /// The first opening failed with an error that waiting can fix (not plugged in yet):
    /// the source keeps trying, and `Opened` follows when the device appears.
    Waiting {
        /// The device's name.
        device: String,
        /// Why it could not be opened.
        error: String,
    },
    /// The open device failed; it has been closed (so that a driver which needs every
    /// handle closed can bring it back) and will be reopened.
    Lost {
        /// The device's name.
        device: String,
        /// What went wrong.
        error: String,
    },
    /// Waiting `wait` before opening attempt `attempt` (counted since the last good
    /// frame, so a device that opens and fails at once still backs off).
    Retrying {
        /// The device's name.
        device: String,
        /// The attempt about to be made, from 1.
        attempt: u32,
        /// How long the source waits first.
        wait: Duration,
        /// Why the previous attempt (or the device) failed.
        error: String,
    },
    /// The device was reopened after `Lost`.
    Back {
        /// The device's name.
        device: String,
        /// Time from `Lost` to the reopening.
        after: Duration,
        /// What was opened (it may differ from before: another camera on the same port).
        detail: String,
    },
    /// An error that retrying cannot fix (not a camera, a format it refuses); it is
    /// returned by [`FrameSource::next_frame`].
    GaveUp {
        /// The device's name.
        device: String,
        /// The error.
        error: String,
    },
    /// The stop flag ended a wait; [`FrameSource::next_frame`] returned `Ok(None)`.
    Stopped {
        /// The device's name.
        device: String,
    },
}

/// Opens a source of type `S`; called again after every fault.
pub type Opener<S> = Box<dyn FnMut() -> Result<S, CaptureError> + Send>;

/// Waits are cut into slices this long so that the stop flag is seen promptly.
const STOP_SLICE: Duration = Duration::from_millis(20);

/// A [`FrameSource`] that reopens its inner source after faults instead of failing.
///
/// What it does with each error of the inner source, by [`CaptureError::recovery`]:
/// - [`Recovery::Skip`] (a bad frame): returned as it is; the caller skips it.
/// - [`Recovery::Retry`] (a timeout): tried again on the same handle, up to
///   [`Reconnecting::with_timeouts_before_reopen`] times in a row; then the device is
///   treated as lost (a camera that streams nothing is as good as unplugged).
/// - [`Recovery::Reopen`] (ENODEV, EIO, not found): close, `Lost`, back off, reopen, `Back`.
/// - [`Recovery::Fatal`]: `GaveUp`, and the error is returned; a later call starts over
///   by opening again.
///
/// Opening is lazy (on the first [`FrameSource::next_frame`]), so constructing one never
/// blocks. The stop flag is checked between attempts and in 20 ms slices of every wait;
/// a blocked read of the inner source ends within that source's own timeout.
///
/// Frames are copied into a buffer owned by this wrapper (reused, so no allocation after
/// the first frame): returning the inner source's borrowed frame from a loop that, on
/// other paths, drops and replaces that source is a pattern the borrow checker rejects
/// without `unsafe`. The copy costs about as much as the one [`crate::pump`] makes.
pub struct Reconnecting<S> {
    device: String,
    opener: Opener<S>,
    detail: Box<dyn Fn(&S) -> String + Send>,
    source: Option<S>,
    frame: Frame,
    backoff: Backoff,
    stop: Arc<AtomicBool>,
    events: Sender<CameraEvent>,
    timeouts_before_reopen: u32,
    timeouts_in_a_row: u32,
    /// Failed recoveries since the last good frame: the back-off exponent.
    attempt: u32,
    ever_opened: bool,
    /// Set by `GaveUp`: a caller that calls again after a fatal error gets a backed-off
    /// attempt, not a tight loop of openings.
    gave_up: bool,
    /// When the device was lost, while it is being reopened.
    lost_at: Option<Instant>,
    /// Counters of inner sources already closed.
    closed_stats: SourceStats,
    reconnects: u64,
}

impl<S> std::fmt::Debug for Reconnecting<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconnecting")
            .field("device", &self.device)
            .field("open", &self.source.is_some())
            .field("backoff", &self.backoff)
            .field("attempt", &self.attempt)
            .field("reconnects", &self.reconnects)
            .finish_non_exhaustive()
    }
}

impl<S: FrameSource> Reconnecting<S> {
    /// A source named `device` (used in events and logs) that opens with `opener`, waits
    /// per `backoff` between attempts, ends when `stop` becomes true, and sends its
    /// [`CameraEvent`]s on `events` (a closed channel is ignored: events are advisory).
    pub fn new(
        device: impl Into<String>,
        opener: impl FnMut() -> Result<S, CaptureError> + Send + 'static,
        backoff: Backoff,
        stop: Arc<AtomicBool>,
        events: Sender<CameraEvent>,
    ) -> Self {
        Self {
            device: device.into(),
            opener: Box::new(opener),
            detail: Box::new(|_| "opened".to_string()),
            source: None,
            frame: Frame::default(),
            backoff,
            stop,
            events,
            timeouts_before_reopen: 3,
            timeouts_in_a_row: 0,
            attempt: 0,
            ever_opened: false,
            gave_up: false,
            lost_at: None,
            closed_stats: SourceStats::default(),
            reconnects: 0,
        }
    }

    /// Describes a newly opened source for the `Opened` and `Back` events.
    pub fn with_detail(mut self, detail: impl Fn(&S) -> String + Send + 'static) -> Self {
        self.detail = Box::new(detail);
        self
    }

    /// How many timeouts in a row are retried on the same handle before the device is
    /// treated as lost (default 3; at least 1).
    pub fn with_timeouts_before_reopen(mut self, n: u32) -> Self {
        self.timeouts_before_reopen = n.max(1);
        self
    }

    /// The open inner source, if there is one now.
    pub fn source(&self) -> Option<&S> {
        self.source.as_ref()
    }

    /// The device's name.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// How many times the source came back after being lost.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn send(&self, event: CameraEvent) {
        // A consumer that went away does not stop capture: the events are advisory.
        let _ = self.events.send(event);
    }

    /// Closes the inner source, keeping its counters.
    fn close(&mut self) {
        if let Some(source) = self.source.take() {
            let s = source.stats();
            self.closed_stats.delivered += s.delivered;
            self.closed_stats.dropped += s.dropped;
            self.closed_stats.bad += s.bad;
        }
    }

    fn lose(&mut self, error: &CaptureError) {
        // Closed before anything else: vivid (and some USB drivers) bring a node back only
        // once every handle on it is closed.
        self.close();
        log::warn!("{}: camera lost: {error}; reopening", self.device);
        self.lost_at = Some(Instant::now());
        self.send(CameraEvent::Lost {
            device: self.device.clone(),
            error: error.to_string(),
        });
    }

    /// Sleeps `wait` in slices, returning false as soon as the stop flag is set.
    fn sleep(&self, wait: Duration) -> bool {
        let end = Instant::now() + wait;
        loop {
            if self.stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(STOP_SLICE));
        }
    }

    fn stop_event(&self) {
        log::info!("{}: stopped while waiting for the camera", self.device);
        self.send(CameraEvent::Stopped {
            device: self.device.clone(),
        });
    }

    /// Opens the inner source, waiting and retrying as long as the errors allow.
    /// `Ok(false)`: the stop flag was set first.
    fn open(&mut self, mut last_error: Option<String>) -> Result<bool, CaptureError> {
        loop {
            if let Some(error) = last_error.take() {
                self.attempt = self.attempt.saturating_add(1);
                let wait = self.backoff.delay(self.attempt);
                log::info!(
                    "{}: opening attempt {} in {wait:?} ({error})",
                    self.device,
                    self.attempt
                );
                self.send(CameraEvent::Retrying {
                    device: self.device.clone(),
                    attempt: self.attempt,
                    wait,
                    error,
                });
                if !self.sleep(wait) {
                    self.stop_event();
                    return Ok(false);
                }
            }
            if self.stopped() {
                self.stop_event();
                return Ok(false);
            }
            match (self.opener)() {
                Ok(source) => {
                    let detail = (self.detail)(&source);
                    self.source = Some(source);
                    self.timeouts_in_a_row = 0;
                    self.gave_up = false;
                    let device = self.device.clone();
                    match self.lost_at.take() {
                        Some(lost) => {
                            let after = lost.elapsed();
                            self.reconnects += 1;
                            log::info!("{device}: camera back after {after:?}: {detail}");
                            self.send(CameraEvent::Back {
                                device,
                                after,
                                detail,
                            });
                        }
                        None => {
                            log::info!("{device}: camera opened: {detail}");
                            self.ever_opened = true;
                            self.send(CameraEvent::Opened { device, detail });
                        }
                    }
                    return Ok(true);
                }
                Err(e) if e.recovery() == Recovery::Fatal => {
                    self.give_up(&e);
                    return Err(e);
                }
                // Anything else (not there yet, gone again, busy, a timeout while
                // starting) is a reason to wait and try again.
                Err(e) => {
                    if !self.ever_opened && self.lost_at.is_none() && self.attempt == 0 {
                        log::warn!("{}: waiting for the camera: {e}", self.device);
                        self.send(CameraEvent::Waiting {
                            device: self.device.clone(),
                            error: e.to_string(),
                        });
                    }
                    last_error = Some(e.to_string());
                }
            }
        }
    }

    fn give_up(&mut self, error: &CaptureError) {
        log::error!("{}: giving up: {error}", self.device);
        self.gave_up = true;
        self.send(CameraEvent::GaveUp {
            device: self.device.clone(),
            error: error.to_string(),
        });
    }
}

#[cfg(feature = "v4l")]
impl Reconnecting<super::v4l_camera::V4lCamera> {
    /// A V4L2 camera at `path`, opened with `config`, reopened after faults; its events
    /// name the path and describe what was negotiated.
    pub fn camera(
        path: impl Into<std::path::PathBuf>,
        config: super::v4l_camera::CameraConfig,
        backoff: Backoff,
        stop: Arc<AtomicBool>,
        events: Sender<CameraEvent>,
    ) -> Self {
        let path: std::path::PathBuf = path.into();
        let device = path.display().to_string();
        Self::new(
            device,
            move || super::v4l_camera::V4lCamera::open(&path, config),
            backoff,
            stop,
            events,
        )
        .with_detail(|camera| camera.negotiated().to_string())
    }
}

impl<S: FrameSource> FrameSource for Reconnecting<S> {
    /// The next frame; waits (and reopens) through faults. `Ok(None)` when the stop flag
    /// is set or the inner source ends; `Err` for a bad frame (skip it) or an error that
    /// retrying cannot fix.
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        let mut reopen_because: Option<String> = None;
        loop {
            if self.stopped() {
                return Ok(None);
            }
            if self.source.is_none() {
                // The very first attempt is made at once; every later one backs off.
                let first = !self.ever_opened && self.lost_at.is_none() && !self.gave_up;
                let reason = match reopen_because.take() {
                    Some(reason) => Some(reason),
                    None if first && self.attempt == 0 => None,
                    None => Some("opening again after an error".to_string()),
                };
                if !self.open(reason)? {
                    return Ok(None);
                }
            }
            let Some(source) = self.source.as_mut() else {
                continue;
            };
            let error = match source.next_frame() {
                Ok(Some(frame)) => {
                    self.frame.copy_from(&frame);
                    self.timeouts_in_a_row = 0;
                    self.attempt = 0;
                    return Ok(Some(self.frame.as_ref()));
                }
                Ok(None) => return Ok(None),
                Err(e) => e,
            };
            match error.recovery() {
                Recovery::Skip => return Err(error),
                Recovery::Fatal => {
                    self.close();
                    self.give_up(&error);
                    return Err(error);
                }
                Recovery::Retry if self.timeouts_in_a_row + 1 < self.timeouts_before_reopen => {
                    self.timeouts_in_a_row += 1;
                    log::warn!(
                        "{}: {error} ({} in a row); waiting again",
                        self.device,
                        self.timeouts_in_a_row
                    );
                }
                Recovery::Retry | Recovery::Reopen => {
                    self.lose(&error);
                    reopen_because = Some(error.to_string());
                }
            }
        }
    }

    fn stats(&self) -> SourceStats {
        let mut s = self.closed_stats;
        if let Some(source) = &self.source {
            let now = source.stats();
            s.delivered += now.delivered;
            s.dropped += now.dropped;
            s.bad += now.bad;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ColorSpace, PixelFormat};
    use std::collections::VecDeque;
    use std::io;
    use std::sync::mpsc::{channel, Receiver};
    use std::sync::Mutex;

    /// What a scripted fake source does on one `next_frame` call.
    enum Step {
        Frame,
        Fail(fn() -> CaptureError),
        End,
    }

    struct Fake {
        steps: VecDeque<Step>,
        bytes: Vec<u8>,
        sequence: u64,
        stats: SourceStats,
    }

    impl FrameSource for Fake {
        fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
            match self.steps.pop_front().unwrap_or(Step::End) {
                Step::Frame => {
                    self.sequence += 1;
                    self.stats.delivered += 1;
                    Ok(Some(FrameRef {
                        width: 2,
                        height: 1,
                        stride: 0,
                        format: PixelFormat::Yuyv,
                        color: ColorSpace::default(),
                        bytes: &self.bytes,
                        sequence: self.sequence,
                        timestamp: Duration::ZERO,
                    }))
                }
                Step::Fail(make) => Err(make()),
                Step::End => Ok(None),
            }
        }
        fn stats(&self) -> SourceStats {
            self.stats
        }
    }

    /// One result of the opener per call: a fake with these steps, or an error.
    type Opening = Result<Vec<Step>, fn() -> CaptureError>;

    fn lost() -> CaptureError {
        CaptureError::DeviceLost {
            path: "/dev/fake".into(),
            source: io::Error::from_raw_os_error(19),
        }
    }
    fn not_found() -> CaptureError {
        CaptureError::NotFound {
            path: "/dev/fake".into(),
        }
    }
    fn timeout() -> CaptureError {
        CaptureError::Timeout {
            path: "/dev/fake".into(),
            after: Duration::from_millis(1),
        }
    }
    fn not_a_camera() -> CaptureError {
        CaptureError::NotACamera {
            path: "/dev/fake".into(),
            reason: "scripted".into(),
        }
    }
    fn bad_frame() -> CaptureError {
        CaptureError::BadFrame {
            sequence: 7,
            reason: "scripted".into(),
        }
    }

    fn fast() -> Backoff {
        Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(4),
        }
    }

    /// A wrapper over scripted openings, its event receiver, its stop flag and a count
    /// of the fakes alive (to check that a lost source is dropped before reopening).
    fn scripted(
        openings: Vec<Opening>,
        backoff: Backoff,
    ) -> (
        Reconnecting<Fake>,
        Receiver<CameraEvent>,
        Arc<AtomicBool>,
        Arc<Mutex<u32>>,
    ) {
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let opens = Arc::new(Mutex::new(0u32));
        let counter = Arc::clone(&opens);
        let mut openings: VecDeque<Opening> = openings.into();
        let opener = move || {
            *counter.lock().unwrap() += 1;
            match openings.pop_front() {
                Some(Ok(steps)) => Ok(Fake {
                    steps: steps.into(),
                    bytes: vec![128; 4],
                    sequence: 0,
                    stats: SourceStats::default(),
                }),
                Some(Err(make)) => Err(make()),
                None => Err(not_found()),
            }
        };
        let source = Reconnecting::new("/dev/fake", opener, backoff, Arc::clone(&stop), tx)
            .with_detail(|f: &Fake| format!("{} steps", f.steps.len()));
        (source, rx, stop, opens)
    }

    fn names(rx: &Receiver<CameraEvent>) -> Vec<String> {
        rx.try_iter()
            .map(|e| match e {
                CameraEvent::Opened { .. } => "opened".to_string(),
                CameraEvent::Waiting { .. } => "waiting".to_string(),
                CameraEvent::Lost { .. } => "lost".to_string(),
                CameraEvent::Retrying { attempt, .. } => format!("retrying {attempt}"),
                CameraEvent::Back { .. } => "back".to_string(),
                CameraEvent::GaveUp { .. } => "gave up".to_string(),
                CameraEvent::Stopped { .. } => "stopped".to_string(),
            })
            .collect()
    }

    fn sequence(source: &mut Reconnecting<Fake>) -> u64 {
        source.next_frame().unwrap().expect("a frame").sequence
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let b = Backoff::default();
        let ms: Vec<u128> = (1..=9).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(b.delay(0), b.delay(1));
        // No overflow far out.
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(5));
        let huge = Backoff {
            initial: Duration::from_secs(u64::MAX / 4),
            max: Duration::from_secs(60),
        };
        assert_eq!(huge.delay(40), Duration::from_secs(60));
    }

    #[test]
    fn lost_then_retry_then_back_and_frames_again() {
        let (mut source, rx, _stop, opens) = scripted(
            vec![
                Ok(vec![Step::Frame, Step::Frame, Step::Fail(lost)]),
                Err(not_found),
                Err(not_found),
                Ok(vec![Step::Frame, Step::Frame]),
            ],
            fast(),
        );
        assert_eq!(sequence(&mut source), 1);
        assert_eq!(sequence(&mut source), 2);
        assert_eq!(names(&rx), ["opened"]);
        // The loss is handled inside this call: the frame is the new source's first.
        assert_eq!(sequence(&mut source), 1);
        assert_eq!(
            names(&rx),
            ["lost", "retrying 1", "retrying 2", "retrying 3", "back"]
        );
        assert_eq!(*opens.lock().unwrap(), 4);
        assert_eq!(source.reconnects(), 1);
        assert_eq!(sequence(&mut source), 2);
        // Counters survive the reopening.
        assert_eq!(source.stats().delivered, 4);
        // The inner source ended: so does the wrapper.
        assert!(source.next_frame().unwrap().is_none());
    }

    #[test]
    fn events_carry_the_error_and_the_waits() {
        let (mut source, rx, _stop, _) = scripted(
            vec![Ok(vec![Step::Fail(lost)]), Ok(vec![Step::Frame])],
            fast(),
        );
        source.next_frame().unwrap().unwrap();
        let events: Vec<CameraEvent> = rx.try_iter().collect();
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(matches!(&events[0], CameraEvent::Opened { detail, .. } if detail == "1 steps"));
        assert!(
            matches!(&events[1], CameraEvent::Lost { device, error } if device == "/dev/fake" && error.contains("ENODEV")),
            "{events:?}"
        );
        assert!(matches!(
            &events[2],
            CameraEvent::Retrying { attempt: 1, wait, .. } if *wait == Duration::from_millis(1)
        ));
        assert!(
            matches!(&events[3], CameraEvent::Back { after, .. } if *after >= Duration::from_millis(1))
        );
    }

    #[test]
    fn starting_before_the_device_exists_waits_for_it() {
        let (mut source, rx, _stop, _) = scripted(
            vec![Err(not_found), Err(not_found), Ok(vec![Step::Frame])],
            fast(),
        );
        assert_eq!(sequence(&mut source), 1);
        assert_eq!(
            names(&rx),
            ["waiting", "retrying 1", "retrying 2", "opened"]
        );
        assert_eq!(source.reconnects(), 0);
    }

    #[test]
    fn a_fatal_error_is_returned_not_retried() {
        // At opening.
        let (mut source, rx, _stop, opens) =
            scripted(vec![Err(not_a_camera), Err(not_a_camera)], fast());
        let e = source.next_frame().unwrap_err();
        assert!(matches!(e, CaptureError::NotACamera { .. }), "{e}");
        assert_eq!(names(&rx), ["gave up"]);
        assert_eq!(*opens.lock().unwrap(), 1);
        // Calling again after giving up backs off first rather than spinning.
        let e = source.next_frame().unwrap_err();
        assert!(matches!(e, CaptureError::NotACamera { .. }), "{e}");
        assert_eq!(names(&rx), ["retrying 1", "gave up"]);
        assert_eq!(*opens.lock().unwrap(), 2);
        // While streaming, and after a loss (another device came back on the node).
        let (mut source, rx, _stop, _) = scripted(
            vec![
                Ok(vec![Step::Frame, Step::Fail(not_a_camera)]),
                Ok(vec![Step::Fail(lost)]),
                Err(not_a_camera),
            ],
            fast(),
        );
        sequence(&mut source);
        assert!(matches!(
            source.next_frame().unwrap_err(),
            CaptureError::NotACamera { .. }
        ));
        assert!(source.source().is_none());
        let e = source.next_frame().unwrap_err();
        assert!(matches!(e, CaptureError::NotACamera { .. }), "{e}");
        assert_eq!(
            names(&rx),
            [
                "opened",
                "gave up",
                "retrying 1",
                "opened",
                "lost",
                "retrying 2",
                "gave up"
            ]
        );
    }

    #[test]
    fn bad_frames_are_returned_as_they_are() {
        let (mut source, rx, _stop, opens) =
            scripted(vec![Ok(vec![Step::Fail(bad_frame), Step::Frame])], fast());
        let e = source.next_frame().unwrap_err();
        assert_eq!(e.recovery(), Recovery::Skip);
        assert_eq!(sequence(&mut source), 1);
        assert_eq!(names(&rx), ["opened"]);
        assert_eq!(*opens.lock().unwrap(), 1);
    }

    #[test]
    fn timeouts_are_retried_then_treated_as_a_loss() {
        let (mut source, rx, _stop, opens) = scripted(
            vec![Ok(vec![
                Step::Fail(timeout),
                Step::Fail(timeout),
                Step::Frame,
            ])],
            fast(),
        );
        // Two timeouts in a row stay on the same handle.
        assert_eq!(sequence(&mut source), 1);
        assert_eq!(names(&rx), ["opened"]);
        assert_eq!(*opens.lock().unwrap(), 1);

        let (mut source, rx, _stop, opens) = scripted(
            vec![
                Ok(vec![
                    Step::Fail(timeout),
                    Step::Fail(timeout),
                    Step::Fail(timeout),
                ]),
                Ok(vec![Step::Frame]),
            ],
            fast(),
        );
        source = source.with_timeouts_before_reopen(3);
        assert_eq!(sequence(&mut source), 1);
        assert_eq!(names(&rx), ["opened", "lost", "retrying 1", "back"]);
        assert_eq!(*opens.lock().unwrap(), 2);
    }

    #[test]
    fn a_device_that_fails_at_once_keeps_backing_off() {
        // Opens fine, fails on its first frame, again and again: the attempt count (and
        // so the wait) grows until a frame comes through.
        let (mut source, rx, _stop, _) = scripted(
            vec![
                Ok(vec![Step::Fail(lost)]),
                Ok(vec![Step::Fail(lost)]),
                Ok(vec![Step::Fail(lost)]),
                Ok(vec![Step::Frame, Step::Fail(lost)]),
                Ok(vec![Step::Frame]),
            ],
            fast(),
        );
        sequence(&mut source);
        let waits: Vec<Duration> = rx
            .try_iter()
            .filter_map(|e| match e {
                CameraEvent::Retrying { wait, .. } => Some(wait),
                _ => None,
            })
            .collect();
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert_eq!(waits, ms(&[1, 2, 4]));
        // After a good frame the next loss starts again from the initial wait.
        sequence(&mut source);
        let waits: Vec<Duration> = rx
            .try_iter()
            .filter_map(|e| match e {
                CameraEvent::Retrying { wait, .. } => Some(wait),
                _ => None,
            })
            .collect();
        assert_eq!(waits, ms(&[1]));
    }

    #[test]
    fn the_stop_flag_ends_a_wait_promptly() {
        let slow = Backoff {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(30),
        };
        let (mut source, rx, stop, _) =
            scripted(vec![Ok(vec![Step::Frame, Step::Fail(lost)])], slow);
        assert_eq!(sequence(&mut source), 1);
        let capture = std::thread::spawn(move || {
            let start = Instant::now();
            let end = source.next_frame().map(|f| f.is_none());
            (end.unwrap(), start.elapsed())
        });
        // The consumer sees the loss while the capture thread is still waiting.
        let mut seen = Vec::new();
        while !seen
            .iter()
            .any(|e| matches!(e, CameraEvent::Retrying { .. }))
        {
            seen.push(rx.recv_timeout(Duration::from_secs(5)).expect("an event"));
        }
        assert!(seen.iter().any(|e| matches!(e, CameraEvent::Lost { .. })));
        stop.store(true, Ordering::Relaxed);
        let (ended, waited) = capture.join().unwrap();
        assert!(ended, "a stopped source returns Ok(None)");
        assert!(waited < Duration::from_secs(2), "stopping took {waited:?}");
        assert!(rx
            .try_iter()
            .any(|e| matches!(e, CameraEvent::Stopped { .. })));
    }

    #[test]
    fn a_stopped_source_returns_none_at_once() {
        let (mut source, rx, stop, opens) = scripted(vec![Ok(vec![Step::Frame])], fast());
        stop.store(true, Ordering::Relaxed);
        assert!(source.next_frame().unwrap().is_none());
        assert_eq!(*opens.lock().unwrap(), 0);
        assert!(names(&rx).is_empty());
    }

    #[test]
    fn pump_runs_through_a_loss() {
        let (mut source, rx_events, _stop, _) = scripted(
            vec![
                Ok(vec![Step::Frame, Step::Fail(lost)]),
                Ok(vec![Step::Frame, Step::Fail(bad_frame), Step::Frame]),
            ],
            fast(),
        );
        let (tx, rx) = crate::mailbox_with_spares(4);
        let capture = std::thread::spawn(move || crate::pump(&mut source, &tx));
        let mut got = 0;
        while let Some(frame) = rx.recv() {
            got += 1;
            rx.recycle(frame);
        }
        assert_eq!(
            capture.join().unwrap().unwrap(),
            crate::PumpEnd::SourceEnded
        );
        assert!(got >= 1 && rx.stats().published == 3, "{:?}", rx.stats());
        assert_eq!(names(&rx_events), ["opened", "lost", "retrying 1", "back"]);
    }
}
