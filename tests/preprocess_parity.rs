//! The runtime's preprocessing against open_clip's own eval transform.
//!
//! tests/fixtures/preprocess/ holds seeded images and what open_clip (PIL +
//! torchvision) makes of them before normalization; it is written by
//! firmware-tools/fixtures/make_preprocess_fixture.py. Run with
//! `-- --nocapture` to see the per-case and overall differences.

use std::path::{Path, PathBuf};

use edgeclip::preprocess::{load_rgb, Interpolation, PreprocessConfig, Preprocessor, ResizeMode};
use edgeclip::Error;
use serde_json::Value;

/// Largest per-channel difference allowed, in u8 levels (2/255 after ToTensor).
const TOLERANCE: u8 = 2;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/preprocess")
}

struct Case {
    image: PathBuf,
    expected: PathBuf,
    config: PreprocessConfig,
}

fn manifest() -> Value {
    let path = fixture_dir().join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn triple(v: &Value) -> [f32; 3] {
    let a: Vec<f32> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    [a[0], a[1], a[2]]
}

fn cases() -> Vec<Case> {
    let m = manifest();
    let (mean, std) = (triple(&m["mean"]), triple(&m["std"]));
    let dir = fixture_dir();
    m["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let interpolation = match c["interpolation"].as_str().unwrap() {
                "bicubic" => Interpolation::Bicubic,
                "bilinear" => Interpolation::Bilinear,
                other => panic!("unknown interpolation {other}"),
            };
            let resize_mode = match c["resize_mode"].as_str().unwrap() {
                "shortest" => ResizeMode::Shortest,
                "squash" => ResizeMode::Squash,
                other => panic!("unknown resize mode {other}"),
            };
            Case {
                image: dir.join(c["image"].as_str().unwrap()),
                expected: dir.join(c["expected"].as_str().unwrap()),
                config: PreprocessConfig {
                    image_size: c["image_size"].as_u64().unwrap() as u32,
                    mean,
                    std,
                    interpolation,
                    resize_mode,
                },
            }
        })
        .collect()
}

fn name(case: &Case) -> String {
    case.expected
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn resize_crop_matches_open_clip() {
    let cases = cases();
    assert!(
        cases.len() >= 20,
        "fixture manifest lists only {} cases",
        cases.len()
    );
    let (mut worst, mut total, mut count) = (0u8, 0u64, 0u64);
    let mut failures = Vec::new();
    for case in &cases {
        let image = load_rgb(&case.image).unwrap();
        let expected = load_rgb(&case.expected).unwrap();
        let size = case.config.image_size;
        assert_eq!(expected.dimensions(), (size, size), "{}", name(case));

        let mut pre = Preprocessor::new(case.config.clone());
        let got = pre
            .resize_crop(image.as_raw(), image.width(), image.height())
            .unwrap();
        assert_eq!(got.len(), expected.as_raw().len());

        let diffs = got
            .iter()
            .zip(expected.as_raw())
            .map(|(a, b)| a.abs_diff(*b));
        let (case_max, case_sum) =
            diffs.fold((0u8, 0u64), |(m, s), d| (m.max(d), s + u64::from(d)));
        let n = got.len() as u64;
        let exact = got
            .iter()
            .zip(expected.as_raw())
            .filter(|(a, b)| a == b)
            .count();
        println!(
            "{:<48} {:>4}x{:<4} max {} mean {:.4} exact {:.2}%",
            name(case),
            image.width(),
            image.height(),
            case_max,
            case_sum as f64 / n as f64,
            100.0 * exact as f64 / n as f64
        );
        worst = worst.max(case_max);
        total += case_sum;
        count += n;
        if case_max > TOLERANCE {
            failures.push(format!("{}: max diff {case_max}", name(case)));
        }
    }
    println!(
        "overall: {} cases, max abs diff {worst}/255, mean abs diff {:.5}/255",
        cases.len(),
        total as f64 / count as f64
    );
    assert!(failures.is_empty(), "beyond {TOLERANCE}/255: {failures:#?}");
}

#[test]
fn normalized_output_matches_open_clip() {
    for case in cases() {
        let image = load_rgb(&case.image).unwrap();
        let expected = load_rgb(&case.expected).unwrap();
        let size = case.config.image_size as usize;
        let (mean, std) = (case.config.mean, case.config.std);
        let mut pre = Preprocessor::new(case.config.clone());
        let mut out = vec![f32::NAN; 3 * size * size];
        pre.run_into(image.as_raw(), image.width(), image.height(), &mut out)
            .unwrap();
        for (i, px) in expected.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                let want = (f32::from(px[c]) / 255.0 - mean[c]) / std[c];
                let got = out[c * size * size + i];
                let tolerance = f32::from(TOLERANCE) / 255.0 / std[c] + 1e-5;
                assert!(
                    (got - want).abs() <= tolerance,
                    "{}: channel {c} pixel {i}: {got} vs {want}",
                    name(&case)
                );
            }
        }
    }
}

#[test]
fn preprocessor_is_reusable_across_sizes() {
    // One preprocessor, frames of changing size: results must not depend on
    // what its buffers held before.
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| c.config.image_size == 64)
        .collect();
    let config = cases[0].config.clone();
    let mut shared = Preprocessor::new(config.clone());
    for case in cases.iter().filter(|c| c.config == config) {
        let image = load_rgb(&case.image).unwrap();
        let fresh = Preprocessor::new(config.clone())
            .resize_crop(image.as_raw(), image.width(), image.height())
            .unwrap()
            .to_vec();
        let reused = shared
            .resize_crop(image.as_raw(), image.width(), image.height())
            .unwrap();
        assert_eq!(reused, &fresh[..], "{}", name(case));
    }
}

#[test]
fn text_file_named_png_is_an_image_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.png");
    std::fs::write(&path, "this is not an image\n").unwrap();
    match load_rgb(&path) {
        Err(err @ Error::Image { .. }) => {
            let Error::Image { path: named, .. } = &err else {
                unreachable!()
            };
            assert_eq!(named, &path);
            assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        }
        other => panic!("expected Error::Image, got {other:?}"),
    }
}

#[test]
fn truncated_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    for source in ["landscape_vga.png", "jpeg_420.jpg"] {
        let bytes = std::fs::read(fixture_dir().join(source)).unwrap();
        for keep in [8, 100, bytes.len() / 2, bytes.len() - 20] {
            let path = dir.path().join(format!("cut_{keep}_{source}"));
            std::fs::write(&path, &bytes[..keep]).unwrap();
            let result = std::panic::catch_unwind(|| load_rgb(&path));
            match result {
                Ok(Err(err)) => assert!(err.to_string().contains("cut_"), "{err}"),
                // Some decoders fill a truncated JPEG's missing rows with grey
                // rather than failing, as libjpeg does; that is fine as long as
                // it does not panic.
                Ok(Ok(image)) => assert!(
                    source.ends_with(".jpg"),
                    "{source} cut at {keep} decoded to {:?}",
                    image.dimensions()
                ),
                Err(_) => panic!("load_rgb panicked on {source} cut at {keep} bytes"),
            }
        }
    }
}

#[test]
fn missing_file_names_the_path() {
    let path = Path::new("no/such/dir/picture.png");
    let err = load_rgb(path).unwrap_err();
    assert!(err.to_string().contains("picture.png"), "{err}");
}
