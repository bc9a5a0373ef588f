//! The active label store: read once into memory in the store's own element type
//! (f32, f16 or int8 with per-row scales, as the matcher scores them), and changed
//! only through the store crate's edit path (a builder from the file, an atomic
//! write, then a fresh read), so the file on disk is always whole and always what
//! is served.

use std::path::{Path, PathBuf};

use edgeclip::labels::{self, Store};
use edgeclip::model::ModelPackage;
use edgeclip_match::Rows;
use half::f16;

use crate::scoring::ScratchPool;

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

/// The store's rows, copied out of the file as they are stored. A copy rather than
/// the store's memory map: the file may be replaced while the server runs, and an
/// edit must not change what a query already in flight is scored against.
#[derive(Debug)]
enum StoredRows {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Int8 { values: Vec<i8>, scales: Vec<f32> },
}

impl StoredRows {
    fn copy(rows: Rows<'_>) -> Self {
        match rows {
            Rows::F32(v) => Self::F32(v.to_vec()),
            Rows::F16(v) => Self::F16(v.to_vec()),
            Rows::Int8 { values, scales } => Self::Int8 {
                values: values.to_vec(),
                scales: scales.to_vec(),
            },
        }
    }

    fn view(&self) -> Rows<'_> {
        match self {
            Self::F32(v) => Rows::F32(v),
            Self::F16(v) => Rows::F16(v),
            Self::Int8 { values, scales } => Rows::Int8 { values, scales },
        }
    }
}

/// The labels queries are compared against (possibly none).
#[derive(Debug)]
pub struct ActiveLabels {
    path: Option<PathBuf>,
    templates: Vec<String>,
    entries: Vec<LabelInfo>,
    rows: Option<StoredRows>,
    dim: usize,
    logit_scale: f32,
    scratch: ScratchPool,
}

impl ActiveLabels {
    /// No store: `labels` answers are empty and edits are refused. `logit_scale`
    /// (the model's) still turns the texts' cosines into probabilities.
    pub fn none(logit_scale: f32) -> Self {
        Self {
            path: None,
            templates: Vec::new(),
            entries: Vec::new(),
            rows: None,
            dim: 0,
            logit_scale,
            scratch: ScratchPool::default(),
        }
    }

    /// Reads the store at `path`, refusing one that `package` did not build.
    pub fn open(path: &Path, package: &ModelPackage) -> edgeclip::Result<Self> {
        let store = labels::open_store(path, package)?;
        Ok(Self::from_store(&store, package.manifest().logit_scale))
    }

    /// The labels of `store`, scored with the model's `logit_scale`. The caller has
    /// checked the store against the model ([`edgeclip::labels::open_store`]).
    pub fn from_store(store: &Store, logit_scale: f32) -> Self {
        let entries = store
            .labels()
            .enumerate()
            .map(|(i, label)| {
                let meta = store.meta(i);
                LabelInfo {
                    label: label.to_owned(),
                    group: meta.group.map(str::to_owned),
                    threshold: meta.threshold,
                }
            })
            .collect();
        Self {
            path: Some(store.path().to_owned()),
            templates: store.fingerprint().templates.clone(),
            entries,
            rows: Some(StoredRows::copy(store.rows())),
            dim: store.dim(),
            logit_scale,
            scratch: ScratchPool::default(),
        }
    }

    /// Re-reads the store after an edit.
    pub fn reload(&self, package: &ModelPackage) -> edgeclip::Result<Self> {
        match &self.path {
            Some(path) => Self::open(path, package),
            None => Ok(Self::none(self.logit_scale)),
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

    /// The model's logit scale: `logit = logit_scale × cosine`.
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale
    }

    /// Values per row (0 without a store).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The rows as the store holds them, if a store is active.
    pub(crate) fn rows(&self) -> Option<Rows<'_>> {
        self.rows.as_ref().map(StoredRows::view)
    }

    /// Scratch for scoring queries against these labels.
    pub(crate) fn scratch(&self) -> &ScratchPool {
        &self.scratch
    }
}
