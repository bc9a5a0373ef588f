//! Would a cache of tract's decluttered model (NNEF) shorten cold start?
//!
//! For each tower file of a package, times the path the runtime takes today
//! (parse ONNX, type, declutter, optimize) against loading a decluttered model
//! saved as `.nnef.tar` and optimizing it, checks both plans give the same
//! output, and prints medians of 5 runs:
//!
//!     cargo build --workspace --examples && target/debug/examples/nnef_cache models/edgeclip-tiny
//!
//! Codegen (kernel choice, weight packing) depends on the machine running it, so
//! only the decluttered graph can be cached; optimizing is paid either way.

use std::path::Path;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;

const RUNS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn input_fact(file: &str) -> TypedFact {
    if file.starts_with("image") {
        f32::fact([1, 3, 64, 64])
    } else {
        i64::fact([1, 77])
    }
}

fn input(file: &str) -> TValue {
    if file.starts_with("image") {
        Tensor::zero::<f32>(&[1, 3, 64, 64]).unwrap().into()
    } else {
        let mut ids = vec![0i64; 77];
        ids[..3].copy_from_slice(&[49406, 320, 49407]);
        Tensor::from_shape(&[1, 77], &ids).unwrap().into()
    }
}

fn decluttered(path: &Path, file: &str) -> TractResult<TypedModel> {
    tract_onnx::onnx()
        .with_ignore_value_info(true)
        .model_for_path(path)?
        .with_input_fact(0, input_fact(file).into())?
        .into_typed()?
        .into_decluttered()
}

fn main() -> TractResult<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "models/edgeclip-tiny".into());
    let tmp = tempfile::tempdir()?;
    let nnef = tract_nnef::nnef().with_onnx();
    for file in [
        "image.fp32.onnx",
        "image.int8.onnx",
        "text.fp32.onnx",
        "text.int8.onnx",
    ] {
        let path = Path::new(&dir).join(file);
        let cache = tmp.path().join(format!("{file}.nnef.tar"));
        let typed = decluttered(&path, file)?;
        if let Err(e) = nnef.write_to_tar(&typed, std::fs::File::create(&cache)?) {
            println!("{file}: cannot be written as NNEF: {e:#}");
            continue;
        }
        let (mut onnx_prep, mut onnx_total, mut nnef_load, mut nnef_total) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut outputs = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let m = decluttered(&path, file)?;
            onnx_prep.push(t.elapsed());
            let plan = m.into_optimized()?.into_runnable()?;
            onnx_total.push(t.elapsed());
            let t = Instant::now();
            let m = nnef.model_for_path(&cache)?;
            nnef_load.push(t.elapsed());
            let cached = m.into_optimized()?.into_runnable()?;
            nnef_total.push(t.elapsed());
            outputs.push((
                plan.run(tvec!(input(file)))?,
                cached.run(tvec!(input(file)))?,
            ));
        }
        let (a, b) = &outputs[0];
        let max_diff = a[0]
            .to_plain_array_view::<f32>()?
            .iter()
            .zip(b[0].to_plain_array_view::<f32>()?.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        println!(
            "{file}: onnx -> plan {:?} (parse+type+declutter {:?}); nnef -> plan {:?} (load {:?}); \
             cache {} bytes; max output difference {max_diff:e}",
            median(onnx_total),
            median(onnx_prep),
            median(nnef_total),
            median(nnef_load),
            std::fs::metadata(&cache)?.len()
        );
    }
    Ok(())
}
