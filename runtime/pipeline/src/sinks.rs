//! The sinks the loop wires: every configured one gets every event ([`Fanout`]),
//! and the journal ([`JournalSink`]) is the device's own durable record, which the
//! MQTT outbox publishes from.

use edgeclip_events::{Event, Sink, SinkError};
use edgeclip_journal::{DurableSeq, Journal, JournalError};

/// Hands each event to every sink in turn. One sink's failure does not keep the
/// event from the others; the first error is returned (so the loop counts the
/// event as not fully delivered), and a closed sink is reported as
/// [`SinkError::Closed`] only when every sink is closed.
#[derive(Default)]
pub struct Fanout<'a> {
    sinks: Vec<Box<dyn Sink + 'a>>,
    closed: Vec<bool>,
}

impl<'a> Fanout<'a> {
    /// No sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink.
    pub fn push(&mut self, sink: impl Sink + 'a) {
        self.sinks.push(Box::new(sink));
        self.closed.push(false);
    }

    /// Number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    fn each(
        &mut self,
        mut f: impl FnMut(&mut (dyn Sink + 'a)) -> Result<(), SinkError>,
    ) -> Result<(), SinkError> {
        let mut first = None;
        for (sink, closed) in self.sinks.iter_mut().zip(&mut self.closed) {
            if *closed {
                continue;
            }
            match f(sink.as_mut()) {
                Ok(()) => {}
                Err(SinkError::Closed) => *closed = true,
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        if !self.closed.is_empty() && self.closed.iter().all(|c| *c) {
            return Err(SinkError::Closed);
        }
        first.map_or(Ok(()), Err)
    }
}

impl Sink for Fanout<'_> {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        self.each(|s| s.send(event))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.each(|s| s.flush())
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        self.each(|s| s.tick())
    }
}

/// Appends each event's JSON envelope to the journal under the event's own
/// sequence number, so journal and event stream agree on the order and a restart
/// continues the numbering ([`crate::Watch::continue_after`]). Run it behind
/// [`edgeclip_events::Spawned`]: the journal's fsyncs stay off the camera loop.
pub struct JournalSink {
    journal: Journal,
    on_durable: Option<Box<dyn Fn() + Send>>,
    durable: u64,
}

impl JournalSink {
    /// Writes to `journal`.
    pub fn new(journal: Journal) -> Self {
        let durable = journal.durable_seq();
        Self {
            journal,
            on_durable: None,
            durable,
        }
    }

    /// A handle on the journal's durable position, for the outbox.
    pub fn durable(&self) -> DurableSeq {
        self.journal.durable()
    }

    /// Calls `f` whenever more records became durable (to wake the outbox).
    pub fn on_durable(mut self, f: impl Fn() + Send + 'static) -> Self {
        self.on_durable = Some(Box::new(f));
        self
    }

    fn notify(&mut self) {
        let durable = self.journal.durable_seq();
        if durable != self.durable {
            self.durable = durable;
            if let Some(f) = &self.on_durable {
                f();
            }
        }
    }
}

fn io(e: JournalError) -> SinkError {
    SinkError::Io(std::io::Error::other(e.to_string()))
}

impl Sink for JournalSink {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        let meta = event.meta();
        let json = serde_json::to_vec(event).map_err(|e| SinkError::Io(e.into()))?;
        let result = match self.journal.append(meta.seq, meta.time_ms, &json) {
            // A retry of an event that did reach the journal.
            Err(JournalError::OutOfOrder { seq, last }) if seq == last => Ok(()),
            other => other.map_err(io),
        };
        self.notify();
        result
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let result = self.journal.sync().map_err(io);
        self.notify();
        result
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        let result = self.journal.tick().map_err(io);
        self.notify();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeclip_events::{CameraState, Meta};

    struct Count(u32, Option<fn() -> SinkError>);
    impl Sink for Count {
        fn send(&mut self, _: &Event) -> Result<(), SinkError> {
            self.0 += 1;
            self.1.map_or(Ok(()), |e| Err(e()))
        }
    }

    fn event() -> Event {
        Event::Camera(CameraState {
            meta: Meta {
                id: "r-1".into(),
                seq: 1,
                time_ms: 0,
            },
            device: "cam".into(),
            state: "opened".into(),
            detail: String::new(),
        })
    }

    #[test]
    fn one_failing_sink_does_not_starve_the_others() {
        let (mut a, mut b) = (Count(0, Some(|| SinkError::Full("a"))), Count(0, None));
        {
            let mut f = Fanout::new();
            f.push(&mut a);
            f.push(&mut b);
            assert!(matches!(f.send(&event()), Err(SinkError::Full("a"))));
            assert!(f.send(&event()).is_err());
        }
        assert_eq!((a.0, b.0), (2, 2));
    }

    #[test]
    fn closed_only_when_every_sink_closed() {
        let (mut a, mut b) = (Count(0, Some(|| SinkError::Closed)), Count(0, None));
        let mut f = Fanout::new();
        f.push(&mut a);
        f.push(&mut b);
        assert!(f.send(&event()).is_ok());
        assert!(f.send(&event()).is_ok());
        drop(f);
        assert_eq!((a.0, b.0), (1, 2), "a closed sink is not called again");
    }
}
