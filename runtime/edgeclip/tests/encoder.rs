//! The encoders on the shipped default model: dense features against
//! onnxruntime's outputs, and the SHA-256 check that runs while a file loads.

use std::path::{Path, PathBuf};

use edgeclip::encoder::{ImageEncoder, ImageFeatures};
use edgeclip::model::{sha256_file, xxh3_file, ModelPackage, Precision};
use edgeclip::reference::{FP32_FLOOR, INT8_PATCH_FLOOR};
use edgeclip::ErrorKind;

fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny")
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// One run gives the pooled embedding and the patch grid, both as onnxruntime
/// computed them from the same file (`reference/`, made on the export machine).
///
/// The reference ran the 7 images as one batch; these runs are one image each.
/// fp32 does not care, but int8 quantizes activations with one scale per tensor,
/// taken from the batch's range, so a single image is quantized a little
/// differently than within the batch (measured 0.99990 for the embedding, 0.99967
/// for patches): int8 is held to the patch floor on both.
#[test]
fn dense_features_match_onnxruntime() {
    let package = ModelPackage::open(model_dir()).unwrap();
    let reference = model_dir().join("reference");
    let images = read_f32(&reference.join("images.f32.bin"));
    let len = 3 * 64 * 64;
    for (precision, floor, patch_floor) in [
        (Precision::Fp32, FP32_FLOOR, FP32_FLOOR),
        (Precision::Int8, INT8_PATCH_FLOOR, INT8_PATCH_FLOOR),
    ] {
        let pooled = read_f32(&reference.join(format!("image.{precision}.ort.f32.bin")));
        let patches = read_f32(&reference.join(format!("patch_tokens.{precision}.ort.f32.bin")));
        let mut encoder =
            ImageEncoder::open_dense(&package, &edgeclip_backend_tract::engine(1), precision)
                .unwrap();
        let mut features = ImageFeatures::new();
        let (mut worst, mut worst_patch) = (1f64, 1f64);
        for (i, chw) in images.chunks_exact(len).enumerate() {
            encoder.encode_preprocessed(chw, &mut features).unwrap();
            worst = worst.min(cosine(features.embedding(), &pooled[i * 128..][..128]));
            let grid = features.patches().expect("opened dense");
            assert_eq!((grid.rows(), grid.cols(), grid.dim()), (8, 8, 128));
            let expected = &patches[i * 64 * 128..][..64 * 128];
            for (p, want) in expected.chunks_exact(128).enumerate() {
                let got = grid.patch(p / 8, p % 8);
                let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
                assert!((norm - 1.0).abs() < 1e-4, "patch {p} norm {norm}");
                worst_patch = worst_patch.min(cosine(got, want));
            }
        }
        println!("{precision}: min cosine vs onnxruntime: embedding {worst:.8}, patches {worst_patch:.8}");
        assert!(worst >= floor, "{precision} embedding {worst}");
        assert!(
            worst_patch >= patch_floor,
            "{precision} patches {worst_patch}"
        );
    }
}

#[test]
fn pooled_encoders_give_no_grid() {
    let package = ModelPackage::open(model_dir()).unwrap();
    let mut encoder = ImageEncoder::open(
        &package,
        &edgeclip_backend_tract::engine(1),
        Precision::Fp32,
    )
    .unwrap();
    let mut features = ImageFeatures::new();
    let rgb = vec![128u8; 100 * 80 * 3];
    encoder.encode_frame(&rgb, 100, 80, &mut features).unwrap();
    assert_eq!(features.embedding().len(), 128);
    assert!(features.patches().is_none());
    let err = encoder
        .encode_frame(&rgb[..10], 100, 80, &mut features)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// A copy of the default package whose `image.fp32.onnx` has one bit flipped
/// near its end (in the graph's names: tract's reader panics on it).
fn damaged_package() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(model_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let file = dir.path().join("image.fp32.onnx");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    dir
}

fn edit_manifest(dir: &Path, edit: impl Fn(String) -> String) {
    let manifest = dir.join("model.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, edit(text)).unwrap();
}

fn open_error(dir: &Path) -> edgeclip::Error {
    let package = ModelPackage::open(dir).unwrap();
    ImageEncoder::open(
        &package,
        &edgeclip_backend_tract::engine(1),
        Precision::Fp32,
    )
    .err()
    .expect("the damaged file must be refused")
}

/// The load check is XXH3 where the manifest lists it, SHA-256 otherwise; both
/// refuse the file by name before the backend reads it.
#[test]
fn a_damaged_file_is_refused_before_loading() {
    let dir = damaged_package();
    let err = open_error(dir.path());
    assert_eq!(err.kind(), ErrorKind::ModelFile);
    let message = err.to_string();
    assert!(message.contains("image.fp32.onnx"), "{message}");
    assert!(message.contains("XXH3-64 mismatch"), "{message}");
    edit_manifest(dir.path(), |text| {
        text.lines()
            .filter(|l| !l.starts_with("xxh3"))
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let message = open_error(dir.path()).to_string();
    assert!(message.contains("SHA-256 mismatch"), "{message}");
}

/// Re-signed with the damaged file's digests, the file reaches tract, whose
/// reader panics on it: reported as an unloadable model, not a crash.
#[test]
fn a_resigned_damaged_file_is_an_error_not_a_panic() {
    let dir = damaged_package();
    let file = dir.path().join("image.fp32.onnx");
    let original = model_dir().join("image.fp32.onnx");
    let digests = [
        (sha256_file(&original).unwrap(), sha256_file(&file).unwrap()),
        (xxh3_file(&original).unwrap(), xxh3_file(&file).unwrap()),
    ];
    edit_manifest(dir.path(), |text| {
        digests
            .iter()
            .fold(text, |text, (old, new)| text.replace(old, new))
    });
    let err = open_error(dir.path());
    assert_eq!(err.kind(), ErrorKind::ModelFile);
    assert!(
        err.to_string().contains("not a loadable ONNX model"),
        "{err}"
    );
}
