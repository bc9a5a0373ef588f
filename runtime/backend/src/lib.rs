//! The seam between a model and the engine that runs it: small traits, no engine.
//!
//! A [`Backend`] loads a model file into a [`Session`] with [`LoadOptions`]
//! (threads, device, cache directory, precision hint); a session describes its
//! input and output tensors and runs one batch at a time into caller-owned
//! [`Outputs`], so a camera loop reuses the same memory frame after frame.
//! Each engine lives in a crate of its own (`edgeclip-backend-tract`, `-openvino`,
//! `-rknn`) exporting a [`Factory`] that builds its backend from its own
//! [`Settings`]; the binaries assemble a [`Registry`] from the factories their
//! build enables, which finds backends by name, says why one cannot run here
//! ([`Backend::check`]) and picks the first that can from an order, the way
//! tract's runtimes fall back. This crate depends on no engine.
#![deny(missing_docs)]

mod engine;
mod error;
mod options;
mod registry;
mod settings;
mod tensor;

use std::path::{Path, PathBuf};

pub use engine::Engine;
pub use error::{EngineError, Error, ErrorKind, Result};
pub use options::{LoadOptions, PrecisionHint};
pub use registry::{BackendStatus, Registry, AUTO};
pub use settings::{parse_assignment, Factory, Settings, SettingsByBackend};
pub use tensor::{
    DType, DeclaredIo, Dim, Input, ModelSpec, Normalization, Output, Outputs, TensorSpec,
};

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
    /// ([`ErrorKind::Unavailable`]) says what is missing.
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
    /// The chip this backend's own model files are made for (RKNN's SoC, from
    /// its settings): it picks the package's file for that chip. `None` for
    /// backends that run any file of their format.
    fn soc(&self) -> Option<&str> {
        None
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
    /// Whether [`Input::Pixels`] may stand for this session's image input: the
    /// engine applies the model's normalisation itself. No, unless overridden;
    /// such a session refuses pixels ([`Error::pixels_not_taken`]).
    fn takes_pixels(&self) -> bool {
        false
    }
    /// Runs one batch of `batch` items into `outputs` (resized in place).
    fn run(&mut self, input: Input<'_>, batch: usize, outputs: &mut Outputs) -> Result<()>;
}
