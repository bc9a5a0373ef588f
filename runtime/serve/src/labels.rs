//! The active label store: read once into memory for scoring, and changed only
//! through the store crate's edit path (a builder from the file, an atomic write,
//! then a fresh read), so the file on disk is always whole and always what is
//! served.

use std::path::{Path, PathBuf};

use edgeclip::embedding::Embeddings;
use edgeclip::labels::{self, Store, StoreBuilder};
use edgeclip::matcher::dot;
use edgeclip::model::ModelPackage;

/// One label as listed by `GET /v1/labels`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelInfo {
    /// The label.
    pub label: String,
    /// Its group, if the store has one for it.
    pub group: Option<String>,
    /// Its own tag threshold, if any.
    pub threshold: Option<f32>,
}

/// The labels queries are compared against (possibly none).
#[derive(Debug)]
pub struct ActiveLabels {
    path: Option<PathBuf>,
    templates: Vec<String>,
    entries: Vec<LabelInfo>,
    rows: Option<Embeddings>,
}

impl ActiveLabels {
    /// No store: `labels` answers are empty and edits are refused.
    pub fn none() -> Self {
        Self {
            path: None,
            templates: Vec::new(),
            entries: Vec::new(),
            rows: None,
        }
    }

    /// Reads the store at `path`, refusing one that `package` did not build.
    pub fn open(path: &Path, package: &ModelPackage) -> edgeclip::Result<Self> {
        let store = labels::open_store(path, package)?;
        Self::from_store(&store)
    }

    fn from_store(store: &Store) -> edgeclip::Result<Self> {
        let builder = StoreBuilder::from_store(store);
        let mut data = Vec::with_capacity(store.len() * store.dim());
        let mut entries = Vec::with_capacity(store.len());
        for (i, label) in store.labels().enumerate() {
            // Rows are stored as f32, f16 or int8; scoring wants them as f32.
            data.extend(builder.row_f32(i));
            let meta = store.meta(i);
            entries.push(LabelInfo {
                label: label.to_owned(),
                group: meta.group.map(str::to_owned),
                threshold: meta.threshold,
            });
        }
        Ok(Self {
            path: Some(store.path().to_owned()),
            templates: store.fingerprint().templates.clone(),
            entries,
            rows: Some(Embeddings::from_raw(store.dim(), data)?),
        })
    }

    /// Re-reads the store after an edit.
    pub fn reload(&self, package: &ModelPackage) -> edgeclip::Result<Self> {
        match &self.path {
            Some(path) => Self::open(path, package),
            None => Ok(Self::none()),
        }
    }

    /// The store's file, if one is active.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The prompt templates the store's rows were built with.
    pub fn templates(&self) -> &[String] {
        &self.templates
    }

    /// The labels, in store order.
    pub fn entries(&self) -> &[LabelInfo] {
        &self.entries
    }

    /// True when no store is active or it is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Cosine of a normalized embedding with every label, in store order.
    pub fn cosines(&self, embedding: &[f32]) -> Vec<f32> {
        match &self.rows {
            Some(rows) if rows.dim() == embedding.len() => {
                rows.rows().map(|row| dot(row, embedding)).collect()
            }
            _ => Vec::new(),
        }
    }
}
