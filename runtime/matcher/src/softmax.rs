//! Turning logits into probabilities without allocating: a softmax over the whole
//! label set is `exp(logit − lse)` with `lse = ln Σ exp(logits)`, so only the labels
//! reported need a probability, and the set needs one pass for `lse` ([`Softmax`]).

/// A label set's softmax denominator, `ln Σ exp(logits)`, kept as `max + ln_sum`.
///
/// Shifting by the maximum keeps every `exp` in `(0, 1]`, so large logits cannot
/// overflow. Keeping the two parts apart (rather than one f32 `lse`) means a
/// probability is `exp((logit − max) − ln_sum)`: for logits near 10⁴ the shift is exact
/// and no f32 rounding of `max + ln_sum` (an ulp of 10⁴ is 10⁻³) leaks into the result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    max: f32,
    ln_sum: f32,
}

impl Softmax {
    /// The denominator over `logits`, given their maximum (callers have it from
    /// top-k). One pass, no allocation.
    pub fn new(logits: &[f32], max: f32) -> Self {
        if !max.is_finite() {
            // NaN stays NaN; -inf means an empty set (or all -inf), +inf takes all.
            return Softmax { max, ln_sum: 0.0 };
        }
        // A vectorized exp: with std's (a libm call per label) this pass cost as
        // much as scoring the int8 rows of 100k labels does.
        let sum = crate::kernel::sum_exp_shifted(logits, max);
        Softmax {
            max,
            ln_sum: sum.ln() as f32,
        }
    }

    /// `ln Σ exp(logits)`.
    pub fn log_sum_exp(&self) -> f32 {
        self.max + self.ln_sum
    }

    /// The softmax probability of one logit of the set.
    #[inline]
    pub fn probability(&self, logit: f32) -> f32 {
        ((logit - self.max) - self.ln_sum).exp()
    }

    /// The probability `logit` would have in a softmax over the set with it added
    /// as one more member: `e^l / (e^l + Σ e^set)`, which is `sigmoid(l − lse)`.
    /// For scoring a candidate (a free text) against a label set without copying
    /// the set; 1 for an empty set.
    #[inline]
    pub fn probability_if_added(&self, logit: f32) -> f32 {
        // Shifted by `max` first, as in `probability`: exact for large logits.
        sigmoid((logit - self.max) - self.ln_sum)
    }
}

/// `1 / (1 + e^(−z))`, written so neither branch can overflow.
#[inline]
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn max(v: &[f32]) -> f32 {
        v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    }

    #[test]
    fn large_logits_stay_finite() {
        let v = [1.0e4, 1.0e4 - 1.0, -1.0e4];
        let sm = Softmax::new(&v, max(&v));
        let p: Vec<f32> = v.iter().map(|&l| sm.probability(l)).collect();
        assert!(p.iter().all(|x| x.is_finite()));
        let e = (-1f32).exp();
        assert!((p[0] - 1.0 / (1.0 + e)).abs() < 1e-6);
        assert!((p[1] - e / (1.0 + e)).abs() < 1e-6);
        assert_eq!(p[2], 0.0);
    }

    #[test]
    fn degenerate_sets() {
        let empty = Softmax::new(&[], f32::NEG_INFINITY);
        assert_eq!(empty.log_sum_exp(), f32::NEG_INFINITY);
        assert!(Softmax::new(&[f32::NAN], f32::NAN)
            .probability(1.0)
            .is_nan());
        assert_eq!(Softmax::new(&[2.0], 2.0).probability(2.0), 1.0);
    }

    #[test]
    fn a_candidate_added_to_an_empty_set_is_certain() {
        let empty = Softmax::new(&[], f32::NEG_INFINITY);
        assert_eq!(empty.probability_if_added(3.0), 1.0);
        let one = Softmax::new(&[2.0], 2.0);
        assert!((one.probability_if_added(2.0) - 0.5).abs() < 1e-7);
    }

    #[test]
    fn sigmoid_extremes() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-7);
    }

    proptest! {
        #[test]
        fn sums_to_one(v in proptest::collection::vec(-1.0e3f32..1.0e3, 1..500)) {
            let sm = Softmax::new(&v, max(&v));
            let sum: f64 = v.iter().map(|&l| f64::from(sm.probability(l))).sum();
            prop_assert!((sum - 1.0).abs() < 1e-4, "sum {sum}");
        }

        #[test]
        fn matches_f64_softmax(v in proptest::collection::vec(-100f32..100.0, 1..200)) {
            let m = v.iter().map(|&x| f64::from(x)).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = v.iter().map(|&x| (f64::from(x) - m).exp()).sum();
            let sm = Softmax::new(&v, max(&v));
            prop_assert!((f64::from(sm.log_sum_exp()) - (m + z.ln())).abs() <= 1e-5 * m.abs().max(1.0));
            for &l in &v {
                let want = (f64::from(l) - m).exp() / z;
                let got = f64::from(sm.probability(l));
                // exp's relative error grows with |logit − lse| · ε(f32).
                prop_assert!((got - want).abs() <= 1e-5 * want + 1e-12, "{got} vs {want}");
            }
        }

        /// The last probability of a softmax over the set with the candidate appended.
        #[test]
        fn probability_if_added_matches_f64(
            v in proptest::collection::vec(-100f32..100.0, 0..200),
            candidate in -150f32..150.0,
        ) {
            let m = v.iter().chain([&candidate]).map(|&x| f64::from(x)).fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = v.iter().chain([&candidate]).map(|&x| (f64::from(x) - m).exp()).sum();
            let want = (f64::from(candidate) - m).exp() / z;
            let got = f64::from(Softmax::new(&v, max(&v)).probability_if_added(candidate));
            prop_assert!((got - want).abs() <= 1e-5 * want + 1e-12, "{got} vs {want}");
        }

        #[test]
        fn sigmoid_matches_f64(z in -80f32..80.0) {
            let want = 1.0 / (1.0 + (-f64::from(z)).exp());
            prop_assert!((f64::from(sigmoid(z)) - want).abs() <= 1e-6 * want);
        }
    }
}
