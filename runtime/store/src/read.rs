//! The reader: a validated, read-only memory map of a store file.

use std::path::{Path, PathBuf};

use half::f16;
use memmap2::Mmap;

use crate::fingerprint::short_hex;
use crate::parse::{parse, Parsed};
use crate::sections::MetaEntry;
use crate::{DType, Fingerprint, Rows, StoreError};

/// An open store: rows are borrowed straight from the file's memory map.
///
/// Everything in the file is validated by [`Store::open`]; accessors cannot fail
/// afterwards (except for an out-of-range row index, like slice indexing).
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    map: Mmap,
    parsed: Parsed,
}

/// Optional metadata of one label.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Meta<'a> {
    /// Group the label belongs to (e.g. "vehicles"), for events that report groups.
    pub group: Option<&'a str>,
    /// Per-label score threshold overriding the global one.
    pub threshold: Option<f32>,
}

impl Store {
    /// Maps and validates a store file.
    ///
    /// Fails with a [`StoreError`] naming the file for anything wrong in it, from
    /// a bad magic to a non-finite value; never panics on file contents.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let io = |action, error| StoreError::Io {
            path: path.clone(),
            action,
            error,
        };
        // Only regular files: mapping a device or waiting on a FIFO is no store.
        let file = edgeclip_io::open_regular(&path).map_err(|e| io("opening", e))?;
        // SAFETY: the map is read-only and outlives no one but `Store`. Its contents
        // could change only if the file were modified in place while mapped; writers
        // of this crate never do that (they write a new file and rename it over the
        // old one, and the old inode stays intact for existing maps). Files edited in
        // place by other tools are outside this contract.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| io("mapping", e))?;
        let parsed = parse(&map, &path)?;
        let store = Store { path, map, parsed };
        // Cast once here so that a misaligned map (impossible on page-aligned maps,
        // but not worth a panic) is an error rather than an empty `rows()`.
        if store.try_rows().is_none() {
            return Err(StoreError::Corrupt {
                path: store.path.clone(),
                detail: "vector payload is not aligned in memory".into(),
            });
        }
        Ok(store)
    }

    fn try_rows(&self) -> Option<Rows<'_>> {
        let v = self.map.get(self.parsed.vectors.clone())?;
        Some(match self.parsed.dtype {
            DType::F32 => Rows::F32(bytemuck::try_cast_slice::<u8, f32>(v).ok()?),
            DType::F16 => Rows::F16(bytemuck::try_cast_slice::<u8, f16>(v).ok()?),
            DType::Int8 => Rows::Int8 {
                values: bytemuck::cast_slice::<u8, i8>(v),
                scales: bytemuck::try_cast_slice(self.map.get(self.parsed.scales.clone())?).ok()?,
            },
        })
    }

    /// All rows, `len() × dim()` values row-major, borrowed from the map without copying.
    pub fn rows(&self) -> Rows<'_> {
        // Checked in `open`, so the fallback is never taken.
        self.try_rows().unwrap_or(Rows::F32(&[]))
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.parsed.dim
    }

    /// Number of rows (labels).
    pub fn len(&self) -> usize {
        self.parsed.rows
    }

    /// True if the store has no rows.
    pub fn is_empty(&self) -> bool {
        self.parsed.rows == 0
    }

    /// Element type of the rows.
    pub fn dtype(&self) -> DType {
        self.parsed.dtype
    }

    /// Label of row `i`. Panics if `i >= len()`.
    pub fn label(&self, i: usize) -> &str {
        let ends = &self.parsed.label_ends;
        let start = if i == 0 { 0 } else { ends[i - 1] };
        &self.parsed.label_text[start..ends[i]]
    }

    /// Labels in row order.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.label(i))
    }

    /// Row index of `label`, if present (linear scan: stores hold at most thousands of labels).
    pub fn position(&self, label: &str) -> Option<usize> {
        self.labels().position(|l| l == label)
    }

    /// Metadata of row `i` (all `None` if the store has none). Panics if `i >= len()`.
    pub fn meta(&self, i: usize) -> Meta<'_> {
        assert!(
            i < self.len(),
            "row {i} out of range for a store of {} rows",
            self.len()
        );
        match self.parsed.meta.as_ref().and_then(|m| m.get(i)) {
            Some(MetaEntry { group, threshold }) => Meta {
                group: group.as_deref(),
                threshold: *threshold,
            },
            None => Meta::default(),
        }
    }

    /// True if the file has a metadata section.
    pub fn has_meta(&self) -> bool {
        self.parsed.meta.is_some()
    }

    /// What produced the rows.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.parsed.fingerprint
    }

    /// The file this store was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// The raw bytes of the file (validated).
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }

    /// Refuses a store built by another model.
    ///
    /// A model package holds one text encoder per precision; a store built by any
    /// of them is valid, so `accepted_text_hashes` lists their SHA-256s. The error
    /// names the store file and both fingerprints.
    pub fn check_model(
        &self,
        model_name: &str,
        accepted_text_hashes: &[[u8; 32]],
    ) -> Result<(), StoreError> {
        let fp = &self.parsed.fingerprint;
        if fp.model == model_name && accepted_text_hashes.contains(&fp.text_sha256) {
            return Ok(());
        }
        let hashes: Vec<String> = accepted_text_hashes.iter().map(short_hex).collect();
        Err(StoreError::ModelMismatch {
            path: self.path.clone(),
            store: fp.to_string(),
            model: format!("{model_name} text={}", hashes.join("|")),
        })
    }
}
