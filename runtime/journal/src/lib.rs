//! The device's own record of events: an append-only journal that survives
//! crashes and power cuts.
//!
//! Records (opaque payloads with a sequence number and a time) go into segment
//! files, each framed with its length, sequence number and a CRC-32C
//! (`FORMAT.md` in this crate's folder). [`Journal`] is the one
//! writer of a folder (it holds a lock): it rotates segments by size, deletes the
//! oldest beyond the retention limits, syncs by the [`Durability`] policy, and on
//! open removes an unwritten newest segment, keeps the records after a damaged
//! stretch, and cuts a torn or damaged tail back to the last good record, so the
//! sequence continues from there. [`Reader`] reads a journal (also while it is
//! being written), skipping damaged stretches with a warning unless strict, and a
//! [`Cursor`] keeps a durable position in it, like the MQTT outbox's "delivered up
//! to here".
//!
//! ```
//! use edgeclip_journal::{Journal, JournalConfig, Reader};
//!
//! let dir = tempfile::tempdir()?;
//! let mut journal = Journal::open(dir.path(), JournalConfig::default())?;
//! journal.append(1, 1_764_000_000_000, br#"{"type":"appeared"}"#)?;
//! assert_eq!(journal.durable_seq(), 1);
//!
//! let mut reader = Reader::open(dir.path())?;
//! let record = reader.next()?.expect("one record");
//! assert_eq!((record.seq, &record.payload[..]), (1, &br#"{"type":"appeared"}"#[..]));
//! assert!(reader.next()?.is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod cursor;
mod durability;
mod durable;
mod error;
pub mod format;
mod fsutil;
mod reader;
mod segment;
mod settings;
mod writer;

pub use cursor::Cursor;
pub use durability::{Durability, ParseDurabilityError};
pub use durable::DurableSeq;
pub use error::{JournalError, JournalErrorKind};
pub use format::{Record, MAX_PAYLOAD};
pub use reader::{Reader, Skipped};
pub use settings::JournalTable;
pub use writer::{Journal, JournalConfig, JournalStats, Recovery};
