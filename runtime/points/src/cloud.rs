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
}

#[cfg(test)]
mod tests {
    use super::*;

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
