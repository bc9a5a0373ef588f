//! The writer: encodes rows to the store's element type, lays out the file, and
//! replaces the target atomically.

use std::collections::HashSet;
use std::path::Path;

use half::f16;

use crate::atomic::write_bytes_atomic;
use crate::format::{checksum, put_str, Header, Section, HEADER_LEN, VECTOR_ALIGN};
use crate::sections::{encode_fingerprint, encode_meta, MetaEntry};
use crate::{DType, Fingerprint, StoreError};

/// Optional metadata of a label, as given to the builder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelMeta {
    /// Group the label belongs to.
    pub group: Option<String>,
    /// Per-label score threshold; must be finite.
    pub threshold: Option<f32>,
}

/// Rows already encoded to the store's element type; carried over unchanged by edits.
#[derive(Debug, Clone)]
pub(crate) enum Encoded {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Int8 { values: Vec<i8>, scales: Vec<f32> },
}

/// Builds a store in memory, then writes it with [`StoreBuilder::write_atomic`].
///
/// Rows are given as f32 and re-normalized to unit L2 norm before encoding, so
/// stored rows are unit vectors whatever the caller passed; a row with a
/// non-finite value or a zero norm is refused. Int8 rows use a symmetric per-row
/// scale: `scale = max|x| / 127`, `q = round(x / scale)`.
#[derive(Debug, Clone)]
pub struct StoreBuilder {
    pub(crate) dtype: DType,
    pub(crate) dim: usize,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) labels: Vec<String>,
    pub(crate) index: HashSet<String>,
    pub(crate) meta: Vec<MetaEntry>,
    pub(crate) rows: Encoded,
}

impl StoreBuilder {
    /// An empty store of `dim`-value rows stored as `dtype`.
    pub fn new(dtype: DType, dim: usize, fingerprint: Fingerprint) -> Result<Self, StoreError> {
        if dim == 0 || u32::try_from(dim).is_err() {
            return Err(StoreError::InvalidDim { dim });
        }
        let rows = match dtype {
            DType::F32 => Encoded::F32(Vec::new()),
            DType::F16 => Encoded::F16(Vec::new()),
            DType::Int8 => Encoded::Int8 {
                values: Vec::new(),
                scales: Vec::new(),
            },
        };
        Ok(StoreBuilder {
            dtype,
            dim,
            fingerprint,
            labels: Vec::new(),
            index: HashSet::new(),
            meta: Vec::new(),
            rows,
        })
    }

    /// Adds a label and its row, without metadata.
    pub fn add(&mut self, label: &str, row: &[f32]) -> Result<(), StoreError> {
        self.add_with_meta(label, row, LabelMeta::default())
    }

    /// Adds a label, its row and its metadata; fails if the label is already present.
    pub fn add_with_meta(
        &mut self,
        label: &str,
        row: &[f32],
        meta: LabelMeta,
    ) -> Result<(), StoreError> {
        if self.index.contains(label) {
            return Err(StoreError::LabelExists {
                label: label.into(),
            });
        }
        if row.len() != self.dim {
            return Err(StoreError::DimMismatch {
                label: label.into(),
                expected: self.dim,
                found: row.len(),
            });
        }
        if let Some(t) = meta.threshold.filter(|t| !t.is_finite()) {
            return Err(StoreError::InvalidMeta {
                label: label.into(),
                reason: format!("threshold {t} is not finite"),
            });
        }
        let unit = normalize(row).map_err(|reason| StoreError::InvalidRow {
            label: label.into(),
            reason,
        })?;
        match &mut self.rows {
            Encoded::F32(v) => v.extend_from_slice(&unit),
            Encoded::F16(v) => v.extend(unit.iter().map(|&x| f16::from_f32(x))),
            Encoded::Int8 { values, scales } => {
                let max = unit.iter().fold(0f32, |m, x| m.max(x.abs()));
                let scale = max / 127.0;
                values.extend(
                    unit.iter()
                        .map(|&x| (x / scale).round().clamp(-127.0, 127.0) as i8),
                );
                scales.push(scale);
            }
        }
        self.labels.push(label.into());
        self.index.insert(label.into());
        self.meta.push(MetaEntry {
            group: meta.group.map(Into::into),
            threshold: meta.threshold,
        });
        Ok(())
    }

    /// Element type rows are encoded to.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// What produced the rows; written into the store.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if no labels have been added.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Labels in row order.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.labels.iter().map(String::as_str)
    }

    /// The complete file image.
    pub fn to_bytes(&self) -> Result<Vec<u8>, StoreError> {
        let too_large = |detail: String| StoreError::TooLarge { detail };
        let rows = u32::try_from(self.labels.len())
            .map_err(|_| too_large(format!("{} rows", self.labels.len())))?;
        let (vectors, scales) = self.rows.bytes();
        let fingerprint = encode_fingerprint(&self.fingerprint)
            .ok_or_else(|| too_large("a fingerprint string".into()))?;
        let mut labels = Vec::new();
        for l in &self.labels {
            put_str(&mut labels, l)
                .ok_or_else(|| too_large(format!("label of {} bytes", l.len())))?;
        }
        let meta = encode_meta(&self.meta).ok_or_else(|| too_large("a metadata group".into()))?;

        let mut out = vec![0u8; HEADER_LEN];
        let mut place = |bytes: &[u8], align: usize| {
            if bytes.is_empty() {
                return Section::default();
            }
            out.resize(out.len().next_multiple_of(align), 0);
            let offset = out.len() as u64;
            out.extend_from_slice(bytes);
            Section {
                offset,
                len: bytes.len() as u64,
            }
        };
        let vectors = place(&vectors, VECTOR_ALIGN);
        let scales = place(&scales, 4);
        let fingerprint = place(&fingerprint, 1);
        let labels = place(&labels, 1);
        let meta = place(&meta, 1);
        let header = Header {
            dtype_code: self.dtype.code(),
            reserved_a: [0; 3],
            dim: self.dim as u32,
            rows,
            file_len: out.len() as u64,
            vectors,
            scales,
            fingerprint,
            labels,
            meta,
            reserved_b: 0,
            checksum: 0,
        };
        out[..HEADER_LEN].copy_from_slice(&header.encode());
        let header = Header {
            checksum: checksum(&out),
            ..header
        };
        out[..HEADER_LEN].copy_from_slice(&header.encode());
        Ok(out)
    }

    /// Writes the store to `path`, replacing any file there atomically: readers see
    /// the old file or the new one, never a mix, even if the process is killed.
    ///
    /// Leftover temporary files of a previous killed write (`.NAME.*.tmp` beside
    /// the target) are removed first; only one writer per store at a time is supported.
    pub fn write_atomic(&self, path: impl AsRef<Path>) -> Result<(), StoreError> {
        write_bytes_atomic(path.as_ref(), &self.to_bytes()?)
    }
}

impl Encoded {
    /// Little-endian bytes of the values and of the scales (empty unless int8).
    fn bytes(&self) -> (Vec<u8>, Vec<u8>) {
        match self {
            Encoded::F32(v) => (v.iter().flat_map(|x| x.to_le_bytes()).collect(), Vec::new()),
            Encoded::F16(v) => (v.iter().flat_map(|x| x.to_le_bytes()).collect(), Vec::new()),
            Encoded::Int8 { values, scales } => (
                bytemuck::cast_slice(values).to_vec(),
                scales.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
        }
    }
}

/// A unit-length copy of `row` (the project's one normalisation), or why it has none.
fn normalize(row: &[f32]) -> Result<Vec<f32>, String> {
    if let Some(i) = row.iter().position(|x| !x.is_finite()) {
        return Err(format!("value {} at column {i} is not finite", row[i]));
    }
    let mut unit = row.to_vec();
    edgeclip_kernels::vector::normalize_l2(&mut unit)
        .map_err(|norm| format!("L2 norm is {norm}"))?;
    Ok(unit)
}
