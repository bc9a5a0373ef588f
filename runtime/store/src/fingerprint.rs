//! What produced a store's rows, so a store built by another model is refused.

use std::fmt;

use sha2::{Digest, Sha256};

/// Identifies the text encoder, tokenizer and prompt templates that produced a store's rows.
///
/// Two stores with equal fingerprints hold comparable rows. `Display` gives a short
/// human form for messages: `edgeclip-tiny text=0123456789ab tok=clip-bpe/77 templates=2#9f86d081`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// Model name (as in the model package manifest).
    pub model: String,
    /// SHA-256 of the text-encoder file that produced the rows.
    pub text_sha256: [u8; 32],
    /// Tokenizer identity, e.g. `clip-bpe/77`.
    pub tokenizer: String,
    /// Prompt templates, each with one `{}` for the label; rows are the mean over them.
    pub templates: Vec<String>,
}

impl Fingerprint {
    /// First 12 hex digits of the text-encoder hash: enough to tell files apart in a message.
    pub fn text_short(&self) -> String {
        short_hex(&self.text_sha256)
    }

    /// First 8 hex digits of a SHA-256 over the templates.
    ///
    /// Each template is length-prefixed so that `["a", "b"]` and `["ab"]` differ.
    pub fn templates_short(&self) -> String {
        let mut h = Sha256::new();
        for t in &self.templates {
            h.update((t.len() as u64).to_le_bytes());
            h.update(t.as_bytes());
        }
        let digest = h.finalize();
        hex::encode(digest.get(..4).unwrap_or_default())
    }
}

/// First 12 hex digits of a SHA-256 hash.
pub(crate) fn short_hex(hash: &[u8; 32]) -> String {
    hex::encode(hash.get(..6).unwrap_or_default())
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} text={} tok={} templates={}#{}",
            self.model,
            self.text_short(),
            self.tokenizer,
            self.templates.len(),
            self.templates_short()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_form_names_model_hash_tokenizer_and_templates() {
        let fp = Fingerprint {
            model: "m".into(),
            text_sha256: [0xab; 32],
            tokenizer: "clip-bpe/77".into(),
            templates: vec!["a {}".into(), "b {}".into()],
        };
        let s = fp.to_string();
        assert!(
            s.starts_with("m text=abababababab tok=clip-bpe/77 templates=2#"),
            "{s}"
        );
        let other = Fingerprint {
            templates: vec!["a {}b {}".into()],
            ..fp.clone()
        };
        assert_ne!(fp.templates_short(), other.templates_short());
    }
}
