//! What an edgeclip device reports, and the one interface every output implements.
//!
//! The watch loop turns frames into [`Event`]s — a label [`Event::Appeared`] or
//! [`Event::Left`], a periodic [`Event::Status`], a change of the camera's state
//! ([`Event::Camera`]) — and hands each one, in order, to every [`Sink`]. Each event
//! carries a stable id and a sequence number ([`Meta`]), so a consumer that gets an
//! event twice (a redelivery after an outage) can drop the copy.
//!
//! Serialized with serde as the CLI's JSON Lines envelope,
//! `{"type": "appeared", "data": {...}}` (documented in `runtime/cli/WIRE.md`).
//!
//! ```
//! use edgeclip_events::{Event, Meta, Presence, Sink, SinkError};
//!
//! struct Collect(Vec<String>);
//! impl Sink for Collect {
//!     fn send(&mut self, event: &Event) -> Result<(), SinkError> {
//!         self.0.push(event.kind().to_owned());
//!         Ok(())
//!     }
//! }
//!
//! let mut sink = Collect(Vec::new());
//! let meta = Meta { id: "run1-1".into(), seq: 1, time_ms: 0 };
//! let presence = Presence {
//!     meta, label: "red mug".into(), group: None, score: 0.8,
//!     first_seen_ms: 0, last_seen_ms: 0, first_frame: 0, last_frame: 0,
//! };
//! sink.send(&Event::Appeared(presence))?;
//! assert_eq!(sink.0, ["appeared"]);
//! # Ok::<(), SinkError>(())
//! ```
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

pub mod gpio;
pub mod indicator;

pub mod spawned;

pub use spawned::Spawned;

/// Identity and order of one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Stable across restarts and redeliveries: `<run id>-<seq>`.
    pub id: String,
    /// 1, 2, 3, ... in the order events were made.
    pub seq: u64,
    /// Wall-clock time the event was made, milliseconds since the Unix epoch.
    pub time_ms: u64,
}

/// A label that appeared or left, with the span it was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    /// Id, sequence number and time of the event.
    #[serde(flatten)]
    pub meta: Meta,
    /// The label.
    pub label: String,
    /// Its group, when the label store gives one.
    pub group: Option<String>,
    /// The smoothed score at the transition.
    pub score: f32,
    /// When the label's score first passed the enter threshold in this presence,
    /// on the frames' clock (ms).
    pub first_seen_ms: u64,
    /// When its score was last above the exit threshold, on the frames' clock (ms).
    pub last_seen_ms: u64,
    /// Sequence number of the frame at `first_seen_ms`.
    pub first_frame: u64,
    /// Sequence number of the frame at `last_seen_ms`.
    pub last_frame: u64,
}

/// Mean milliseconds per frame of each stage of the loop, over a status interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StageMs {
    /// Waiting for the next frame.
    pub capture_wait: f64,
    /// Converting the frame to RGB8 (and decoding MJPEG).
    pub decode: f64,
    /// Resizing, cropping and normalizing for the image tower.
    pub preprocess: f64,
    /// The image tower.
    pub encode: f64,
    /// Scoring against the labels and smoothing.
    pub matching: f64,
}

/// A periodic report of the loop's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Id, sequence number and time of the event.
    #[serde(flatten)]
    pub meta: Meta,
    /// Seconds since the loop started.
    pub uptime_s: f64,
    /// Frames the source delivered per second over the interval.
    pub fps_in: f64,
    /// Frames encoded per second over the interval.
    pub fps_out: f64,
    /// Frames encoded since the start.
    pub frames: u64,
    /// Frames dropped since the start: skipped because inference was busy (newest
    /// frame wins) or lost by the source.
    pub dropped: u64,
    /// Frames that could not be used since the start (corrupt, truncated).
    pub bad: u64,
    /// Per-stage mean milliseconds over the interval.
    pub stage_ms: StageMs,
    /// The camera's state (`streaming`, `lost`, ...; `file` or `stdin` for other
    /// sources).
    pub camera: String,
    /// Labels present now.
    pub present: Vec<String>,
}

/// A change of the frame source's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraState {
    /// Id, sequence number and time of the event.
    #[serde(flatten)]
    pub meta: Meta,
    /// The device or source.
    pub device: String,
    /// `opened`, `lost`, `retrying` or `back`.
    pub state: String,
    /// What happened (the negotiated format, the error, the wait).
    pub detail: String,
}

/// Everything the watch loop reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// A label is present now (after its dwell time).
    Appeared(Presence),
    /// A label is no longer present (after its hold time).
    Left(Presence),
    /// The periodic status.
    Status(Status),
    /// The camera's state changed.
    Camera(CameraState),
}

impl Event {
    /// The event's `type` as serialized (`appeared`, `left`, `status`, `camera`).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Appeared(_) => "appeared",
            Event::Left(_) => "left",
            Event::Status(_) => "status",
            Event::Camera(_) => "camera",
        }
    }

    /// The event's id, sequence number and time.
    pub fn meta(&self) -> &Meta {
        match self {
            Event::Appeared(p) | Event::Left(p) => &p.meta,
            Event::Status(s) => &s.meta,
            Event::Camera(c) => &c.meta,
        }
    }
}

/// Why a sink could not take an event.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The reader went away (a closed pipe): nothing more can be delivered there.
    #[error("the reader closed the output")]
    Closed,
    /// Writing failed.
    #[error("writing an event: {0}")]
    Io(#[from] std::io::Error),
    /// The sink's queue is full (its thread is stalled or failing): the event was
    /// not queued. See [`Spawned`].
    #[error("the {0} sink's queue is full; event not queued")]
    Full(&'static str),
}

/// The class of an error of this crate ([`SinkError`], and the GPIO indicator's
/// [`IndicatorError`](indicator::IndicatorError)), independent of the message.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventsErrorKind {
    /// Writing failed, or the reader closed the output.
    Io,
    /// A sink's queue is full (its thread is stalled or failing): events are
    /// being given up.
    SinkFull,
    /// Driving a GPIO pin failed.
    Gpio,
    /// A setting (a `[gpio]` table) is unusable.
    Config,
}

impl EventsErrorKind {
    /// The kind as written in JSON records: `io`, `sink_full`, `gpio`, `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventsErrorKind::Io => "io",
            EventsErrorKind::SinkFull => "sink_full",
            EventsErrorKind::Gpio => "gpio",
            EventsErrorKind::Config => "config",
        }
    }
}

impl std::fmt::Display for EventsErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SinkError {
    /// What class of failure this is.
    pub fn kind(&self) -> EventsErrorKind {
        match self {
            // A closed reader is a write the operating system refused (EPIPE).
            SinkError::Closed | SinkError::Io(_) => EventsErrorKind::Io,
            SinkError::Full(_) => EventsErrorKind::SinkFull,
        }
    }
}

/// Where events go: stdout, a journal, a broker. The loop calls [`Sink::send`] for
/// every event in order; a sink that fails is reported, and the loop goes on.
pub trait Sink {
    /// Takes one event.
    fn send(&mut self, event: &Event) -> Result<(), SinkError>;

    /// Makes everything sent so far durable or visible (at the end of a run).
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Time-based work between events (an interval fsync); called every few tens
    /// of milliseconds by a [`Spawned`] sink's thread while no event comes.
    fn tick(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        (**self).send(event)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        (**self).tick()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        (**self).send(event)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush()
    }

    fn tick(&mut self) -> Result<(), SinkError> {
        (**self).tick()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_in_the_envelope_with_flat_data() {
        let event = Event::Camera(CameraState {
            meta: Meta {
                id: "r-3".into(),
                seq: 3,
                time_ms: 12,
            },
            device: "/dev/video0".into(),
            state: "lost".into(),
            detail: "No such device (os error 19)".into(),
        });
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"type":"camera","data":{"id":"r-3","seq":3,"time_ms":12,"device":"/dev/video0","state":"lost","detail":"No such device (os error 19)"}}"#
        );
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, event);
        assert_eq!(back.meta().seq, 3);
    }

    #[test]
    fn sink_errors_tell_a_failing_write_from_a_full_queue() {
        assert_eq!(SinkError::Closed.kind(), EventsErrorKind::Io);
        let io = SinkError::from(std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert_eq!(io.kind().as_str(), "io");
        assert_eq!(SinkError::Full("journal").kind().as_str(), "sink_full");
        assert_eq!(EventsErrorKind::Gpio.to_string(), "gpio");
    }
}
