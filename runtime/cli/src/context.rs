//! What the parsed flags mean, resolved once per run: the model package, the
//! backend, the precision and threads, and the printer. Commands read flags only
//! through [`Ctx`], never from `args` globals, so a flag's meaning lives here.

use std::cell::OnceCell;
use std::io::{self, StdoutLock};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use edgeclip::backend::{Engine, LoadOptions, Registry};
use edgeclip::model::{ModelPackage, Precision, MANIFEST_FILE};

use crate::args::{Cli, FormatArg, PrecisionArg};
use crate::output::{Format, Printer};

/// Name of the shipped default model package.
const DEFAULT_MODEL: &str = "edgeclip-tiny";

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every input was processed.
    Success,
    /// Some inputs or checks failed (each was reported); the rest were processed.
    PartialFailure,
}

impl Outcome {
    /// [`Outcome::PartialFailure`] when anything failed.
    pub fn failed_if(failed: bool) -> Self {
        if failed {
            Outcome::PartialFailure
        } else {
            Outcome::Success
        }
    }
}

/// The run's resolved settings, and where its output goes.
pub struct Ctx {
    /// Resolved at start-up, but its error is only raised by commands that need a
    /// model: `labels list` works where no package is installed.
    model_dir: std::result::Result<PathBuf, String>,
    /// The model files' precision.
    pub precision: Precision,
    threads: usize,
    backend: String,
    /// Built on first use: commands without inference never probe backends.
    engine: OnceCell<Engine>,
    /// Where records go.
    pub out: Printer<StdoutLock<'static>>,
}

impl Ctx {
    /// Resolves the global flags of `cli`.
    pub fn new(cli: &Cli) -> Self {
        let precision = match cli.precision {
            PrecisionArg::Fp32 => Precision::Fp32,
            PrecisionArg::Int8 => Precision::Int8,
        };
        let format = match (cli.json, cli.format) {
            (true, _) | (false, FormatArg::Json) => Format::Json,
            (false, FormatArg::Text) => Format::Text,
        };
        Self {
            model_dir: resolve_model_dir(cli.model.as_deref()).map_err(|e| format!("{e:#}")),
            precision,
            threads: cli.threads.into(),
            backend: cli.backend.clone(),
            engine: OnceCell::new(),
            out: Printer::new(format, io::stdout().lock()),
        }
    }

    /// The selected model package directory.
    pub fn model_dir(&self) -> Result<&Path> {
        self.model_dir.as_deref().map_err(|e| anyhow!("{e}"))
    }

    /// Opens the selected model package.
    pub fn package(&self) -> Result<ModelPackage> {
        open_package(self.model_dir()?)
    }

    /// Threads `--threads` allows inference (the backend, and point-cloud projection).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The backend name `--backend` gave (`auto` by default).
    pub fn backend_choice(&self) -> &str {
        &self.backend
    }

    /// The engine encoders run on: `--backend` resolved through the registry,
    /// loading with `--threads`.
    pub fn engine(&self) -> Result<&Engine> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine);
        }
        let backend = Registry::builtin().select(&self.backend)?;
        log::info!("backend {}", backend.name());
        let engine = Engine::new(backend, LoadOptions::with_threads(self.threads));
        Ok(self.engine.get_or_init(|| engine))
    }
}

/// Opens the package at `dir`, naming it in the error.
pub fn open_package(dir: &Path) -> Result<ModelPackage> {
    ModelPackage::open(dir).with_context(|| format!("opening model package {}", dir.display()))
}

/// `--model`, then `$EDGECLIP_MODEL`, then the default package in the current
/// directory, then beside the executable (a deployed bundle).
fn resolve_model_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_owned());
    }
    if let Some(dir) = std::env::var_os("EDGECLIP_MODEL") {
        return Ok(PathBuf::from(dir));
    }
    let mut tried = vec![Path::new("models").join(DEFAULT_MODEL)];
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned))
    {
        tried.push(exe_dir.join("models").join(DEFAULT_MODEL));
    }
    if let Some(found) = tried.iter().find(|d| d.join(MANIFEST_FILE).is_file()) {
        return Ok(found.clone());
    }
    let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    bail!(
        "no model package found (tried {}); pass --model DIR",
        list.join(", ")
    )
}
