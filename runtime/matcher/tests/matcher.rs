//! The matcher through its public API: shapes, ranking, tagging, and the score error
//! of the f16 and int8 row types against f32.

use edgeclip_match::{Error, Matcher, Rows, Thresholds};
use half::f16;
use proptest::prelude::*;

/// splitmix64: a seeded, dependency-free source of test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Roughly normal (sum of four uniforms), which is all normalization needs.
    fn normal(&mut self) -> f32 {
        (0..4)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32)
            .sum::<f32>()
            - 2.0
    }

    fn unit_rows(&mut self, rows: usize, dim: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..rows * dim).map(|_| self.normal()).collect();
        v.chunks_exact_mut(dim).for_each(normalize);
        v
    }
}

fn normalize(row: &mut [f32]) {
    let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
    row.iter_mut().for_each(|x| *x /= n);
}

/// Symmetric per-row int8, as the store writes it: `value = q × scale`.
fn quantize_rows(rows: &[f32], dim: usize) -> (Vec<i8>, Vec<f32>) {
    let mut values = Vec::with_capacity(rows.len());
    let mut scales = Vec::new();
    for row in rows.chunks_exact(dim) {
        let scale = row.iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0;
        values.extend(row.iter().map(|x| (x / scale).round() as i8));
        scales.push(scale);
    }
    (values, scales)
}

fn cosines(rows: &[f32], q: &[f32]) -> Vec<f64> {
    rows.chunks_exact(q.len())
        .map(|r| {
            r.iter()
                .zip(q)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum()
        })
        .collect()
}

#[test]
fn best_label_first_with_probabilities() {
    let rows = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
    let mut m = Matcher::new(3, 2, 100.0);
    let top = m.top_k::<2>(Rows::F32(&rows), &[0.0, 1.0]).unwrap();
    assert_eq!(top[0].label, 1);
    assert_eq!(top[1].label, 2);
    assert!((top[0].logit - 100.0).abs() < 1e-4);
    let e = |x: f32| x.exp();
    let want = 1.0 / (1.0 + e(-20.0) + e(-100.0));
    assert!((top[0].probability - want).abs() < 1e-6);
}

#[test]
fn mismatched_shapes_are_errors() {
    let mut m = Matcher::new(2, 3, 1.0);
    let rows = [0.0f32; 6];
    assert_eq!(
        m.logits(Rows::F32(&rows), &[1.0, 0.0]).unwrap_err(),
        Error::QueryDim {
            expected: 3,
            got: 2
        }
    );
    assert_eq!(
        m.logits(Rows::F32(&rows[..5]), &[1.0, 0.0, 0.0])
            .unwrap_err(),
        Error::RowsLen {
            labels: 2,
            dim: 3,
            got: 5
        }
    );
    let values = [0i8; 6];
    let int8 = Rows::Int8 {
        values: &values,
        scales: &[1.0],
    };
    assert_eq!(
        m.top_k::<1>(int8, &[1.0, 0.0, 0.0]).unwrap_err(),
        Error::ScalesLen {
            expected: 2,
            got: 1
        }
    );
    let per_label = [Some(0.5)];
    let t = Thresholds {
        default: 0.5,
        per_label: &per_label,
    };
    assert_eq!(
        m.tags::<2>(Rows::F32(&rows), &[1.0, 0.0, 0.0], &t)
            .unwrap_err(),
        Error::ThresholdsLen {
            expected: 2,
            got: 1
        }
    );
}

#[test]
fn degenerate_sets_do_not_panic() {
    let mut m = Matcher::new(0, 4, 100.0);
    assert!(m.top_k::<3>(Rows::F32(&[]), &[0.5; 4]).unwrap().is_empty());
    let mut m = Matcher::new(2, 0, 100.0);
    let top = m.top_k::<3>(Rows::F16(&[]), &[]).unwrap();
    assert_eq!(top.len(), 2);
    assert!((top[0].probability - 0.5).abs() < 1e-7);
}

#[test]
fn tags_use_per_label_thresholds_and_report_truncation() {
    // Cosines 1.0, 0.8, 0.6, 0.0 with scale 10 and bias -7: logits+bias 3, 1, -1, -7.
    let rows = [1.0, 0.0, 0.8, 0.6, 0.6, 0.8, 0.0, 1.0];
    let q = [1.0, 0.0];
    let mut m = Matcher::new(4, 2, 10.0).with_bias(-7.0);
    let s = |z: f32| 1.0 / (1.0 + (-z).exp());

    let all = m
        .tags::<4>(Rows::F32(&rows), &q, &Thresholds::uniform(0.2))
        .unwrap();
    let labels: Vec<usize> = all.tags.iter().map(|t| t.label).collect();
    assert_eq!(labels, [0, 1, 2]);
    assert!(!all.truncated());
    assert!((all.tags[1].score - s(1.0)).abs() < 1e-6);

    // Label 1 raised above its score, label 3 lowered to zero: falls back elsewhere.
    let per = [None, Some(0.9), None, Some(0.0)];
    let t = Thresholds {
        default: 0.2,
        per_label: &per,
    };
    let some = m.tags::<4>(Rows::F32(&rows), &q, &t).unwrap();
    let labels: Vec<usize> = some.tags.iter().map(|t| t.label).collect();
    assert_eq!(labels, [0, 2, 3]);

    let two = m
        .tags::<2>(Rows::F32(&rows), &q, &Thresholds::uniform(0.0))
        .unwrap();
    assert_eq!(two.passed, 4);
    assert!(two.truncated());
    assert_eq!(two.tags.iter().map(|t| t.label).collect::<Vec<_>>(), [0, 1]);
}

/// Each row type's logits against an f64 reference on the f32 rows, random unit
/// vectors at CLIP's width. Bounds: f16 rounds each value by ≤ 2⁻¹¹ relative; int8
/// by ≤ half a step (`scale / 2`) per value, so `|Δcos| ≤ Σ|qᵢ|·scale/2` per row.
#[test]
fn f16_and_int8_score_error() {
    let (labels, dim) = (2000, 512);
    let mut rng = Rng(7);
    let rows = rng.unit_rows(labels, dim);
    let queries = rng.unit_rows(20, dim);
    let halves: Vec<f16> = rows.iter().map(|&x| f16::from_f32(x)).collect();
    let (values, scales) = quantize_rows(&rows, dim);
    let mut m = Matcher::new(labels, dim, 1.0);
    let (mut worst16, mut worst8, mut sq8) = (0f64, 0f64, 0f64);
    for q in queries.chunks_exact(dim) {
        let want = cosines(&rows, q);
        let l1: f64 = q.iter().map(|x| f64::from(x.abs())).sum();
        let got = m.logits(Rows::F32(&rows), q).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-6);
        }
        let got = m.logits(Rows::F16(&halves), q).unwrap();
        for (g, w) in got.iter().zip(&want) {
            worst16 = worst16.max((f64::from(*g) - w).abs());
        }
        let got = m
            .logits(
                Rows::Int8 {
                    values: &values,
                    scales: &scales,
                },
                q,
            )
            .unwrap();
        for ((g, w), s) in got.iter().zip(&want).zip(&scales) {
            let err = (f64::from(*g) - w).abs();
            assert!(err <= l1 * f64::from(*s) / 2.0 + 1e-5, "int8 error {err}");
            worst8 = worst8.max(err);
            sq8 += err * err;
        }
    }
    let rms8 = (sq8 / (20 * labels) as f64).sqrt();
    eprintln!("cosine error: f16 max {worst16:.2e}; int8 max {worst8:.2e}, rms {rms8:.2e}");
    assert!(worst16 < 1e-4, "f16 max error {worst16}");
    assert!(worst8 < 2e-3, "int8 max error {worst8}");
    assert!(rms8 < 5e-4, "int8 rms error {rms8}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// `top_k` is the head of a full sort of `logits` (ties by index), with the
    /// whole set's softmax.
    #[test]
    fn top_k_is_the_head_of_a_full_sort(
        seed in any::<u64>(),
        labels in 0usize..200,
        dup in 0usize..4,
    ) {
        let dim = 8;
        let mut rng = Rng(seed);
        let mut rows = rng.unit_rows(labels, dim);
        // Duplicate rows to force exact ties.
        for i in 0..labels.saturating_sub(1).min(dup) {
            let (a, b) = rows.split_at_mut((i + 1) * dim);
            b[..dim].copy_from_slice(&a[i * dim..]);
        }
        let q = rng.unit_rows(1, dim);
        let mut m = Matcher::new(labels, dim, 50.0);
        let logits = m.logits(Rows::F32(&rows), &q).unwrap().to_vec();
        let mut order: Vec<usize> = (0..labels).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        let top = m.top_k::<5>(Rows::F32(&rows), &q).unwrap();
        prop_assert_eq!(top.iter().map(|t| t.label).collect::<Vec<_>>(), &order[..labels.min(5)]);
        let mx = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z: f64 = logits.iter().map(|&l| f64::from(l - mx).exp()).sum();
        for t in &top {
            let want = f64::from(t.logit - mx).exp() / z;
            prop_assert!((f64::from(t.probability) - want).abs() < 1e-5 * want.max(1e-3));
        }
    }
}

/// `top_k_into` with a run-time `k` gives what `top_k::<K>` gives, bit for bit, for
/// every row type; its buffers stop growing once they hold `k`; and the softmax it
/// returns is the set's.
#[test]
fn top_k_into_is_top_k_with_a_run_time_k() {
    let (labels, dim) = (300, 16);
    let mut rng = Rng(5);
    let rows = rng.unit_rows(labels, dim);
    let halves: Vec<f16> = rows.iter().map(|&x| f16::from_f32(x)).collect();
    let (values, scales) = quantize_rows(&rows, dim);
    let q = rng.unit_rows(1, dim);
    let mut m = Matcher::new(labels, dim, 30.0);
    let mut out = Vec::new();
    for row_kind in [
        Rows::F32(&rows),
        Rows::F16(&halves),
        Rows::Int8 {
            values: &values,
            scales: &scales,
        },
    ] {
        let want = m.top_k::<7>(row_kind, &q).unwrap();
        for k in [0, 1, 7] {
            let softmax = m.top_k_into(row_kind, &q, k, &mut out).unwrap();
            assert_eq!(out.as_slice(), &want[..k], "{:?} k={k}", row_kind.dtype());
            // The whole set's softmax: the labels' probabilities sum to 1.
            let logits = m.logits(row_kind, &q).unwrap();
            let sum: f64 = logits
                .iter()
                .map(|&l| f64::from(softmax.probability(l)))
                .sum();
            assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        }
        let capacity = out.capacity();
        m.top_k_into(row_kind, &q, 7, &mut out).unwrap();
        assert_eq!(out.capacity(), capacity);
    }
    // More than there are labels: all of them, best first.
    m.top_k_into(Rows::F32(&rows), &q, 1000, &mut out).unwrap();
    assert_eq!(out.len(), labels);
    assert!(out.windows(2).all(|w| w[0].logit >= w[1].logit));
    // A shape error leaves `out` empty rather than holding the last answer.
    assert!(m
        .top_k_into(Rows::F32(&rows), &q[1..], 3, &mut out)
        .is_err());
    assert!(out.is_empty());
}

/// Top-1 agreement of int8 and f16 rows with f32 rows. Two kinds of query: pure noise
/// (the hardest case: 1000 random labels, top-1/top-2 gaps of ~0.01 cosine) and
/// queries planted near one label (cosine ~0.3 to it, like a CLIP image to its
/// caption), the case the product's ≥ 99.5% requirement is about.
#[test]
fn int8_and_f16_top1_agree_with_f32() {
    let (labels, dim, n) = (1000, 512, 300);
    let mut rng = Rng(11);
    let rows = rng.unit_rows(labels, dim);
    let halves: Vec<f16> = rows.iter().map(|&x| f16::from_f32(x)).collect();
    let (values, scales) = quantize_rows(&rows, dim);
    let int8 = Rows::Int8 {
        values: &values,
        scales: &scales,
    };
    let mut m = Matcher::new(labels, dim, 100.0);
    let mut agree = [[0usize; 2]; 2]; // [noise, planted] × [f16, int8]
    for (kind, counts) in agree.iter_mut().enumerate() {
        for i in 0..n {
            let mut q = rng.unit_rows(1, dim);
            if kind == 1 {
                let target = &rows[(i * 7 % labels) * dim..][..dim];
                q.iter_mut()
                    .zip(target)
                    .for_each(|(x, t)| *x = 0.95 * *x + 0.31 * t);
                normalize(&mut q);
            }
            let want = m.top_k::<1>(Rows::F32(&rows), &q).unwrap()[0].label;
            counts[0] +=
                usize::from(m.top_k::<1>(Rows::F16(&halves), &q).unwrap()[0].label == want);
            counts[1] += usize::from(m.top_k::<1>(int8, &q).unwrap()[0].label == want);
        }
    }
    eprintln!(
        "top-1 agreement of {n}: noise f16 {} int8 {}; planted f16 {} int8 {}",
        agree[0][0], agree[0][1], agree[1][0], agree[1][1]
    );
    assert_eq!(agree[1], [n, n], "planted queries must always agree");
    assert!(
        agree[0][1] * 1000 >= n * 970,
        "noise queries: int8 agreement {}",
        agree[0][1]
    );
}
