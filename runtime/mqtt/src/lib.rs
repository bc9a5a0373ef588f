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

/// The class of an [`MqttError`], independent of the message: a setting to fix,
/// a file the system would not read, the broker, or the journal it publishes from.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MqttErrorKind {
    /// A setting is wrong or missing (host, port, TLS files, credentials), or the
    /// outbox could not start with them.
    Config,
    /// The operating system refused to read a file named in the settings.
    Io,
    /// The broker refused the connection, did not answer it, or the connection
    /// failed.
    Broker,
    /// The journal or the outbox cursor failed: the journal's own kind.
    Journal(edgeclip_journal::JournalErrorKind),
}

impl MqttErrorKind {
    /// The kind as written in JSON records: `config`, `io`, `broker`, or the
    /// journal's word (`journal_file`, `journal_locked`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            MqttErrorKind::Config => "config",
            MqttErrorKind::Io => "io",
            MqttErrorKind::Broker => "broker",
            MqttErrorKind::Journal(kind) => kind.as_str(),
        }
    }
}

impl std::fmt::Display for MqttErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MqttError {
    /// What class of failure this is.
    pub fn kind(&self) -> MqttErrorKind {
        match self {
            MqttError::Config(_) => MqttErrorKind::Config,
            MqttError::Io { .. } => MqttErrorKind::Io,
            MqttError::Journal(e) => MqttErrorKind::Journal(e.kind()),
            // A client whose request queue failed has lost its event loop, which
            // only ends with the connection: the broker side, like the others.
            MqttError::Connect(_) | MqttError::Connection(_) | MqttError::Client(_) => {
                MqttErrorKind::Broker
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_tell_settings_from_the_broker_and_keep_the_journals() {
        let missing_host =
            MqttConfig::from_table(&MqttTable::default(), std::path::Path::new(".")).unwrap_err();
        assert_eq!(missing_host.kind(), MqttErrorKind::Config, "{missing_host}");
        let io = MqttError::Io {
            path: "ca.pem".into(),
            source: std::io::ErrorKind::NotFound.into(),
        };
        assert_eq!(io.kind().as_str(), "io");
        assert_eq!(
            MqttError::Connect("no CONNACK within 10 s".into()).kind(),
            MqttErrorKind::Broker
        );
        let lost = MqttError::from(rumqttc::ConnectionError::NetworkTimeout);
        assert_eq!(lost.kind().as_str(), "broker");
        let locked = MqttError::from(edgeclip_journal::JournalError::Locked("j".into()));
        assert_eq!(
            locked.kind(),
            MqttErrorKind::Journal(edgeclip_journal::JournalErrorKind::JournalLocked)
        );
        assert_eq!(locked.kind().as_str(), "journal_locked");
    }
}
