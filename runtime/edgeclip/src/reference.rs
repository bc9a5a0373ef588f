//! Checking a backend on this machine against reference outputs shipped with a model.
//!
//! A package may carry a `reference/` folder: a few preprocessed images and token rows,
//! and the outputs onnxruntime computed from the package's own files on them
//! (`reference/reference.json` indexes the little-endian `.bin` files). Running them
//! here tells whether this build, backend and CPU compute the same embeddings: the
//! question on every new board, cross-compiled build or NPU delegate, where kernels
//! differ from the machine the model was exported on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::{DType, Engine, Input, ModelSpec, Outputs};
use crate::model::{FileEntry, ModelPackage, Precision, TowerKind};
use crate::{Error, Result};

/// The folder of a package that holds its reference outputs.
pub const REFERENCE_DIR: &str = "reference";
/// The index file inside [`REFERENCE_DIR`].
pub const REFERENCE_INDEX: &str = "reference.json";

/// Lowest per-row cosine accepted for fp32 files: only summation order may differ.
pub const FP32_FLOOR: f64 = 0.99999;
/// Lowest per-row cosine accepted for int8 pooled embeddings.
pub const INT8_FLOOR: f64 = 0.9999;
/// Lowest per-row cosine accepted for int8 patch tokens: a single patch has a small
/// norm, so rounding moves its direction more than the pooled embedding's. Where
/// tract and onnxruntime round a dynamically quantized activation differently, the
/// worst of the default model's 448 reference patches reaches 0.99949 through
/// `edgeclip check` and 0.9982 through the dense encoder (`ImageEncoder::open_dense`),
/// whose optimised graph quantizes at other points.
pub const INT8_PATCH_FLOOR: f64 = 0.997;
/// Lowest per-row cosine accepted for the pooled embeddings of a statically
/// quantized (`qdq`) file against onnxruntime on the same file, where the
/// engine's int8 products are exact: activations are quantized with calibrated
/// scales at every layer, and engines round them in different places
/// (OpenVINO's worst reference image with VNNI: 0.99936, worst prompt 0.99992).
pub const STATIC_INT8_FLOOR: f64 = 0.999;
/// [`STATIC_INT8_FLOOR`] where the engine's int8 products saturate: oneDNN
/// (OpenVINO's CPU plugin) on an x86 CPU without VNNI multiplies u8 × i8 pairs
/// with `vpmaddubsw`, whose 16-bit sums clip. Measured worst rows: image
/// 0.99872, prompt 0.99805 (`ONEDNN_MAX_CPU_ISA=AVX2` on an AVX-512 VNNI Xeon;
/// the same 0.99872 on an AVX2-only EPYC), against 0.99936 / 0.99992 with VNNI.
pub const STATIC_INT8_SATURATING_FLOOR: f64 = 0.997;
/// The same for patch and value tokens of a `qdq` file with exact products
/// (worst of 448 rows with VNNI: 0.99642 patch, 0.99633 value).
pub const STATIC_INT8_PATCH_FLOOR: f64 = 0.99;
/// Patch and value tokens of a `qdq` file where the products saturate: a
/// single token's small norm lets the clipped sums turn it further. Measured
/// with oneDNN capped at AVX2: worst of 448 rows 0.98272 (patch) and 0.93844
/// (value), means 0.99534 and 0.99685.
pub const STATIC_INT8_SATURATING_PATCH_FLOOR: f64 = 0.93;

/// The pooled-embedding floor of a `qdq` file on this CPU:
/// [`STATIC_INT8_FLOOR`] where oneDNN's int8 kernels sum exactly (x86 with
/// AVX-512 VNNI or AVX-VNNI, not capped below them by `ONEDNN_MAX_CPU_ISA`),
/// else [`STATIC_INT8_SATURATING_FLOOR`] (also on CPUs not measured).
pub fn static_int8_floor() -> f64 {
    if int8_products_are_exact() {
        STATIC_INT8_FLOOR
    } else {
        STATIC_INT8_SATURATING_FLOOR
    }
}

/// [`static_int8_floor`] for patch and value tokens.
pub fn static_int8_patch_floor() -> f64 {
    if int8_products_are_exact() {
        STATIC_INT8_PATCH_FLOOR
    } else {
        STATIC_INT8_SATURATING_PATCH_FLOOR
    }
}

fn int8_products_are_exact() -> bool {
    // oneDNN's ISA cap: the levels below VNNI.
    let capped = std::env::var("ONEDNN_MAX_CPU_ISA").is_ok_and(|isa| {
        matches!(
            isa.to_ascii_uppercase().as_str(),
            "SSE41" | "AVX" | "AVX2" | "AVX512_CORE"
        )
    });
    #[cfg(target_arch = "x86_64")]
    let vnni = std::arch::is_x86_feature_detected!("avx512vnni")
        || std::arch::is_x86_feature_detected!("avxvnni");
    #[cfg(not(target_arch = "x86_64"))]
    let vnni = false;
    vnni && !capped
}

#[derive(Debug, Deserialize)]
struct Index {
    images: Entry,
    tokens: Entry,
    outputs: BTreeMap<String, Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    file: String,
    shape: Vec<usize>,
}

/// A package's reference inputs and the outputs expected for them.
#[derive(Debug)]
pub struct Reference {
    dir: PathBuf,
    index: Index,
}

/// How closely one output of this machine agrees with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Which output, as `tower.precision` (`image.int8`, `patch_tokens.fp32`, ...).
    pub output: String,
    /// Rows compared (images, texts, or image × patch).
    pub rows: usize,
    /// The worst row's cosine similarity.
    pub min_cosine: f64,
    /// The mean cosine similarity.
    pub mean_cosine: f64,
    /// The lowest cosine accepted for this output.
    pub floor: f64,
}

impl Agreement {
    /// True when every row reaches the floor.
    pub fn passed(&self) -> bool {
        self.min_cosine >= self.floor
    }
}

impl Reference {
    /// Reads the index of a reference folder (file contents are read when checking).
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(REFERENCE_INDEX);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let index = serde_json::from_str(&text).map_err(|e| Error::Model {
            path: path.clone(),
            message: format!("not a reference index: {e}"),
        })?;
        Ok(Self { dir, index })
    }

    /// The reference folder of `package`, if it ships one.
    pub fn of_package(package: &ModelPackage) -> Result<Self> {
        Self::open(package.dir().join(REFERENCE_DIR))
    }

    /// The folder this reference was read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `precision`'s towers of `package` on `backend` and compares every output
    /// the reference has for that precision.
    pub fn check(
        &self,
        package: &ModelPackage,
        engine: &Engine,
        precision: Precision,
    ) -> Result<Vec<Agreement>> {
        let mut agreements = Vec::new();
        for kind in [TowerKind::Image, TowerKind::Text] {
            let (spec, batch, outputs, file) = self.run_tower(package, engine, kind, precision)?;
            for (name, output) in spec.outputs.iter().zip(outputs.iter()) {
                let data = &output.data;
                // Pooled embeddings are keyed by tower, other outputs by their own
                // name; a file made for one backend has its own entries, suffixed
                // with that backend (`image.int8.openvino`).
                let mut key = if name == &package.tower(kind).embedding {
                    format!("{}.{precision}", kind.name())
                } else {
                    format!("{name}.{precision}")
                };
                if let Some(backend) = &file.backend {
                    key = format!("{key}.{backend}");
                }
                let Some(entry) = self.index.outputs.get(&key) else {
                    log::warn!("{}: no reference for {key}", self.dir.display());
                    continue;
                };
                let expected = self.read_f32(entry)?;
                let width = *entry.shape.last().unwrap_or(&0);
                if expected.len() != data.len() || entry.shape.first() != Some(&batch) {
                    return Err(Error::Model {
                        path: self.dir.join(&entry.file),
                        message: format!(
                            "reference {key} has shape {:?}, this run produced {} values",
                            entry.shape,
                            data.len()
                        ),
                    });
                }
                let dense = name != &package.tower(kind).embedding;
                let floor = match (precision, dense, file.form.as_str()) {
                    (Precision::Fp32, _, _) => FP32_FLOOR,
                    (Precision::Int8, false, "qdq") => static_int8_floor(),
                    (Precision::Int8, true, "qdq") => static_int8_patch_floor(),
                    (Precision::Int8, false, _) => INT8_FLOOR,
                    (Precision::Int8, true, _) => INT8_PATCH_FLOOR,
                };
                agreements.push(agreement(key, data, &expected, width, floor));
            }
        }
        Ok(agreements)
    }

    fn run_tower(
        &self,
        package: &ModelPackage,
        engine: &Engine,
        kind: TowerKind,
        precision: Precision,
    ) -> Result<(ModelSpec, usize, Outputs, FileEntry)> {
        let dense = kind == TowerKind::Image && package.tower(kind).patch_tokens.is_some();
        let spec = package.tower_spec(kind, dense)?;
        let entry = match kind {
            TowerKind::Image => &self.index.images,
            TowerKind::Text => &self.index.tokens,
        };
        let batch = *entry.shape.first().unwrap_or(&0);
        if entry.shape != spec.input.concrete(batch) {
            return Err(Error::Model {
                path: self.dir.join(&entry.file),
                message: format!(
                    "reference input has shape {:?}, the model takes {:?}",
                    entry.shape,
                    spec.input.concrete(batch)
                ),
            });
        }
        // The check is of the file this engine's backend would run.
        let target = crate::model::FileTarget {
            backend: engine.name(),
            soc: engine.backend().soc(),
        };
        let entry_of_file = package.select_file(kind, precision, target)?.clone();
        let file = package.verify(&entry_of_file)?;
        let mut session = engine.load(&file, &spec)?;
        let mut outputs = Outputs::new();
        match spec.input.dtype {
            DType::F32 => {
                let data = self.read_f32(entry)?;
                session.run(Input::F32(&data), batch, &mut outputs)?;
            }
            DType::I64 => {
                let data = self.read_i64(entry)?;
                session.run(Input::I64(&data), batch, &mut outputs)?;
            }
        }
        Ok((spec, batch, outputs, entry_of_file))
    }

    fn read_bytes(&self, entry: &Entry, width: usize) -> Result<Vec<u8>> {
        let path = self.dir.join(&entry.file);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let expected = entry.shape.iter().product::<usize>() * width;
        if bytes.len() != expected {
            return Err(Error::Model {
                path,
                message: format!(
                    "has {} bytes, shape {:?} of {width}-byte values needs {expected}",
                    bytes.len(),
                    entry.shape
                ),
            });
        }
        Ok(bytes)
    }

    fn read_f32(&self, entry: &Entry) -> Result<Vec<f32>> {
        let bytes = self.read_bytes(entry, 4)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn read_i64(&self, entry: &Entry) -> Result<Vec<i64>> {
        let bytes = self.read_bytes(entry, 8)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .collect())
    }
}

/// Row-wise cosine similarity of `actual` and `expected`, rows of `width`.
fn agreement(
    output: String,
    actual: &[f32],
    expected: &[f32],
    width: usize,
    floor: f64,
) -> Agreement {
    let cosines: Vec<f64> = actual
        .chunks_exact(width.max(1))
        .zip(expected.chunks_exact(width.max(1)))
        .map(|(a, b)| cosine(a, b))
        .collect();
    let rows = cosines.len();
    Agreement {
        output,
        rows,
        // Not `f64::min`: it drops NaN, and a NaN row must fail the check.
        min_cosine: cosines.iter().copied().fold(f64::INFINITY, |m, c| {
            if c.is_nan() || c < m {
                c
            } else {
                m
            }
        }),
        mean_cosine: cosines.iter().sum::<f64>() / rows.max(1) as f64,
        floor,
    }
}

/// Cosine similarity in f64; two zero rows agree, one zero (or NaN) row does not.
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    match (aa > 0.0, bb > 0.0) {
        (true, true) => ab / (aa.sqrt() * bb.sqrt()),
        (false, false) => 1.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_rows() {
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
        // A NaN row has no direction: it agrees with nothing.
        assert_eq!(cosine(&[f32::NAN, 0.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn worst_row_decides() {
        let a = [1.0, 0.0, 1.0, 0.0];
        let b = [1.0, 0.0, 1.0, 1.0];
        let g = agreement("x.fp32".into(), &a, &b, 2, FP32_FLOOR);
        assert_eq!(g.rows, 2);
        assert!((g.min_cosine - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
        assert!(!g.passed());
        // A NaN row can never pass.
        let g = agreement("x.fp32".into(), &[f32::NAN, 0.0], &[1.0, 0.0], 2, 0.5);
        assert!(!g.passed());
    }
}
