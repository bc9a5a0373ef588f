//! The default backend: tract, pure Rust, on every target.
//!
//! tract optimizes a graph for concrete shapes: a fixed batch gives a smaller,
//! faster plan than a symbolic one. A [`TractSession`] therefore keeps the
//! parsed model and builds (then caches) one optimized plan per batch size,
//! each with its run state and its input tensor, which later runs of that size
//! reuse: the input is copied into the same memory, and outputs are copied into
//! the caller's [`Outputs`]. What tract allocates inside a run (intermediate
//! tensors) is the engine's; nothing else is allocated per run after the first.
//!
//! [`FACTORY`] builds the backend for a registry; it takes no settings (the
//! int8 kernel is chosen per CPU, or by `EDGECLIP_INT8_ISA`).
#![deny(missing_docs)]

mod fold;
pub mod ops;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use edgeclip_kernels::int8::{Isa, ISA_ENV};
use tract_onnx::prelude::multithread::Executor;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use edgeclip_backend::{
    Backend, DType, DeclaredIo, Engine, EngineError, Error, Factory, Input, LoadOptions, ModelSpec,
    Outputs, Result, Session, Settings, TensorSpec,
};

const NAME: &str = "tract";

/// How many per-batch-size plans a session keeps before dropping the oldest.
const MAX_PLANS: usize = 4;

/// A run longer than this has products big enough to split over threads
/// (ViT-B/32's smallest is 29 M multiply-adds); shorter plans are probed.
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_millis(20);

/// Runs each way when probing (their medians are compared).
const PROBE_RUNS: usize = 7;

type Plan = Arc<TypedRunnableModel>;

/// The tract backend: pure Rust, always available. [`LoadOptions::threads`] > 1
/// runs matrix products on a thread pool; it has no devices and no cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct TractBackend;

/// Builds [`TractBackend`] for a registry.
pub struct TractFactory;

/// The factory a registry is assembled from.
pub static FACTORY: TractFactory = TractFactory;

impl Factory for TractFactory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn build(&self, settings: &Settings) -> Result<Arc<dyn Backend>> {
        /// tract has no settings yet: any key is a mistake, reported as one.
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct NoSettings {}
        settings.read::<NoSettings>(NAME)?;
        Ok(Arc::new(TractBackend))
    }
}

/// tract with `threads` threads and default options: an engine that runs
/// everywhere (tests, benches, tools).
pub fn engine(threads: usize) -> Engine {
    Engine::new(Arc::new(TractBackend), LoadOptions::with_threads(threads))
}

impl Backend for TractBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn check(&self) -> Result<()> {
        Ok(())
    }

    fn load(
        &self,
        path: &Path,
        spec: &ModelSpec,
        options: &LoadOptions,
    ) -> Result<Box<dyn Session>> {
        Ok(Box::new(self.open(path, spec, options)?))
    }
}

impl TractBackend {
    /// [`Backend::load`] without the box: the concrete session, whose tract plans
    /// benches and tests can reach ([`TractSession::plan`]).
    pub fn open(
        &self,
        path: &Path,
        spec: &ModelSpec,
        options: &LoadOptions,
    ) -> Result<TractSession> {
        if let Some(device) = &options.device {
            log::warn!("tract runs on the CPU only; ignoring device {device}");
        }
        let started = std::time::Instant::now();
        let not_loadable =
            |why: String| Error::model(path, format!("not a loadable ONNX model: {why}"));
        // tract's ONNX reader panics on some malformed graphs (a node naming an
        // input that does not exist). Files are checked against their manifest
        // digest first, so only a file that was re-signed gets here; where panics
        // unwind (not the device build) it is still reported, not a crash.
        let parsed = std::panic::catch_unwind(|| {
            tract_onnx::onnx()
                .with_ignore_value_info(true)
                .model_for_path(path)
        });
        let model = match parsed {
            Ok(result) => result.map_err(|e| not_loadable(format!("{e:#}")))?,
            Err(_) => return Err(not_loadable("the ONNX reader failed on it".into())),
        };
        log::debug!("{}: parsed in {:?}", path.display(), started.elapsed());
        check_io(path, &model, spec)?;
        // A setting the user wrote: the reason belongs in the message itself.
        let int8 = Isa::selected().map_err(|e| Error::failed(NAME, format!("{ISA_ENV}: {e}")))?;
        let executor = (options.threads > 1).then(|| executor(options.threads, &options.cores));
        Ok(TractSession {
            path: path.to_owned(),
            model,
            spec: spec.clone(),
            executor,
            plans: HashMap::new(),
            order: Vec::new(),
            fast_ops: true,
            int8,
        })
    }
}

/// tract's pool of `threads` threads; with `cores`, thread `i` is pinned to
/// `cores[i % len]`, so a big.LITTLE board's matrix products run on its big cores
/// and no slice of one waits on a little core.
fn executor(threads: usize, cores: &[usize]) -> Executor {
    if cores.is_empty() {
        return Executor::multithread(threads);
    }
    let cores = cores.to_vec();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tract-{i}"))
        .start_handler(move |i| {
            let core = cores[i % cores.len()];
            if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                log::warn!("could not pin inference thread {i} to CPU {core}");
            }
        })
        .build();
    match pool {
        Ok(pool) => Executor::MultiThread(Arc::new(pool)),
        Err(e) => {
            log::warn!("no pinned thread pool ({e}); threads run unpinned");
            Executor::multithread(threads)
        }
    }
}

/// Verifies the file declares the input and outputs the package promises.
fn check_io(path: &Path, model: &InferenceModel, spec: &ModelSpec) -> Result<()> {
    let unreadable = |e: TractError| Error::model(path, format!("{e:#}"));
    let inputs = model.input_outlets().map_err(unreadable)?;
    let input_shape = match inputs.first() {
        Some(input) => model
            .outlet_fact(*input)
            .map_err(unreadable)?
            .shape
            .concretize()
            .map(|shape| {
                shape
                    .iter()
                    .map(|d| d.to_i64().ok().and_then(|n| usize::try_from(n).ok()))
                    .collect()
            }),
        None => None,
    };
    let declared = DeclaredIo {
        inputs: inputs
            .iter()
            .map(|i| model.node(i.node).name.clone())
            .collect(),
        input_shape,
        outputs: model
            .output_outlets()
            .map_err(unreadable)?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .unwrap_or(&model.node(o.node).name)
                    .to_owned()
            })
            .collect(),
    };
    spec.check_declared(path, &declared)
}

/// Debug-logs how long each step of preparing a plan takes (cold start on boards).
struct Phases<'a> {
    path: &'a Path,
    batch: usize,
    last: std::time::Instant,
}

impl<'a> Phases<'a> {
    fn start(path: &'a Path, batch: usize) -> Self {
        Self {
            path,
            batch,
            last: std::time::Instant::now(),
        }
    }

    fn done(&mut self, step: &str) {
        log::debug!(
            "{} (batch {}): {step} in {:?}",
            self.path.display(),
            self.batch,
            self.last.elapsed()
        );
        self.last = std::time::Instant::now();
    }
}

/// One batch size's optimized plan with what its runs reuse.
struct Prepared {
    state: TypedSimpleState,
    /// Whether runs use the session's thread pool (see [`TractSession::probe`]).
    threaded: bool,
    /// The input tensor, shared with tract only during a run: between runs this
    /// is its sole owner, so the next input is copied into the same memory.
    input: Arc<Tensor>,
}

/// A tract model with one optimized plan per batch size seen.
pub struct TractSession {
    path: PathBuf,
    model: InferenceModel,
    spec: ModelSpec,
    executor: Option<Executor>,
    plans: HashMap<usize, Prepared>,
    order: Vec<usize>,
    /// Whether plans use this crate's operators ([`ops`]) where they apply.
    fast_ops: bool,
    /// The kernel of int8 weight products (`None`: tract's own).
    int8: Option<Isa>,
}

impl TractSession {
    /// Plans built from now on keep tract's own operators everywhere (no
    /// [`ops`] rewrite): the baseline the rewrite is measured and tested against.
    pub fn with_tract_ops_only(mut self) -> Self {
        self.fast_ops = false;
        self.plans.clear();
        self.order.clear();
        self
    }

    /// Plans built from now on run int8 weight products on `isa`'s kernel
    /// (`None`: on tract's own), whatever [`ISA_ENV`] says: how tests and
    /// benchmarks reach every kernel this CPU has.
    pub fn with_int8_kernel(mut self, isa: Option<Isa>) -> Result<Self> {
        if let Some(isa) = isa.filter(|i| !i.is_available()) {
            let unsupported = edgeclip_kernels::int8::Error::Unsupported(isa);
            let context = format!("{}: {unsupported}", self.path.display());
            return Err(Error::failed(NAME, context));
        }
        self.int8 = isa;
        self.plans.clear();
        self.order.clear();
        Ok(self)
    }

    /// The kernel int8 weight products run on (`None`: tract's own).
    pub fn int8_kernel(&self) -> Option<Isa> {
        self.int8.filter(|_| self.fast_ops)
    }

    /// The optimized tract plan for `batch` items (built on first use): what a
    /// run of that size executes, for measuring the engine apart from this crate.
    pub fn plan(&mut self, batch: usize) -> Result<Arc<TypedRunnableModel>> {
        Ok(self.prepared(batch)?.state.plan().clone())
    }

    fn prepared(&mut self, batch: usize) -> Result<&mut Prepared> {
        if !self.plans.contains_key(&batch) {
            let prepared = self.prepare(batch)?;
            if self.order.len() == MAX_PLANS {
                let oldest = self.order.remove(0);
                self.plans.remove(&oldest);
            }
            self.order.push(batch);
            self.plans.insert(batch, prepared);
        }
        Ok(self.plans.get_mut(&batch).expect("inserted above"))
    }

    fn prepare(&self, batch: usize) -> Result<Prepared> {
        let started = std::time::Instant::now();
        let plan = self.build_plan(batch).map_err(|e| {
            Error::model(
                &self.path,
                format!("cannot prepare for batch {batch}: {e:#}"),
            )
        })?;
        log::debug!(
            "{}: plan for batch {batch} ready in {:?}",
            self.path.display(),
            started.elapsed()
        );
        let state = plan.spawn().map_err(|e| self.backend_error(e))?;
        let shape = self.spec.input.concrete(batch);
        let input = match self.spec.input.dtype {
            DType::F32 => Tensor::zero::<f32>(&shape),
            DType::I64 => Tensor::zero::<i64>(&shape),
        }
        .map_err(|e| self.backend_error(e))?;
        let mut prepared = Prepared {
            state,
            threaded: false,
            input: Arc::new(input),
        };
        if let Some(executor) = &self.executor {
            prepared.threaded = self
                .probe(&mut prepared, executor, batch)
                .map_err(|e| self.backend_error(e))?;
        }
        Ok(prepared)
    }

    /// Whether the thread pool makes this plan faster. tract splits a matrix
    /// product over threads by its panel count, whatever the work per panel:
    /// a width-128 model's products are split although each half is a few
    /// microseconds, and two threads ran the default model's int8 image tower
    /// at 3.4 ms against 1.7 ms on one (2-core x86). A plan whose run takes
    /// longer than [`PROBE_LIMIT`] has enough work per product for the pool;
    /// a shorter one is timed both ways on the zero input.
    fn probe(
        &self,
        prepared: &mut Prepared,
        executor: &Executor,
        batch: usize,
    ) -> TractResult<bool> {
        let mut time = |threaded: bool| -> TractResult<std::time::Duration> {
            let started = std::time::Instant::now();
            let input = TValue::from_const(prepared.input.clone());
            run_state(&mut prepared.state, threaded.then_some(executor), input)?;
            Ok(started.elapsed())
        };
        let single = time(false)?;
        if single > PROBE_LIMIT {
            return Ok(true);
        }
        let (mut alone, mut pooled) = (Vec::new(), Vec::new());
        for _ in 0..PROBE_RUNS {
            alone.push(time(false)?);
            pooled.push(time(true)?);
        }
        alone.sort();
        pooled.sort();
        let threaded = pooled[PROBE_RUNS / 2] < alone[PROBE_RUNS / 2];
        log::debug!(
            "{} (batch {batch}): {:?} on one thread, {:?} on the pool: {}",
            self.path.display(),
            alone[PROBE_RUNS / 2],
            pooled[PROBE_RUNS / 2],
            if threaded { "pooled" } else { "one thread" }
        );
        Ok(threaded)
    }

    /// The thread pool runs of `batch` items use: `None` on one thread, or
    /// before the first run of that size. Code running [`Self::plan`] itself
    /// runs it inside `tract_linalg::multithread::multithread_tract_scope`.
    pub fn executor(&self, batch: usize) -> Option<Executor> {
        let threaded = self.plans.get(&batch).is_some_and(|p| p.threaded);
        self.executor.clone().filter(|_| threaded)
    }

    fn build_plan(&self, batch: usize) -> TractResult<Plan> {
        let shape = self.spec.input.concrete(batch);
        let fact = match self.spec.input.dtype {
            DType::F32 => f32::fact(&shape),
            DType::I64 => i64::fact(&shape),
        };
        let mut model = self.model.clone().with_input_fact(0, fact.into())?;
        let outlets: Vec<OutletId> = self
            .spec
            .outputs
            .iter()
            .map(|name| {
                model
                    .find_outlet_label(name)
                    .map(Ok)
                    .unwrap_or_else(|| model.node_by_name(name).map(|n| OutletId::new(n.id, 0)))
            })
            .collect::<TractResult<_>>()?;
        model.select_output_outlets(&outlets)?;
        let mut phase = Phases::start(&self.path, batch);
        let typed = model.into_typed()?;
        phase.done("typed");
        let typed = fold::declutter(typed)?;
        phase.done("decluttered");
        let typed = codegen_knobs()?
            .enter(|| fold::codegen(typed, self.fast_ops.then(|| ops::FastOps::new(self.int8))))?;
        phase.done("optimized");
        // The pool is given per run (`run_state`), so the probe can time both.
        let plan = typed.into_runnable()?;
        phase.done("runnable");
        Ok(plan)
    }
}

impl Session for TractSession {
    fn input(&self) -> &TensorSpec {
        &self.spec.input
    }

    fn outputs(&self) -> &[String] {
        &self.spec.outputs
    }

    fn run(&mut self, input: Input<'_>, batch: usize, outputs: &mut Outputs) -> Result<()> {
        self.spec.input.check_input(&self.path, &input, batch)?;
        if let Input::Pixels(_) = input {
            return Err(Error::pixels_not_taken(NAME, &self.path));
        }
        self.prepared(batch)?;
        let prepared = self.plans.get_mut(&batch).expect("prepared above");
        let executor = self.executor.as_ref().filter(|_| prepared.threaded);
        let values =
            run_prepared(prepared, executor, input).map_err(|e| backend_error(&self.path, e))?;
        outputs.begin(self.spec.outputs.len());
        for (i, (name, value)) in self.spec.outputs.iter().zip(values).enumerate() {
            let copied = copy_output(&value, outputs.slot(i, name, value.shape()));
            copied.map_err(|e| backend_error(&self.path, e))?;
        }
        Ok(())
    }
}

/// tract settings for this crate's graphs, in force while a plan is generated.
///
/// A ViT's patch embedding is a convolution whose stride equals its kernel
/// (32x32 at ViT-B/32): tract gathers such a large kernel lazily, panel by
/// panel, which measured 4.8 ms at ViT-B/32 against 2.5 ms for copying the
/// patches out first (a pure reshuffle here, each pixel read once). The eager
/// copy stays bounded by tract's own scratch-size rule (4 MiB).
fn codegen_knobs() -> TractResult<tract_onnx::tract_core::tract_data::knobs::KnobScope> {
    let eager_for_any_kernel = usize::MAX.to_string();
    tract_onnx::tract_core::tract_data::knobs::KnobScope::new([(
        "TRACT_LAZY_IM2COL_MIN_KERNEL",
        eager_for_any_kernel.as_str(),
    )])
}

/// Copies `input` into the prepared input tensor and runs the plan.
fn run_prepared(
    prepared: &mut Prepared,
    executor: Option<&Executor>,
    input: Input<'_>,
) -> TractResult<TVec<TValue>> {
    // Sole owner between runs, unless a plan kept a reference: then start afresh.
    if Arc::get_mut(&mut prepared.input).is_none() {
        log::debug!("tract kept the input tensor; allocating a new one");
        prepared.input = Arc::new(prepared.input.as_ref().clone());
    }
    let tensor = Arc::get_mut(&mut prepared.input).expect("sole owner");
    let mut plain = tensor.try_as_plain_ram_mut()?;
    match input {
        Input::F32(d) => plain.as_slice_mut::<f32>()?.copy_from_slice(d),
        Input::I64(d) => plain.as_slice_mut::<i64>()?.copy_from_slice(d),
        // Refused by `TractSession::run` before a plan is touched.
        Input::Pixels(_) => return Err(TractError::msg("raw pixels: tract takes f32 images")),
    }
    let value = TValue::from_const(prepared.input.clone());
    run_state(&mut prepared.state, executor, value)
}

/// Runs the plan, its products and this crate's operators on `executor`'s
/// threads when given.
fn run_state(
    state: &mut TypedSimpleState,
    executor: Option<&Executor>,
    input: TValue,
) -> TractResult<TVec<TValue>> {
    match executor {
        Some(executor) => {
            tract_linalg::multithread::multithread_tract_scope(executor.clone(), || {
                state.run(tvec!(input))
            })
        }
        None => state.run(tvec!(input)),
    }
}

/// Copies one output into its buffer (`dst` already has the output's size).
fn copy_output(value: &TValue, dst: &mut [f32]) -> TractResult<()> {
    if value.datum_type() == f32::datum_type() {
        dst.copy_from_slice(value.try_as_plain_ram()?.as_slice::<f32>()?);
    } else {
        let cast = value.cast_to::<f32>()?;
        dst.copy_from_slice(cast.try_as_plain_ram()?.as_slice::<f32>()?);
    }
    Ok(())
}

/// tract failed on `path`, a file it accepted: its error stays the source.
fn backend_error(path: &Path, e: impl Into<EngineError>) -> Error {
    Error::failed_with(NAME, path.display().to_string(), e)
}

impl TractSession {
    fn backend_error(&self, e: impl Into<EngineError>) -> Error {
        backend_error(&self.path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPUs the calling thread may run on, as the kernel lists them.
    #[cfg(target_os = "linux")]
    fn allowed_cpus() -> String {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().to_owned()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_boards_cores_pin_the_pool_threads() {
        let Executor::MultiThread(pool) = executor(2, &[0]) else {
            panic!("two threads make a pool");
        };
        assert_eq!(pool.install(allowed_cpus), "0");
        // Without cores the pool is the OS's to place.
        let Executor::MultiThread(free) = executor(2, &[]) else {
            panic!("two threads make a pool");
        };
        assert_eq!(free.install(allowed_cpus), allowed_cpus());
    }
}
