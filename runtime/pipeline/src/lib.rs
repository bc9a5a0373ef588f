//! The device's main loop, wired in one place: a frame source, the image encoder,
//! a label set, temporal smoothing and the event sinks.
//!
//! ```text
//! FrameSource ──(inline, or a capture thread + newest-frame mailbox)──> Watch::process
//!     convert to RGB8 → preprocess → image tower → label scores → Tracker → Event → Sink
//! ```
//!
//! [`Watch::run_inline`] pulls every frame of a finite source in turn (a
//! directory, a recording, raw frames on stdin); [`Watch::run_mailbox`] takes the
//! newest frame a capture thread published (a live camera). Both end on the stop
//! flag, a frame or time limit, the end of the source or a closed output, and emit
//! a last status. `edgeclip watch` builds one from flags and a [`SettingsFile`].
#![deny(missing_docs)]

pub mod config;
pub mod settings;
pub mod sinks;
pub mod watch;

pub use config::{Mode, TrackTable, WatchConfig, WatchTable};
pub use settings::SettingsFile;
pub use sinks::{Fanout, JournalSink};
pub use watch::{
    Ended, FrameOutcome, Limits, SourceState, Totals, Watch, WatchError, WatchErrorKind,
};
