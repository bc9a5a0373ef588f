//! `model.toml`: what a model package holds and how to feed it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::preprocess::PreprocessConfig;
use crate::{Error, Result};

/// The manifest's `format` value.
pub const FORMAT: &str = "edgeclip-model";
/// The manifest format version this runtime reads.
pub const FORMAT_VERSION: u32 = 1;

/// Numeric precision of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit float weights and arithmetic.
    Fp32,
    /// int8 weights and int8 matrix products (see [`FileEntry::quantization`]).
    Int8,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        })
    }
}

impl FromStr for Precision {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fp32" => Ok(Precision::Fp32),
            "int8" => Ok(Precision::Int8),
            other => Err(Error::InvalidInput(format!(
                "unknown precision `{other}` (fp32, int8)"
            ))),
        }
    }
}

/// The parsed `model.toml` of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Manifest format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Package name, e.g. `edgeclip-tiny`.
    pub name: String,
    /// Model family, e.g. `clip-vit`.
    pub family: String,
    /// One line on what the model is and where it came from.
    #[serde(default)]
    pub description: String,
    /// Width of the joint embedding space.
    pub embed_dim: usize,
    /// CLIP's learned temperature, applied as `cosine * logit_scale`.
    pub logit_scale: f32,
    /// How images are prepared.
    pub preprocess: PreprocessConfig,
    /// How text is tokenized.
    pub tokenizer: TokenizerConfig,
    /// The image tower.
    pub image: Tower,
    /// The text tower.
    pub text: Tower,
}

/// Tokenizer settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerConfig {
    /// Tokenizer kind; `clip-bpe` (OpenAI's BPE, open_clip's cleanup) is the one supported.
    pub kind: String,
    /// Sequence length the text tower takes (77 for CLIP).
    pub context_length: usize,
}

/// One tower (image or text): tensor names and its files per precision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tower {
    /// Name of the input tensor.
    pub input: String,
    /// Name of the pooled embedding output.
    pub embedding: String,
    /// Name of the projected patch-token output (image tower only).
    #[serde(default)]
    pub patch_tokens: Option<String>,
    /// Files by precision.
    pub files: BTreeMap<Precision, FileEntry>,
}

/// One model file of a tower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the package directory.
    pub path: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
    /// Quantization form for int8 files (e.g. `dynamic-matmul-weights`).
    #[serde(default)]
    pub quantization: Option<String>,
}

impl Manifest {
    /// Parses and validates manifest text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Manifest {
            path: path.to_owned(),
            message,
        };
        let manifest: Manifest = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        manifest.validate().map_err(bad)?;
        Ok(manifest)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format is `{}`, expected `{FORMAT}`", self.format));
        }
        if self.format_version != FORMAT_VERSION {
            return Err(format!(
                "format_version {} is not supported (this runtime reads {FORMAT_VERSION})",
                self.format_version
            ));
        }
        if self.embed_dim == 0 {
            return Err("embed_dim must be positive".into());
        }
        if !(self.logit_scale.is_finite() && self.logit_scale > 0.0) {
            return Err(format!(
                "logit_scale {} must be a positive number",
                self.logit_scale
            ));
        }
        let p = &self.preprocess;
        if p.image_size == 0 {
            return Err("preprocess.image_size must be positive".into());
        }
        if p.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!("preprocess.std {:?} must be positive", p.std));
        }
        if self.tokenizer.kind != "clip-bpe" {
            return Err(format!(
                "tokenizer.kind `{}` is not supported (clip-bpe)",
                self.tokenizer.kind
            ));
        }
        if self.tokenizer.context_length < 2 {
            return Err("tokenizer.context_length must be at least 2".into());
        }
        for (tower, t) in [("image", &self.image), ("text", &self.text)] {
            if t.files.is_empty() {
                return Err(format!("{tower}.files lists no file"));
            }
            for (precision, f) in &t.files {
                let hex_ok =
                    f.sha256.len() == 64 && f.sha256.bytes().all(|b| b.is_ascii_hexdigit());
                if !hex_ok {
                    return Err(format!(
                        "{tower}.files.{precision}.sha256 is not a SHA-256 hex digest"
                    ));
                }
                if Path::new(&f.path).is_absolute() || f.path.split('/').any(|c| c == "..") {
                    return Err(format!(
                        "{tower}.files.{precision}.path must stay inside the package"
                    ));
                }
            }
        }
        Ok(())
    }
}
