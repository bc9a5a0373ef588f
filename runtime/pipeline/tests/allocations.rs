//! The watch loop's frame path allocates nothing of its own once warm.
//!
//! A frame goes YUYV → RGB8 → preprocess → image tower → scores → tracker. Two
//! dependencies allocate inside each call — tract within a run, and
//! fast_image_resize in its two passes (`runtime/edgeclip/tests/allocations.rs`
//! measures both) — so the frame path is held to exactly their sum, measured
//! here on the same frame with a second encoder and preprocessor. One test only:
//! the counter is process-wide.

use std::alloc::System;
use std::path::PathBuf;
use std::time::Duration;

use edgeclip::embedding::Embeddings;
use edgeclip::encoder::{ImageEncoder, ImageFeatures};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::preprocess::Preprocessor;
use edgeclip::zero_shot::LabelSet;
use edgeclip_capture::{ColorSpace, FrameRef, PixelFormat};
use edgeclip_events::{Event, Sink, SinkError};
use edgeclip_pipeline::{Watch, WatchConfig};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const FRAMES: u64 = 8;

struct Discard;

impl Sink for Discard {
    fn send(&mut self, _: &Event) -> Result<(), SinkError> {
        Ok(())
    }
}

fn per_call(mut f: impl FnMut()) -> f64 {
    f();
    f();
    let region = Region::new(GLOBAL);
    for _ in 0..FRAMES {
        f();
    }
    region.change().allocations as f64 / FRAMES as f64
}

#[test]
fn a_frame_allocates_only_what_tract_and_the_resizer_do() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny");
    let package = ModelPackage::open(dir).unwrap();
    let engine = edgeclip_backend_tract::engine(1);
    let (w, h) = (640u32, 360u32);
    let yuyv: Vec<u8> = (0..w * h * 2).map(|i| (i * 13 % 253) as u8).collect();
    let frame = |seq| FrameRef {
        width: w,
        height: h,
        stride: 0,
        format: PixelFormat::Yuyv,
        color: ColorSpace::default(),
        bytes: &yuyv,
        sequence: seq,
        timestamp: Duration::from_millis(seq * 33),
    };
    // 48 labels of random-ish unit rows: what matters is the scoring path.
    let rows: Vec<f32> = (0..48 * 128)
        .map(|i| ((i * 7919) % 1000) as f32 - 500.0)
        .collect();
    let names = (0..48).map(|i| format!("label {i}")).collect();
    let scale = package.manifest().logit_scale;
    let labels = LabelSet::new(names, Embeddings::from_raw(128, rows).unwrap(), scale).unwrap();
    let encoder = ImageEncoder::open(&package, &engine, Precision::Int8).unwrap();
    let preprocess = package.manifest().preprocess.clone();
    let mut watch =
        Watch::new(encoder, preprocess.clone(), labels, WatchConfig::default()).unwrap();
    let mut seq = 0;
    let total = per_call(|| {
        seq += 1;
        watch.process(&frame(seq), seq * 33, &mut Discard).unwrap();
    });

    let mut rgb = Vec::new();
    edgeclip_capture::Converter::default()
        .to_rgb8(&frame(0), &mut rgb)
        .unwrap();
    let mut pre = Preprocessor::new(preprocess);
    let mut chw = vec![0f32; 3 * 64 * 64];
    let resize = per_call(|| pre.run_into(&rgb, w, h, &mut chw).unwrap());
    let mut baseline = ImageEncoder::open(&package, &engine, Precision::Int8).unwrap();
    let mut features = ImageFeatures::new();
    let encode = per_call(|| baseline.encode_preprocessed(&chw, &mut features).unwrap());
    let ours = total - resize - encode;
    println!(
        "watch frame (640x360 YUYV, int8): {total} allocations: image tower {encode}, \
         fast_image_resize {resize}, watch loop {ours}"
    );
    assert_eq!(ours, 0.0, "the watch loop allocates {ours} times per frame");
}
