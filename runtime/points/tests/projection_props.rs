//! Properties of the projections for arbitrary finite clouds: no panics, finite values
//! in the documented ranges, and V2's per-view normalisation making it (up to float32
//! rounding at cell boundaries) invariant to translating and scaling the cloud.

use edgeclip_points::project::{Projection, Views};
use edgeclip_points::PointCloud;
use proptest::prelude::*;

fn cloud_strategy(range: f32) -> impl Strategy<Value = Vec<[f32; 3]>> {
    prop::collection::vec(prop::array::uniform3(-range..range), 1..300)
}

fn project(projection: Projection, points: Vec<[f32; 3]>) -> Views {
    let mut views = Views::new();
    projection.project(&PointCloud::new(points).unwrap(), &mut views);
    views
}

/// How many values differ by more than 1e-4.
fn differing(a: &Views, b: &Views) -> usize {
    a.as_slice()
        .iter()
        .zip(b.as_slice())
        .filter(|(x, y)| (*x - *y).abs() > 1e-4)
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn v1_values_are_finite_non_negative_depths(points in cloud_strategy(1e6), normalize: bool) {
        let views = project(Projection::V1 { normalize }, points);
        prop_assert_eq!(views.as_slice().len(), 6 * 128 * 128);
        prop_assert!(views.as_slice().iter().all(|v| v.is_finite() && *v >= 0.0));
        if normalize {
            // Inside the unit sphere with the camera 1.6 away, depths lie in [0.6, 2.6].
            prop_assert!(views.as_slice().iter().all(|&v| v == 0.0 || (0.59..=2.61).contains(&v)));
            prop_assert!(views.as_slice().iter().any(|&v| v > 0.0));
        }
    }

    #[test]
    fn v2_views_lie_in_0_1_and_each_reaches_0(points in cloud_strategy(1e6)) {
        let views = project(Projection::V2, points);
        for v in 0..views.count() {
            let view = views.view(v);
            prop_assert!(view.iter().all(|x| (0.0..=1.0).contains(x)), "view {}", v);
            prop_assert_eq!(view.iter().cloned().fold(1.0f32, f32::min), 0.0);
        }
    }

    #[test]
    fn extreme_but_finite_coordinates_do_not_panic(
        points in prop::collection::vec(prop::array::uniform3(prop::num::f32::NORMAL | prop::num::f32::ZERO), 1..50)
    ) {
        for projection in [Projection::V1 { normalize: true }, Projection::V1 { normalize: false }, Projection::V2] {
            let views = project(projection, points.clone());
            prop_assert!(views.as_slice().iter().all(|v| v.is_finite()), "{}", projection);
        }
    }

    #[test]
    fn v2_ignores_translation_and_scale(
        points in prop::collection::vec(prop::array::uniform3(-1.0f32..1.0), 20..300),
        shift in prop::array::uniform3(-3.0f32..3.0),
        scale_exp in -6i32..6,
    ) {
        let scale = 2f32.powi(scale_exp);
        let moved: Vec<[f32; 3]> =
            points.iter().map(|p| [0, 1, 2].map(|i| (p[i] + shift[i]) * scale)).collect();
        let a = project(Projection::V2, points);
        let b = project(Projection::V2, moved);
        // Rounding can move a point near a cell boundary into the next cell, which
        // changes a 9×9 patch of that view; anything systematic would change far more.
        let n = differing(&a, &b);
        prop_assert!(n <= a.as_slice().len() / 100, "{} of {} values differ", n, a.as_slice().len());
    }

    #[test]
    fn v1_with_normalisation_ignores_translation_and_scale(
        points in prop::collection::vec(prop::array::uniform3(-1.0f32..1.0), 20..300),
        shift in prop::array::uniform3(-3.0f32..3.0),
        scale_exp in -6i32..6,
    ) {
        let scale = 2f32.powi(scale_exp);
        let moved: Vec<[f32; 3]> =
            points.iter().map(|p| [0, 1, 2].map(|i| (p[i] + shift[i]) * scale)).collect();
        let a = project(Projection::V1 { normalize: true }, points);
        let b = project(Projection::V1 { normalize: true }, moved);
        let n = differing(&a, &b);
        prop_assert!(n <= a.as_slice().len() / 100, "{} of {} values differ", n, a.as_slice().len());
    }
}
