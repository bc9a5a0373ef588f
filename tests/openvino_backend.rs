//! The OpenVINO backend against onnxruntime and tract, on the default model and
//! the ViT-B/32-width slice, and its fallback when the library is absent.
//!
//! The library comes from the `openvino` wheel that firmware-tools/test-env.sh
//! installs into target/pyenv. Without it these tests say so and pass, except
//! under CI (`CI` set), where the wheel is part of the environment and its
//! absence is a failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use edgeclip::backend::{
    Backend, DType, Dim, Engine, Input, LoadOptions, ModelSpec, Outputs, PrecisionHint, Registry,
    TensorSpec, AUTO,
};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::reference::{static_int8_floor, Reference};
use edgeclip::ErrorKind;
use edgeclip_backend_openvino::OpenVinoBackend;
use edgeclip_backend_tract::TractBackend;
use edgeclip_e2e::{cosine, default_model, edgeclip, read_f32, root, samples};

/// The wheel's library directory, or `None` (with a note) where it is absent.
fn wheel_libs() -> Option<PathBuf> {
    let lib = root().join("target/pyenv/lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/openvino/libs"))
            .find(|p| p.is_dir())
    });
    if found.is_none() {
        let why = format!(
            "no OpenVINO library under {} (firmware-tools/test-env.sh installs the wheel)",
            lib.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
    }
    found
}

fn openvino(libs: &Path) -> Arc<dyn Backend> {
    Arc::new(OpenVinoBackend::new(Some(libs.to_owned())))
}

fn options(threads: usize) -> LoadOptions {
    LoadOptions::with_threads(threads)
}

fn check_against_onnxruntime(precision: Precision, threads: usize) {
    let Some(libs) = wheel_libs() else { return };
    let package = ModelPackage::open(default_model()).unwrap();
    let reference = Reference::of_package(&package).unwrap();
    let engine = Engine::new(openvino(&libs), options(threads));
    let agreements = reference.check(&package, &engine, precision).unwrap();
    assert_eq!(agreements.len(), 4, "image, patch and value tokens, text");
    for a in &agreements {
        println!(
            "openvino {} ({threads} thread(s)): min cosine vs onnxruntime {:.8} over {} rows (floor {})",
            a.output, a.min_cosine, a.rows, a.floor
        );
        assert!(a.passed(), "{}: {} < {}", a.output, a.min_cosine, a.floor);
    }
}

#[test]
fn fp32_matches_onnxruntime() {
    check_against_onnxruntime(Precision::Fp32, 1);
    check_against_onnxruntime(Precision::Fp32, 2);
}

#[test]
fn int8_matches_onnxruntime() {
    check_against_onnxruntime(Precision::Int8, 1);
    check_against_onnxruntime(Precision::Int8, 2);
}

/// Image embeddings of the sample photos through OpenVINO and tract.
#[test]
fn embeddings_agree_with_tract() {
    let Some(libs) = wheel_libs() else { return };
    let package = ModelPackage::open(default_model()).unwrap();
    for precision in [Precision::Fp32, Precision::Int8] {
        let tract = edgeclip_backend_tract::engine(1);
        let ov = Engine::new(openvino(&libs), options(1));
        let mut a = edgeclip::encoder::ImageEncoder::open(&package, &tract, precision).unwrap();
        let mut b = edgeclip::encoder::ImageEncoder::open(&package, &ov, precision).unwrap();
        let paths = samples();
        let images: Vec<_> = paths
            .iter()
            .map(|p| image::open(p).unwrap().to_rgb8())
            .collect();
        let ea = a.embed_images(&images).unwrap();
        let eb = b.embed_images(&images).unwrap();
        for (i, path) in paths.iter().enumerate() {
            let cos = cosine(ea.row(i), eb.row(i));
            println!(
                "{precision} {}: openvino vs tract cosine {cos:.8}",
                path.display()
            );
            // int8: OpenVINO runs the package's static int8 file made for it,
            // tract the generic dynamic one; each is within ~4e-4 of fp32 where
            // OpenVINO's int8 products are exact, ~1.3e-3 where they saturate
            // (`static_int8_floor`).
            let floor = if precision == Precision::Fp32 {
                0.99999
            } else {
                static_int8_floor()
            };
            assert!(cos >= floor, "{}: {cos}", path.display());
        }
    }
}

fn slice(libs: &Path, precision: &str, hint: PrecisionHint) -> (f64, String) {
    let dir = root().join("target/scale-slice");
    assert!(
        dir.join("meta.json").is_file(),
        "run firmware-tools/test-env.sh"
    );
    let spec = ModelSpec {
        input: TensorSpec {
            name: "image".into(),
            dtype: DType::F32,
            shape: vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(224), Dim::Fixed(224)],
        },
        outputs: vec!["embedding".into()],
        normalization: None,
    };
    let options = LoadOptions {
        precision_hint: hint,
        ..options(2)
    };
    let mut session = openvino(libs)
        .load(
            &dir.join(format!("slice.{precision}.onnx")),
            &spec,
            &options,
        )
        .unwrap();
    let info = session.info().expect("OpenVINO reports its session");
    let input = read_f32(&dir.join("input.bin"));
    let mut out = Outputs::new();
    session.run(Input::F32(&input), 1, &mut out).unwrap();
    let expected = read_f32(&dir.join(format!("{precision}.ort.bin")));
    let cos = cosine(&out.get(0).unwrap().data, &expected);
    println!(
        "ViT-B/32 slice {precision} on OpenVINO {} {}: cosine vs onnxruntime {cos:.8} (compiled in {:.0} ms)",
        info.device, info.precision, info.prepare_ms
    );
    (cos, info.precision)
}

#[test]
fn the_vit_b32_slice_matches_onnxruntime() {
    let Some(libs) = wheel_libs() else { return };
    let (cos, precision) = slice(&libs, "fp32", PrecisionHint::Exact);
    assert_eq!(precision, "f32", "exact means f32 arithmetic");
    assert!(cos >= 0.99999, "fp32: {cos}");
    let (cos, _) = slice(&libs, "int8", PrecisionHint::Exact);
    assert!(cos >= 0.9998, "int8: {cos}");
    // The fast hint keeps the plugin's choice (bf16 on CPUs with it): close, not exact.
    let (cos, precision) = slice(&libs, "fp32", PrecisionHint::Fast);
    assert!(cos >= 0.999, "fp32 with the {precision} hint: {cos}");
}

#[test]
fn the_model_cache_is_written_and_used() {
    let Some(libs) = wheel_libs() else { return };
    let package = ModelPackage::open(default_model()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let options = LoadOptions {
        cache_dir: Some(cache.path().join("openvino")),
        ..options(1)
    };
    let engine = Engine::new(openvino(&libs), options);
    let started = Instant::now();
    let first = edgeclip::encoder::ImageEncoder::open(&package, &engine, Precision::Int8).unwrap();
    let cold = started.elapsed();
    drop(first);
    let blobs = std::fs::read_dir(cache.path().join("openvino"))
        .unwrap()
        .count();
    assert!(blobs > 0, "the compiled model is cached");
    let started = Instant::now();
    let _second =
        edgeclip::encoder::ImageEncoder::open(&package, &engine, Precision::Int8).unwrap();
    println!(
        "int8 image tower: compile {cold:?}, from the cache {:?}",
        started.elapsed()
    );
}

#[test]
fn a_device_that_is_not_there_is_unavailable_and_named() {
    let Some(libs) = wheel_libs() else { return };
    let package = ModelPackage::open(default_model()).unwrap();
    let options = LoadOptions {
        device: Some("NPU.7".into()),
        ..options(1)
    };
    let engine = Engine::new(openvino(&libs), options);
    let err = edgeclip::encoder::ImageEncoder::open(&package, &engine, Precision::Fp32)
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::BackendUnavailable, "{err}");
    assert!(err.to_string().contains("NPU.7"), "{err}");
    assert!(
        err.to_string().contains("CPU"),
        "lists what is there: {err}"
    );
}

#[test]
fn without_the_library_auto_falls_back_to_tract_and_a_named_backend_fails() {
    let missing = Path::new("/nonexistent/openvino/libs");
    let backend = OpenVinoBackend::new(Some(missing.to_owned()));
    let err = edgeclip::Error::from(backend.check().unwrap_err());
    assert_eq!(err.kind(), ErrorKind::BackendUnavailable);
    assert!(
        err.to_string().contains("/nonexistent/openvino/libs"),
        "{err}"
    );
    let registry = Registry::with(vec![Arc::new(backend), Arc::new(TractBackend)]);
    assert_eq!(registry.select(AUTO).unwrap().name(), "tract");
    assert!(registry.select("openvino").is_err());

    // The same through the binary: an explicit --backend is a hard requirement.
    let out = edgeclip()
        .env("OPENVINO_LIB", missing)
        .args([
            "--backend",
            "openvino",
            "classify",
            "--labels",
            "a cat,a dog",
        ])
        .args(samples().iter().take(1))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("openvino") && stderr.contains("/nonexistent"),
        "{stderr}"
    );
}

/// What an Intel-board user does: classify with OpenVINO, get tract's labels.
#[test]
fn classify_on_openvino_gives_tracts_labels() {
    let Some(libs) = wheel_libs() else { return };
    let labels = "a red circle,a blue star,a green square,a yellow triangle,a dog,a car";
    let run = |backend: &str| {
        let out = edgeclip()
            .env("OPENVINO_LIB", &libs)
            .args([
                "--backend",
                backend,
                "--json",
                "classify",
                "--labels",
                labels,
            ])
            .args(samples())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["data"]["top"][0]["label"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    let tract = run("tract");
    assert_eq!(run("openvino"), tract);
    println!("labels: {tract:?}");
}

/// The package's int8 files made for OpenVINO (`backend = "openvino"`, QDQ form):
/// the encoders pick them on this backend, and their embeddings of the sample
/// images and prompts (through the runtime's own preprocessing and tokenizer)
/// match onnxruntime on the same files (tests/fixtures/openvino, written by
/// firmware-tools/fixtures/make_openvino_fixtures.py).
#[test]
fn openvino_int8_files_match_onnxruntime_on_themselves() {
    use edgeclip::model::{FileTarget, TowerKind};

    let package = ModelPackage::open(default_model()).unwrap();
    let target = FileTarget {
        backend: "openvino",
        soc: None,
    };
    for kind in [TowerKind::Image, TowerKind::Text] {
        let file = package.select_file(kind, Precision::Int8, target).unwrap();
        assert!(
            file.path.ends_with(".openvino.onnx"),
            "{kind:?}: {}",
            file.path
        );
        assert_eq!(file.form, "qdq");
    }
    let Some(libs) = wheel_libs() else { return };
    let dir = root().join("tests/fixtures/openvino");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("openvino.json")).unwrap()).unwrap();
    let expected = |name: &str| {
        let entry = &meta["outputs"][name];
        let shape: Vec<usize> = entry["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let data = read_f32(&dir.join(entry["file"].as_str().unwrap()));
        assert_eq!(data.len(), shape.iter().product::<usize>(), "{name}");
        (data, shape[1])
    };
    // Exact or saturating int8 products, as this CPU's oneDNN kernels do them.
    let floor = static_int8_floor();
    for threads in [1, 2] {
        let engine = Engine::new(openvino(&libs), options(threads));

        let paths = samples();
        let sources: Vec<&str> = meta["images"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let names: Vec<String> = paths
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names, sources,
            "the fixture's images are the package's samples"
        );
        let images: Vec<_> = paths
            .iter()
            .map(|p| image::open(p).unwrap().to_rgb8())
            .collect();
        let mut encoder =
            edgeclip::encoder::ImageEncoder::open(&package, &engine, Precision::Int8).unwrap();
        let got = encoder.embed_images(&images).unwrap();
        let (want, dim) = expected("image.int8.openvino");
        for (i, path) in paths.iter().enumerate() {
            let cos = cosine(got.row(i), &want[i * dim..(i + 1) * dim]);
            println!(
                "openvino int8 file ({threads} thread(s)) {}: cosine vs onnxruntime {cos:.6}",
                path.display()
            );
            assert!(cos >= floor, "{}: {cos} < {floor}", path.display());
        }

        let prompts: Vec<&str> = meta["tokens"]["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let mut encoder =
            edgeclip::encoder::TextEncoder::open(&package, &engine, Precision::Int8).unwrap();
        let got = encoder.embed(&prompts).unwrap();
        let (want, dim) = expected("text.int8.openvino");
        for (i, prompt) in prompts.iter().enumerate() {
            let cos = cosine(got.row(i), &want[i * dim..(i + 1) * dim]);
            println!("openvino int8 file ({threads} thread(s)) {prompt:?}: cosine vs onnxruntime {cos:.6}");
            assert!(cos >= floor, "{prompt:?}: {cos} < {floor}");
        }
    }
}

/// OpenVINO's int8 kernels without VNNI (as on AVX2-only CPUs), on any x86
/// CPU: oneDNN capped at AVX2 by `ONEDNN_MAX_CPU_ISA` in a child process.
/// `edgeclip check` then holds the package's OpenVINO int8 files to the
/// saturating floor and passes; the same rows beside an uncapped run show the
/// gap the floors are set from.
#[test]
fn int8_check_passes_where_openvino_products_saturate() {
    let Some(libs) = wheel_libs() else { return };
    let check = |cap: Option<&str>| {
        let mut cmd = edgeclip();
        cmd.env("OPENVINO_LIB", &libs).args([
            "--backend",
            "openvino",
            "--precision",
            "int8",
            "--json",
            "check",
        ]);
        match cap {
            Some(isa) => cmd.env("ONEDNN_MAX_CPU_ISA", isa),
            None => cmd.env_remove("ONEDNN_MAX_CPU_ISA"),
        };
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{cap:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let rows = |stdout: &str| -> Vec<(String, f64, f64)> {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                let d = &v["data"];
                Some((
                    d["output"].as_str()?.to_owned(),
                    d["min_cosine"].as_f64()?,
                    d["floor"].as_f64()?,
                ))
            })
            .collect()
    };
    let capped = rows(&check(Some("AVX2")));
    let free = rows(&check(None));
    assert!(!capped.is_empty(), "check printed its rows");
    for ((output, cos, floor), (_, free_cos, free_floor)) in capped.iter().zip(&free) {
        println!(
            "{output}: AVX2 {cos:.6} (floor {floor}), this CPU {free_cos:.6} (floor {free_floor})"
        );
        assert!(cos >= floor, "{output}: {cos} < {floor}");
        let saturating = if output.starts_with("image") || output.starts_with("text") {
            edgeclip::reference::STATIC_INT8_SATURATING_FLOOR
        } else {
            edgeclip::reference::STATIC_INT8_SATURATING_PATCH_FLOOR
        };
        assert_eq!(*floor, saturating, "{output}");
    }
}
