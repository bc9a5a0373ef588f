//! Label sets for a model: label lists turned into embedding stores by the model's
//! text tower, and stores checked against the model before any frame is matched.
//!
//! The on-disk format is `edgeclip-store`'s; this module ties it to model packages:
//! a store's fingerprint names the model, the SHA-256 of the text file that built
//! its rows, the tokenizer and the prompt templates.

use std::path::Path;

pub use edgeclip_store::{DType, Fingerprint, LabelMeta, Store, StoreBuilder};

use crate::encoder::TextEncoder;
use crate::model::{ModelPackage, Precision, TowerKind};
use crate::{Error, Result};

/// Labels encoded per text-encoder run when building a store (each label runs once
/// per template); small enough to report progress often.
pub const BUILD_CHUNK: usize = 64;

/// One line of a label list.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelEntry {
    /// The label, as matched and printed.
    pub label: String,
    /// Optional metadata stored with it.
    pub meta: LabelMeta,
}

/// Parses a label list: one label per line, blank lines and `#` comments skipped.
/// A line may add tab-separated fields `group` and `threshold`
/// (`red mug<TAB>kitchen<TAB>0.3`); an empty field means none.
pub fn parse_label_list(text: &str, path: &Path) -> Result<Vec<LabelEntry>> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = |message: String| {
            Error::InvalidInput(format!("{}:{}: {message}", path.display(), n + 1))
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut fields = line.split('\t').map(str::trim);
        let label = fields.next().unwrap_or_default().to_owned();
        if label.is_empty() {
            return Err(bad("empty label".into()));
        }
        let group = fields.next().filter(|g| !g.is_empty()).map(str::to_owned);
        let threshold = match fields.next().filter(|t| !t.is_empty()) {
            Some(t) => Some(
                t.parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(format!("threshold `{t}` is not a number")))?,
            ),
            None => None,
        };
        if let Some(extra) = fields.next() {
            return Err(bad(format!(
                "unexpected field `{extra}` (label, group, threshold)"
            )));
        }
        entries.push(LabelEntry {
            label,
            meta: LabelMeta { group, threshold },
        });
    }
    Ok(entries)
}

/// The largest label list read: 100,000 labels of 100 bytes fit in 10 MiB.
const LABEL_LIST_LIMIT: edgeclip_io::Limit = edgeclip_io::Limit::new("a label list", 16 << 20);

/// Reads and parses a label list file.
pub fn read_label_list(path: &Path) -> Result<Vec<LabelEntry>> {
    let text =
        edgeclip_io::read_text_limited(path, LABEL_LIST_LIMIT).map_err(|e| Error::io(path, e))?;
    parse_label_list(&text, path)
}

/// The tokenizer identity recorded in fingerprints (`clip-bpe/77`).
pub fn tokenizer_id(package: &ModelPackage) -> String {
    let t = &package.manifest().tokenizer;
    format!("{}/{}", t.kind, t.context_length)
}

/// The fingerprint of rows built by `package`'s text file at `precision` with `templates`.
pub fn fingerprint(
    package: &ModelPackage,
    precision: Precision,
    templates: &[String],
) -> Result<Fingerprint> {
    let file = package.file(TowerKind::Text, precision)?;
    Ok(Fingerprint {
        model: package.manifest().name.clone(),
        text_sha256: decode_sha256(&file.sha256, package)?,
        tokenizer: tokenizer_id(package),
        templates: templates.to_vec(),
    })
}

fn decode_sha256(hex_digest: &str, package: &ModelPackage) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).map_err(|e| Error::Manifest {
        path: package.dir().join(crate::model::MANIFEST_FILE),
        message: format!("sha256 `{hex_digest}`: {e}"),
    })?;
    Ok(out)
}

/// The precision whose text file built `store`'s rows: `labels add` must encode new
/// labels with the same file, or the store would mix two encoders.
pub fn text_precision(store: &Store, package: &ModelPackage) -> Result<Precision> {
    check_model(store, package)?;
    let wanted = store.fingerprint().text_sha256;
    for file in &package.tower(TowerKind::Text).files {
        if decode_sha256(&file.sha256, package)? == wanted {
            return Ok(file.precision);
        }
    }
    // check_model accepted the hash, so a file matched; an error all the same, not a panic.
    Err(Error::ModelMismatch {
        path: store.path().to_owned(),
        message: format!(
            "no text file of {} built this store",
            package.manifest().name
        ),
    })
}

/// Refuses a store that `package` did not build (another model, or another version
/// of its text files); the error names the store and both fingerprints.
pub fn check_model(store: &Store, package: &ModelPackage) -> Result<()> {
    let hashes = package
        .tower(TowerKind::Text)
        .files
        .iter()
        .map(|f| decode_sha256(&f.sha256, package))
        .collect::<Result<Vec<_>>>()?;
    store.check_model(&package.manifest().name, &hashes)?;
    let tokenizer = tokenizer_id(package);
    if store.fingerprint().tokenizer != tokenizer {
        return Err(Error::ModelMismatch {
            path: store.path().to_owned(),
            message: format!(
                "built with tokenizer {}, the model uses {tokenizer}; rebuild the store with this model",
                store.fingerprint().tokenizer
            ),
        });
    }
    Ok(())
}

/// Opens a store and checks it belongs to `package`.
pub fn open_store(path: &Path, package: &ModelPackage) -> Result<Store> {
    let store = Store::open(path)?;
    check_model(&store, package)?;
    Ok(store)
}

/// Encodes `entries` with `encoder`, averaging over `templates` (which must be the
/// builder's fingerprint's), and adds them to `builder`, [`BUILD_CHUNK`] labels at a
/// time; `progress` gets the number of labels added after each chunk.
pub fn encode_into(
    builder: &mut StoreBuilder,
    encoder: &mut TextEncoder,
    entries: &[LabelEntry],
    templates: &[String],
    mut progress: impl FnMut(usize),
) -> Result<()> {
    for (i, chunk) in entries.chunks(BUILD_CHUNK).enumerate() {
        if let Some(e) = chunk.iter().find(|e| builder.contains(&e.label)) {
            return Err(Error::InvalidInput(format!(
                "label `{}` is already in the set",
                e.label
            )));
        }
        let labels: Vec<&str> = chunk.iter().map(|e| e.label.as_str()).collect();
        let rows = encoder.embed_labels(&labels, templates)?;
        for (entry, row) in chunk.iter().zip(rows.rows()) {
            builder.add_with_meta(&entry.label, row, entry.meta.clone())?;
        }
        progress(i * BUILD_CHUNK + chunk.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_lists_with_metadata() {
        let text = "# scenes\nred mug\tkitchen\t0.25\n\n  blue car  \ndog\t\t0.5\ncat\tpets\n";
        let e = parse_label_list(text, Path::new("l.txt")).unwrap();
        let labels: Vec<&str> = e.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["red mug", "blue car", "dog", "cat"]);
        assert_eq!(e[0].meta.group.as_deref(), Some("kitchen"));
        assert_eq!(e[0].meta.threshold, Some(0.25));
        assert_eq!(e[1].meta, LabelMeta::default());
        assert_eq!(
            (e[2].meta.group.as_deref(), e[2].meta.threshold),
            (None, Some(0.5))
        );
        assert_eq!(
            (e[3].meta.group.as_deref(), e[3].meta.threshold),
            (Some("pets"), None)
        );
    }

    #[test]
    fn bad_lines_are_named() {
        for (text, line, what) in [
            ("a\nb\tg\tlots\n", 2, "lots"),
            ("a\n\tg\n", 2, "empty label"),
            ("a\tg\t1\textra\n", 1, "extra"),
            ("a\tg\tNaN\n", 1, "NaN"),
        ] {
            let err = parse_label_list(text, Path::new("l.txt"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("l.txt:{line}")) && err.contains(what),
                "{err}"
            );
        }
    }
}
