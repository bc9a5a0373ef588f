//! Per-frame match time (logits + top-5 with probabilities) for 1k/10k/100k labels
//! × 512 dims in each row type, the kernel alternatives that were weighed, and the
//! machine's memory bandwidth (for the bandwidth floor `firmware-tools/bench/match.sh`
//! reports beside numpy).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use edgeclip_match::{kernel, Matcher, Rows};
use half::f16;
use std::time::Duration;

const DIM: usize = 512;
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// splitmix64, so the rows are the same on every run without an RNG dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn normal(&mut self) -> f32 {
        (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum::<f32>()
            - 2.0
    }

    fn unit_rows(&mut self, rows: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..rows * DIM).map(|_| self.normal()).collect();
        for row in v.chunks_exact_mut(DIM) {
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x /= n);
        }
        v
    }
}

struct Set {
    f32: Vec<f32>,
    f16: Vec<f16>,
    i8: Vec<i8>,
    scales: Vec<f32>,
}

fn set(labels: usize) -> Set {
    let f32 = Rng(42).unit_rows(labels);
    let f16 = f32.iter().map(|&x| f16::from_f32(x)).collect();
    let (mut i8, mut scales) = (Vec::with_capacity(f32.len()), Vec::with_capacity(labels));
    for row in f32.chunks_exact(DIM) {
        let s = row.iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0;
        i8.extend(row.iter().map(|x| (x / s).round() as i8));
        scales.push(s);
    }
    Set {
        f32,
        f16,
        i8,
        scales,
    }
}

fn matching(c: &mut Criterion) {
    let query = Rng(7).unit_rows(1);
    let mut g = c.benchmark_group("match");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for labels in SIZES {
        let s = set(labels);
        let mut m = Matcher::new(labels, DIM, 100.0);
        let cases = [
            ("f32", Rows::F32(&s.f32)),
            ("f16", Rows::F16(&s.f16)),
            (
                "int8",
                Rows::Int8 {
                    values: &s.i8,
                    scales: &s.scales,
                },
            ),
        ];
        for (name, rows) in cases {
            g.bench_function(BenchmarkId::new(name, labels), |b| {
                b.iter(|| m.top_k::<5>(black_box(rows), black_box(&query)).unwrap())
            });
        }
    }
    g.finish();
}

/// The alternatives per row type over the whole set (no top-k), each both portable
/// (baseline target) and dispatched (AVX2/F16C where the CPU has them), for the
/// choices recorded in `kernel.rs`.
fn kernels(c: &mut Criterion) {
    let q = Rng(7).unit_rows(1);
    let mut g = c.benchmark_group("kernel");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for labels in [1_000, 100_000] {
        let s = set(labels);
        let mut out = vec![0f32; labels];
        let mut q16 = vec![0i16; DIM];
        let mut run = |name: &str, f: &mut dyn FnMut(&mut [f32])| {
            g.bench_function(BenchmarkId::new(name, labels), |b| {
                b.iter(|| f(black_box(&mut out)))
            });
        };
        use kernel::*;
        run("f32-portable", &mut |o| {
            scores_f32_portable(&s.f32, &q, 1.0, o)
        });
        run("f32", &mut |o| scores_f32(&s.f32, &q, 1.0, o));
        run("f16-bits-portable", &mut |o| {
            scores_f16_portable(&s.f16, &q, 1.0, o)
        });
        run("f16-half-slice", &mut |o| {
            scores_f16_via_half(&s.f16, &q, 1.0, o)
        });
        run("f16-bits", &mut |o| scores_f16(&s.f16, &q, 1.0, o));
        run("int8-dequant-portable", &mut |o| {
            scores_i8_f32_portable(&s.i8, &s.scales, &q, 1.0, o)
        });
        run("int8-dequant", &mut |o| {
            scores_i8_f32(&s.i8, &s.scales, &q, 1.0, o)
        });
        run("int8-i16-portable", &mut |o| {
            scores_i8_portable(&s.i8, &s.scales, &q, &mut q16, 1.0, o)
        });
        run("int8-i16", &mut |o| {
            scores_i8(&s.i8, &s.scales, &q, &mut q16, 1.0, o)
        });
    }
    g.finish();
}

/// Memory bandwidth on a buffer far larger than any cache: a copy (what the floor
/// uses) and a read-only sum (what a matcher actually does to its rows).
fn bandwidth(c: &mut Criterion) {
    const BYTES: usize = 256 << 20;
    let src: Vec<u64> = (0..BYTES / 8).map(|i| i as u64).collect();
    let mut dst = vec![0u64; src.len()];
    let mut g = c.benchmark_group("bandwidth");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(BYTES as u64));
    g.bench_function("copy", |b| b.iter(|| dst.copy_from_slice(black_box(&src))));
    g.bench_function("read", |b| {
        b.iter(|| {
            let mut acc = [0u64; 8];
            for c in black_box(&src).chunks_exact(8) {
                for i in 0..8 {
                    acc[i] = acc[i].wrapping_add(c[i]);
                }
            }
            acc.iter().fold(0u64, |a, &b| a.wrapping_add(b))
        })
    });
    g.finish();
}

criterion_group!(benches, bandwidth, kernels, matching);
criterion_main!(benches);
