//! `edgeclip doctor`: what this machine is and what edgeclip can use on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use edgeclip::backend::{Backend, Engine};
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::reference::Reference;
use edgeclip_board::{CpuFeatures, HostFacts};
use edgeclip_capture::source::negotiate::fourcc_str;
use edgeclip_capture::source::v4l_camera;

use crate::args::DoctorArgs;
use crate::context::{Ctx, Outcome};
use crate::output::{
    DoctorBackend, DoctorBoard, DoctorCamera, DoctorCpu, DoctorReport, Record, SelfTest,
    SelfTestOutput,
};

/// Timed runs per tower in a self-test (the median is reported).
const TIMED_RUNS: usize = 7;

/// Runs `doctor`; a failed self-test is a partial failure (exit 1).
pub fn run(ctx: &mut Ctx, args: DoctorArgs) -> Result<Outcome> {
    let (board, cpu) = board_and_cpu(ctx);
    let (backends, usable) = backends(ctx)?;
    let self_test = if args.self_test {
        let package = ctx.package()?;
        let mut tests = Vec::new();
        for backend in &usable {
            let engine = Engine::new(backend.clone(), ctx.load_options(backend.name()));
            for precision in [Precision::Fp32, Precision::Int8] {
                tests.push(self_test(&package, &engine, precision));
            }
        }
        tests
    } else {
        Vec::new()
    };
    let failed = self_test.iter().any(|t| !t.passed);
    ctx.out.print(&Record::Doctor(Box::new(DoctorReport {
        board,
        cpu,
        backends,
        cameras: cameras(Path::new("/dev")),
        self_test,
    })))?;
    Ok(Outcome::failed_if(failed))
}

/// The board profile in force (or why there is none) and this CPU, with the
/// features the profile expects that it lacks.
fn board_and_cpu(ctx: &Ctx) -> (DoctorBoard, DoctorCpu) {
    let facts = HostFacts::probe();
    let cpu = CpuFeatures::probe();
    let threads = ctx.threads();
    let (board, missing) = match ctx.board() {
        Ok(d) => (
            DoctorBoard {
                name: d.profile.name.clone(),
                title: d.profile.title.clone(),
                reason: d.reason.clone(),
                backend_order: d.profile.backends.order.clone(),
                threads,
            },
            cpu.missing(&d.profile.cpu_features)
                .into_iter()
                .map(|f| f.name())
                .collect(),
        ),
        Err(e) => (
            DoctorBoard {
                name: "none".into(),
                title: "no profile".into(),
                reason: format!("{e:#}"),
                backend_order: Vec::new(),
                threads,
            },
            Vec::new(),
        ),
    };
    let cpu = DoctorCpu {
        arch: std::env::consts::ARCH,
        model: facts.cpu_model_name().map(str::to_owned),
        features: cpu.names(),
        missing,
    };
    (board, cpu)
}

/// The backends that can run here, for the self-test.
type Usable = Vec<Arc<dyn Backend>>;

/// Every backend of this build with whether it can run here (and why not), and
/// the ones that can.
fn backends(ctx: &Ctx) -> Result<(Vec<DoctorBackend>, Usable)> {
    let registry = ctx.registry()?;
    let selected = ctx.select_backend(&registry).ok().map(|b| b.name());
    let mut backends = Vec::new();
    let mut usable: Usable = Vec::new();
    for status in registry.statuses() {
        let backend = registry.get(status.name)?;
        let (available, reason, details) = match status.available {
            Ok(()) => match backend.details() {
                Ok(details) => (true, None, Some(details)),
                Err(e) => (false, Some(e.to_string()), None),
            },
            Err(e) => (false, Some(e.to_string()), None),
        };
        if available {
            usable.push(backend);
        }
        backends.push(DoctorBackend {
            name: status.name,
            available,
            reason,
            library: details
                .as_ref()
                .and_then(|d| d.library.as_ref())
                .map(|p| p.display().to_string()),
            devices: details.map(|d| d.devices).unwrap_or_default(),
            selected: selected == Some(status.name),
        });
    }
    Ok((backends, usable))
}

/// The package on `engine` at `precision` against its reference, and timings.
fn self_test(package: &ModelPackage, engine: &Engine, precision: Precision) -> SelfTest {
    let mut test = SelfTest {
        backend: engine.name(),
        precision: precision.to_string(),
        device: None,
        passed: false,
        outputs: Vec::new(),
        image_ms: None,
        text_ms: None,
        error: None,
    };
    let run = |test: &mut SelfTest| -> edgeclip::Result<()> {
        let reference = Reference::of_package(package)?;
        let agreements = reference.check(package, engine, precision)?;
        test.passed = !agreements.is_empty() && agreements.iter().all(|a| a.passed());
        test.outputs = agreements
            .iter()
            .map(|a| SelfTestOutput {
                output: a.output.clone(),
                min_cosine: a.min_cosine,
                floor: a.floor,
            })
            .collect();

        let mut image = ImageEncoder::open(package, engine, precision)?;
        test.device = image
            .session_info()
            .map(|i| format!("{} {}", i.device, i.precision));
        let input = vec![0.0f32; image.input_len()];
        test.image_ms = Some(median_ms(|| image.embed_preprocessed(&input, 1).map(drop))?);
        let mut text = TextEncoder::open(package, engine, precision)?;
        test.text_ms = Some(median_ms(|| text.embed(&["a photo of a dog."]).map(drop))?);
        Ok(())
    };
    if let Err(e) = run(&mut test) {
        test.passed = false;
        test.error = Some(e.to_string());
    }
    test
}

/// Median wall time of [`TIMED_RUNS`] calls of `f`, after one warm-up call.
fn median_ms(mut f: impl FnMut() -> edgeclip::Result<()>) -> edgeclip::Result<f64> {
    f()?;
    let mut times = Vec::with_capacity(TIMED_RUNS);
    for _ in 0..TIMED_RUNS {
        let started = Instant::now();
        f()?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Every `videoN` under `dev`, described (or why not).
fn cameras(dev: &Path) -> Vec<DoctorCamera> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dev)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix("video"))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
                .collect()
        })
        .unwrap_or_default();
    paths.sort_by_key(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n["video".len()..].parse::<u32>().ok())
    });
    paths
        .into_iter()
        .map(|path| {
            let device = path.display().to_string();
            match v4l_camera::describe(&path) {
                Ok(info) => {
                    let fourcc =
                        |f: &v4l_camera::FormatInfo| fourcc_str(f.fourcc).trim_end().to_owned();
                    DoctorCamera {
                        device,
                        card: Some(info.card),
                        driver: Some(info.driver),
                        formats: info.formats.iter().map(fourcc).collect(),
                        usable: info
                            .formats
                            .iter()
                            .filter(|f| f.format.is_some())
                            .map(fourcc)
                            .collect(),
                        error: None,
                    }
                }
                Err(e) => DoctorCamera {
                    device,
                    card: None,
                    driver: None,
                    formats: Vec::new(),
                    usable: Vec::new(),
                    error: Some(e.to_string()),
                },
            }
        })
        .collect()
}
