//! Image- and text-encode latency of the default model: fp32 and int8, 1 and 2
//! threads, batch 1. Compare with `firmware-tools/bench/ort_encode.py` (the same
//! files on onnxruntime); `firmware-tools/bench/encode.sh` runs both.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use edgeclip::backend::tract::TractBackend;
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
            let backend = TractBackend::new(threads);
            let mut img = ImageEncoder::open(&package, &backend, precision).unwrap();
            img.embed_preprocessed(&image, 1).unwrap();
            c.bench_function(&format!("image/{precision}/{threads}t"), |b| {
                b.iter(|| img.embed_preprocessed(&image, 1).unwrap())
            });
            let mut txt = TextEncoder::open(&package, &backend, precision).unwrap();
            txt.embed(&["a photo of a red circle."]).unwrap();
            c.bench_function(&format!("text/{precision}/{threads}t"), |b| {
                b.iter(|| txt.embed(&["a photo of a red circle."]).unwrap())
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(4));
    targets = encode
}
criterion_main!(benches);
