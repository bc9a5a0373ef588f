//! edgeclip-io: reading what a user or a device hands over, within bounds.
//!
//! Every file the tools read whole (a config, a board profile, a manifest, a label
//! list, a token) is read through [`read_limited`] with a limit suited to what it
//! is, so pointing a flag at `/dev/zero` is an error naming the file instead of a
//! process growing until the kernel kills it. Files that are mapped or handed to an
//! engine (models, stores) are checked with [`require_regular`] first, so a FIFO or
//! a device is refused instead of hanging the open. [`jpeg`] tells a complete JPEG
//! from a truncated one, which the decoders accept silently. [`position`] names the
//! line and key of a settings file an error is at.
#![deny(missing_docs)]

mod bounded;
pub mod jpeg;
mod position;

pub use bounded::{open_regular, read_limited, read_text_limited, require_regular, Limit};
pub use position::position;
