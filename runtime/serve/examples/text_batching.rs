//! Measures what batching concurrent queries' texts into one text-encoder run saves:
//! `n` texts as `n` runs of one against one run of `n`, on the default model.
//!
//! ```sh
//! cargo run --release -p edgeclip-serve --example text_batching -- [THREADS]
//! ```

use std::time::Instant;

use edgeclip::encoder::TextEncoder;
use edgeclip::model::{ModelPackage, Precision};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let threads: usize = std::env::args().nth(1).map_or(Ok(1), |t| t.parse())?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let package = ModelPackage::open(root.join("models/edgeclip-tiny"))?;
    let engine = edgeclip_backend_tract::engine(threads);
    println!(
        "| precision | texts | {threads} thread(s): one run each, ms | one batch, ms | speed-up |"
    );
    println!("|---|---|---|---|---|");
    for precision in [Precision::Int8, Precision::Fp32] {
        let mut encoder = TextEncoder::open(&package, &engine, precision)?;
        for n in [2usize, 8, 32] {
            let texts: Vec<String> = (0..n)
                .map(|i| format!("a photo of thing number {i}."))
                .collect();
            encoder.embed(&texts)?; // warm-up at this batch size
            let (mut single, mut batched) = (Vec::new(), Vec::new());
            for _ in 0..15 {
                let t = Instant::now();
                for text in &texts {
                    encoder.embed(std::slice::from_ref(text))?;
                }
                single.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                encoder.embed(&texts)?;
                batched.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let (s, b) = (median(single), median(batched));
            println!("| {precision} | {n} | {s:.2} | {b:.2} | {:.2}x |", s / b);
        }
    }
    Ok(())
}
