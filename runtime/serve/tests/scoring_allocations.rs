//! What scoring a query allocates, counted by the global allocator: once the label
//! set's scratch is warm, only the answer itself (the texts' scores, the best
//! labels and their names), the same for 10 labels as for 1,000. Scoring that
//! copied, widened or sorted the whole store per request would allocate with its
//! size.
//!
//! One test function only: the counter is process-wide, and tests running in
//! parallel would count each other's allocations.

use std::alloc::System;

use edgeclip::labels::{DType, Fingerprint, Store, StoreBuilder};
use edgeclip_serve::labels::ActiveLabels;
use edgeclip_serve::scoring::{score_query, Against};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const DIM: usize = 128;

fn unit(seed: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM)
        .map(|i| ((seed * 31 + i * 17) % 97) as f32 - 48.0)
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn labels(dir: &std::path::Path, n: usize, dtype: DType) -> ActiveLabels {
    let fingerprint = Fingerprint {
        model: "test".into(),
        text_sha256: [1; 32],
        tokenizer: "clip-bpe/77".into(),
        templates: vec!["a photo of {}.".into()],
    };
    let mut builder = StoreBuilder::new(dtype, DIM, fingerprint).unwrap();
    for i in 0..n {
        builder.add(&format!("label {i:05}"), &unit(i)).unwrap();
    }
    let path = dir.join(format!("{n}-{dtype:?}.emb"));
    builder.write_atomic(&path).unwrap();
    ActiveLabels::from_store(&Store::open(&path).unwrap(), 36.8)
}

/// Allocations and bytes of one `score_query`, after two warm-up calls.
fn per_query(labels: &ActiveLabels, texts: usize, against: Against, top_k: usize) -> (u64, u64) {
    let image = unit(7);
    let texts: Vec<Vec<f32>> = (0..texts).map(|i| unit(1000 + i)).collect();
    let run = || {
        let scores = score_query(labels, &image, &texts, against, top_k);
        assert_eq!(scores.labels.len(), top_k);
        scores
    };
    run();
    run();
    let region = Region::new(GLOBAL);
    let scores = run();
    let change = region.change();
    drop(scores);
    (
        (change.allocations + change.reallocations) as u64,
        change.bytes_allocated as u64,
    )
}

#[test]
fn scoring_allocates_the_same_for_10_and_1000_labels() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in [DType::F32, DType::F16, DType::Int8] {
        let small = labels(dir.path(), 10, dtype);
        let large = labels(dir.path(), 1000, dtype);
        for (texts, against, top_k) in [(1, Against::Labels, 5), (8, Against::Texts, 10)] {
            let (calls, bytes) = per_query(&small, texts, against, top_k);
            let what = format!("{dtype:?}, {texts} text(s), top {top_k}");
            assert_eq!(
                per_query(&large, texts, against, top_k),
                (calls, bytes),
                "{what}: 1,000 labels allocate more than 10"
            );
            // The answer only: the texts' scores, the labels' list and each name.
            assert_eq!(calls, 2 + top_k as u64, "{what}");
            println!("{what}: {calls} allocations, {bytes} bytes per query");
        }
    }
}
