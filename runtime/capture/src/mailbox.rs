//! The newest-frame hand-off between a capture thread and a consumer.
//!
//! A one-slot mailbox: the producer [`publish`](Sender::publish)es into the slot,
//! replacing (and counting as dropped) a value the consumer has not taken yet; the
//! consumer [`recv`](Receiver::recv)s the newest value and hands the buffer back with
//! [`recycle`](Receiver::recycle), so the producer refills buffers instead of
//! allocating. At most three values exist in steady state (one being filled, one in the
//! slot, one being read) plus a bounded pool of spares.
//!
//! The capture loop that feeds it is here too: [`Pump`] (and [`pump`], its plain form)
//! pulls frames from a [`FrameSource`] and hands each to a [`FrameSink`] (this
//! mailbox, or a consumer's own slot), with one policy for the source's errors.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{CaptureError, Recovery};
use crate::frame::{Frame, FrameRef};
use crate::source::FrameSource;

/// Counters of a mailbox. `published == received + dropped + (value in the slot)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailboxStats {
    /// Values the producer published.
    pub published: u64,
    /// Values the consumer received.
    pub received: u64,
    /// Values overwritten before the consumer took them.
    pub dropped: u64,
}

/// Why [`Receiver::recv_timeout`] returned without a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Nothing was published in time.
    #[error("no frame within the timeout")]
    Timeout,
    /// The sender is gone and the slot is empty.
    #[error("the capture side has stopped")]
    Closed,
}

#[derive(Debug)]
struct State<T> {
    slot: Option<T>,
    spares: Vec<T>,
    stats: MailboxStats,
    sender_alive: bool,
    receiver_alive: bool,
}

#[derive(Debug)]
struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    max_spares: usize,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves the state consistent (every update is a
        // single assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stash(&self, state: &mut State<T>, value: T) {
        if state.spares.len() < self.max_spares {
            state.spares.push(value);
        }
    }
}

/// The producer's end of a mailbox.
#[derive(Debug)]
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The consumer's end of a mailbox.
#[derive(Debug)]
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

/// A one-slot newest-value-wins mailbox keeping at most 2 spare buffers.
pub fn mailbox<T>() -> (Sender<T>, Receiver<T>) {
    mailbox_with_spares(2)
}

/// A mailbox keeping at most `max_spares` recycled buffers (extra ones are freed).
pub fn mailbox_with_spares<T>(max_spares: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            slot: None,
            spares: Vec::with_capacity(max_spares),
            stats: MailboxStats::default(),
            sender_alive: true,
            receiver_alive: true,
        }),
        ready: Condvar::new(),
        max_spares,
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl<T> Sender<T> {
    /// A recycled buffer to fill, if one is free (else the caller makes a new one).
    pub fn take_spare(&self) -> Option<T> {
        self.shared.lock().spares.pop()
    }

    /// Puts `value` in the slot. An unread value there is dropped (counted, and its
    /// buffer kept as a spare). Returns `Err(value)` once the receiver is gone.
    pub fn publish(&self, value: T) -> Result<(), T> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(value);
        }
        state.stats.published += 1;
        if let Some(old) = state.slot.replace(value) {
            state.stats.dropped += 1;
            self.shared.stash(&mut state, old);
        }
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Whether the receiver still exists.
    pub fn is_connected(&self) -> bool {
        self.shared.lock().receiver_alive
    }

    /// The counters so far.
    pub fn stats(&self) -> MailboxStats {
        self.shared.lock().stats
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.lock().sender_alive = false;
        self.shared.ready.notify_all();
    }
}

impl<T> Receiver<T> {
    /// Waits for the newest value; `None` once the sender is gone and the slot is empty.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.shared.lock();
        loop {
            if let Some(v) = state.slot.take() {
                state.stats.received += 1;
                return Some(v);
            }
            if !state.sender_alive {
                return None;
            }
            state = self
                .shared
                .ready
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// As [`Receiver::recv`], waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(v) = state.slot.take() {
                state.stats.received += 1;
                return Ok(v);
            }
            if !state.sender_alive {
                return Err(RecvError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(RecvError::Timeout);
            }
            state = self
                .shared
                .ready
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The newest value if one is waiting, without blocking.
    pub fn try_recv(&self) -> Option<T> {
        let mut state = self.shared.lock();
        let v = state.slot.take();
        if v.is_some() {
            state.stats.received += 1;
        }
        v
    }

    /// Hands a buffer back to the producer for reuse.
    pub fn recycle(&self, value: T) {
        let mut state = self.shared.lock();
        self.shared.stash(&mut state, value);
    }

    /// The counters so far.
    pub fn stats(&self) -> MailboxStats {
        self.shared.lock().stats
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver_alive = false;
        state.slot = None;
        state.spares.clear();
    }
}

/// How a capture loop ([`pump`], [`Pump::run`]) ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEnd {
    /// The source has no more frames.
    SourceEnded,
    /// The receiver (the sink) is gone.
    ReceiverGone,
    /// The loop's stop flag was raised.
    Stopped,
}

/// What a [`FrameSink`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Taken (published, converted, stored).
    Taken,
    /// Refused as broken (it could not be converted): counted with the source's bad
    /// frames, and the loop goes on. The sink logs why.
    Bad,
    /// The consumer is gone: the loop ends with [`PumpEnd::ReceiverGone`].
    Closed,
}

/// Where a capture loop hands its frames: a mailbox's [`Sender`] (a copy for
/// another thread), or a consumer's own slot (a server converting each frame on the
/// capture thread).
pub trait FrameSink {
    /// Takes one frame, borrowed from the source until this returns.
    fn deliver(&mut self, frame: &FrameRef<'_>) -> Delivery;

    /// Whether the consumer still wants frames; checked before every pull, so a
    /// loop whose consumer left does not wait for one more frame. Always, unless
    /// overridden.
    fn is_open(&self) -> bool {
        true
    }

    /// Called after every pull, whatever it gave (a frame, an error, the end): where
    /// a consumer reads what the source reports on the side, such as
    /// [`crate::CameraEvent`]s. Nothing, unless overridden.
    fn pulled(&mut self) {}
}

/// The mailbox as a sink: each frame is copied into a recycled [`Frame`] and
/// published. `&Sender` because publishing needs no exclusive access.
impl FrameSink for &Sender<Frame> {
    fn deliver(&mut self, frame: &FrameRef<'_>) -> Delivery {
        let mut buf = self.take_spare().unwrap_or_default();
        buf.copy_from(frame);
        match self.publish(buf) {
            Ok(()) => Delivery::Taken,
            Err(_) => Delivery::Closed,
        }
    }

    fn is_open(&self) -> bool {
        self.is_connected()
    }
}

/// What a capture loop has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PumpStats {
    /// Frames the sink took.
    pub delivered: u64,
    /// Frames lost as broken: the source's [`Recovery::Skip`] errors and the frames
    /// the sink refused ([`Delivery::Bad`]).
    pub bad: u64,
    /// Pulls tried again on the same handle after a [`Recovery::Retry`] error (a
    /// timeout): no frame was lost, none came.
    pub retried: u64,
}

/// A capture loop's counters, readable from other threads while it runs (a
/// server's health answer).
#[derive(Debug, Default)]
pub struct PumpCounters {
    delivered: AtomicU64,
    bad: AtomicU64,
    retried: AtomicU64,
}

impl PumpCounters {
    /// The counts so far.
    pub fn stats(&self) -> PumpStats {
        PumpStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            bad: self.bad.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
        }
    }

    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A capture loop: pulls frames from a source and hands each to a [`FrameSink`]
/// until the source ends, the sink closes, the stop flag is raised, or the source
/// fails in a way only its owner can fix.
///
/// One policy for the source's errors, by [`CaptureError::recovery`]:
/// - [`Recovery::Skip`] (a broken frame): counted as bad, logged, and the next frame
///   pulled.
/// - [`Recovery::Retry`] (a timeout): pulled again on the same handle, counted as
///   retried but not as bad: nothing broken arrived, nothing arrived at all. A loop
///   cannot reopen a device; [`crate::Reconnecting`] treats repeated timeouts as a
///   lost camera and reopens it, so a camera behind it never returns these.
/// - [`Recovery::Reopen`] and [`Recovery::Fatal`]: returned. The caller closes the
///   source, and reopens it after a back-off or gives up.
///
/// With a pace, pulls start at least that far apart, whatever each gave: for sources
/// that would deliver as fast as they are pulled (looping image files), since a
/// consumer of the newest frame reads no more than a camera's rate.
#[derive(Debug, Clone, Default)]
pub struct Pump {
    stop: Option<Arc<AtomicBool>>,
    pace: Option<Duration>,
    counters: Arc<PumpCounters>,
}

impl Pump {
    /// A loop without stop flag or pace, with counters of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the loop ([`PumpEnd::Stopped`]) once `stop` is true; checked before every
    /// pull. A pull already waiting ends within the source's own timeout.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Starts pulls at least `pace` apart (`None`: as fast as the source delivers).
    pub fn with_pace(mut self, pace: Option<Duration>) -> Self {
        self.pace = pace;
        self
    }

    /// Counts into `counters` (shared with whoever reports them).
    pub fn with_counters(mut self, counters: Arc<PumpCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// The loop's counters.
    pub fn counters(&self) -> &Arc<PumpCounters> {
        &self.counters
    }

    /// Runs the loop on this thread; see [`Pump`] for what ends it.
    pub fn run<S, K>(&self, source: &mut S, sink: &mut K) -> Result<PumpEnd, CaptureError>
    where
        S: FrameSource + ?Sized,
        K: FrameSink + ?Sized,
    {
        let counters = &*self.counters;
        loop {
            if self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                return Ok(PumpEnd::Stopped);
            }
            if !sink.is_open() {
                return Ok(PumpEnd::ReceiverGone);
            }
            let started = Instant::now();
            let next = source.next_frame();
            sink.pulled();
            match next {
                Ok(Some(frame)) => match sink.deliver(&frame) {
                    Delivery::Taken => PumpCounters::add(&counters.delivered),
                    Delivery::Bad => PumpCounters::add(&counters.bad),
                    Delivery::Closed => return Ok(PumpEnd::ReceiverGone),
                },
                Ok(None) => return Ok(PumpEnd::SourceEnded),
                Err(e) => match e.recovery() {
                    Recovery::Skip => {
                        PumpCounters::add(&counters.bad);
                        log::warn!("skipping a frame: {e}");
                    }
                    Recovery::Retry => {
                        PumpCounters::add(&counters.retried);
                        log::warn!("{e}; waiting for the next frame");
                    }
                    Recovery::Reopen | Recovery::Fatal => return Err(e),
                },
            }
            if let Some(rest) = self.pace.and_then(|p| p.checked_sub(started.elapsed())) {
                self.wait(rest);
            }
        }
    }

    /// Sleeps `span`, ended at once by a raised stop flag: a slow pace (one frame
    /// a minute) must not hold up a shutdown.
    fn wait(&self, span: Duration) {
        match &self.stop {
            Some(stop) => {
                wait_unless_stopped(span, stop);
            }
            None => std::thread::sleep(span),
        }
    }
}

/// Sleeps `span` in slices short enough that raising `stop` ends the wait at once;
/// true when it was raised. For the back-offs and paces of loops that must stop
/// promptly on SIGTERM.
pub fn wait_unless_stopped(span: Duration, stop: &AtomicBool) -> bool {
    const SLICE: Duration = Duration::from_millis(20);
    let until = Instant::now() + span;
    loop {
        if stop.load(Ordering::Relaxed) {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep(SLICE.min(until - now));
    }
}

/// Runs a capture loop ([`Pump`], without stop flag or pace) into a mailbox: each
/// frame is copied into a recycled [`Frame`] and published, until the source ends,
/// the receiver goes away, or the source fails with an error that only reopening or
/// giving up answers (returned; the caller decides, and calls `pump` again).
pub fn pump<S: FrameSource + ?Sized>(
    source: &mut S,
    tx: &Sender<Frame>,
) -> Result<PumpEnd, CaptureError> {
    Pump::new().run(source, &mut &*tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn newest_wins_and_drops_are_counted() {
        let (tx, rx) = mailbox::<u32>();
        tx.publish(1).unwrap();
        tx.publish(2).unwrap();
        tx.publish(3).unwrap();
        assert_eq!(rx.try_recv(), Some(3));
        assert_eq!(rx.try_recv(), None);
        assert_eq!(
            rx.stats(),
            MailboxStats {
                published: 3,
                received: 1,
                dropped: 2
            }
        );
        // The two overwritten values became spares.
        assert_eq!(tx.take_spare(), Some(2));
        assert_eq!(tx.take_spare(), Some(1));
        assert_eq!(tx.take_spare(), None);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(10)),
            Err(RecvError::Timeout)
        );
        drop(tx);
        assert_eq!(rx.recv(), None);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(10)),
            Err(RecvError::Closed)
        );
    }

    #[test]
    fn a_value_published_before_the_sender_leaves_is_still_received() {
        let (tx, rx) = mailbox::<u32>();
        tx.publish(9).unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Some(9));
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn publishing_to_a_dropped_receiver_gives_the_value_back() {
        let (tx, rx) = mailbox::<Vec<u8>>();
        drop(rx);
        assert!(!tx.is_connected());
        assert_eq!(tx.publish(vec![1]), Err(vec![1]));
    }

    #[test]
    fn spares_are_bounded() {
        let (tx, rx) = mailbox_with_spares::<u32>(1);
        for i in 0..10 {
            rx.recycle(i);
        }
        assert_eq!(tx.take_spare(), Some(0));
        assert_eq!(tx.take_spare(), None);
    }

    /// What a scripted source does on each pull.
    #[derive(Clone, Copy)]
    enum Step {
        Frame,
        Bad,
        Timeout,
        Lost,
    }

    /// Plays `steps`, then ends; frame `i`'s one byte is `i`.
    struct Script {
        steps: Vec<Step>,
        next: usize,
        byte: [u8; 1],
    }

    impl Script {
        fn new(steps: &[Step]) -> Self {
            Self {
                steps: steps.to_vec(),
                next: 0,
                byte: [0],
            }
        }
    }

    impl FrameSource for Script {
        fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
            let Some(&step) = self.steps.get(self.next) else {
                return Ok(None);
            };
            let sequence = self.next as u64;
            self.next += 1;
            let path = std::path::PathBuf::from("/dev/video9");
            match step {
                Step::Frame => {
                    self.byte = [sequence as u8];
                    Ok(Some(FrameRef {
                        width: 1,
                        height: 1,
                        stride: 0,
                        format: crate::PixelFormat::Rgb24,
                        color: Default::default(),
                        bytes: &self.byte,
                        sequence,
                        timestamp: Duration::ZERO,
                    }))
                }
                Step::Bad => Err(CaptureError::BadFrame {
                    sequence,
                    reason: "flagged by the driver".into(),
                }),
                Step::Timeout => Err(CaptureError::Timeout {
                    path,
                    after: Duration::from_secs(1),
                }),
                Step::Lost => Err(CaptureError::DeviceLost {
                    path,
                    source: std::io::Error::other("ENODEV"),
                }),
            }
        }

        fn stats(&self) -> crate::SourceStats {
            Default::default()
        }
    }

    /// Records what the loop gives it; refuses frames whose byte is in `bad`,
    /// closes at the frame whose byte is `close_at`, raises `stop` at `stop_at`.
    #[derive(Default)]
    struct Recorder {
        taken: Vec<u8>,
        pulls: usize,
        bad: Vec<u8>,
        close_at: Option<u8>,
        stop_at: Option<(u8, Arc<AtomicBool>)>,
    }

    impl FrameSink for Recorder {
        fn deliver(&mut self, frame: &FrameRef<'_>) -> Delivery {
            let byte = frame.bytes[0];
            if let Some((at, stop)) = &self.stop_at {
                if *at == byte {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            if self.close_at == Some(byte) {
                return Delivery::Closed;
            }
            if self.bad.contains(&byte) {
                return Delivery::Bad;
            }
            self.taken.push(byte);
            Delivery::Taken
        }

        fn pulled(&mut self) {
            self.pulls += 1;
        }
    }

    use Step::{Bad, Frame as F, Lost, Timeout};

    #[test]
    fn bad_frames_are_skipped_timeouts_retried_and_a_lost_device_returned() {
        let mut source = Script::new(&[F, Bad, Timeout, Timeout, F, Lost, F]);
        let mut sink = Recorder::default();
        let pump = Pump::new();
        let e = pump.run(&mut source, &mut sink).unwrap_err();
        assert!(matches!(e, CaptureError::DeviceLost { .. }), "{e}");
        assert_eq!(sink.taken, [0, 4]);
        assert_eq!(
            sink.pulls, 6,
            "the sink hears of every pull, errors included"
        );
        assert_eq!(
            pump.counters().stats(),
            PumpStats {
                delivered: 2,
                bad: 1,
                retried: 2
            }
        );
        // The caller reopens (here: goes on with the same source) and runs it again;
        // the counters go on counting.
        assert_eq!(
            pump.run(&mut source, &mut sink).unwrap(),
            PumpEnd::SourceEnded
        );
        assert_eq!(sink.taken, [0, 4, 6]);
        assert_eq!(pump.counters().stats().delivered, 3);
    }

    #[test]
    fn frames_the_sink_refuses_are_bad_and_a_closed_sink_ends_the_loop() {
        let mut source = Script::new(&[F, F, F, F, F]);
        let mut sink = Recorder {
            bad: vec![1],
            close_at: Some(3),
            ..Recorder::default()
        };
        let counters = Arc::new(PumpCounters::default());
        let pump = Pump::new().with_counters(counters.clone());
        assert_eq!(
            pump.run(&mut source, &mut sink).unwrap(),
            PumpEnd::ReceiverGone
        );
        assert_eq!(sink.taken, [0, 2]);
        assert_eq!((counters.stats().delivered, counters.stats().bad), (2, 1));
    }

    #[test]
    fn the_stop_flag_ends_the_loop_before_the_next_pull() {
        let stop = Arc::new(AtomicBool::new(false));
        let mut source = Script::new(&[F, F, F, F, F]);
        let mut sink = Recorder {
            stop_at: Some((2, stop.clone())),
            ..Recorder::default()
        };
        let pump = Pump::new().with_stop(stop.clone());
        assert_eq!(pump.run(&mut source, &mut sink).unwrap(), PumpEnd::Stopped);
        assert_eq!((sink.taken.as_slice(), sink.pulls), (&[0, 1, 2][..], 3));
        // Raised before it starts: nothing is pulled.
        let mut sink = Recorder::default();
        assert_eq!(pump.run(&mut source, &mut sink).unwrap(), PumpEnd::Stopped);
        assert_eq!(sink.pulls, 0);
    }

    #[test]
    fn a_stop_ends_a_slow_pace_at_once() {
        let stop = Arc::new(AtomicBool::new(false));
        let pump = Pump::new()
            .with_stop(stop.clone())
            .with_pace(Some(Duration::from_secs(600)));
        let raiser = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                stop.store(true, Ordering::Relaxed);
            })
        };
        let started = Instant::now();
        pump.wait(Duration::from_secs(600));
        raiser.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_pace_spaces_every_pull_bad_ones_too() {
        let mut source = Script::new(&[F, Bad, F, Bad, F]);
        let mut sink = Recorder::default();
        let pump = Pump::new().with_pace(Some(Duration::from_millis(20)));
        let started = Instant::now();
        assert_eq!(
            pump.run(&mut source, &mut sink).unwrap(),
            PumpEnd::SourceEnded
        );
        // Six pulls (the last one finds the end), each at least 20 ms after the last.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert_eq!(pump.counters().stats().bad, 2);
    }

    #[test]
    fn pump_publishes_into_the_mailbox_and_stops_when_its_receiver_is_gone() {
        let (tx, rx) = mailbox::<Frame>();
        let mut source = Script::new(&[F, Bad, F]);
        assert_eq!(pump(&mut source, &tx).unwrap(), PumpEnd::SourceEnded);
        assert_eq!(rx.try_recv().map(|f| f.bytes[0]), Some(2));
        assert_eq!((rx.stats().published, rx.stats().dropped), (2, 1));
        drop(rx);
        let mut source = Script::new(&[F]);
        assert_eq!(pump(&mut source, &tx).unwrap(), PumpEnd::ReceiverGone);
        assert_eq!(source.next, 0, "nothing pulled for a receiver that left");
    }

    #[test]
    fn blocked_receiver_wakes_on_publish() {
        let (tx, rx) = mailbox::<u32>();
        let t = thread::spawn(move || rx.recv());
        thread::sleep(Duration::from_millis(20));
        tx.publish(5).unwrap();
        assert_eq!(t.join().unwrap(), Some(5));
    }
}
