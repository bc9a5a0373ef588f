//! Label text embeddings on disk: a versioned `.emb` file read through a memory map
//! with no copy of the vectors, and written atomically.
//!
//! A store holds one L2-normalized row per label, as f32, f16, or int8 with one
//! scale per row, plus the [`Fingerprint`] of the text encoder, tokenizer and
//! prompt templates that produced the rows, so that a device refuses a store built
//! by another model ([`Store::check_model`]). The byte layout is in `FORMAT.md`.
//!
//! [`Store::open`] validates everything (magic, version, bounds, checksum, UTF-8,
//! unique labels, finite values) before handing out borrowed [`Rows`]; a damaged
//! or hostile file is an error, never a panic. [`StoreBuilder`] encodes f32 rows,
//! writes a temporary file, syncs it and renames it over the target, so a reader or
//! a crash sees the old store or the new one, never a mix; editing a store
//! ([`StoreBuilder::from_store`]) carries its encoded rows over unchanged.
//!
//! ```
//! use edgeclip_store::{DType, Fingerprint, LabelMeta, Rows, Store, StoreBuilder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("labels.emb");
//! let fingerprint = Fingerprint {
//!     model: "edgeclip-tiny".into(),
//!     text_sha256: [7; 32],
//!     tokenizer: "clip-bpe/77".into(),
//!     templates: vec!["a photo of a {}.".into()],
//! };
//! let mut builder = StoreBuilder::new(DType::F16, 4, fingerprint)?;
//! builder.add("cat", &[1.0, 0.0, 0.0, 0.0])?;
//! builder.add_with_meta("dog", &[0.0, 3.0, 4.0, 0.0], LabelMeta {
//!     group: Some("animals".into()),
//!     threshold: Some(0.25),
//! })?;
//! builder.write_atomic(&path)?;
//!
//! let store = Store::open(&path)?;
//! assert_eq!(store.labels().collect::<Vec<_>>(), ["cat", "dog"]);
//! assert_eq!(store.meta(1).group, Some("animals"));
//! let Rows::F16(values) = store.rows() else { unreachable!() };
//! assert!((values[5].to_f32() - 0.6).abs() < 1e-3); // rows are stored normalized
//! store.check_model("edgeclip-tiny", &[[7; 32]])?;
//! assert!(store.check_model("other-model", &[[7; 32]]).is_err());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

// Rows are cast from the little-endian file in place; a big-endian target would need copies.
#[cfg(target_endian = "big")]
compile_error!(
    "edgeclip-store reads little-endian rows in place and supports little-endian targets only"
);

mod atomic;
mod edit;
mod error;
mod fingerprint;
mod format;
mod parse;
mod read;
mod rows;
mod sections;
mod write;

pub use error::{StoreError, StoreErrorKind};
pub use fingerprint::Fingerprint;
pub use format::{EXTENSION, HEADER_LEN, MAGIC, VECTOR_ALIGN, VERSION};
pub use read::{Meta, Store};
pub use rows::{DType, Rows};
pub use write::{LabelMeta, StoreBuilder};

/// Validates a store image held in memory exactly as [`Store::open`] validates a
/// file (`path` only names it in errors); for checking bytes before writing them
/// anywhere, and for fuzzing the reader.
pub fn check_bytes(bytes: &[u8], path: &std::path::Path) -> Result<(), StoreError> {
    parse::parse(bytes, path).map(drop)
}
