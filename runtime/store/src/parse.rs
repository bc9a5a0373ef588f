//! Validation of a store image: every field, offset and value is checked before use.
//!
//! Works on any `&[u8]` (no alignment needed) so the same code checks a memory map,
//! a buffer in a fuzzer, or bytes about to be written.

use std::ops::Range;
use std::path::Path;

use half::f16;

use crate::format::{checksum, Header, Section, HEADER_LEN, MAGIC, VECTOR_ALIGN, VERSION};
use crate::sections::{parse_fingerprint, parse_labels, parse_meta, MetaEntry};
use crate::{DType, Fingerprint, StoreError};

/// A validated store: ranges index the bytes it was parsed from.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub dtype: DType,
    pub dim: usize,
    pub rows: usize,
    pub vectors: Range<usize>,
    pub scales: Range<usize>,
    pub fingerprint: Fingerprint,
    /// All labels concatenated; label `i` ends at `label_ends[i]`.
    pub label_text: String,
    pub label_ends: Vec<usize>,
    pub meta: Option<Vec<MetaEntry>>,
}

/// Checks `bytes` as a whole store file named `path` (used in errors only).
pub(crate) fn parse(bytes: &[u8], path: &Path) -> Result<Parsed, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let head = check_prefix(bytes, path)?;
    let h = Header::decode(head);
    let dtype_name = DType::from_code(h.dtype_code).map_or("?", DType::name);
    let actual = bytes.len() as u64;
    if actual < h.file_len {
        return Err(StoreError::Truncated {
            path: path.to_path_buf(),
            detail: format!(
                "header says {} rows × {} {dtype_name} ({} bytes of vectors) in a {}-byte file, but the file is {actual} bytes",
                h.rows, h.dim, h.vectors.len, h.file_len
            ),
        });
    }
    if actual > h.file_len {
        return Err(corrupt(format!(
            "{} bytes follow the {} bytes the header describes",
            actual - h.file_len,
            h.file_len
        )));
    }
    let computed = checksum(bytes);
    if computed != h.checksum {
        return Err(StoreError::Checksum {
            path: path.to_path_buf(),
            stored: h.checksum,
            computed,
        });
    }
    let dtype = DType::from_code(h.dtype_code)
        .ok_or_else(|| corrupt(format!("unknown element type code {}", h.dtype_code)))?;
    if h.reserved_a != [0; 3] || h.reserved_b != 0 {
        return Err(corrupt("reserved header bytes are not zero".into()));
    }
    if h.dim == 0 {
        return Err(corrupt("dim is 0".into()));
    }
    let (vectors, scales) = check_sections(&h, dtype).map_err(corrupt)?;
    let fingerprint = parse_fingerprint(slice(bytes, &h.fingerprint)).map_err(corrupt)?;
    let rows = h.rows as usize;
    let (label_text, label_ends) = parse_labels(slice(bytes, &h.labels), rows, path)?;
    let meta = match h.meta.len {
        0 => None,
        _ => Some(parse_meta(slice(bytes, &h.meta), rows).map_err(corrupt)?),
    };
    let vectors =
        to_range(vectors).ok_or_else(|| corrupt("vectors beyond address space".into()))?;
    let scales = to_range(scales).ok_or_else(|| corrupt("scales beyond address space".into()))?;
    check_values(bytes, dtype, h.dim as usize, &vectors, &scales).map_err(corrupt)?;
    Ok(Parsed {
        dtype,
        dim: h.dim as usize,
        rows,
        vectors,
        scales,
        fingerprint,
        label_text,
        label_ends,
        meta,
    })
}

/// Magic, version and header length, in that order so each error is the most telling one.
fn check_prefix<'a>(bytes: &'a [u8], path: &Path) -> Result<&'a [u8; HEADER_LEN], StoreError> {
    let magic = bytes.get(..MAGIC.len()).unwrap_or(bytes);
    let truncated = || StoreError::Truncated {
        path: path.to_path_buf(),
        detail: format!(
            "the file is {} bytes, shorter than the {HEADER_LEN}-byte header",
            bytes.len()
        ),
    };
    if magic != MAGIC.get(..magic.len()).unwrap_or_default() {
        return Err(StoreError::BadMagic {
            path: path.to_path_buf(),
            found: magic.to_vec(),
            expected: MAGIC,
        });
    }
    let version: [u8; 4] = bytes
        .get(8..12)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(truncated)?;
    let version = u32::from_le_bytes(version);
    if version != VERSION {
        return Err(StoreError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            supported: VERSION,
        });
    }
    bytes
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(truncated)
}

/// Sizes, bounds, alignment and overlap of the five sections; returns vectors and scales.
fn check_sections(h: &Header, dtype: DType) -> Result<(Section, Section), String> {
    let overflow = || format!("{} rows × {} {} overflows", h.rows, h.dim, dtype.name());
    let values = u64::from(h.rows)
        .checked_mul(u64::from(h.dim))
        .ok_or_else(overflow)?;
    let want_vectors = values
        .checked_mul(dtype.size() as u64)
        .ok_or_else(overflow)?;
    let want_scales = if dtype == DType::Int8 {
        u64::from(h.rows) * 4
    } else {
        0
    };
    if h.vectors.len != want_vectors {
        return Err(format!(
            "{} rows × {} {} need {want_vectors} bytes of vectors, the header says {}",
            h.rows,
            h.dim,
            dtype.name(),
            h.vectors.len
        ));
    }
    if h.scales.len != want_scales {
        return Err(format!(
            "{} {} rows need {want_scales} bytes of scales, the header says {}",
            h.rows,
            dtype.name(),
            h.scales.len
        ));
    }
    if h.fingerprint.len == 0 {
        return Err("fingerprint section is empty".into());
    }
    let named = [
        ("vectors", h.vectors, VECTOR_ALIGN as u64),
        ("scales", h.scales, 4),
        ("fingerprint", h.fingerprint, 1),
        ("labels", h.labels, 1),
        ("meta", h.meta, 1),
    ];
    let mut used = Vec::new();
    for (name, s, align) in named {
        if s.len == 0 {
            if s.offset != 0 {
                return Err(format!(
                    "empty {name} section has offset {} (must be 0)",
                    s.offset
                ));
            }
            continue;
        }
        let end = s.offset.checked_add(s.len).filter(|&e| e <= h.file_len);
        let Some(end) = end.filter(|_| s.offset >= HEADER_LEN as u64) else {
            return Err(format!(
                "{name} section {}+{} lies outside bytes {HEADER_LEN}..{} of the file",
                s.offset, s.len, h.file_len
            ));
        };
        if s.offset % align != 0 {
            return Err(format!(
                "{name} section offset {} is not a multiple of {align}",
                s.offset
            ));
        }
        used.push((s.offset, end, name));
    }
    used.sort_unstable();
    for pair in used.windows(2) {
        if let [(_, a_end, a), (b_start, _, b)] = pair {
            if b_start < a_end {
                return Err(format!("{a} and {b} sections overlap"));
            }
        }
    }
    Ok((h.vectors, h.scales))
}

fn to_range(s: Section) -> Option<Range<usize>> {
    let start = usize::try_from(s.offset).ok()?;
    Some(start..start.checked_add(usize::try_from(s.len).ok()?)?)
}

/// The bytes of a section already checked to be in bounds (empty on any doubt).
fn slice<'a>(bytes: &'a [u8], s: &Section) -> &'a [u8] {
    to_range(*s).and_then(|r| bytes.get(r)).unwrap_or_default()
}

fn check_values(
    bytes: &[u8],
    dtype: DType,
    dim: usize,
    vectors: &Range<usize>,
    scales: &Range<usize>,
) -> Result<(), String> {
    let v = bytes.get(vectors.clone()).ok_or("vectors out of bounds")?;
    let at = |i: usize| format!("row {}, column {}", i / dim, i % dim);
    match dtype {
        DType::F32 => {
            for (i, c) in v.chunks_exact(4).enumerate() {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if !x.is_finite() {
                    return Err(format!("non-finite f32 value {x} at {}", at(i)));
                }
            }
        }
        DType::F16 => {
            for (i, c) in v.chunks_exact(2).enumerate() {
                let x = f16::from_le_bytes([c[0], c[1]]);
                if !x.is_finite() {
                    return Err(format!("non-finite f16 value {x} at {}", at(i)));
                }
            }
        }
        DType::Int8 => {
            let s = bytes.get(scales.clone()).ok_or("scales out of bounds")?;
            for (row, c) in s.chunks_exact(4).enumerate() {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if !(x.is_finite() && x > 0.0) {
                    return Err(format!(
                        "int8 scale of row {row} is {x}, must be finite and positive"
                    ));
                }
            }
        }
    }
    Ok(())
}
