//! Rows of L2-normalized embeddings, stored flat.

use crate::{Error, Result};

/// A batch of embeddings, each row L2-normalized, stored contiguously.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// Takes raw model output rows (`data.len()` a multiple of `dim`) and L2-normalizes each.
    ///
    /// A row of zeros or non-finite values is an error: it has no direction,
    /// and matching it would give arbitrary scores.
    pub fn from_raw(dim: usize, mut data: Vec<f32>) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(Error::InvalidInput(format!(
                "{} values do not split into rows of {dim}",
                data.len()
            )));
        }
        for (i, row) in data.chunks_exact_mut(dim).enumerate() {
            normalize(row).map_err(|norm| {
                Error::InvalidInput(format!(
                    "embedding row {i} has norm {norm}: the model produced no usable vector"
                ))
            })?;
        }
        Ok(Self { dim, data })
    }

    /// Width of each row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim)
    }

    /// The flat row-major data.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Appends the rows of `other` (same width).
    pub fn extend(&mut self, other: &Embeddings) -> Result<()> {
        if other.dim != self.dim {
            return Err(Error::InvalidInput(format!(
                "cannot append rows of {} to rows of {}",
                other.dim, self.dim
            )));
        }
        self.data.extend_from_slice(&other.data);
        Ok(())
    }

    /// The mean of groups of `group` consecutive rows, each renormalized
    /// (CLIP's prompt ensembling: one row per label from its template rows).
    pub fn group_means(&self, group: usize) -> Result<Embeddings> {
        if group == 0 || !self.len().is_multiple_of(group) {
            return Err(Error::InvalidInput(format!(
                "{} rows do not split into groups of {group}",
                self.len()
            )));
        }
        let mut out = vec![0.0f32; self.len() / group * self.dim];
        for (i, row) in self.rows().enumerate() {
            let dst = &mut out[(i / group) * self.dim..][..self.dim];
            dst.iter_mut().zip(row).for_each(|(d, v)| *d += v);
        }
        Embeddings::from_raw(self.dim, out)
    }

    /// The weighted mean `Σ wᵢ·rowᵢ / Σ wᵢ` of the rows, one weight per row, written
    /// to `out` and not renormalized (PointCLIP's view fusion: scores against it are
    /// the weighted mean of the per-row scores). A zero weight drops its row.
    pub fn weighted_mean_into(&self, weights: &[f32], out: &mut Vec<f32>) -> Result<()> {
        if weights.len() != self.len() {
            return Err(Error::InvalidInput(format!(
                "{} rows for {} weights",
                self.len(),
                weights.len()
            )));
        }
        let total: f32 = weights.iter().sum();
        if !(total.is_finite() && total > 0.0) {
            return Err(Error::InvalidInput(format!(
                "the weights {weights:?} do not sum to a positive number"
            )));
        }
        out.clear();
        out.resize(self.dim, 0.0);
        for (row, &w) in self.rows().zip(weights) {
            out.iter_mut().zip(row).for_each(|(o, v)| *o += w * v);
        }
        out.iter_mut().for_each(|o| *o /= total);
        Ok(())
    }
}

/// Scales `row` to unit L2 norm in place, as a store's rows are
/// ([`edgeclip_kernels::vector::normalize_l2`]). A row of zeros or non-finite
/// values has no direction: it is left as it is and its norm returned as the error.
pub fn normalize(row: &mut [f32]) -> std::result::Result<(), f64> {
    edgeclip_kernels::vector::normalize_l2(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_unit_length() {
        let e = Embeddings::from_raw(2, vec![3.0, 4.0, 0.0, -2.0]).unwrap();
        assert_eq!(e.row(0), &[0.6, 0.8]);
        assert_eq!(e.row(1), &[0.0, -1.0]);
    }

    #[test]
    fn zero_row_is_refused() {
        assert!(Embeddings::from_raw(2, vec![0.0, 0.0]).is_err());
        assert!(Embeddings::from_raw(2, vec![f32::NAN, 1.0]).is_err());
        assert!(Embeddings::from_raw(2, vec![1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn weighted_mean_weights_rows_and_drops_zero_weights() {
        let e = Embeddings::from_raw(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8]).unwrap();
        let mut out = Vec::new();
        e.weighted_mean_into(&[1.0, 1.0, 2.0], &mut out).unwrap();
        let expected = [(1.0 + 1.2) / 4.0, (1.0 + 1.6) / 4.0];
        for (o, x) in out.iter().zip(expected) {
            assert!((o - x).abs() < 1e-6, "{out:?}");
        }
        e.weighted_mean_into(&[0.0, 1.0, 0.0], &mut out).unwrap();
        assert_eq!(out, [0.0, 1.0]);
        assert!(e.weighted_mean_into(&[1.0, 1.0], &mut out).is_err());
        assert!(e.weighted_mean_into(&[0.0; 3], &mut out).is_err());
    }

    #[test]
    fn group_means_average_then_renormalize() {
        let e = Embeddings::from_raw(2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let m = e.group_means(2).unwrap();
        let s = std::f32::consts::FRAC_1_SQRT_2;
        assert!((m.row(0)[0] - s).abs() < 1e-6 && (m.row(0)[1] - s).abs() < 1e-6);
    }
}
