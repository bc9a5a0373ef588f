//! Inference backends: one small trait, one implementation per engine.
//!
//! A [`Backend`] loads a model file into a [`Session`]; a session describes its
//! input and output tensors and runs one batch at a time. tract is the default
//! (pure Rust, every target); NPU delegates implement the same two traits and
//! fall back to tract when their library or device is missing.

pub mod tract;

use std::path::Path;

use crate::Result;

/// Element type of a model input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float (images, embeddings).
    F32,
    /// 64-bit signed integer (token ids).
    I64,
}

/// One dimension of a tensor: fixed, or the batch dimension chosen per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// The batch size, set by each [`Session::run`].
    Batch,
    /// A fixed size.
    Fixed(usize),
}

/// Name, type and shape of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// The tensor's name in the model file.
    pub name: String,
    /// Its element type.
    pub dtype: DType,
    /// Its shape, the batch dimension first where there is one.
    pub shape: Vec<Dim>,
}

impl TensorSpec {
    /// The shape with the batch dimension set to `batch`.
    pub fn concrete(&self, batch: usize) -> Vec<usize> {
        self.shape
            .iter()
            .map(|d| match d {
                Dim::Batch => batch,
                Dim::Fixed(n) => *n,
            })
            .collect()
    }
}

/// Input data of one batch, laid out row-major in the input's shape.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Float data (images).
    F32(&'a [f32]),
    /// Integer data (token ids).
    I64(&'a [i64]),
}

impl Input<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Input::F32(d) => d.len(),
            Input::I64(d) => d.len(),
        }
    }

    /// True when there is no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Input::F32(_) => DType::F32,
            Input::I64(_) => DType::I64,
        }
    }
}

/// One output tensor of a run, as f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The output's name in the model file.
    pub name: String,
    /// Its concrete shape.
    pub shape: Vec<usize>,
    /// Its data, row-major.
    pub data: Vec<f32>,
}

/// What a model file is expected to take in (checked at load).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The single input the model must have.
    pub input: TensorSpec,
    /// Outputs the model must produce, in this order.
    pub outputs: Vec<String>,
}

/// An inference engine that can load model files.
pub trait Backend: Send + Sync {
    /// Short name (`tract`, `openvino`, `rknn`).
    fn name(&self) -> &'static str;
    /// Whether this backend can run on this machine (library and device present).
    fn check(&self) -> Result<()>;
    /// Loads `path`, verifying it matches `spec`.
    fn load(&self, path: &Path, spec: &ModelSpec) -> Result<Box<dyn Session>>;
}

/// A loaded model, ready to run batches.
pub trait Session: Send {
    /// The model's input.
    fn input(&self) -> &TensorSpec;
    /// Names of the outputs [`Session::run`] returns, in order.
    fn outputs(&self) -> &[String];
    /// Runs one batch of `batch` items.
    fn run(&mut self, input: Input<'_>, batch: usize) -> Result<Vec<Output>>;
}
