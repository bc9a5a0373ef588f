//! Allocations per encoded frame, counted by the global allocator.
//!
//! The camera loop's promise: once the first frame has sized every buffer, the
//! project's own code allocates nothing per frame. Two dependencies do, inside
//! each call: tract allocates its intermediate tensors during a run (measured
//! here by running the very same optimized plan directly, with a reused state
//! and input), and fast_image_resize recomputes its filter tables on each of the
//! two resize passes (measured by running the preprocessor alone). The frame
//! path (preprocess, copy in, run, copy out, normalize, patch grid) must add
//! nothing to those two.
//!
//! One test function only: the counter is process-wide, and tests running in
//! parallel would count each other's allocations.

use std::alloc::System;
use std::path::PathBuf;
use std::sync::Arc;

use edgeclip::backend::LoadOptions;
use edgeclip::encoder::{ImageEncoder, ImageFeatures, TextEncoder};
use edgeclip::model::{ModelPackage, Precision, TowerKind};
use edgeclip::preprocess::Preprocessor;
use edgeclip_backend_tract::TractBackend;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tract_onnx::prelude::{tvec, TValue, Tensor};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const FRAMES: usize = 8;

fn package() -> ModelPackage {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny");
    ModelPackage::open(dir).unwrap()
}

/// A 320×240 RGB8 test frame: something for the resizer to work on.
fn frame() -> Vec<u8> {
    (0..320 * 240 * 3).map(|i| (i * 7 % 251) as u8).collect()
}

/// Allocations per call of `f`, over [`FRAMES`] calls after two warm-up calls.
fn per_call(mut f: impl FnMut()) -> f64 {
    f();
    f();
    let region = Region::new(GLOBAL);
    for _ in 0..FRAMES {
        f();
    }
    region.change().allocations as f64 / FRAMES as f64
}

/// Allocations per run of tract alone: the same plan the encoder runs, on a
/// reused state and input tensor.
fn engine_only(package: &ModelPackage, precision: Precision, dense: bool) -> f64 {
    let spec = package.tower_spec(TowerKind::Image, dense).unwrap();
    let path = package.verified_path(TowerKind::Image, precision).unwrap();
    let mut session = TractBackend
        .open(&path, &spec, &LoadOptions::default())
        .unwrap();
    let plan = session.plan(1).unwrap();
    let mut state = plan.spawn().unwrap();
    let input = Arc::new(Tensor::zero::<f32>(&spec.input.concrete(1)).unwrap());
    per_call(|| {
        let out = state.run(tvec!(TValue::from_const(input.clone()))).unwrap();
        assert_eq!(out.len(), spec.outputs.len());
    })
}

/// Allocations per call of the preprocessor alone on `rgb` (320×240).
fn preprocess_only(package: &ModelPackage, rgb: &[u8]) -> f64 {
    let mut pre = Preprocessor::new(package.manifest().preprocess.clone());
    let mut out = vec![0f32; 3 * 64 * 64];
    per_call(|| pre.run_into(rgb, 320, 240, &mut out).unwrap())
}

#[test]
fn the_frame_path_allocates_nothing_beyond_the_engine() {
    let package = package();
    let engine = edgeclip_backend_tract::engine(1);
    let rgb = frame();
    for precision in [Precision::Fp32, Precision::Int8] {
        for dense in [false, true] {
            let mut encoder = if dense {
                ImageEncoder::open_dense(&package, &engine, precision).unwrap()
            } else {
                ImageEncoder::open(&package, &engine, precision).unwrap()
            };
            let mut features = ImageFeatures::new();
            let total = per_call(|| encoder.encode_frame(&rgb, 320, 240, &mut features).unwrap());
            assert_eq!(features.patches().is_some(), dense);
            let tract = engine_only(&package, precision, dense);
            let resize = preprocess_only(&package, &rgb);
            let ours = total - tract - resize;
            println!(
                "image {precision} {}: {total} allocations per frame: tract's run {tract}, \
                 fast_image_resize {resize}, edgeclip {ours}",
                if dense { "dense" } else { "pooled" }
            );
            assert_eq!(ours, 0.0, "edgeclip allocates {ours} times per frame");
        }
    }
    // Text queries: the same holds per batch-1 query once its plan exists,
    // except the Embeddings the call returns (one Vec).
    let mut text = TextEncoder::open(&package, &engine, Precision::Int8).unwrap();
    let total = per_call(|| {
        text.embed(&["a photo of a red mug."]).unwrap();
    });
    println!("text int8: {total} allocations per query (engine included)");
}
