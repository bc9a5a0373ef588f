//! The seam between the runtime and its engines: the model crate runs on any
//! backend, and a backend is one crate plus one entry in the registry's list.

use std::collections::BTreeSet;
use std::process::Command;

use edgeclip::backend::{Engine, LoadOptions, Registry, SettingsByBackend};
use edgeclip::encoder::TextEncoder;
use edgeclip::model::{ModelPackage, Precision};
use edgeclip_e2e::default_model;

/// The test-only `fixed` backend, registered the way a new backend would be
/// (one more factory beside this build's), runs the package's text tower
/// through the library's encoder: its known tensor comes out normalized.
#[test]
fn a_new_backend_runs_the_library_unchanged() {
    let package = ModelPackage::open(default_model()).unwrap();
    let dim = package.manifest().embed_dim;
    let mut factories = edgeclip_backends::factories();
    factories.insert(0, &edgeclip_backend_fixed::FACTORY);
    let mut settings = SettingsByBackend::new();
    let mut fixed = edgeclip::backend::Settings::default();
    fixed.set("width", i64::try_from(dim).unwrap().into());
    settings.insert("fixed".into(), fixed);
    let registry = Registry::from_factories(factories, &settings).unwrap();
    let backend = registry.select("fixed").unwrap();
    let engine = Engine::new(backend, LoadOptions::default());
    let mut encoder = TextEncoder::open(&package, &engine, Precision::Fp32).unwrap();
    let embeddings = encoder.embed(&["a photo of a cat"]).unwrap();
    let row = embeddings.row(0);
    let norm = (1..=dim).map(|j| (j * j) as f64).sum::<f64>().sqrt();
    for (j, &v) in row.iter().enumerate() {
        let want = (j + 1) as f64 / norm;
        assert!(
            (f64::from(v) - want).abs() < 1e-6,
            "element {j}: {v} vs {want}"
        );
    }
}

/// The packages `package` depends on (not for tests or builds), as
/// `cargo tree` lists them for this machine.
fn normal_dependencies_of(package: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_model_crate_depends_on_no_engine() {
    let deps = normal_dependencies_of("edgeclip");
    assert!(deps.contains("edgeclip-backend"), "{deps:?}");
    let engines: Vec<&String> = deps
        .iter()
        .filter(|d| d.starts_with("tract") || d.starts_with("openvino") || d.starts_with("rknpu"))
        .collect();
    assert!(engines.is_empty(), "edgeclip depends on {engines:?}");
    // The seam itself names no engine either.
    let seam = normal_dependencies_of("edgeclip-backend");
    assert!(seam.iter().all(|d| !d.starts_with("tract")), "{seam:?}");
}
