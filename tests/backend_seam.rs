//! The seam between the runtime and its engines: the model crate runs on any
//! backend, and a backend is one crate plus one entry in the registry's list.

use std::collections::BTreeSet;
use std::process::Command;

use edgeclip::backend::{Engine, LoadOptions, Registry, SettingsByBackend};
use edgeclip::encoder::{ImageEncoder, ImageFeatures, TextEncoder};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::preprocess::Preprocessor;
use edgeclip_e2e::default_model;
use image::{Rgb, RgbImage};

/// The test-only `fixed` backend, registered the way a new backend would be
/// (one more factory beside this build's), with rows of `dim` elements; its
/// sessions take raw pixels when `pixels`.
fn fixed_engine(dim: usize, pixels: bool) -> Engine {
    let mut factories = edgeclip_backends::factories();
    factories.insert(0, &edgeclip_backend_fixed::FACTORY);
    let mut settings = SettingsByBackend::new();
    let mut fixed = edgeclip::backend::Settings::default();
    fixed.set("width", i64::try_from(dim).unwrap().into());
    fixed.set("pixels", pixels.into());
    settings.insert("fixed".into(), fixed);
    let registry = Registry::from_factories(factories, &settings).unwrap();
    let backend = registry.select("fixed").unwrap();
    Engine::new(backend, LoadOptions::default())
}

/// The `fixed` backend runs the package's text tower through the library's
/// encoder: its known tensor comes out normalized.
#[test]
fn a_new_backend_runs_the_library_unchanged() {
    let package = ModelPackage::open(default_model()).unwrap();
    let dim = package.manifest().embed_dim;
    let engine = fixed_engine(dim, false);
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

/// A session that takes raw pixels gets them from the image encoder as the
/// resized square, not normalised: on a dark image the normalised values sum
/// below zero and the pixels above it, so the fixed backend's ramp comes out
/// with opposite signs. Every way into the encoder (a frame, a batch of
/// images, a square the caller resized) agrees.
#[test]
fn the_image_encoder_hands_raw_pixels_to_a_session_that_takes_them() {
    let package = ModelPackage::open(default_model()).unwrap();
    let dim = package.manifest().embed_dim;
    let dark = RgbImage::from_pixel(40, 30, Rgb([12, 12, 12]));
    let mut preprocessor = Preprocessor::new(package.manifest().preprocess.clone());
    let square = preprocessor
        .resize_crop(dark.as_raw(), 40, 30)
        .unwrap()
        .to_vec();
    let first_value = |pixels: bool| -> f32 {
        let engine = fixed_engine(dim, pixels);
        let mut images = ImageEncoder::open(&package, &engine, Precision::Fp32).unwrap();
        assert_eq!(images.takes_pixels(), pixels);
        let mut frame = ImageFeatures::new();
        images
            .encode_frame(dark.as_raw(), 40, 30, &mut frame)
            .unwrap();
        let mut resized = ImageFeatures::new();
        images.encode_pixels(&square, &mut resized).unwrap();
        assert_eq!(resized.embedding(), frame.embedding());
        let batch = images.embed_images(&[dark.clone(), dark.clone()]).unwrap();
        assert_eq!(batch.row(1), frame.embedding());
        frame.embedding()[0]
    };
    let (floats, pixels) = (first_value(false), first_value(true));
    assert!(floats < 0.0 && pixels > 0.0, "{floats} {pixels}");
    assert!((pixels + floats).abs() < 1e-6, "{floats} {pixels}");
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
