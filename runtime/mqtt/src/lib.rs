//! edgeclip events to an MQTT broker, for a device whose network comes and goes.
//!
//! Every event is in the journal (`edgeclip-journal`) before it is published: the
//! [`Outbox`] reads the journal from a cursor and publishes each record with QoS 1,
//! moving the cursor only on the broker's PUBACK. While the broker is unreachable
//! the device keeps tagging and the records wait on disk; when it returns they are
//! replayed in order. Each event carries a stable id (`<run>-<seq>`), so a consumer
//! drops QoS 1 redeliveries by id.
//!
//! Topics follow [`topics`] (close to Frigate's layout); [`discovery`] makes a Home
//! Assistant device with a binary sensor per label. The availability topic carries a
//! retained `online` while connected and `offline` as the last will.
//!
//! ```
//! use edgeclip_mqtt::{message, Topics};
//! use edgeclip_events::{Event, Meta, Presence};
//!
//! let topics = Topics::new("edgeclip", "kitchen");
//! let event = Event::Left(Presence {
//!     meta: Meta { id: "r-7".into(), seq: 7, time_ms: 0 },
//!     label: "red mug".into(), group: None, score: 0.1,
//!     first_seen_ms: 0, last_seen_ms: 0, first_frame: 0, last_frame: 0,
//! });
//! let json = serde_json::to_vec(&event).unwrap();
//! let out = message::for_event(&topics, &event, &json);
//! assert_eq!(out[0].topic, "edgeclip/events");
//! assert_eq!((out[1].topic.as_str(), &out[1].payload[..]), ("edgeclip/kitchen/red_mug", &b"OFF"[..]));
//! ```
#![deny(missing_docs)]

use std::path::PathBuf;

pub mod config;
pub mod discovery;
pub mod inflight;
pub mod message;
pub mod outbox;
pub mod topics;

pub use config::{MqttConfig, MqttTable, Secret};
pub use outbox::{Outbox, OutboxStats, Waker};
pub use topics::Topics;

/// Why the MQTT side could not start or lost its connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MqttError {
    /// A setting is wrong; the message names it.
    #[error("{0}")]
    Config(String),
    /// A file named in the settings could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The journal or the outbox cursor.
    #[error(transparent)]
    Journal(#[from] edgeclip_journal::JournalError),
    /// The broker refused or did not answer the connection.
    #[error("connecting: {0}")]
    Connect(String),
    /// The connection failed.
    #[error("{0}")]
    Connection(Box<rumqttc::ConnectionError>),
    /// The client's request queue failed.
    #[error("queueing a publish: {0}")]
    Client(Box<rumqttc::ClientError>),
}

// Boxed: rumqttc's errors carry whole requests, which would make every
// `Result` of this crate large.
impl From<rumqttc::ConnectionError> for MqttError {
    fn from(e: rumqttc::ConnectionError) -> Self {
        MqttError::Connection(Box::new(e))
    }
}

impl From<rumqttc::ClientError> for MqttError {
    fn from(e: rumqttc::ClientError) -> Self {
        MqttError::Client(Box::new(e))
    }
}
