//! A backend together with the options its models load with.

use std::path::Path;
use std::sync::Arc;

use crate::{Backend, LoadOptions, ModelSpec, Result, Session};

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
