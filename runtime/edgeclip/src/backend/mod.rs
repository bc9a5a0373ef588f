//! Inference backends: one small trait, one implementation per engine.
//!
//! A [`Backend`] loads a model file into a [`Session`] with [`LoadOptions`]
//! (threads, device, cache directory, precision hint); a session describes its
//! input and output tensors and runs one batch at a time into caller-owned
//! [`Outputs`], so a camera loop reuses the same memory frame after frame.
//! Backends are found by name in a [`Registry`], which also says why one cannot
//! run here ([`Backend::check`]) and picks the first that can from an order, the
//! way tract's runtimes fall back. tract is the default (pure Rust, every target);
//! NPU delegates implement the same traits behind cargo features.

#[cfg(feature = "openvino")]
pub mod openvino;
mod registry;
#[cfg(feature = "rknn")]
pub mod rknn;
pub mod tract;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use registry::{BackendStatus, Libraries, Registry, AUTO};

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
    /// Number of elements for `batch` items (no allocation: runs call it per frame).
    pub fn len(&self, batch: usize) -> usize {
        self.shape
            .iter()
            .map(|d| match d {
                Dim::Batch => batch,
                Dim::Fixed(n) => *n,
            })
            .product()
    }

    /// Checks that `input` holds `batch` items of this tensor: what every
    /// [`Session::run`] verifies before handing data to its engine. `path` names
    /// the model in the error.
    pub fn check_input(&self, path: &Path, input: &Input<'_>, batch: usize) -> Result<()> {
        let expected = self.len(batch);
        if batch == 0 || input.len() != expected || input.dtype() != self.dtype {
            return Err(crate::Error::InvalidInput(format!(
                "{}: input `{}` needs {expected} {:?} values for shape {:?}, got {} {:?}",
                path.display(),
                self.name,
                self.dtype,
                self.concrete(batch),
                input.len(),
                input.dtype()
            )));
        }
        Ok(())
    }

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
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// The output's name in the model file.
    pub name: String,
    /// Its concrete shape.
    pub shape: Vec<usize>,
    /// Its data, row-major.
    pub data: Vec<f32>,
}

/// The outputs of a run, owned by the caller and reused: a session resizes the
/// buffers in place, so after the first run of a shape nothing is allocated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    tensors: Vec<Output>,
    len: usize,
}

impl Outputs {
    /// No outputs yet; the first run sizes them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of outputs the last run produced.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first run.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Output `i` of the last run.
    pub fn get(&self, i: usize) -> Option<&Output> {
        self.tensors[..self.len].get(i)
    }

    /// The outputs of the last run, in the session's order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Output> {
        self.tensors[..self.len].iter()
    }

    /// For sessions: starts a run that will fill `count` outputs.
    pub fn begin(&mut self, count: usize) {
        if self.tensors.len() < count {
            self.tensors.resize_with(count, Output::default);
        }
        self.len = count;
    }

    /// For sessions: the data of output `i` as the last [`Outputs::slot`] call
    /// sized it, to fill more of it.
    pub fn slot_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.tensors[i].data
    }

    /// For sessions: output `i`, named `name`, resized to `shape`; returns its data
    /// to fill. Reuses the buffer's memory when it is large enough.
    pub fn slot(&mut self, i: usize, name: &str, shape: &[usize]) -> &mut [f32] {
        let out = &mut self.tensors[i];
        if out.name != name {
            name.clone_into(&mut out.name);
        }
        out.shape.clear();
        out.shape.extend_from_slice(shape);
        out.data.resize(shape.iter().product(), 0.0);
        &mut out.data
    }
}

/// What a model file is expected to take in (checked at load).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The single input the model must have.
    pub input: TensorSpec,
    /// Outputs the model must produce, in this order.
    pub outputs: Vec<String>,
    /// For an image input: how 8-bit RGB pixels became its values,
    /// `(p / 255 - mean[c]) / std[c]`. Backends whose files take the pixels
    /// themselves (RKNN, normalization folded in) undo it; `None` otherwise.
    pub normalization: Option<Normalization>,
}

impl ModelSpec {
    /// One `input` of `dims` after a batch dimension and the named `outputs`,
    /// no pixel normalization: a bare file's spec (benches, tests, tools).
    pub fn batched(input: &str, dtype: DType, dims: &[usize], outputs: &[&str]) -> Self {
        let mut shape = vec![Dim::Batch];
        shape.extend(dims.iter().copied().map(Dim::Fixed));
        ModelSpec {
            input: TensorSpec {
                name: input.into(),
                dtype,
                shape,
            },
            outputs: outputs.iter().map(|&o| o.into()).collect(),
            normalization: None,
        }
    }
}

/// Per-channel mean and standard deviation of an image input (RGB order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// Subtracted from `p / 255`.
    pub mean: [f32; 3],
    /// Then divided by.
    pub std: [f32; 3],
}

/// How far a backend may move away from the file's own arithmetic for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrecisionHint {
    /// Compute in the file's precision (f32 stays f32): results comparable with
    /// onnxruntime's. The default.
    #[default]
    Exact,
    /// Allow reduced-precision arithmetic the engine offers (bf16 or fp16 on CPUs
    /// and NPUs that have it), trading accuracy for speed.
    Fast,
}

/// Options every backend accepts when loading a model; a backend ignores what it
/// has no use for (tract has no device and no compiled-model cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Inference threads (at least 1).
    pub threads: usize,
    /// Device to run on, in the backend's own words (`CPU`, `GPU`, `NPU`, `AUTO`
    /// for OpenVINO; a core mask for RKNN); `None` for the backend's default.
    pub device: Option<String>,
    /// Where a backend may keep compiled models between runs.
    pub cache_dir: Option<PathBuf>,
    /// How exact the arithmetic must be.
    pub precision_hint: PrecisionHint,
    /// The board's SoC (`rk3588`), for backends whose model files are per chip:
    /// it picks the package's file for that SoC.
    pub soc: Option<String>,
    /// CPUs to run inference threads on, fastest first (a board's big cores);
    /// empty: wherever the OS schedules them. tract pins its pool's threads.
    pub cores: Vec<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            threads: 1,
            device: None,
            cache_dir: None,
            precision_hint: PrecisionHint::Exact,
            soc: None,
            cores: Vec::new(),
        }
    }
}

impl LoadOptions {
    /// Default options with `threads` threads.
    pub fn with_threads(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            ..Self::default()
        }
    }
}

/// Where a backend's engine comes from and what it can run on, for reports
/// (`edgeclip doctor`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendDetails {
    /// The shared library loaded at run time; `None` for an engine built in.
    pub library: Option<PathBuf>,
    /// The devices the engine sees here, in its own words.
    pub devices: Vec<String>,
}

/// An inference engine that can load model files.
pub trait Backend: Send + Sync {
    /// Short name (`tract`, `openvino`, `rknn`), as `--backend` and model
    /// manifests spell it.
    fn name(&self) -> &'static str;
    /// Whether this backend can run on this machine; the error
    /// ([`crate::ErrorKind::BackendUnavailable`]) says what is missing.
    fn check(&self) -> Result<()>;
    /// Its library and devices; call after [`Backend::check`] succeeded. The
    /// default: built in, running on the CPU.
    fn details(&self) -> Result<BackendDetails> {
        Ok(BackendDetails {
            library: None,
            devices: vec!["CPU".to_owned()],
        })
    }
    /// Whether the backend runs only files made for it (RKNN's `.rknn`), never
    /// the package's generic ONNX file: `auto` passes it over for a package
    /// without such files.
    fn needs_own_files(&self) -> bool {
        false
    }
    /// Loads `path`, verifying it matches `spec`.
    fn load(
        &self,
        path: &Path,
        spec: &ModelSpec,
        options: &LoadOptions,
    ) -> Result<Box<dyn Session>>;
}

/// What a loaded session runs on, as the engine reports it (for logs, `doctor`
/// and benchmarks).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// The backend's name.
    pub backend: &'static str,
    /// The device the model was compiled for (`CPU`, `GPU.0`, `NPU`, ...).
    pub device: String,
    /// The arithmetic the engine chose (`f32`, `bf16`, ...), read back from it.
    pub precision: String,
    /// Reading and compiling the model, in milliseconds (shorter when a
    /// compiled-model cache was hit).
    pub prepare_ms: f64,
    /// The compiled-model cache in use, if any.
    pub cache_dir: Option<PathBuf>,
}

/// A loaded model, ready to run batches.
pub trait Session: Send {
    /// The model's input.
    fn input(&self) -> &TensorSpec;
    /// Names of the outputs [`Session::run`] fills, in order.
    fn outputs(&self) -> &[String];
    /// What the session runs on, where the engine can say more than its name.
    fn info(&self) -> Option<SessionInfo> {
        None
    }
    /// Runs one batch of `batch` items into `outputs` (resized in place).
    fn run(&mut self, input: Input<'_>, batch: usize, outputs: &mut Outputs) -> Result<()>;
}

/// A backend and the options its models load with: what encoders are opened on.
#[derive(Clone)]
pub struct Engine {
    backend: Arc<dyn Backend>,
    options: LoadOptions,
}

impl Engine {
    /// `backend` loading with `options`.
    pub fn new(backend: Arc<dyn Backend>, options: LoadOptions) -> Self {
        Self { backend, options }
    }

    /// tract with `threads` threads and default options: available everywhere.
    pub fn tract(threads: usize) -> Self {
        Self::new(
            Arc::new(tract::TractBackend),
            LoadOptions::with_threads(threads),
        )
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The backend's name.
    pub fn name(&self) -> &'static str {
        self.backend.name()
    }

    /// The load options.
    pub fn options(&self) -> &LoadOptions {
        &self.options
    }

    /// Loads `path` with this engine's options.
    pub fn load(&self, path: &Path, spec: &ModelSpec) -> Result<Box<dyn Session>> {
        self.backend.load(path, spec, &self.options)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("backend", &self.backend.name())
            .field("options", &self.options)
            .finish()
    }
}
