//! Sinks off the hot path: a bounded queue in front of a sink on its own thread.
//!
//! The watch loop must keep the camera's pace whatever a sink does (an fsync, a
//! slow SD card, a GPIO chip that errors). [`Spawned`] gives the loop a queue of
//! fixed capacity: [`Sink::send`] only clones the event into it and never blocks.
//! When the queue is full the event is **not** queued — `send` returns
//! [`SinkError::Full`], the loop counts it, and the sink's thread goes on with what
//! it has. A full queue means the sink has been failing or stalled for `capacity`
//! events in a row (events are rare: a few per label change and one status per
//! interval), so the newest are the ones given up, and the count says how many.
//!
//! On its thread, a send that fails with an I/O error is retried (after 50, 200 and
//! 1000 ms) before the event is given up and counted in [`Spawned::failures`]. Between
//! events the thread calls [`Sink::tick`] so that time-based work (an interval
//! fsync) happens even when no event comes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{Event, Sink, SinkError};

/// How often an idle sink's [`Sink::tick`] runs.
const TICK: Duration = Duration::from_millis(50);
const RETRIES: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(200),
    Duration::from_millis(1000),
];

enum Msg {
    Event(Box<Event>),
    Flush(mpsc::SyncSender<Result<(), String>>),
}

/// A sink running on its own thread behind a bounded queue.
pub struct Spawned {
    name: &'static str,
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<()>>,
    failures: Arc<AtomicU64>,
    full: u64,
}

impl Spawned {
    /// Moves `sink` to a thread named after `name`, with room for `capacity`
    /// queued events.
    pub fn spawn<S: Sink + Send + 'static>(
        name: &'static str,
        sink: S,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Msg>(capacity.max(1));
        let failures = Arc::new(AtomicU64::new(0));
        let counted = failures.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sink-{name}"))
            .spawn(move || worker(name, sink, rx, &counted))?;
        Ok(Self {
            name,
            tx: Some(tx),
            thread: Some(thread),
            failures,
            full: 0,
        })
    }

    /// Events the sink failed to take after its retries.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Events not queued because the queue was full.
    pub fn full(&self) -> u64 {
        self.full
    }
}

fn worker<S: Sink>(name: &str, mut sink: S, rx: mpsc::Receiver<Msg>, failures: &AtomicU64) {
    loop {
        match rx.recv_timeout(TICK) {
            Ok(Msg::Event(event)) => {
                if !send_with_retries(name, &mut sink, &event, failures) {
                    return;
                }
            }
            Ok(Msg::Flush(reply)) => {
                let _ = reply.send(sink.flush().map_err(|e| e.to_string()));
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Err(e) = sink.tick() {
                    log::warn!("{name}: {e}");
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Err(e) = sink.flush() {
        log::error!("{name}: flushing at the end: {e}");
    }
}

/// `false` when the sink is closed for good.
fn send_with_retries<S: Sink>(
    name: &str,
    sink: &mut S,
    event: &Event,
    failures: &AtomicU64,
) -> bool {
    let mut retries = RETRIES.iter();
    loop {
        match sink.send(event) {
            Ok(()) => return true,
            Err(SinkError::Closed) => {
                log::warn!("{name}: closed; no more events go there");
                return false;
            }
            Err(e) => match retries.next() {
                Some(wait) => {
                    log::warn!("{name}: {e}; retrying in {} ms", wait.as_millis());
                    std::thread::sleep(*wait);
                }
                None => {
                    log::error!("{name}: {e}; event {} given up", event.meta().id);
                    failures.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
            },
        }
    }
}

impl Sink for Spawned {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        let tx = self.tx.as_ref().ok_or(SinkError::Closed)?;
        match tx.try_send(Msg::Event(Box::new(event.clone()))) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.full += 1;
                Err(SinkError::Full(self.name))
            }
            Err(TrySendError::Disconnected(_)) => Err(SinkError::Closed),
        }
    }

    /// Waits until the sink has taken everything queued before and flushed.
    fn flush(&mut self) -> Result<(), SinkError> {
        let tx = self.tx.as_ref().ok_or(SinkError::Closed)?;
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        tx.send(Msg::Flush(reply_tx))
            .map_err(|_| SinkError::Closed)?;
        match reply_rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(SinkError::Io(std::io::Error::other(message))),
            Err(_) => Err(SinkError::Closed),
        }
    }
}

impl Drop for Spawned {
    /// Lets the thread finish the queue and flush, then joins it.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("{}: the sink's thread panicked", self.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CameraState, Meta};
    use std::sync::{Arc, Mutex};

    fn event(seq: u64) -> Event {
        Event::Camera(CameraState {
            meta: Meta {
                id: format!("r-{seq}"),
                seq,
                time_ms: 0,
            },
            device: "cam".into(),
            state: "opened".into(),
            detail: String::new(),
        })
    }

    /// Records what it gets; fails the first `fail_first` sends; can be held shut.
    struct Probe {
        got: Arc<Mutex<Vec<u64>>>,
        gate: Arc<Mutex<()>>,
        fail_first: u32,
        ticks: Arc<AtomicU64>,
    }

    impl Sink for Probe {
        fn send(&mut self, event: &Event) -> Result<(), SinkError> {
            let _open = self.gate.lock().unwrap();
            if self.fail_first > 0 {
                self.fail_first -= 1;
                return Err(SinkError::Io(std::io::Error::other("disk on fire")));
            }
            self.got.lock().unwrap().push(event.meta().seq);
            Ok(())
        }

        fn tick(&mut self) -> Result<(), SinkError> {
            self.ticks.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    /// What a test watches of a [`Probe`]: what it got, its gate, its ticks.
    type Handles = (Arc<Mutex<Vec<u64>>>, Arc<Mutex<()>>, Arc<AtomicU64>);

    fn probe(fail_first: u32) -> (Probe, Handles) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Mutex::new(()));
        let ticks = Arc::new(AtomicU64::new(0));
        let p = Probe {
            got: got.clone(),
            gate: gate.clone(),
            fail_first,
            ticks: ticks.clone(),
        };
        (p, (got, gate, ticks))
    }

    #[test]
    fn events_arrive_in_order_and_flush_waits_for_them() {
        let (p, (got, _gate, _)) = probe(0);
        let mut s = Spawned::spawn("probe", p, 64).unwrap();
        for seq in 1..=50 {
            s.send(&event(seq)).unwrap();
        }
        s.flush().unwrap();
        assert_eq!(*got.lock().unwrap(), (1..=50).collect::<Vec<_>>());
    }

    #[test]
    fn a_stalled_sink_never_blocks_the_sender_and_full_is_counted() {
        let (p, (got, gate, _)) = probe(0);
        let held = gate.lock().unwrap();
        let mut s = Spawned::spawn("probe", p, 4).unwrap();
        let started = std::time::Instant::now();
        let mut full = 0;
        for seq in 1..=20 {
            if let Err(SinkError::Full(name)) = s.send(&event(seq)) {
                assert_eq!(name, "probe");
                full += 1;
            }
        }
        assert!(started.elapsed() < Duration::from_millis(500));
        // One taken by the worker (blocked in send), four queued.
        assert!(full >= 15, "{full} refused");
        assert_eq!(s.full(), full);
        drop(held);
        s.flush().unwrap();
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len() as u64, 20 - full);
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    }

    #[test]
    fn failures_are_retried_then_counted() {
        let (p, (got, _gate, _)) = probe(2);
        let mut s = Spawned::spawn("probe", p, 8).unwrap();
        s.send(&event(1)).unwrap();
        s.flush().unwrap();
        assert_eq!(*got.lock().unwrap(), [1], "the third try went through");
        assert_eq!(s.failures(), 0);

        let (p, (got, _gate, _)) = probe(4);
        let mut s = Spawned::spawn("probe", p, 8).unwrap();
        s.send(&event(1)).unwrap();
        s.send(&event(2)).unwrap();
        s.flush().unwrap();
        assert_eq!(s.failures(), 1, "event 1 given up after four tries");
        assert_eq!(
            *got.lock().unwrap(),
            [2],
            "and the sink went on with the next"
        );
    }

    #[test]
    fn an_idle_sink_is_ticked() {
        let (p, (_got, _gate, ticks)) = probe(0);
        let s = Spawned::spawn("probe", p, 8).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(ticks.load(Ordering::Relaxed) >= 2);
        drop(s);
    }
}
