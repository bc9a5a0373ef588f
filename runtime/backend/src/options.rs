//! How a model is loaded: threads, device, cache and precision.

use std::path::PathBuf;

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
