//! Projecting cloud after cloud into the same `Views` and resizing into the same
//! buffer allocates nothing after the first cloud: on a device this runs per cloud.
//! One test in this binary, so that the counts are its own.

use std::alloc::System;

use edgeclip_points::project::{to_encoder_input, Projection, Views};
use edgeclip_points::PointCloud;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn spiral(n: usize, offset: f32) -> PointCloud {
    let points = (0..n)
        .map(|i| {
            let t = i as f32 * 0.01 + offset;
            [
                t.cos() * (1.0 + offset),
                t.sin(),
                (i as f32 / n as f32) * 2.0 - 1.0,
            ]
        })
        .collect();
    PointCloud::new(points).unwrap()
}

#[test]
fn projecting_again_allocates_nothing() {
    let clouds = [spiral(5000, 0.0), spiral(3000, 0.5), spiral(8000, 1.5)];
    for projection in [
        Projection::V1 { normalize: true },
        Projection::V1 { normalize: false },
        Projection::V2,
    ] {
        let mut views = Views::new();
        projection.project(&clouds[0], &mut views);
        let mut input = vec![0.0; views.encoder_input_len(224)];
        to_encoder_input(&views, 224, &mut input).unwrap();
        let region = Region::new(GLOBAL);
        for cloud in &clouds[1..] {
            projection.project(cloud, &mut views);
            to_encoder_input(&views, 224, &mut input).unwrap();
        }
        let stats = region.change();
        assert_eq!(
            (stats.allocations, stats.reallocations),
            (0, 0),
            "{projection}: {stats:?}"
        );
    }
}
