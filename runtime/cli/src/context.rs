//! What the parsed flags mean, resolved once per run: the model package, the
//! backend, the precision and threads, and the printer. Commands read flags only
//! through [`Ctx`], never from `args` globals, so a flag's meaning lives here.

use std::cell::OnceCell;
use std::io::{self, StdoutLock};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use std::sync::Arc;

use edgeclip::backend::{
    parse_assignment, Backend, Engine, LoadOptions, PrecisionHint, Registry, Settings,
    SettingsByBackend, AUTO,
};
use edgeclip::model::{ModelPackage, Precision, MANIFEST_FILE};
use edgeclip_board::Detection;

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
    threads: Option<usize>,
    backend: String,
    board: String,
    device: Option<String>,
    precision_hint: PrecisionHint,
    cache_dir: Option<PathBuf>,
    /// `NAME.KEY=VALUE` settings from the flags, applied over the board
    /// profile's backend tables in this order.
    backend_options: Vec<String>,
    /// Resolved on first use, as the engine is.
    /// The error is shared, so every caller gets it typed (its kind reaches
    /// JSON error records).
    board_profile: OnceCell<std::result::Result<Detection, Arc<edgeclip_board::BoardError>>>,
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
            threads: cli.threads.map(usize::from),
            backend: cli.backend.clone(),
            board: cli.board.clone(),
            device: cli.device.clone(),
            precision_hint: if cli.fast_math {
                PrecisionHint::Fast
            } else {
                PrecisionHint::Exact
            },
            cache_dir: cli.cache_dir.clone(),
            backend_options: cli.backend_options(),
            board_profile: OnceCell::new(),
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

    /// Inference threads (the backend, and point-cloud projection): `--threads`,
    /// else the board profile's, else one.
    pub fn threads(&self) -> usize {
        if let Some(threads) = self.threads {
            return threads;
        }
        let available = std::thread::available_parallelism().map_or(1, usize::from);
        match self.board() {
            Ok(board) => board.profile.threads.resolved_count(available).max(1),
            Err(_) => 1,
        }
    }

    /// The board profile's memory budget in bytes, when a profile applies.
    pub fn memory_budget(&self) -> Option<u64> {
        let board = self.board().ok()?;
        Some(u64::from(board.profile.memory.budget_mb) << 20)
    }

    /// The most pixels a one-image command decodes: half the board's memory budget
    /// (the model and the rest take the other half), at most
    /// [`edgeclip::preprocess::MAX_IMAGE_PIXELS`].
    pub fn image_pixel_limit(&self) -> u64 {
        match self.memory_budget() {
            Some(bytes) => edgeclip::preprocess::pixels_within(bytes / 2, 1),
            None => edgeclip::preprocess::MAX_IMAGE_PIXELS,
        }
    }

    /// The board profile `--board` names, or the one detected here.
    pub fn board(&self) -> Result<&Detection> {
        self.board_profile
            .get_or_init(|| {
                let facts = edgeclip_board::HostFacts::probe();
                edgeclip_board::resolve(Some(&self.board), &facts, &edgeclip_board::builtin())
                    .map_err(Arc::new)
            })
            .as_ref()
            .map_err(|e| anyhow::Error::new(Arc::clone(e)))
    }

    /// This build's backends, each configured by the board profile's table for
    /// it with `--backend-option` settings over it.
    pub fn registry(&self) -> Result<Registry> {
        let mut settings = SettingsByBackend::new();
        let board = self.board().ok();
        if let Some(board) = board {
            for (name, table) in &board.profile.backends.settings {
                settings.insert(name.clone(), Settings::new(table.clone()));
            }
        }
        // A profile may carry tables for backends this build leaves out; a flag
        // naming one is a mistake the user should hear about (a typo, a build
        // without the feature), not an option silently dropped.
        let known: Vec<&'static str> = edgeclip_backends::factories()
            .iter()
            .map(|f| f.name())
            .collect();
        for option in &self.backend_options {
            let (name, key, value) =
                parse_assignment(option).map_err(|e| anyhow!("--backend-option: {e}"))?;
            if !known.contains(&name.as_str()) {
                let unknown = edgeclip::backend::Error::Unknown { name, known };
                return Err(edgeclip::Error::from(unknown))
                    .with_context(|| format!("--backend-option {option}"));
            }
            settings.entry(name).or_default().set(&key, value);
        }
        // As the library's error, so its kind reaches JSON error records.
        let registry = edgeclip_backends::registry(&settings).map_err(edgeclip::Error::from);
        registry.with_context(|| match board {
            Some(b) => format!(
                "configuring the backends (board profile {}, --backend-option)",
                b.profile.name
            ),
            None => "configuring the backends (--backend-option)".to_owned(),
        })
    }

    /// Load options: threads, and the device and cache from the flags (a
    /// backend's own settings give its default device), the cores from the
    /// board profile.
    pub fn load_options(&self, backend: &str) -> LoadOptions {
        let board = self.board().ok();
        LoadOptions {
            threads: self.threads(),
            device: self.device.clone(),
            cache_dir: self
                .cache_dir
                .clone()
                .or_else(default_cache_dir)
                .map(|dir| dir.join(backend)),
            precision_hint: self.precision_hint,
            // The profile's cores when its thread count is in use; --threads
            // asks for a count of its own, left to the OS to place.
            cores: match (self.threads, board) {
                (None, Some(b)) => b.profile.threads.cores.clone(),
                _ => Vec::new(),
            },
        }
    }

    /// The engine encoders run on: `--backend` resolved through the registry (a
    /// name must be available; `auto` tries the board profile's order, then
    /// tract), loading with [`Ctx::load_options`].
    pub fn engine(&self) -> Result<&Engine> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine);
        }
        let backend = self.select_backend(&self.registry()?)?;
        let options = self.load_options(backend.name());
        log::info!("backend {} ({options:?})", backend.name());
        let engine = Engine::new(backend, options);
        Ok(self.engine.get_or_init(|| engine))
    }

    /// Whether the model package has files the backend `name` can run: always
    /// for backends that run the generic ONNX files; for those that need their
    /// own (RKNN), both towers must list one at `--precision` for the board's
    /// SoC, or `auto` passes the backend over.
    fn package_serves(&self, registry: &Registry, name: &str) -> bool {
        let Ok(backend) = registry.get(name) else {
            return true; // select_in_order reports it
        };
        if !backend.needs_own_files() {
            return true;
        }
        let Ok(package) = self.package() else {
            return true; // the command reports the package error itself
        };
        let soc = backend.soc();
        let manifest = package.manifest();
        // Both towers: one engine runs both, and a command may need either.
        let has = [&manifest.image, &manifest.text].iter().all(|tower| {
            tower.files.iter().any(|f| {
                f.precision == self.precision
                    && f.backend.as_deref() == Some(name)
                    && (f.soc.is_none() || f.soc.as_deref() == soc)
            })
        });
        if !has {
            log::info!(
                "skipping backend {name}: the model package has no {} {name} files{}",
                self.precision,
                soc.map(|s| format!(" for {s}")).unwrap_or_default()
            );
        }
        has
    }

    /// The backend of `registry` that `--backend` resolves to (see [`Ctx::engine`]).
    pub fn select_backend(&self, registry: &Registry) -> Result<Arc<dyn Backend>> {
        // A board named with --board must exist and parse; only detection may
        // come up empty (an architecture without profiles), and then every
        // backend is tried.
        if self.board != AUTO {
            self.board()?;
        }
        if self.backend != AUTO {
            return Ok(registry
                .select(&self.backend)
                .map_err(edgeclip::Error::from)?);
        }
        let order: Vec<&str> = match self.board() {
            Ok(board) => board
                .profile
                .backends
                .order
                .iter()
                .map(String::as_str)
                .collect(),
            Err(e) => {
                log::warn!("no board profile ({e:#}); trying every backend");
                registry.names()
            }
        };
        let usable: Vec<&str> = order
            .into_iter()
            .filter(|name| self.package_serves(registry, name))
            .collect();
        Ok(registry
            .select_in_order(&usable)
            .map_err(edgeclip::Error::from)?)
    }
}

/// `$XDG_CACHE_HOME/edgeclip`, else `~/.cache/edgeclip`.
fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("edgeclip"))
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
