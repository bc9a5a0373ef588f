//! Model packages: a directory with `model.toml` and the tower files it lists.
//!
//! Opening a package parses and validates the manifest. A tower lists its files by
//! precision and, optionally, by backend and SoC; [`ModelPackage::select_file`]
//! picks the one a backend should load, falling back to the generic file.
//!
//! Every file is checked against the manifest before a backend sees it: a
//! corrupt, truncated or swapped file is refused with its name and both digests.
//! `info` and `check` compare each file's SHA-256 ([`ModelPackage::verify`]).
//! Loading compares the file's XXH3-64 when the manifest lists one, else its
//! SHA-256 ([`ModelPackage::check_for_load`]). Measured on the 28.8 MB fp32 text
//! file (`firmware-tools/bench/cold_start.sh`, debug log): SHA-256 20 ms on an
//! x86_64 CPU with the SHA-NI instructions, XXH3 8 ms, most of it reading the
//! file. The boards run SHA-256 in software (the `sha2` crate does not use the
//! ARMv8 SHA-2 instructions by default; a Pi 4 has none), at a few hundred MB/s,
//! i.e. 100-200 ms per load, where XXH3 with NEON runs at several GB/s (not
//! measured on a board here). The check must come before parsing, not beside it:
//! tract's ONNX reader panics on some corrupt files, and the device build aborts
//! on a panic. What XXH3 gives up is resistance to a deliberate collision, which
//! guards nothing here: whoever can write a crafted model file into the package
//! can rewrite its manifest too. SHA-256 remains the digest of record, for
//! `check`, `info` and any signature over the manifest.

mod manifest;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3Default;

use crate::backend::{DType, Dim, ModelSpec, Normalization, TensorSpec};

pub use manifest::{
    FileEntry, FileTarget, Manifest, Precision, TokenizerConfig, Tower, FORMAT, FORMAT_VERSION,
    FORMS, OLDEST_FORMAT_VERSION,
};

use crate::{Error, Result};

/// File name of the manifest inside a package directory.
pub const MANIFEST_FILE: &str = "model.toml";

/// Which tower of a CLIP model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TowerKind {
    /// The image encoder.
    Image,
    /// The text encoder.
    Text,
}

/// An opened, validated model package.
#[derive(Debug, Clone)]
pub struct ModelPackage {
    dir: PathBuf,
    manifest: Manifest,
}

/// The largest `model.toml` read: real manifests are a few KiB.
const MANIFEST_LIMIT: edgeclip_io::Limit = edgeclip_io::Limit::new("a model manifest", 1 << 20);

impl ModelPackage {
    /// Opens the package in `dir` (reads and validates `model.toml`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_owned();
        let path = dir.join(MANIFEST_FILE);
        let text = edgeclip_io::read_text_limited(&path, MANIFEST_LIMIT)
            .map_err(|e| Error::io(&path, e))?;
        let manifest = Manifest::parse(&text, &path)?;
        Ok(Self { dir, manifest })
    }

    /// The package directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest entry of one tower.
    pub fn tower(&self, kind: TowerKind) -> &Tower {
        match kind {
            TowerKind::Image => &self.manifest.image,
            TowerKind::Text => &self.manifest.text,
        }
    }

    /// The generic file of a tower at a precision (the one every backend can use).
    pub fn file(&self, kind: TowerKind, precision: Precision) -> Result<&FileEntry> {
        self.tower(kind)
            .generic(precision)
            .ok_or_else(|| self.no_file(kind, precision, None))
    }

    /// The file `target` should load for a tower at a precision: one made for its
    /// backend (and SoC) when the package has one, else the generic file (logged).
    pub fn select_file(
        &self,
        kind: TowerKind,
        precision: Precision,
        target: FileTarget<'_>,
    ) -> Result<&FileEntry> {
        let tower = self.tower(kind);
        let entry = tower
            .select(precision, target)
            .ok_or_else(|| self.no_file(kind, precision, Some(target)))?;
        let has_own = tower
            .files
            .iter()
            .any(|f| f.backend.as_deref() == Some(target.backend));
        if entry.backend.is_none() && has_own {
            log::info!(
                "{}: no {precision} {} file for {}{}; using the generic {}",
                self.manifest.name,
                kind.name(),
                target.backend,
                target.soc.map(|s| format!(" on {s}")).unwrap_or_default(),
                entry.path
            );
        }
        Ok(entry)
    }

    fn no_file(&self, kind: TowerKind, precision: Precision, target: Option<FileTarget>) -> Error {
        let has: Vec<String> = self
            .tower(kind)
            .files
            .iter()
            .map(|f| f.describe())
            .collect();
        let wanted = match target {
            Some(t) => format!("{precision} file usable by {}", t.backend),
            None => format!("generic {precision} file"),
        };
        Error::Manifest {
            path: self.dir.join(MANIFEST_FILE),
            message: format!(
                "no {wanted} for the {} tower (has: {})",
                kind.name(),
                has.join(", ")
            ),
        }
    }

    /// Where a file of this package is on disk.
    pub fn path_of(&self, entry: &FileEntry) -> PathBuf {
        self.dir.join(&entry.path)
    }

    /// Checks that `entry`'s file exists and its SHA-256 (and XXH3-64, when
    /// listed) match the manifest; returns its path.
    pub fn verify(&self, entry: &FileEntry) -> Result<PathBuf> {
        let path = self.path_of(entry);
        check_digest(&path, "SHA-256", &entry.sha256, &sha256_file(&path)?)?;
        if let Some(xxh3) = &entry.xxh3 {
            check_digest(&path, "XXH3-64", xxh3, &xxh3_file(&path)?)?;
        }
        Ok(path)
    }

    /// The check made before a backend loads `entry`: its XXH3-64 when the
    /// manifest lists one (fast), else its SHA-256. Returns the file's path.
    pub fn check_for_load(&self, entry: &FileEntry) -> Result<PathBuf> {
        let path = self.path_of(entry);
        let started = std::time::Instant::now();
        match &entry.xxh3 {
            Some(xxh3) => check_digest(&path, "XXH3-64", xxh3, &xxh3_file(&path)?)?,
            None => check_digest(&path, "SHA-256", &entry.sha256, &sha256_file(&path)?)?,
        }
        log::debug!("{}: checked in {:?}", path.display(), started.elapsed());
        Ok(path)
    }

    /// Path of a tower's generic file after checking its SHA-256.
    pub fn verified_path(&self, kind: TowerKind, precision: Precision) -> Result<PathBuf> {
        self.verify(self.file(kind, precision)?)
    }

    /// What a tower's file takes and gives: its input (from the preprocessing or
    /// tokenizer settings) and outputs, the embedding first, then the patch tokens
    /// when `dense` (an error if the package exports none), then the value tokens
    /// when `dense` and the package exports them.
    pub fn tower_spec(&self, kind: TowerKind, dense: bool) -> Result<ModelSpec> {
        let m = &self.manifest;
        let tower = self.tower(kind);
        let (dtype, shape) = match kind {
            TowerKind::Image => {
                let s = m.preprocess.image_size as usize;
                let shape = vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(s), Dim::Fixed(s)];
                (DType::F32, shape)
            }
            TowerKind::Text => {
                let shape = vec![Dim::Batch, Dim::Fixed(m.tokenizer.context_length)];
                (DType::I64, shape)
            }
        };
        let mut outputs = vec![tower.embedding.clone()];
        if dense {
            let patches = tower.patch_tokens.clone().ok_or_else(|| Error::Manifest {
                path: self.dir.join(MANIFEST_FILE),
                message: format!("the {} tower exports no patch tokens", kind.name()),
            })?;
            outputs.push(patches);
            outputs.extend(tower.value_tokens.clone());
        }
        let normalization = (kind == TowerKind::Image).then_some(Normalization {
            mean: m.preprocess.mean,
            std: m.preprocess.std,
        });
        Ok(ModelSpec {
            input: TensorSpec {
                name: tower.input.clone(),
                dtype,
                shape,
            },
            outputs,
            normalization,
        })
    }
}

fn check_digest(path: &Path, algorithm: &str, expected: &str, actual: &str) -> Result<()> {
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(Error::Model {
            path: path.to_owned(),
            message: format!(
                "{algorithm} mismatch: manifest says {expected}, file is {actual} (corrupt, truncated or replaced)"
            ),
        });
    }
    Ok(())
}

impl TowerKind {
    /// `image` or `text`.
    pub fn name(self) -> &'static str {
        match self {
            TowerKind::Image => "image",
            TowerKind::Text => "text",
        }
    }
}

/// Lower-case hex SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    stream(path, |block| hasher.update(block))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Lower-case hex XXH3-64 of a file (16 digits, big-endian as `xxhsum -H3`
/// prints it), streamed.
pub fn xxh3_file(path: &Path) -> Result<String> {
    let mut hasher = Xxh3Default::new();
    stream(path, |block| hasher.update(block))?;
    Ok(format!("{:016x}", hasher.digest()))
}

/// Feeds a regular file's bytes to `consume`; a FIFO or a device (a model file
/// linked to `/dev/zero`) is refused instead of hanging the open or never ending.
fn stream(path: &Path, mut consume: impl FnMut(&[u8])) -> Result<()> {
    let mut file = edgeclip_io::open_regular(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(());
        }
        consume(&buf[..n]);
    }
}
