//! The point cloud every reader produces and every projection consumes.

/// Why a set of points is not a usable cloud.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CloudError {
    /// No points at all.
    #[error("the cloud has no points")]
    Empty,
    /// A coordinate that is NaN or infinite.
    #[error("point {index} has a non-finite coordinate ({x}, {y}, {z})")]
    NonFinite {
        /// The point's index in file order.
        index: usize,
        /// Its x coordinate.
        x: f32,
        /// Its y coordinate.
        y: f32,
        /// Its z coordinate.
        z: f32,
    },
}

/// A non-empty set of points with finite `f32` coordinates, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct PointCloud {
    points: Vec<[f32; 3]>,
}

impl PointCloud {
    /// Takes `points` as a cloud, refusing an empty set and non-finite coordinates.
    pub fn new(points: Vec<[f32; 3]>) -> Result<Self, CloudError> {
        if points.is_empty() {
            return Err(CloudError::Empty);
        }
        if let Some((index, p)) = points
            .iter()
            .enumerate()
            .find(|(_, p)| !p.iter().all(|c| c.is_finite()))
        {
            return Err(CloudError::NonFinite {
                index,
                x: p[0],
                y: p[1],
                z: p[2],
            });
        }
        Ok(PointCloud { points })
    }

    /// The points, in file order.
    pub fn points(&self) -> &[[f32; 3]] {
        &self.points
    }

    /// How many points (never 0).
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Always false: a cloud has at least one point (kept for clippy's `len` rule).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// At most `max_points` of the points, evenly spaced in file order (the first
    /// always kept); the cloud itself when it has no more than that or `max_points`
    /// is 0.
    ///
    /// PointCLIP's depth views change with density: a scan of 100,000 points fills
    /// pixels that a 1,024-point ModelNet40 cloud (what the official PointCLIP
    /// evaluates, and the density a model was trained on) leaves empty. Even spacing
    /// keeps a scan's coverage (every ring of a lidar sweep, every row of a depth
    /// camera) and needs no random state, so the same file always gives the same views.
    pub fn downsampled(&self, max_points: usize) -> std::borrow::Cow<'_, PointCloud> {
        let n = self.points.len();
        if max_points == 0 || n <= max_points {
            return std::borrow::Cow::Borrowed(self);
        }
        let points = (0..max_points)
            .map(|i| self.points[i * n / max_points])
            .collect();
        std::borrow::Cow::Owned(PointCloud { points })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn downsampling_keeps_at_most_max_points_of_the_cloud(n in 1usize..3000, max in 0usize..3000) {
            let cloud = PointCloud::new((0..n).map(|i| [i as f32, 0.0, 0.0]).collect()).unwrap();
            let small = cloud.downsampled(max);
            let expected = if max == 0 { n } else { n.min(max) };
            prop_assert_eq!(small.len(), expected);
            prop_assert_eq!(small.points()[0], [0.0, 0.0, 0.0]);
            // Strictly increasing indices: distinct points, file order kept.
            prop_assert!(small.points().windows(2).all(|w| w[0][0] < w[1][0]));
        }
    }

    #[test]
    fn downsampling_spaces_points_evenly() {
        let cloud = PointCloud::new((0..10).map(|i| [i as f32, 0.0, 0.0]).collect()).unwrap();
        let xs: Vec<f32> = cloud.downsampled(4).points().iter().map(|p| p[0]).collect();
        assert_eq!(xs, [0.0, 2.0, 5.0, 7.0]);
        assert!(matches!(
            cloud.downsampled(10),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn empty_and_non_finite_clouds_are_refused() {
        assert_eq!(PointCloud::new(vec![]), Err(CloudError::Empty));
        let err = PointCloud::new(vec![[0.0; 3], [1.0, f32::NAN, 0.0]]).unwrap_err();
        assert!(matches!(err, CloudError::NonFinite { index: 1, .. }));
        assert!(err.to_string().contains("point 1"));
        let ok = PointCloud::new(vec![[0.5, -1.0, 2.0]]).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok.points()[0], [0.5, -1.0, 2.0]);
    }
}
