//! `model.toml`: what a model package holds and how to feed it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use edgeclip_depth::DepthConfig;
use edgeclip_points::PointClipSettings;
use serde::{Deserialize, Serialize};

use crate::preprocess::PreprocessConfig;
use crate::{Error, Result};

/// The manifest's `format` value.
pub const FORMAT: &str = "edgeclip-model";
/// The manifest format version this runtime writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest manifest format version this runtime still reads (version 1 had one
/// file per precision and no backend files; it is converted when read).
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// File forms a manifest may name: how a file encodes its model.
pub const FORMS: &[&str] = &[
    // Float ONNX.
    "onnx",
    // int8 ONNX: DynamicQuantizeLinear + MatMulInteger, symmetric int8 weights.
    "dynamic-matmul-weights",
    // int8 ONNX in QOperator form (QLinearMatMul, QLinearConv).
    "qoperator",
    // int8 ONNX with QuantizeLinear/DequantizeLinear pairs.
    "qdq",
    // OpenVINO IR (`.xml` beside its `.bin`).
    "openvino-ir",
    // A Rockchip RKNN model compiled for one SoC.
    "rknn",
];

/// Numeric precision of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit float weights and arithmetic.
    Fp32,
    /// int8 weights and int8 matrix products (see [`FileEntry::form`]).
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
    /// PointCLIP settings for this model (`edgeclip points`): the points crate's
    /// own table; absent: the published settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointclip: Option<PointClipSettings>,
    /// DepthCLIP settings for this model (`edgeclip depth`): the depth crate's
    /// own table, every key optional (a missing one takes the published value);
    /// absent: the published settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depthclip: Option<DepthConfig>,
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

/// One tower (image or text): tensor names and its files.
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
    /// Name of the value-path dense output (image tower only): MaskCLIP's dense
    /// features, the last block's attention value path without its residual and
    /// MLP, through `ln_post` and the projection. They localise text far better
    /// than `patch_tokens` (where-answers).
    #[serde(default)]
    pub value_tokens: Option<String>,
    /// Its files: per precision a generic one, and optionally ones made for one
    /// backend (and one SoC), which that backend prefers.
    pub files: Vec<FileEntry>,
}

/// One model file of a tower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// The precision its arithmetic has.
    pub precision: Precision,
    /// The backend this file is made for; `None` for the generic file every
    /// backend can fall back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The SoC this file is compiled for (`rk3588`), for backends whose files are
    /// per chip; needs `backend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soc: Option<String>,
    /// Path relative to the package directory.
    pub path: String,
    /// Lower-case hex SHA-256 of the file: the digest of record.
    pub sha256: String,
    /// Lower-case hex XXH3-64 of the file (16 digits), checked at every load
    /// because it is far cheaper than SHA-256 on CPUs without SHA instructions;
    /// optional (loads check SHA-256 without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xxh3: Option<String>,
    /// How the file encodes the model (one of [`FORMS`]).
    pub form: String,
}

impl FileEntry {
    /// `int8`, `int8 for openvino` or `int8 for rknn on rk3588`: how errors and
    /// listings name the file.
    pub fn describe(&self) -> String {
        match (&self.backend, &self.soc) {
            (None, _) => self.precision.to_string(),
            (Some(b), None) => format!("{} for {b}", self.precision),
            (Some(b), Some(soc)) => format!("{} for {b} on {soc}", self.precision),
        }
    }
}

/// Which backend (and SoC) a file is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTarget<'a> {
    /// The backend's name.
    pub backend: &'a str,
    /// The board's SoC, when the board profile names one.
    pub soc: Option<&'a str>,
}

impl Manifest {
    /// Parses and validates manifest text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Manifest {
            path: path.to_owned(),
            message,
        };
        // The TOML parser's message with the line and key it is about.
        let located = |e: toml::de::Error| {
            bad(match e.span() {
                Some(span) => format!(
                    "{}: {}",
                    edgeclip_io::position(text, span.start),
                    e.message()
                ),
                None => e.message().to_owned(),
            })
        };
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<u32>,
        }
        let version: Version = toml::from_str(text).map_err(located)?;
        let manifest: Manifest = match version.format_version {
            Some(1) => v1::parse(text).map_err(located)?,
            Some(FORMAT_VERSION) | None => toml::from_str(text).map_err(located)?,
            Some(other) => {
                return Err(bad(format!(
                    "format_version {other} is not supported (this runtime reads \
                     {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}; a newer edgeclip made it)"
                )))
            }
        };
        manifest.validate().map_err(bad)?;
        Ok(manifest)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format is `{}`, expected `{FORMAT}`", self.format));
        }
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&self.format_version) {
            return Err(format!(
                "format_version {} is not supported (this runtime reads \
                 {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})",
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
        if let Some(pc) = &self.pointclip {
            pc.validate().map_err(|e| e.to_string())?;
        }
        if let Some(dc) = &self.depthclip {
            dc.validate().map_err(|e| format!("[depthclip]: {e}"))?;
        }
        for (tower, t) in [("image", &self.image), ("text", &self.text)] {
            t.validate_files(tower)?;
        }
        Ok(())
    }
}

impl Tower {
    /// Checks the tower's file list: at least one file, each with a well-formed
    /// digest, a path inside the package and a known form, none listed twice.
    fn validate_files(&self, tower: &str) -> std::result::Result<(), String> {
        if self.files.is_empty() {
            return Err(format!("{tower}.files lists no file"));
        }
        for (i, f) in self.files.iter().enumerate() {
            let at = format!("{tower}.files[{i}] ({})", f.describe());
            let hex_ok = f.sha256.len() == 64 && f.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex_ok {
                return Err(format!("{at}: sha256 is not a SHA-256 hex digest"));
            }
            let xxh3_ok = f
                .xxh3
                .as_ref()
                .is_none_or(|x| x.len() == 16 && x.bytes().all(|b| b.is_ascii_hexdigit()));
            if !xxh3_ok {
                return Err(format!("{at}: xxh3 is not 16 hex digits"));
            }
            if Path::new(&f.path).is_absolute() || f.path.split('/').any(|c| c == "..") {
                return Err(format!("{at}: path must stay inside the package"));
            }
            if !FORMS.contains(&f.form.as_str()) {
                return Err(format!(
                    "{at}: form `{}` is unknown (one of {})",
                    f.form,
                    FORMS.join(", ")
                ));
            }
            if f.soc.is_some() && f.backend.is_none() {
                return Err(format!("{at}: soc needs a backend"));
            }
            let twin = self.files[..i]
                .iter()
                .any(|o| (o.precision, &o.backend, &o.soc) == (f.precision, &f.backend, &f.soc));
            if twin {
                return Err(format!("{at}: listed twice"));
            }
        }
        Ok(())
    }

    /// The file `target` should load at `precision`: the one made for its backend
    /// and SoC, else for its backend on any SoC, else the generic file.
    pub fn select(&self, precision: Precision, target: FileTarget<'_>) -> Option<&FileEntry> {
        let of = |backend: Option<&str>, soc: Option<&str>| {
            self.files.iter().find(|f| {
                f.precision == precision
                    && f.backend.as_deref() == backend
                    && f.soc.as_deref() == soc
            })
        };
        target
            .soc
            .and_then(|soc| of(Some(target.backend), Some(soc)))
            .or_else(|| of(Some(target.backend), None))
            .or_else(|| of(None, None))
    }

    /// The generic file at `precision`.
    pub fn generic(&self, precision: Precision) -> Option<&FileEntry> {
        self.files
            .iter()
            .find(|f| f.precision == precision && f.backend.is_none())
    }
}

/// Format version 1: one file per precision, an optional `quantization`.
mod v1 {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::{FileEntry, Manifest, Precision, TokenizerConfig, Tower};
    use crate::preprocess::PreprocessConfig;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ManifestV1 {
        format: String,
        format_version: u32,
        name: String,
        family: String,
        #[serde(default)]
        description: String,
        embed_dim: usize,
        logit_scale: f32,
        preprocess: PreprocessConfig,
        tokenizer: TokenizerConfig,
        image: TowerV1,
        text: TowerV1,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TowerV1 {
        input: String,
        embedding: String,
        #[serde(default)]
        patch_tokens: Option<String>,
        files: BTreeMap<Precision, FileV1>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct FileV1 {
        path: String,
        sha256: String,
        #[serde(default)]
        quantization: Option<String>,
    }

    /// Reads a version 1 manifest into the current structure.
    pub(super) fn parse(text: &str) -> Result<Manifest, toml::de::Error> {
        let m: ManifestV1 = toml::from_str(text)?;
        Ok(Manifest {
            format: m.format,
            format_version: m.format_version,
            name: m.name,
            family: m.family,
            description: m.description,
            embed_dim: m.embed_dim,
            logit_scale: m.logit_scale,
            preprocess: m.preprocess,
            tokenizer: m.tokenizer,
            image: tower(m.image),
            text: tower(m.text),
            pointclip: None,
            depthclip: None,
        })
    }

    fn tower(t: TowerV1) -> Tower {
        let files = t
            .files
            .into_iter()
            .map(|(precision, f)| FileEntry {
                precision,
                backend: None,
                soc: None,
                path: f.path,
                sha256: f.sha256,
                xxh3: None,
                form: f.quantization.unwrap_or_else(|| "onnx".into()),
            })
            .collect();
        Tower {
            input: t.input,
            embedding: t.embedding,
            patch_tokens: t.patch_tokens,
            value_tokens: None,
            files,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"
format = "edgeclip-model"
format_version = 2
name = "m"
family = "clip-vit"
embed_dim = 4
logit_scale = 10.0
[preprocess]
image_size = 8
mean = [0.5, 0.5, 0.5]
std = [0.5, 0.5, 0.5]
[tokenizer]
kind = "clip-bpe"
context_length = 77
[text]
input = "text"
embedding = "embedding"
[[text.files]]
precision = "fp32"
path = "text.onnx"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
form = "onnx"
[image]
input = "image"
embedding = "embedding"
"#;

    fn file(precision: &str, extra: &str, path: &str, form: &str) -> String {
        format!(
            "[[image.files]]\nprecision = \"{precision}\"\n{extra}path = \"{path}\"\n\
             sha256 = \"{}\"\nform = \"{form}\"\n",
            "a".repeat(64)
        )
    }

    fn parse(files: &[String]) -> Result<Manifest> {
        Manifest::parse(
            &format!("{HEAD}{}", files.concat()),
            Path::new("model.toml"),
        )
    }

    fn target<'a>(backend: &'a str, soc: Option<&'a str>) -> FileTarget<'a> {
        FileTarget { backend, soc }
    }

    #[test]
    fn backends_prefer_their_own_file_and_fall_back_to_the_generic_one() {
        let m = parse(&[
            file("int8", "", "generic.onnx", "dynamic-matmul-weights"),
            file("int8", "backend = \"openvino\"\n", "ov.onnx", "qoperator"),
            file(
                "int8",
                "backend = \"rknn\"\nsoc = \"rk3588\"\n",
                "a.rknn",
                "rknn",
            ),
            file("fp32", "", "f.onnx", "onnx"),
        ])
        .unwrap();
        let pick = |backend, soc| {
            m.image
                .select(Precision::Int8, target(backend, soc))
                .map(|f| f.path.as_str())
        };
        assert_eq!(pick("openvino", None), Some("ov.onnx"));
        assert_eq!(pick("openvino", Some("n100")), Some("ov.onnx"));
        assert_eq!(pick("rknn", Some("rk3588")), Some("a.rknn"));
        assert_eq!(pick("rknn", Some("rk3566")), Some("generic.onnx"));
        assert_eq!(pick("tract", None), Some("generic.onnx"));
        let fp32 = m.image.select(Precision::Fp32, target("openvino", None));
        assert_eq!(fp32.map(|f| f.path.as_str()), Some("f.onnx"));
        assert_eq!(
            m.image.generic(Precision::Int8).unwrap().path,
            "generic.onnx"
        );
    }

    #[test]
    fn no_generic_file_means_only_that_backend_runs_it() {
        let m = parse(&[file("int8", "backend = \"rknn\"\n", "a.rknn", "rknn")]).unwrap();
        assert!(m
            .image
            .select(Precision::Int8, target("tract", None))
            .is_none());
        assert!(m
            .image
            .select(Precision::Int8, target("rknn", None))
            .is_some());
    }

    #[test]
    fn malformed_file_lists_are_named() {
        for (files, needle) in [
            (vec![], "files"),
            (
                vec![file("int8", "", "x.onnx", "int4")],
                "form `int4` is unknown",
            ),
            (
                vec![file("int8", "soc = \"rk3588\"\n", "x", "rknn")],
                "soc needs a backend",
            ),
            (
                vec![file("fp32", "", "a", "onnx"), file("fp32", "", "b", "onnx")],
                "listed twice",
            ),
            (
                vec![file("fp32", "", "../up.onnx", "onnx")],
                "inside the package",
            ),
            (vec![file("fp16", "", "a", "onnx")], "fp16"),
        ] {
            let err = parse(&files).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("model.toml"), "{err}");
        }
    }

    #[test]
    fn version_1_is_read_as_generic_files() {
        let v1 = HEAD
            .replace("format_version = 2", "format_version = 1")
            .replace(
                "[[text.files]]\nprecision = \"fp32\"\n",
                "[text.files.fp32]\n",
            )
            .replace("form = \"onnx\"\n", "")
            + &format!(
                "[image.files.int8]\npath = \"i.onnx\"\nsha256 = \"{}\"\nquantization = \"dynamic-matmul-weights\"\n",
                "b".repeat(64)
            );
        let m = Manifest::parse(&v1, Path::new("model.toml")).unwrap();
        let int8 = m.image.generic(Precision::Int8).unwrap();
        assert_eq!(
            (int8.path.as_str(), int8.form.as_str()),
            ("i.onnx", "dynamic-matmul-weights")
        );
        assert_eq!(m.text.generic(Precision::Fp32).unwrap().form, "onnx");
        assert_eq!(m.image.files.len(), 1);
    }

    #[test]
    fn a_newer_version_is_refused_clearly() {
        let v3 = format!("{HEAD}{}", file("fp32", "", "a", "onnx"))
            .replace("format_version = 2", "format_version = 3");
        let err = Manifest::parse(&v3, Path::new("model.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("format_version 3 is not supported"), "{err}");
        assert!(err.contains("reads 1 to 2"), "{err}");
    }

    #[test]
    fn pointclip_and_depthclip_tables_are_read_and_checked() {
        let f = file("fp32", "", "f.onnx", "onnx");
        let with =
            |table: &str| Manifest::parse(&format!("{HEAD}{f}{table}"), Path::new("model.toml"));
        let m = with(
            "[pointclip]\nprojection = \"v2\"\nview_weights_v1 = [1, 1, 1, 1, 0.5, 0.5]\n\
             labels = [\"cube\", \"sphere\"]\n[depthclip]\nscale = 30.0\n",
        )
        .unwrap();
        let pc = m.pointclip.unwrap();
        assert_eq!(pc.projection.as_deref(), Some("v2"));
        assert_eq!(pc.view_weights_v1.unwrap()[4], 0.5);
        assert_eq!(pc.labels.unwrap(), ["cube", "sphere"]);
        assert_eq!(m.depthclip.unwrap().scale, 30.0);
        assert!(with("").unwrap().pointclip.is_none());
        for (table, says) in [
            ("[pointclip]\nprojection = \"v3\"\n", "unknown projection"),
            (
                "[pointclip]\nview_weights_v2 = [1, 1]\n",
                "2 weights, the projection has 10",
            ),
            (
                "[pointclip]\nview_weights_v1 = [0, 0, 0, 0, 0, 0]\n",
                "not all 0",
            ),
            (
                "[pointclip]\ntemplate = \"a cloud\"\n",
                "pointclip.template",
            ),
            ("[pointclip]\nlabels = []\n", "pointclip.labels"),
            (
                "[pointclip]\nlabels = [\"cube\", \" \"]\n",
                "none of them empty",
            ),
            ("[depthclip]\nscale = -1.0\n", "finite and positive"),
            (
                "[depthclip]\nwords = [\"near\", \"far\"]\n",
                "2 words but 7 bins",
            ),
            (
                "[depthclip]\nwords = [\"near\", \"far\"]\nbins_m = [1.0, 2.0, 3.0]\n",
                "each word needs exactly one depth",
            ),
            (
                "[depthclip]\nbins_m = [1.0]\nwords = [\"x\"]\n",
                "need between 2 and 64",
            ),
            (
                "[depthclip]\nwords = [\"near\", \" \"]\nbins_m = [1.0, 2.0]\n",
                "word 1 is empty",
            ),
            (
                "[depthclip]\ntemplate = \"This object\"\n",
                "exactly one {}",
            ),
            ("[depthclip]\nsharpness = 3\n", "unknown field"),
        ] {
            let err = with(table).unwrap_err().to_string();
            assert!(err.contains(says), "{table}: {err}");
            assert!(err.contains("model.toml"), "{err}");
        }
    }
}
