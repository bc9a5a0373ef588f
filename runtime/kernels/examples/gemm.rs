//! Multiply-adds per second of each int8 kernel this CPU runs, on one thread.
//!
//!     cargo run --release -p edgeclip-kernels --example gemm -- [M K N] [RUNS]
//!
//! Defaults to ViT-B/16's MLP product (197 × 768 @ 768 × 3072), the one the
//! int8 benchmark report compares with onnxruntime. Prints the median time and
//! GMAC/s per kernel.

use std::time::Instant;

use edgeclip_kernels::int8::{Int8Linear, Isa};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: M K N [RUNS]"))
        .collect();
    let (m, k, n) = match args.as_slice() {
        [m, k, n, ..] => (*m, *k, *n),
        _ => (197, 768, 3072),
    };
    let runs = args.get(3).copied().unwrap_or(50).max(1);
    let a: Vec<u8> = (0..m * k).map(|i| (i * 31 % 251) as u8).collect();
    let w: Vec<i8> = (0..k * n).map(|i| (i * 17 % 255) as i8).collect();
    let bias: Vec<f32> = (0..n).map(|j| j as f32).collect();
    let mut out = vec![0f32; m * n];
    println!("{m} x {k} @ {k} x {n}, {runs} runs, one thread");
    for isa in Isa::available() {
        let linear = Int8Linear::new(isa, &w, k, n, 0, Some(&bias)).expect("packs");
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs + 2 {
            let started = Instant::now();
            linear.run(&a, m, 128, 1e-3, &mut out).expect("runs");
            times.push(started.elapsed().as_secs_f64());
        }
        times.drain(..2);
        times.sort_by(f64::total_cmp);
        let median = times[runs / 2];
        let gmacs = (m * k * n) as f64 / median / 1e9;
        println!(
            "{:>12}: median {:>9.3} ms, {:>7.1} GMAC/s",
            isa.name(),
            median * 1e3,
            gmacs
        );
    }
}
