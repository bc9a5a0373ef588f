//! What one `POST /v1/query` costs once its encodings are cached: allocations and
//! bytes allocated per request (counted by the global allocator) and the median
//! latency, through the router in-process, against a label store of `LABELS` labels
//! in each of the store's three element types.
//!
//! ```sh
//! cargo run --release -p edgeclip-serve --example query_cost -- [LABELS] [REQUESTS]
//! ```
//!
//! The store's rows are random unit vectors under the shipped store's fingerprint, so
//! the server accepts them; scoring costs the same whatever the rows say. The frame
//! is published once and the texts are asked once before measuring, so every
//! measured request finds the image features and the text embeddings cached: what
//! is left is the HTTP path (JSON in and out) and the scoring against the labels.
//! Each request runs on one thread (a current-thread runtime; cache hits never reach
//! the encoder threads), so the counts are this request's own.

use std::alloc::System;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use edgeclip::labels::{DType, Store, StoreBuilder};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip_serve::{AppState, FrameSlot, ServeConfig, SourceKind};
use serde_json::{json, Value};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tower::ServiceExt;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny")
}

/// A store of `labels` random unit rows of `dtype` at `path`, with the fingerprint
/// of the shipped store (so the model accepts it).
fn write_store(path: &Path, labels: usize, dtype: DType) -> Result<()> {
    let shipped = Store::open(model_dir().join("stores/procedural.emb"))?;
    let dim = shipped.dim();
    let mut builder = StoreBuilder::new(dtype, dim, shipped.fingerprint().clone())?;
    // A fixed linear congruential sequence: the same rows on every run.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut row = vec![0f32; dim];
    for i in 0..labels {
        for v in &mut row {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *v = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.iter_mut().for_each(|v| *v /= norm);
        builder.add(&format!("label {i:05}"), &row)?;
    }
    builder.write_atomic(path)?;
    Ok(())
}

/// One request shape: its name and body.
struct Shape {
    name: &'static str,
    body: Value,
}

fn shapes() -> Vec<Shape> {
    let eight: Vec<String> = (0..8).map(|i| format!("a photo of shape {i}.")).collect();
    vec![
        Shape {
            name: "1 text, top 5",
            body: json!({"texts": ["a photo of a red circle."], "image": "latest"}),
        },
        Shape {
            name: "8 texts vs labels, top 20",
            body: json!({"texts": eight, "image": "latest", "against": "labels", "top_k": 20}),
        },
    ]
}

/// Per request: allocations, bytes allocated, median latency (µs).
struct Cost {
    allocations: f64,
    bytes: f64,
    median_us: f64,
}

async fn measure(app: &axum::Router, body: &Value, requests: usize) -> Result<Cost> {
    let body = body.to_string();
    let send = || async {
        let request = Request::post("/v1/query")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.clone()))
            .context("a valid request")?;
        let response = app.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await?;
        ensure!(
            status == StatusCode::OK,
            "{status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        Ok::<_, anyhow::Error>(bytes.len())
    };
    // Warm-up: encodes the frame and the texts, fills the caches and any pools.
    for _ in 0..3 {
        send().await?;
    }
    let mut times = Vec::with_capacity(requests);
    let (mut allocations, mut bytes) = (0u64, 0u64);
    for _ in 0..requests {
        let region = Region::new(GLOBAL);
        let started = Instant::now();
        send().await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
        let change = region.change();
        allocations += change.allocations as u64 + change.reallocations as u64;
        bytes += change.bytes_allocated as u64;
    }
    times.sort_by(f64::total_cmp);
    Ok(Cost {
        allocations: allocations as f64 / requests as f64,
        bytes: bytes as f64 / requests as f64,
        median_us: times[requests / 2],
    })
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let labels: usize = args.next().map_or(Ok(1000), |a| a.parse())?;
    let requests: usize = args.next().map_or(Ok(2000), |a| a.parse())?;
    ensure!(requests > 0, "REQUESTS must be at least 1");
    let dir = tempfile::tempdir()?;
    let config = ServeConfig {
        // Every request comes from the same (absent) client address.
        rate_per_second: NonZeroU32::MAX,
        burst: NonZeroU32::MAX,
        ..ServeConfig::default()
    };
    let frame = image::open(model_dir().join("samples/red_circle.png"))?.to_rgb8();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("{labels} labels, {requests} requests per row, cached encodings");
    println!("| store | request | allocations / request | KiB allocated / request | median µs |");
    println!("|---|---|---|---|---|");
    for (dtype, name) in [
        (DType::F32, "f32"),
        (DType::F16, "f16"),
        (DType::Int8, "int8"),
    ] {
        let path = dir.path().join(format!("{name}.emb"));
        write_store(&path, labels, dtype)?;
        let slot = Arc::new(FrameSlot::new(SourceKind::Files));
        slot.publish(frame.clone());
        let state = AppState::new(
            ModelPackage::open(model_dir())?,
            &edgeclip_backend_tract::engine(1),
            Precision::Int8,
            slot,
            Some(&path),
            &config,
        )?;
        let state = Arc::new(state);
        for shape in shapes() {
            let cost = runtime.block_on(async {
                let app = edgeclip_serve::app(state.clone(), &config);
                measure(&app, &shape.body, requests).await
            })?;
            println!(
                "| {name} | {} | {:.1} | {:.1} | {:.1} |",
                shape.name,
                cost.allocations,
                cost.bytes / 1024.0,
                cost.median_us
            );
        }
    }
    Ok(())
}
