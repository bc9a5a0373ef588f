//! Helpers shared by the integration tests.
#![allow(dead_code)]

use edgeclip_store::{DType, Fingerprint, LabelMeta, StoreBuilder};

pub fn fingerprint() -> Fingerprint {
    Fingerprint {
        model: "edgeclip-tiny".into(),
        text_sha256: [0x5a; 32],
        tokenizer: "clip-bpe/77".into(),
        templates: vec!["a photo of a {}.".into(), "a drawing of a {}.".into()],
    }
}

/// Deterministic, non-trivial rows (not normalized: the builder normalizes).
pub fn row(seed: usize, dim: usize) -> Vec<f32> {
    (0..dim)
        .map(|j| ((seed * 31 + j * 7) % 23) as f32 - 11.0 + 0.25)
        .collect()
}

pub fn unit(row: &[f32]) -> Vec<f32> {
    let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
    row.iter().map(|x| x / n).collect()
}

/// A small store with metadata on some labels.
pub fn small(dtype: DType) -> StoreBuilder {
    let mut b = StoreBuilder::new(dtype, 8, fingerprint()).unwrap();
    b.add("cat", &row(0, 8)).unwrap();
    let meta = LabelMeta {
        group: Some("animals".into()),
        threshold: Some(0.3),
    };
    b.add_with_meta("dog", &row(1, 8), meta).unwrap();
    b.add("red circle", &row(2, 8)).unwrap();
    b
}

pub const TOLERANCE: [(DType, f32); 3] = [
    (DType::F32, 1e-6),
    (DType::F16, 1e-3),
    (DType::Int8, 1.0 / 127.0),
];

pub fn tolerance(dtype: DType) -> f32 {
    TOLERANCE
        .iter()
        .find(|(d, _)| *d == dtype)
        .map(|(_, t)| *t)
        .unwrap()
}

/// All rows of a store decoded to f32.
pub fn decoded(store: &edgeclip_store::Store) -> Vec<Vec<f32>> {
    use edgeclip_store::Rows;
    let dim = store.dim();
    let flat: Vec<f32> = match store.rows() {
        Rows::F32(v) => v.to_vec(),
        Rows::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        Rows::Int8 { values, scales } => values
            .iter()
            .enumerate()
            .map(|(i, &q)| f32::from(q) * scales[i / dim])
            .collect(),
    };
    flat.chunks(dim).map(<[f32]>::to_vec).collect()
}
