//! The accuracy measures of `runtime/depth/SCALE.md`, for tests and evaluations that
//! compare predicted depths with known ones.

use serde::Serialize;

use crate::{DepthConfig, DepthError};

/// Agreement of predicted depths with true ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DepthMetrics {
    /// How many pairs were compared.
    pub count: usize,
    /// Mean of |predicted − true| / true.
    pub abs_rel: f64,
    /// Share of pairs with max(predicted/true, true/predicted) < 1.25.
    pub delta1: f64,
    /// Share of pairs whose nearest bins ([`DepthConfig::nearest_bin`]) agree.
    pub bin_accuracy: f64,
}

/// Compares `predicted` with `truth` (metres, pairwise). Both must have the same,
/// non-zero length and every value must be finite and positive.
pub fn evaluate(
    predicted: &[f32],
    truth: &[f32],
    config: &DepthConfig,
) -> Result<DepthMetrics, DepthError> {
    if predicted.len() != truth.len() {
        return Err(DepthError::Shape {
            what: "predicted depths (one per true depth)",
            expected: truth.len(),
            got: predicted.len(),
        });
    }
    if truth.is_empty() {
        return Err(DepthError::EmptyGrid {
            what: "depths to evaluate",
            rows: 0,
            cols: 0,
        });
    }
    let bad = predicted
        .iter()
        .chain(truth)
        .position(|d| !(d.is_finite() && *d > 0.0));
    if let Some(i) = bad {
        let value = if i < predicted.len() {
            predicted[i]
        } else {
            truth[i - predicted.len()]
        };
        return Err(DepthError::BadDepth {
            index: i % truth.len(),
            value,
        });
    }
    let (mut abs_rel, mut within, mut same_bin) = (0.0, 0usize, 0usize);
    for (&p, &t) in predicted.iter().zip(truth) {
        let (p64, t64) = (p as f64, t as f64);
        abs_rel += (p64 - t64).abs() / t64;
        within += usize::from((p64 / t64).max(t64 / p64) < 1.25);
        same_bin += usize::from(config.nearest_bin(p) == config.nearest_bin(t));
    }
    let n = truth.len() as f64;
    Ok(DepthMetrics {
        count: truth.len(),
        abs_rel: abs_rel / n,
        delta1: within as f64 / n,
        bin_accuracy: same_bin as f64 / n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        let c = DepthConfig::default();
        let m = evaluate(&[1.0, 2.0, 3.0, 1.3], &[1.1, 2.0, 2.0, 1.2], &c).unwrap();
        assert_eq!(m.count, 4);
        let want = (0.1 / 1.1 + 0.0 + 0.5 + 0.1 / 1.2) / 4.0;
        assert!((m.abs_rel - want).abs() < 1e-6, "{}", m.abs_rel);
        assert_eq!(m.delta1, 0.75);
        // bins: 1.0→0 vs 1.1→0; 2.0 vs 2.0; 3.0→6 vs 2.0→2; 1.3→1 vs 1.2→0
        assert_eq!(m.bin_accuracy, 0.5);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let c = DepthConfig::default();
        assert!(matches!(
            evaluate(&[1.0], &[1.0, 2.0], &c),
            Err(DepthError::Shape { .. })
        ));
        assert!(evaluate(&[], &[], &c).is_err());
        let err = evaluate(&[1.0, 2.0], &[1.0, 0.0], &c).unwrap_err();
        assert!(
            matches!(err, DepthError::BadDepth { index: 1, .. }),
            "{err}"
        );
    }
}
