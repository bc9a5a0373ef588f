//! The newest-frame hand-off between a capture thread and a consumer.
//!
//! A one-slot mailbox: the producer [`publish`](Sender::publish)es into the slot,
//! replacing (and counting as dropped) a value the consumer has not taken yet; the
//! consumer [`recv`](Receiver::recv)s the newest value and hands the buffer back with
//! [`recycle`](Receiver::recycle), so the producer refills buffers instead of
//! allocating. At most three values exist in steady state (one being filled, one in the
//! slot, one being read) plus a bounded pool of spares.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{CaptureError, Recovery};
use crate::frame::Frame;
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

/// How [`pump`] ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEnd {
    /// The source has no more frames.
    SourceEnded,
    /// The receiver is gone.
    ReceiverGone,
}

/// Runs a capture loop: pulls frames from `source`, copies each into a recycled
/// [`Frame`] and publishes it, until the source ends, the receiver goes away, or the
/// source fails with an error other than a bad frame ([`Recovery::Skip`] errors are
/// logged and skipped). The caller decides what a returned error means (retry, reopen
/// after a back-off, give up) and calls `pump` again.
pub fn pump<S: FrameSource + ?Sized>(
    source: &mut S,
    tx: &Sender<Frame>,
) -> Result<PumpEnd, CaptureError> {
    loop {
        if !tx.is_connected() {
            return Ok(PumpEnd::ReceiverGone);
        }
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(PumpEnd::SourceEnded),
            Err(e) if e.recovery() == Recovery::Skip => {
                log::warn!("skipping a frame: {e}");
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut buf = tx.take_spare().unwrap_or_default();
        buf.copy_from(&frame);
        if tx.publish(buf).is_err() {
            return Ok(PumpEnd::ReceiverGone);
        }
    }
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

    #[test]
    fn blocked_receiver_wakes_on_publish() {
        let (tx, rx) = mailbox::<u32>();
        let t = thread::spawn(move || rx.recv());
        thread::sleep(Duration::from_millis(20));
        tx.publish(5).unwrap();
        assert_eq!(t.join().unwrap(), Some(5));
    }
}
