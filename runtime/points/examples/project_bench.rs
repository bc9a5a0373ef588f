//! Speed of the PointCLIP projections: points per second for 10k, 100k and 1M points,
//! V1 and V2, the median of several runs, plus the resize to a 224 px encoder input.
//!
//! ```sh
//! cargo run --release -p edgeclip-points --example project_bench [THREADS]
//! ```
//!
//! THREADS limits the projection's threads (default 0: as many as the machine has;
//! clouds under a million point-views always run on one).

use std::hint::black_box;
use std::time::{Duration, Instant};

use edgeclip_points::project::{to_encoder_input, Projection, Views};
use edgeclip_points::PointCloud;

/// A deterministic noisy torus-and-plate cloud, roughly in the unit sphere, so the
/// views are as busy as a real object's (no dependency on a random number crate).
fn cloud(n: usize) -> PointCloud {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let points = (0..n)
        .map(|i| {
            let (u, v) = (
                next() * std::f32::consts::TAU,
                next() * std::f32::consts::TAU,
            );
            if i % 4 == 0 {
                [next() * 1.2 - 0.6, next() * 1.2 - 0.6, -0.5]
            } else {
                let r = 0.6 + 0.25 * v.cos();
                [r * u.cos(), r * u.sin(), 0.25 * v.sin()]
            }
        })
        .collect();
    PointCloud::new(points).unwrap()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f(); // first call sizes the buffers
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .map_or(0, |t| t.parse().expect("THREADS: a number"));
    let projections = [
        ("v1", Projection::V1 { normalize: true }),
        ("v1 (no normalise)", Projection::V1 { normalize: false }),
        ("v2", Projection::V2),
    ];
    println!(
        "{:<18} {:>9} {:>10} {:>14}",
        "projection", "points", "median ms", "points/s"
    );
    for n in [10_000, 100_000, 1_000_000] {
        let cloud = cloud(n);
        let runs = if n >= 1_000_000 { 7 } else { 21 };
        for (name, projection) in projections {
            let mut views = Views::new();
            views.set_threads(threads);
            let t = time(runs, || projection.project(black_box(&cloud), &mut views));
            let rate = n as f64 / t.as_secs_f64();
            println!(
                "{name:<18} {n:>9} {:>10.2} {rate:>14.3e}",
                t.as_secs_f64() * 1e3
            );
        }
    }
    let small = cloud(1000);
    for (name, projection) in [("v1", Projection::default()), ("v2", Projection::V2)] {
        let mut views = Views::new();
        projection.project(&small, &mut views);
        let mut input = vec![0.0; views.encoder_input_len(224)];
        let t = time(21, || to_encoder_input(&views, 224, &mut input).unwrap());
        println!(
            "resize {name} views to [{}, 3, 224, 224]: {:.2} ms",
            views.count(),
            t.as_secs_f64() * 1e3
        );
    }
}
