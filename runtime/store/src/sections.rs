//! Encoding and decoding of the variable-length sections: fingerprint, labels and
//! per-label metadata. Decoders consume a section exactly: trailing bytes are errors.

use std::collections::HashMap;
use std::path::Path;

use crate::format::{put_str, Cursor};
use crate::{Fingerprint, StoreError};

/// Per-label metadata as held in memory by a [`crate::Store`].
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct MetaEntry {
    pub group: Option<Box<str>>,
    pub threshold: Option<f32>,
}

/// Meta flag bits; any other bit set is corruption (a new field means a new version).
pub(crate) const META_GROUP: u8 = 1;
pub(crate) const META_THRESHOLD: u8 = 2;

pub(crate) fn parse_fingerprint(section: &[u8]) -> Result<Fingerprint, String> {
    let mut c = Cursor::new(section);
    let model = c.str("fingerprint model name")?.to_owned();
    let mut text_sha256 = [0u8; 32];
    text_sha256.copy_from_slice(c.take(32, "fingerprint text-encoder hash")?);
    let tokenizer = c.str("fingerprint tokenizer")?.to_owned();
    let count = c.u32("fingerprint template count")?;
    let mut templates = Vec::new();
    for _ in 0..count {
        templates.push(c.str("fingerprint template")?.to_owned());
    }
    end_of(&c, "fingerprint")?;
    Ok(Fingerprint {
        model,
        text_sha256,
        tokenizer,
        templates,
    })
}

fn end_of(c: &Cursor<'_>, name: &str) -> Result<(), String> {
    match c.remaining() {
        0 => Ok(()),
        n => Err(format!(
            "{n} unused bytes at the end of the {name} section (offset {})",
            c.pos()
        )),
    }
}

pub(crate) fn parse_labels(
    section: &[u8],
    rows: usize,
    path: &Path,
) -> Result<(String, Vec<usize>), StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let mut c = Cursor::new(section);
    let mut text = String::new();
    let mut ends = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for row in 0..rows {
        let label = c.str(&format!("label of row {row}")).map_err(corrupt)?;
        if let Some(first) = seen.insert(label, row) {
            return Err(StoreError::DuplicateLabel {
                path: path.to_path_buf(),
                label: label.into(),
                first,
                second: row,
            });
        }
        text.push_str(label);
        ends.push(text.len());
    }
    end_of(&c, "labels").map_err(corrupt)?;
    Ok((text, ends))
}

pub(crate) fn parse_meta(section: &[u8], rows: usize) -> Result<Vec<MetaEntry>, String> {
    let mut c = Cursor::new(section);
    let mut out = Vec::new();
    for row in 0..rows {
        let flags = c.u8("metadata flags")?;
        if flags & !(META_GROUP | META_THRESHOLD) != 0 {
            return Err(format!("unknown metadata flags {flags:#04x} for row {row}"));
        }
        let mut m = MetaEntry::default();
        if flags & META_GROUP != 0 {
            m.group = Some(c.str("metadata group")?.into());
        }
        if flags & META_THRESHOLD != 0 {
            let t = c.f32("metadata threshold")?;
            if !t.is_finite() {
                return Err(format!("threshold of row {row} is {t}"));
            }
            m.threshold = Some(t);
        }
        out.push(m);
    }
    end_of(&c, "meta")?;
    Ok(out)
}

pub(crate) fn encode_fingerprint(fp: &Fingerprint) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    put_str(&mut out, &fp.model)?;
    out.extend_from_slice(&fp.text_sha256);
    put_str(&mut out, &fp.tokenizer)?;
    out.extend_from_slice(&u32::try_from(fp.templates.len()).ok()?.to_le_bytes());
    for t in &fp.templates {
        put_str(&mut out, t)?;
    }
    Some(out)
}

/// Empty when no label has metadata: the section is then absent.
pub(crate) fn encode_meta(meta: &[MetaEntry]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    if meta
        .iter()
        .all(|m| m.group.is_none() && m.threshold.is_none())
    {
        return Some(out);
    }
    for m in meta {
        let flags =
            (m.group.is_some() as u8 * META_GROUP) | (m.threshold.is_some() as u8 * META_THRESHOLD);
        out.push(flags);
        if let Some(g) = &m.group {
            put_str(&mut out, g)?;
        }
        if let Some(t) = m.threshold {
            out.extend_from_slice(&t.to_le_bytes());
        }
    }
    Some(out)
}
