//! Softmax over the last axis of an f32 tensor, for attention's short rows.
//!
//! Attention rows are as long as the token count (50 at ViT-B/32, 65 and 77 in
//! the default model), which is not a multiple of 4, so tract 0.23 takes its
//! general path: three library kernel calls per row, each padding the row into
//! an aligned buffer. Measured: ~12 ns per element, a fifth of the default
//! model's int8 encode. Here each row is one pass for the maximum, one for
//! `exp(x - max)` and its sum and one for the scale, in fixed-width lanes the
//! compiler vectorises, with an exponential accurate to about 2 ulp (the
//! Cephes polynomial), and rows spread over tract's pool when there are many.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// Lanes per step (see [`super::quantize`]).
const LANES: usize = 8;

/// Elements per thread below which threading costs more than it saves.
const PER_THREAD: usize = 128 * 1024;

/// Softmax of every row of the last axis (f32, contiguous).
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct RowSoftmax;

impl Op for RowSoftmax {
    fn name(&self) -> StaticName {
        "EdgeclipRowSoftmax".into()
    }

    op_as_typed_op!();
}

impl EvalOp for RowSoftmax {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut tensor = inputs[0].clone().into_tensor();
        let row = *tensor.shape().last().context("softmax of a scalar")?;
        if row == 0 {
            return Ok(tvec!(tensor.into_tvalue()));
        }
        {
            let mut plain = tensor.try_as_plain_ram_mut()?;
            let data = plain.as_slice_mut::<f32>()?;
            let rows = data.len() / row;
            let threads = match tract_linalg::multithread::current_tract_executor() {
                tract_linalg::multithread::Executor::MultiThread(pool) => Some(pool)
                    .filter(|p| p.current_num_threads() > 1 && data.len() >= 2 * PER_THREAD),
                _ => None,
            };
            match threads {
                Some(pool) => {
                    use rayon::prelude::*;
                    let per = rows.div_ceil(pool.current_num_threads()) * row;
                    pool.install(|| {
                        data.par_chunks_mut(per)
                            .for_each(|c| c.chunks_exact_mut(row).for_each(softmax_row))
                    });
                }
                None => data.chunks_exact_mut(row).for_each(softmax_row),
            }
        }
        Ok(tvec!(tensor.into_tvalue()))
    }
}

impl TypedOp for RowSoftmax {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(
            inputs[0].datum_type == f32::datum_type(),
            "RowSoftmax is f32 only"
        );
        Ok(tvec!(inputs[0].without_value()))
    }

    as_op!();
}

/// `row[i] = exp(row[i] - max) / sum_j exp(row[j] - max)`.
pub fn softmax_row(row: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            lanes[i] = if c[i] > lanes[i] { c[i] } else { lanes[i] };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(f32::NEG_INFINITY, |m, &x| if x > m { x } else { m });
    // Separate map and sum loops: the exponential vectorises only on its own.
    for x in row.iter_mut() {
        *x = exp(*x - max);
    }
    let mut sums = [0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for i in 0..LANES {
            sums[i] += c[i];
        }
    }
    let sum: f32 = sums.iter().chain(chunks.remainder()).sum();
    let inv = 1.0 / sum;
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// Rounds half to even without libm for |x| < 2^22 (see [`super::quantize`]).
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `e^x` to about 2 ulp on [-87.3, 88.37], 0 below (Cephes `expf`'s
/// range reduction and polynomial), in operations that vectorise.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOW: f32 = -87.336_55;
    // Above, 2^n would need the infinite exponent: saturate there (softmax
    // only ever asks for x <= 0).
    const HIGH: f32 = 88.37;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for the n that occur.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let clamped = if x > HIGH { HIGH } else { x };
    let clamped = if clamped < LOW { LOW } else { clamped };
    let shifted = clamped * LOG2E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    // n as an integer, from the mantissa bits (see `super::quantize`).
    let n_int = shifted.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let r = clamped - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n_int + 127) as u32) << 23);
    if x < LOW {
        0.0
    } else {
        y * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_3_ulp_over_its_range() {
        let mut worst = 0;
        let mut x = -87.3f32;
        while x < 88.37 {
            worst = worst.max(ulps(exp(x), (x as f64).exp() as f32));
            x += 0.000_37;
        }
        assert!(worst <= 3, "worst error {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
    }

    #[test]
    fn masked_positions_get_zero_weight() {
        // The text tower's causal mask adds -inf to future positions.
        let mut row = vec![1.0, 2.0, f32::NEG_INFINITY, 0.5, f32::NEG_INFINITY];
        softmax_row(&mut row);
        assert_eq!(row[2], 0.0);
        assert_eq!(row[4], 0.0);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    proptest! {
        #[test]
        fn equals_softmax_in_f64(row in prop::collection::vec(-30f32..30.0, 1..200)) {
            let mut ours = row.clone();
            softmax_row(&mut ours);
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, |m, x| m.max(x as f64));
            let exps: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            for (a, e) in ours.iter().zip(&exps) {
                let want = e / sum;
                prop_assert!(((*a as f64) - want).abs() <= 1e-6 * want.max(1e-30) + 1e-12,
                    "{} vs {}", a, want);
            }
        }
    }
}
