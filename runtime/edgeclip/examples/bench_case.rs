//! One row of the int8 benchmark (`firmware-tools/bench/int8.sh`): latency of one
//! ONNX tower on tract, as the runtime loads it, in a process of its own so its
//! peak memory is its own.
//!
//!     bench_case FILE image|text THREADS BATCH RUNS [--tract-ops]
//!
//! `image` is any f32 input the file declares (`[batch, ...]`, a CLIP image or
//! a bare product's activations). Inputs are `image_input.bin` /
//! `text_input.bin` beside FILE (one item,
//! repeated to BATCH), else a fixed synthetic item. Prints one JSON line: median
//! and minimum milliseconds over RUNS after warm-up runs, items per second, load
//! time, peak RSS, and the cosine of the first item's embedding against
//! `<file stem>.ort.bin` (onnxruntime's output on the same input) where present.
//! `--tract-ops` keeps tract's own operators (no `backend::tract::ops` rewrite).

use std::path::{Path, PathBuf};
use std::time::Instant;

use edgeclip::backend::{Input, LoadOptions, Outputs, Session};
use edgeclip_backend_tract::TractBackend;

mod common;
use common::Item;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, tower, threads, batch, runs, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: bench_case FILE image|text THREADS BATCH RUNS [--tract-ops]");
    };
    let file = PathBuf::from(file);
    let threads: usize = threads.parse()?;
    let batch: usize = batch.parse()?;
    let runs: usize = runs.parse()?;
    anyhow::ensure!(runs > 0, "RUNS must be at least 1");
    let tract_ops = rest.iter().any(|a| a == "--tract-ops");
    let dir = file.parent().unwrap_or(Path::new("."));

    let (spec, synthetic) = common::tower(&file, tower)?;
    let input = beside(dir, synthetic).repeat(batch);

    let options = LoadOptions {
        threads,
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let session = TractBackend.open(&file, &spec, &options)?;
    let mut session = if tract_ops {
        session.with_tract_ops_only()
    } else {
        session
    };
    let mut out = Outputs::new();
    let run = |session: &mut dyn Session, out: &mut Outputs| match &input {
        Item::F32(x) => session.run(Input::F32(x), batch, out),
        Item::I64(x) => session.run(Input::I64(x), batch, out),
    };
    run(&mut session, &mut out)?;
    let load_s = started.elapsed().as_secs_f64();
    for _ in 0..(runs / 10).max(1) {
        run(&mut session, &mut out)?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        run(&mut session, &mut out)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let min = times[0];

    // Batch-1 output of the same item, compared with onnxruntime's on it.
    let cosine = match reference(&file) {
        Some(want) if batch == 1 => {
            let got = out.get(0).map(|o| o.data.clone());
            got.map(|g| cosine(&g, &want))
        }
        _ => None,
    };
    println!(
        "{{\"engine\":\"edgeclip\",\"file\":{:?},\"tower\":\"{tower}\",\"threads\":{threads},\
         \"batch\":{batch},\"runs\":{runs},\"median_ms\":{median:.4},\"min_ms\":{min:.4},\
         \"items_per_s\":{:.2},\"load_s\":{load_s:.3},\"peak_rss_mb\":{:.1},\"cosine_vs_ort\":{},\
         \"tract_ops_only\":{tract_ops}}}",
        file.display().to_string(),
        batch as f64 * 1e3 / median,
        peak_rss_mb().unwrap_or(f64::NAN),
        cosine.map_or("null".to_string(), |c| format!("{c:.6}")),
    );
    Ok(())
}

/// The item in `image_input.bin` / `text_input.bin` in `dir` (little-endian,
/// as firmware-tools/bench writes them) when it has the synthetic item's
/// length, else the synthetic item.
fn beside(dir: &Path, synthetic: Item) -> Item {
    match synthetic {
        Item::F32(x) => Item::F32(
            read_le(&dir.join("image_input.bin"), f32::from_le_bytes)
                .filter(|v| v.len() == x.len())
                .unwrap_or(x),
        ),
        Item::I64(x) => Item::I64(
            read_le(&dir.join("text_input.bin"), i64::from_le_bytes)
                .filter(|v| v.len() == x.len())
                .unwrap_or(x),
        ),
    }
}

/// onnxruntime's embedding for the first item, `<file stem>.ort.bin` beside FILE.
fn reference(file: &Path) -> Option<Vec<f32>> {
    let stem = file.file_name()?.to_str()?.strip_suffix(".onnx")?;
    read_le(
        &file.with_file_name(format!("{stem}.ort.bin")),
        f32::from_le_bytes,
    )
}

/// The little-endian values of `N` bytes each that `path` holds, if it can be
/// read and holds a whole number of them.
fn read_le<T, const N: usize>(path: &Path, from: fn([u8; N]) -> T) -> Option<Vec<T>> {
    let bytes = std::fs::read(path).ok().filter(|b| b.len() % N == 0)?;
    Some(
        bytes
            .chunks_exact(N)
            .map(|b| from(b.try_into().expect("N bytes")))
            .collect(),
    )
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The process's peak resident memory (`VmHWM`), in MiB.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
