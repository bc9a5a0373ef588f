//! Model packages: a directory with `model.toml` and the tower files it lists.
//!
//! Opening a package parses and validates the manifest; each file's SHA-256 is
//! checked when the file is loaded, so a corrupt or swapped file is refused with
//! its name and both hashes before any backend sees it.

mod manifest;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use manifest::{
    FileEntry, Manifest, Precision, TokenizerConfig, Tower, FORMAT, FORMAT_VERSION,
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

    /// The file entry for a tower at a precision.
    pub fn file(&self, kind: TowerKind, precision: Precision) -> Result<&FileEntry> {
        let tower = self.tower(kind);
        tower.files.get(&precision).ok_or_else(|| Error::Manifest {
            path: self.dir.join(MANIFEST_FILE),
            message: format!(
                "no {precision} file for the {} tower (has: {})",
                kind.name(),
                tower
                    .files
                    .keys()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// Path of a tower's file after checking that it exists and its SHA-256 matches.
    pub fn verified_path(&self, kind: TowerKind, precision: Precision) -> Result<PathBuf> {
        let entry = self.file(kind, precision)?;
        let path = self.dir.join(&entry.path);
        let actual = sha256_file(&path)?;
        if !actual.eq_ignore_ascii_case(&entry.sha256) {
            return Err(Error::Model {
                path,
                message: format!(
                    "SHA-256 mismatch: manifest says {}, file is {actual} (corrupt, truncated or replaced)",
                    entry.sha256
                ),
            });
        }
        Ok(path)
    }
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
