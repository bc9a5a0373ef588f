//! Image and text latency per backend beside onnxruntime: the table of
//! `firmware-tools/bench/backends.sh`, which makes the onnxruntime JSON first.
//!
//!     cargo run --release -p edgeclip --example backend_table -- ORT.json
//!
//! Rows: the default model's towers (fp32 and int8 files) and the ViT-B/32-width
//! slice (image), each on tract, on OpenVINO's CPU in f32 and, for fp32 files,
//! with the `Fast` hint (bf16 where the CPU has it), and the static int8 (QDQ)
//! files made for OpenVINO where built, at 1 and 2 threads. Batch 1,
//! medians and minima after warm-up runs; the ratio is edgeclip's median over
//! onnxruntime's on the same file and threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use edgeclip::backend::{
    Backend, DType, Dim, Input, LoadOptions, ModelSpec, Outputs, PrecisionHint, TensorSpec,
};
use edgeclip_backend_openvino::OpenVinoBackend;
use edgeclip_backend_tract::TractBackend;

struct Case {
    model: &'static str,
    tower: &'static str,
    /// `fp32`, `int8`, or `int8 qdq` (the OpenVINO-only static int8 file).
    precision: &'static str,
    path: PathBuf,
    spec: ModelSpec,
    input: Data,
    runs: usize,
}

enum Data {
    F32(Vec<f32>),
    I64(Vec<i64>),
}

fn spec(name: &str, dtype: DType, shape: Vec<Dim>) -> ModelSpec {
    ModelSpec {
        input: TensorSpec {
            name: name.into(),
            dtype,
            shape,
        },
        outputs: vec!["embedding".into()],
        normalization: None,
    }
}

fn cases(root: &Path) -> Vec<Case> {
    let pkg = root.join("models/edgeclip-tiny");
    let image = || {
        spec(
            "image",
            DType::F32,
            vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(64), Dim::Fixed(64)],
        )
    };
    let text = || spec("text", DType::I64, vec![Dim::Batch, Dim::Fixed(77)]);
    let mut ids = vec![0i64; 77];
    ids[..8].copy_from_slice(&[49406, 320, 1125, 539, 320, 736, 7117, 49407]);
    let mut all = Vec::new();
    for precision in ["fp32", "int8"] {
        all.push(Case {
            model: "default",
            tower: "image",
            precision,
            path: pkg.join(format!("image.{precision}.onnx")),
            spec: image(),
            input: Data::F32(vec![0.1; 3 * 64 * 64]),
            runs: 300,
        });
        all.push(Case {
            model: "default",
            tower: "text",
            precision,
            path: pkg.join(format!("text.{precision}.onnx")),
            spec: text(),
            input: Data::I64(ids.clone()),
            runs: 300,
        });
    }
    // The static int8 files made for OpenVINO, where built (OpenVINO rows only).
    for (tower, spec, input) in [
        ("image", image(), Data::F32(vec![0.1; 3 * 64 * 64])),
        ("text", text(), Data::I64(ids.clone())),
    ] {
        let path = pkg.join(format!("{tower}.int8.openvino.onnx"));
        if path.is_file() {
            all.push(Case {
                model: "default",
                tower,
                precision: "int8 qdq",
                path,
                spec,
                input,
                runs: 300,
            });
        }
    }
    let slice = root.join("target/scale-slice");
    if let Ok(bytes) = std::fs::read(slice.join("input.bin")) {
        let x: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        for precision in ["fp32", "int8"] {
            all.push(Case {
                model: "ViT-B/32 slice",
                tower: "image",
                precision,
                path: slice.join(format!("slice.{precision}.onnx")),
                spec: spec(
                    "image",
                    DType::F32,
                    vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(224), Dim::Fixed(224)],
                ),
                input: Data::F32(x.clone()),
                runs: 40,
            });
        }
        let qdq = slice.join("slice.int8-openvino.onnx");
        if qdq.is_file() {
            all.push(Case {
                model: "ViT-B/32 slice",
                tower: "image",
                precision: "int8 qdq",
                path: qdq,
                spec: spec(
                    "image",
                    DType::F32,
                    vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(224), Dim::Fixed(224)],
                ),
                input: Data::F32(x),
                runs: 40,
            });
        }
    }
    all
}

/// Median and minimum milliseconds of `runs` runs after a tenth as many warm-ups.
fn time(
    backend: &dyn Backend,
    case: &Case,
    options: &LoadOptions,
) -> Result<(f64, f64, String), String> {
    let mut session = backend
        .load(&case.path, &case.spec, options)
        .map_err(|e| e.to_string())?;
    let precision = session
        .info()
        .map(|i| i.precision)
        .unwrap_or_else(|| "file".into());
    let mut out = Outputs::new();
    let input = match &case.input {
        Data::F32(d) => Input::F32(d),
        Data::I64(d) => Input::I64(d),
    };
    for _ in 0..(case.runs / 10).max(3) {
        session.run(input, 1, &mut out).map_err(|e| e.to_string())?;
    }
    let mut times = Vec::with_capacity(case.runs);
    for _ in 0..case.runs {
        let t = Instant::now();
        session.run(input, 1, &mut out).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times[0], precision))
}

fn main() {
    let ort_json = std::env::args()
        .nth(1)
        .expect("usage: backend_table ORT.json");
    let ort: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&ort_json).expect("onnxruntime JSON"))
            .expect("JSON");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap();
    let tract: Arc<dyn Backend> = Arc::new(TractBackend);
    let openvino: Arc<dyn Backend> = Arc::new(OpenVinoBackend::new(None));
    let openvino_ok = openvino.check();
    if let Err(e) = &openvino_ok {
        eprintln!("OpenVINO rows skipped: {e}");
    }
    println!("onnxruntime {}", ort["onnxruntime"].as_str().unwrap_or("?"));
    println!();
    println!("| model | tower | file | backend | arithmetic | threads | median ms | min ms | onnxruntime median (min) ms | ratio |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for case in cases(&root) {
        let key = case.path.to_string_lossy().into_owned();
        for threads in [1usize, 2] {
            let reference = &ort[&key][threads.to_string()];
            let (ort_med, ort_min) = (
                reference["median_ms"].as_f64().unwrap_or(f64::NAN),
                reference["min_ms"].as_f64().unwrap_or(f64::NAN),
            );
            let mut configs: Vec<(&str, &Arc<dyn Backend>, PrecisionHint)> = Vec::new();
            if case.precision != "int8 qdq" {
                configs.push(("tract", &tract, PrecisionHint::Exact));
            }
            if openvino_ok.is_ok() {
                configs.push(("openvino CPU", &openvino, PrecisionHint::Exact));
                if case.precision == "fp32" {
                    configs.push(("openvino CPU fast", &openvino, PrecisionHint::Fast));
                }
            }
            for (label, backend, hint) in configs {
                let options = LoadOptions {
                    threads,
                    device: (label != "tract").then(|| "CPU".to_owned()),
                    precision_hint: hint,
                    ..LoadOptions::default()
                };
                match time(backend.as_ref(), &case, &options) {
                    Ok((med, min, reported)) => {
                        let arithmetic = match (label, case.precision) {
                            ("tract", "fp32") => "f32".to_owned(),
                            ("tract", _) => "int8".to_owned(),
                            (_, "fp32") => reported,
                            _ => format!("int8, rest {reported}"),
                        };
                        println!(
                        "| {} | {} | {} | {label} | {arithmetic} | {threads} | {med:.3} | {min:.3} | {ort_med:.3} ({ort_min:.3}) | {:.2}x |",
                        case.model, case.tower, case.precision, med / ort_med
                    )
                    }
                    Err(e) => println!(
                        "| {} | {} | {} | {label} | - | {threads} | failed: {e} | | {ort_med:.3} | |",
                        case.model, case.tower, case.precision
                    ),
                }
            }
        }
    }
}
