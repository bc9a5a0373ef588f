//! The durable position, shared with threads that publish durable records.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct State {
    seq: u64,
    closed: bool,
}

/// The highest sequence number the journal has synced, shared with other threads
/// (an outbox that publishes only what a power cut cannot take back). Cloning
/// shares the same value. The journal closes it when dropped, which wakes every
/// waiter.
#[derive(Debug, Clone, Default)]
pub struct DurableSeq(Arc<(Mutex<State>, Condvar)>);

impl DurableSeq {
    /// A handle starting at `seq`, open.
    pub fn new(seq: u64) -> Self {
        DurableSeq(Arc::new((
            Mutex::new(State { seq, closed: false }),
            Condvar::new(),
        )))
    }

    // A waiter that panicked cannot leave the state half-updated (it is two plain
    // fields), so a poisoned lock is used as is rather than spreading the panic.
    fn state(&self) -> MutexGuard<'_, State> {
        self.0 .0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The highest durable sequence number (0 when nothing is).
    pub fn get(&self) -> u64 {
        self.state().seq
    }

    /// Waits until the durable sequence number is above `seq`, the handle is
    /// closed, or `timeout` passed, and returns the durable sequence number then.
    pub fn wait_beyond(&self, seq: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.state();
        while state.seq <= seq && !state.closed {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                break;
            }
            state = self
                .0
                 .1
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.seq
    }

    /// Raises the durable sequence number to `seq` (never lowers it) and wakes
    /// the waiters.
    pub fn advance(&self, seq: u64) {
        let mut state = self.state();
        if seq > state.seq {
            state.seq = seq;
            self.0 .1.notify_all();
        }
    }

    /// Marks the handle closed (no more records will become durable through
    /// it) and wakes the waiters.
    pub fn close(&self) {
        self.state().closed = true;
        self.0 .1.notify_all();
    }

    /// Whether [`close`](Self::close) was called (the journal was dropped).
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn wait_returns_when_advanced_or_closed_or_timed_out() {
        let d = DurableSeq::new(3);
        assert_eq!(d.wait_beyond(2, Duration::from_secs(5)), 3);
        let t = Instant::now();
        assert_eq!(d.wait_beyond(3, Duration::from_millis(30)), 3);
        assert!(t.elapsed() >= Duration::from_millis(30));

        let waiter = {
            let d = d.clone();
            thread::spawn(move || d.wait_beyond(3, Duration::from_secs(30)))
        };
        thread::sleep(Duration::from_millis(20));
        d.advance(2); // lower: ignored, no wake-up result
        d.advance(7);
        assert_eq!(waiter.join().unwrap(), 7);

        let waiter = {
            let d = d.clone();
            thread::spawn(move || d.wait_beyond(7, Duration::from_secs(30)))
        };
        thread::sleep(Duration::from_millis(20));
        assert!(!d.is_closed());
        d.close();
        assert_eq!(waiter.join().unwrap(), 7);
        assert!(d.is_closed());
        assert_eq!(d.wait_beyond(100, Duration::MAX), 7, "closed: no waiting");
    }
}
