//! Model packages: a directory with `model.toml` and the tower files it lists.
//!
//! Opening a package parses and validates the manifest. A tower lists its files by
//! precision and, optionally, by backend and SoC; [`ModelPackage::select_file`]
//! picks the one a backend should load, falling back to the generic file.
//!
//! Every file's SHA-256 is checked against the manifest before its results are
//! used. `info` and `check` hash synchronously ([`ModelPackage::verify`]); the
//! encoders hash in a background thread ([`ModelPackage::verify_in_background`])
//! while the backend parses and plans the same file, and refuse to return any
//! result before the hash is confirmed. Hashing the 28.8 MB fp32 text file takes
//! about 75 ms, as long as parsing and planning together, so this hides it from
//! cold start on any board with a second core. The trade-off: a corrupt or
//! swapped file is parsed and may be run once before it is refused, and a file
//! replaced between the backend's read and the hash's read is not detected (an
//! attacker who can write the package can rewrite its manifest anyway).

mod manifest;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::backend::{DType, Dim, ModelSpec, TensorSpec};

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

impl ModelPackage {
    /// Opens the package in `dir` (reads and validates `model.toml`).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_owned();
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
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

    /// Checks that `entry`'s file exists and its SHA-256 matches; returns its path.
    pub fn verify(&self, entry: &FileEntry) -> Result<PathBuf> {
        let path = self.path_of(entry);
        check_sha256(&path, &entry.sha256)?;
        Ok(path)
    }

    /// Starts checking `entry`'s SHA-256 in a background thread (see the module
    /// docs); the file must exist now.
    pub fn verify_in_background(&self, entry: &FileEntry) -> Result<PendingVerification> {
        let path = self.path_of(entry);
        std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        let expected = entry.sha256.clone();
        let thread_path = path.clone();
        let handle = std::thread::Builder::new()
            .name("edgeclip-sha256".into())
            .spawn(move || check_sha256(&thread_path, &expected))
            .map_err(|e| Error::io(&path, e))?;
        Ok(PendingVerification { path, handle })
    }

    /// Path of a tower's generic file after checking its SHA-256.
    pub fn verified_path(&self, kind: TowerKind, precision: Precision) -> Result<PathBuf> {
        self.verify(self.file(kind, precision)?)
    }

    /// What a tower's file takes and gives: its input (from the preprocessing or
    /// tokenizer settings) and outputs, the embedding first, then the patch tokens
    /// when `dense` (an error if the package exports none).
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
        }
        Ok(ModelSpec {
            input: TensorSpec {
                name: tower.input.clone(),
                dtype,
                shape,
            },
            outputs,
        })
    }
}

/// A SHA-256 check running in the background.
#[derive(Debug)]
pub struct PendingVerification {
    path: PathBuf,
    handle: JoinHandle<Result<()>>,
}

impl PendingVerification {
    /// Waits for the check; the error names the file and both hashes.
    pub fn wait(self) -> Result<()> {
        match self.handle.join() {
            Ok(result) => result,
            Err(_) => Err(Error::Model {
                path: self.path,
                message: "the SHA-256 check stopped unexpectedly".into(),
            }),
        }
    }
}

fn check_sha256(path: &Path, expected: &str) -> Result<()> {
    let actual = sha256_file(path)?;
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(Error::Model {
            path: path.to_owned(),
            message: format!(
                "SHA-256 mismatch: manifest says {expected}, file is {actual} (corrupt, truncated or replaced)"
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
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
