//! Softmax over the last axis of an f32 tensor, for attention's short rows.
//!
//! Attention rows are as long as the token count (50 at ViT-B/32, 65 and 77 in
//! the default model), which is not a multiple of 4, so tract 0.23 takes its
//! general path: three library kernel calls per row, each padding the row into
//! an aligned buffer. Measured: ~12 ns per element, a fifth of the default
//! model's int8 encode. Here each row is one pass for the maximum, one for
//! `exp(x - max)` and its sum and one for the scale, in fixed-width lanes the
//! compiler vectorises, with the matcher's branch-free exponential
//! (`edgeclip_kernels::vector::exp_nonpositive`, relative error ≤ 3·10⁻⁷), and rows
//! spread over tract's pool when there are many.

use edgeclip_kernels::vector::exp_nonpositive;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// Lanes per step: fixed-width arrays the compiler keeps in SIMD registers.
const LANES: usize = 8;

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
            match super::pool_for(data.len(), super::PER_THREAD) {
                Some((pool, threads)) => {
                    use rayon::prelude::*;
                    let per = (data.len() / row).div_ceil(threads) * row;
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
    // Below -87 a weight is under 2^-125 of the largest (1): it is 0 here, so
    // positions masked with -inf get none.
    for x in row.iter_mut() {
        let d = *x - max;
        *x = if d < -87.0 { 0.0 } else { exp_nonpositive(d) };
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
