//! The int8 product's epilogue in one pass: `acc as f32 * scale (+ bias)`.
//!
//! After each int8 weight product the graph converts the i32 accumulators to
//! f32 (`Cast`), multiplies by the activation scale times the weight scale and
//! adds the layer's bias. tract's i32 kernels cannot store f32, so it runs the
//! cast as one full pass over the output and the multiply-add as another
//! (measured: the casts alone were 4.6% of a ViT-B/16 int8 image encode).
//! This does both in one pass, in the same order of operations (`x * s + b`,
//! no fused multiply-add), so the values are those of the three operators.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// `out[.., n] = acc[.., n] as f32 * scale + bias[n]` (inputs: i32 `acc`,
/// f32 `scale` of one element, and with `bias`, an f32 row as long as the
/// last axis).
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct DequantizeAffine {
    /// Whether a third input adds a bias per last-axis position.
    pub bias: bool,
}

impl Op for DequantizeAffine {
    fn name(&self) -> StaticName {
        "EdgeclipDequantizeAffine".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("bias: {}", self.bias)])
    }

    op_as_typed_op!();
}

impl EvalOp for DequantizeAffine {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let acc = inputs[0].try_as_plain_ram()?;
        let acc = acc.as_slice::<i32>()?;
        let scale = inputs[1].cast_to_scalar::<f32>()?;
        let row = *inputs[0].shape().last().context("dequantize a scalar")?;
        let mut out = Tensor::zero::<f32>(inputs[0].shape())?;
        {
            let mut plain = out.try_as_plain_ram_mut()?;
            let out = plain.as_slice_mut::<f32>()?;
            if self.bias {
                let bias = inputs[2].try_as_plain_ram()?;
                let bias = bias.as_slice::<f32>()?;
                ensure!(
                    bias.len() == row,
                    "bias of {} for rows of {row}",
                    bias.len()
                );
                for (o, a) in out.chunks_exact_mut(row).zip(acc.chunks_exact(row)) {
                    dequantize_row(a, scale, Some(bias), o);
                }
            } else {
                dequantize_row(acc, scale, None, out);
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DequantizeAffine {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == i32::datum_type());
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// One row (or, without bias, the whole tensor): loops the compiler vectorises.
pub fn dequantize_row(acc: &[i32], scale: f32, bias: Option<&[f32]>, out: &mut [f32]) {
    match bias {
        Some(bias) => {
            for ((o, &a), &b) in out.iter_mut().zip(acc).zip(bias) {
                *o = a as f32 * scale + b;
            }
        }
        None => {
            for (o, &a) in out.iter_mut().zip(acc) {
                *o = a as f32 * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Bit for bit what Cast, Mul and Add give one after the other.
        #[test]
        fn equals_cast_then_multiply_then_add(
            acc in prop::collection::vec(any::<i32>(), 1..100),
            scale in -1e-2f32..1e-2,
            bias_value in -3f32..3.0,
        ) {
            let bias: Vec<f32> = (0..acc.len()).map(|i| bias_value + i as f32 * 0.25).collect();
            let mut out = vec![0f32; acc.len()];
            dequantize_row(&acc, scale, Some(&bias), &mut out);
            for i in 0..acc.len() {
                let cast = acc[i] as f32;
                let scaled = cast * scale;
                prop_assert_eq!(out[i].to_bits(), (scaled + bias[i]).to_bits());
            }
            dequantize_row(&acc, scale, None, &mut out);
            for i in 0..acc.len() {
                prop_assert_eq!(out[i].to_bits(), (acc[i] as f32 * scale).to_bits());
            }
        }
    }
}
