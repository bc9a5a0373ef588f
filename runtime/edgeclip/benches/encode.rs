//! Image- and text-encode latency of the default model: fp32 and int8, 1 and 2
//! threads, batch 1. Compare with `firmware-tools/bench/ort_encode.py` (the same
//! files on onnxruntime); `firmware-tools/bench/encode.sh` runs both.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::model::{ModelPackage, Precision};

fn package() -> ModelPackage {
    let dir = std::env::var_os("EDGECLIP_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny")
        });
    ModelPackage::open(dir).expect("model package")
}

fn encode(c: &mut Criterion) {
    let package = package();
    let size = package.manifest().preprocess.image_size as usize;
    let image = vec![0.1f32; 3 * size * size];
    for precision in [Precision::Fp32, Precision::Int8] {
        for threads in [1, 2] {
            let engine = edgeclip_backend_tract::engine(threads);
            let mut img = ImageEncoder::open(&package, &engine, precision).unwrap();
            img.embed_preprocessed(&image, 1).unwrap();
            c.bench_function(&format!("image/{precision}/{threads}t"), |b| {
                b.iter(|| img.embed_preprocessed(&image, 1).unwrap())
            });
            let mut txt = TextEncoder::open(&package, &engine, precision).unwrap();
            txt.embed(&["a photo of a red circle."]).unwrap();
            c.bench_function(&format!("text/{precision}/{threads}t"), |b| {
                b.iter(|| txt.embed(&["a photo of a red circle."]).unwrap())
            });
        }
    }
}

/// The ViT-B/32-width slice from `firmware-tools/test-env.sh` (2 layers, 224 px),
/// when it has been built: int8 at real width is where tract's folding matters.
fn scale_slice(c: &mut Criterion) {
    use edgeclip::backend::{DType, Dim, Input, ModelSpec, Outputs, TensorSpec};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/scale-slice");
    let Ok(bytes) = std::fs::read(dir.join("input.bin")) else {
        eprintln!("scale slice not built (firmware-tools/test-env.sh); skipping its bench");
        return;
    };
    let input: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let spec = ModelSpec {
        input: TensorSpec {
            name: "image".into(),
            dtype: DType::F32,
            shape: vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(224), Dim::Fixed(224)],
        },
        outputs: vec!["embedding".into()],
        normalization: None,
    };
    for precision in ["fp32", "int8"] {
        for threads in [1, 2] {
            let path = dir.join(format!("slice.{precision}.onnx"));
            let mut session = edgeclip_backend_tract::engine(threads)
                .load(&path, &spec)
                .unwrap();
            let mut out = Outputs::new();
            session.run(Input::F32(&input), 1, &mut out).unwrap();
            c.bench_function(&format!("vit-b32-slice/{precision}/{threads}t"), |b| {
                b.iter(|| session.run(Input::F32(&input), 1, &mut out).unwrap())
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = encode, scale_slice
}
criterion_main!(benches);
