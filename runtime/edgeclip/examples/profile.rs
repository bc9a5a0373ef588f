//! Where tract spends an encode: time per operator of the optimized plan.
//!
//!     cargo run --release -p edgeclip --example profile -- MODEL.onnx image|text [THREADS] [RUNS] [BATCH]
//!
//! Loads the file as the runtime does (same folding and rewrites), runs it
//! `RUNS` times (default 20) after two warm-ups and prints, per operator kind,
//! the total median-run time and its share, then the ten slowest nodes with
//! their kernel (tract's `info`: which matrix kernel, i8 or f32, each product
//! uses). `image` feeds any f32 input of the shape the file declares (a 1x3xSxS
//! image for CLIP), `text` 77 token ids.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use edgeclip::backend::LoadOptions;
use edgeclip_backend_tract::TractBackend;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::eval;

mod common;
use common::Item;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, tower, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: profile MODEL.onnx image|text [THREADS] [RUNS] [BATCH]");
    };
    let threads: usize = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let runs: usize = rest.get(1).map(|s| s.parse()).transpose()?.unwrap_or(20);
    anyhow::ensure!(runs > 0, "RUNS must be at least 1");
    let batch: usize = rest.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let path = PathBuf::from(path);
    let (spec, item) = common::tower(&path, tower)?;
    let shape = spec.input.concrete(batch);
    let input = match item.repeat(batch) {
        Item::F32(x) => tract_ndarray::ArrayD::from_shape_vec(shape, x)?.into_tensor(),
        Item::I64(x) => tract_ndarray::ArrayD::from_shape_vec(shape, x)?.into_tensor(),
    };
    let options = LoadOptions {
        threads,
        ..LoadOptions::default()
    };
    let mut session = TractBackend.open(&path, &spec, &options)?;
    let plan = session.plan(batch)?;
    let executor = session.executor(batch);
    let pool = match (&executor, threads) {
        (Some(_), _) => "yes",
        (None, 1) => "no (1 thread)",
        (None, _) => "no (one thread was faster)",
    };
    println!("thread pool: {pool}");
    let scoped = |f: &mut dyn FnMut() -> TractResult<()>| match &executor {
        Some(e) => tract_linalg::multithread::multithread_tract_scope(e.clone(), f),
        None => f(),
    };
    let mut state = plan.spawn()?;
    let input: TValue = input.into_tvalue();
    for _ in 0..2 {
        scoped(&mut || state.run(tvec!(input.clone())).map(drop))?;
    }
    let nodes = plan.model().nodes.len();
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); nodes];
    let mut totals = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        scoped(&mut || {
            state
                .run_plan_with_eval(tvec!(input.clone()), |ctx, op_state, node, inputs| {
                    let t = Instant::now();
                    let out = eval(ctx, op_state, node, inputs);
                    samples[node.id].push(t.elapsed());
                    out
                })
                .map(drop)
        })?;
        totals.push(started.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or_default()
    };
    let total = median(&mut totals);
    let per_node: Vec<(usize, Duration)> = samples
        .iter_mut()
        .enumerate()
        .map(|(id, s)| (id, median(s)))
        .collect();
    let mut per_op: HashMap<String, (Duration, usize)> = HashMap::new();
    for (id, t) in &per_node {
        let e = per_op
            .entry(plan.model().node(*id).op().name().to_string())
            .or_default();
        e.0 += *t;
        e.1 += 1;
    }
    let mut per_op: Vec<_> = per_op.into_iter().collect();
    per_op.sort_by_key(|(_, (t, _))| std::cmp::Reverse(*t));
    println!(
        "{} ({tower}, batch {batch}, {threads} thread(s), median of {runs}): {:.3} ms, {} nodes",
        path.display(),
        total.as_secs_f64() * 1e3,
        nodes
    );
    println!(
        "{:<28} {:>6} {:>10} {:>7}",
        "operator", "nodes", "ms", "share"
    );
    for (name, (t, n)) in &per_op {
        if t.is_zero() {
            continue;
        }
        println!(
            "{name:<28} {n:>6} {:>10.3} {:>6.1}%",
            t.as_secs_f64() * 1e3,
            100.0 * t.as_secs_f64() / total.as_secs_f64()
        );
    }
    let mut slowest = per_node;
    slowest.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    println!("\nslowest nodes:");
    for (id, t) in slowest.iter().take(10) {
        let node = plan.model().node(*id);
        let info = node.op().info().unwrap_or_default().join("; ");
        println!(
            "{:>8.3} ms  {} ({})  {}",
            t.as_secs_f64() * 1e3,
            node.name,
            node.op().name(),
            info.chars().take(160).collect::<String>()
        );
    }
    Ok(())
}
