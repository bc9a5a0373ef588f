//! ONNX `DynamicQuantizeLinear`, vectorisable and threaded.
//!
//! tract's implementation is one scalar pass per element (a division and a
//! libm rounding call each), single-threaded: at ViT-B/32 width it was a
//! quarter of an int8 image encode. This computes exactly the same bytes: the
//! range always includes 0, `scale = (max - min) / 255`, the zero point is
//! `-min / scale` rounded half to even and clamped to `[0, 255]`, and each
//! element is `x / scale` rounded half to even plus the zero point, clamped.
//! What changes is the shape of the loops: fixed-width lane arrays the compiler
//! turns into SIMD min/max, division and rounding, and chunks spread over
//! tract's thread pool above a size where that pays.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// Lanes per step: two AVX registers, four SSE/NEON ones.
const LANES: usize = 16;

/// Adding and subtracting 1.5 * 2^23 rounds an f32 of magnitude below 2^22 to
/// an integer, half to even (the FPU's default rounding), without a libm call.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `DynamicQuantizeLinear` with u8 output: outputs the quantized tensor, its
/// scale and its zero point, byte for byte what the ONNX operator defines.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
pub struct DynamicQuantize;

impl Op for DynamicQuantize {
    fn name(&self) -> StaticName {
        "EdgeclipDynamicQuantize".into()
    }

    op_as_typed_op!();
}

impl EvalOp for DynamicQuantize {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = inputs[0].cast_to::<f32>()?;
        let xs = input.try_as_plain_ram()?;
        let xs = xs.as_slice::<f32>()?;
        let pool = super::pool_for(xs.len(), super::PER_THREAD);
        let (min, max) = min_max_par(xs, pool.as_ref());
        let (scale, zero_point) = scale_and_zero_point(min, max);
        let mut out = Tensor::zero_dt(u8::datum_type(), input.shape())?;
        {
            let mut plain = out.try_as_plain_ram_mut()?;
            let ys = plain.as_slice_mut::<u8>()?;
            quantize_par(xs, ys, scale, zero_point, pool.as_ref());
        }
        Ok(tvec!(
            out.into_tvalue(),
            tensor0(scale).into_tvalue(),
            tensor0(zero_point).into_tvalue()
        ))
    }
}

impl TypedOp for DynamicQuantize {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut quantized = inputs[0].clone();
        quantized.datum_type = u8::datum_type();
        quantized.konst = None;
        Ok(tvec!(
            quantized,
            f32::fact([0usize; 0]),
            u8::fact([0usize; 0])
        ))
    }

    as_op!();
}

fn min_max_par(xs: &[f32], pool: Option<&(Arc<rayon::ThreadPool>, usize)>) -> (f32, f32) {
    use rayon::prelude::*;
    let Some((pool, threads)) = pool else {
        return min_max(xs);
    };
    pool.install(|| {
        xs.par_chunks(xs.len().div_ceil(*threads))
            .map(min_max)
            .reduce(|| (0.0, 0.0), |a, b| (lesser(a.0, b.0), greater(a.1, b.1)))
    })
}

fn quantize_par(
    xs: &[f32],
    ys: &mut [u8],
    scale: f32,
    zero_point: u8,
    pool: Option<&(Arc<rayon::ThreadPool>, usize)>,
) {
    use rayon::prelude::*;
    let Some((pool, threads)) = pool else {
        return quantize(xs, ys, scale, zero_point);
    };
    let chunk = xs.len().div_ceil(*threads);
    pool.install(|| {
        xs.par_chunks(chunk)
            .zip(ys.par_chunks_mut(chunk))
            .for_each(|(x, y)| quantize(x, y, scale, zero_point))
    });
}

/// `b` where it is below `a`; NaN never replaces a value (as tract's fold).
#[inline(always)]
fn lesser(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

#[inline(always)]
fn greater(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// The smallest and largest value of `xs`, each extended to include 0.
pub fn min_max(xs: &[f32]) -> (f32, f32) {
    let mut lo = [0f32; LANES];
    let mut hi = [0f32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for chunk in &mut chunks {
        for i in 0..LANES {
            lo[i] = lesser(lo[i], chunk[i]);
            hi[i] = greater(hi[i], chunk[i]);
        }
    }
    let mut min = 0f32;
    let mut max = 0f32;
    for &x in chunks.remainder().iter().chain(&lo) {
        min = lesser(min, x);
    }
    for &x in chunks.remainder().iter().chain(&hi) {
        max = greater(max, x);
    }
    (min, max)
}

/// The ONNX operator's scale and zero point for a range that includes 0.
pub fn scale_and_zero_point(min: f32, max: f32) -> (f32, u8) {
    let scale = (max - min) / 255.0;
    let zero_point = (-min / scale).round_ties_even().clamp(0.0, 255.0);
    // `clamp` keeps NaN (a zero range): tract's `max`/`min` turn it into 0.
    let zero_point = if zero_point.is_nan() { 0.0 } else { zero_point };
    (scale, zero_point as u8)
}

/// `ys[i] = clamp(round_half_even(xs[i] / scale) + zero_point, 0, 255)`.
pub fn quantize(xs: &[f32], ys: &mut [u8], scale: f32, zero_point: u8) {
    let zp = zero_point as i32;
    let mut xc = xs.chunks_exact(LANES);
    let mut yc = ys.chunks_exact_mut(LANES);
    for (x, y) in (&mut xc).zip(&mut yc) {
        for i in 0..LANES {
            y[i] = quantize_one(x[i], scale, zp);
        }
    }
    for (x, y) in xc.remainder().iter().zip(yc.into_remainder()) {
        *y = quantize_one(*x, scale, zp);
    }
}

#[inline(always)]
fn quantize_one(x: f32, scale: f32, zero_point: i32) -> u8 {
    let q = x / scale;
    // Out-of-range values saturate at the end whatever their exact rounding;
    // bounding them keeps the rounding trick exact. NaN passes `clamp`.
    let q = q.clamp(-512.0, 512.0);
    // The integer sits in the low mantissa bits of `q + ROUND_MAGIC`: read it
    // with integer arithmetic (a float-to-int cast does not vectorise on SSE2).
    let rounded = (q + ROUND_MAGIC).to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    // NaN quantizes to the zero point, as the float-to-int cast makes it.
    let rounded = if q.is_nan() { 0 } else { rounded };
    (rounded + zero_point).clamp(0, 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The operator as ONNX's reference writes it, element by element.
    fn reference(xs: &[f32]) -> (Vec<u8>, f32, u8) {
        let (min, max) = xs.iter().fold((0f32, 0f32), |(lo, hi), &x| {
            (if x < lo { x } else { lo }, if x > hi { x } else { hi })
        });
        let scale = (max - min) / 255.0;
        // `max`/`min`, not `clamp`: they turn NaN into 0 as tract's code does.
        #[allow(clippy::manual_clamp)]
        let zp = (-min / scale).round_ties_even().max(0.0).min(255.0) as u8;
        let ys = xs
            .iter()
            .map(|x| (((x / scale).round_ties_even() as i32) + zp as i32).clamp(0, 255) as u8)
            .collect();
        (ys, scale, zp)
    }

    fn ours(xs: &[f32]) -> (Vec<u8>, f32, u8) {
        let (min, max) = min_max(xs);
        let (scale, zp) = scale_and_zero_point(min, max);
        let mut ys = vec![0u8; xs.len()];
        quantize(xs, &mut ys, scale, zp);
        (ys, scale, zp)
    }

    #[test]
    fn matches_the_onnx_example() {
        // The example in ONNX's operator documentation.
        let xs = [0.0, 2.0, -3.0, -2.5, 1.34, 0.5];
        let (ys, scale, zp) = ours(&xs);
        assert_eq!(zp, 153);
        assert!((scale - 0.019_607_844).abs() < 1e-9);
        assert_eq!(ys, [153, 255, 0, 26, 221, 179]);
    }

    #[test]
    fn ties_round_to_even() {
        // scale 1 (range [0, 255]): 2.5 -> 2, 3.5 -> 4, 0.5 -> 0.
        let mut xs = vec![255.0, 2.5, 3.5, 0.5, 254.5];
        xs.resize(40, 1.5);
        let (ys, scale, _) = ours(&xs);
        assert_eq!(scale, 1.0);
        assert_eq!(&ys[..5], &[255, 2, 4, 0, 254]);
        assert!(ys[5..].iter().all(|&y| y == 2));
    }

    #[test]
    fn degenerate_inputs_match_the_reference() {
        for xs in [
            vec![0.0f32; 37],
            vec![f32::NAN, 1.0, -1.0],
            vec![1e-44, 0.0, 3e-45],
            vec![f32::INFINITY, 1.0],
        ] {
            let (a, sa, za) = ours(&xs);
            let (b, sb, zb) = reference(&xs);
            assert_eq!((a, za), (b, zb), "{xs:?}");
            assert!(sa == sb || (sa.is_nan() && sb.is_nan()), "{xs:?}");
        }
    }

    proptest! {
        #[test]
        fn equals_the_reference(xs in prop::collection::vec(-1e4f32..1e4, 1..300)) {
            prop_assert_eq!(ours(&xs), reference(&xs));
        }

        #[test]
        fn equals_the_reference_on_small_ranges(
            xs in prop::collection::vec(-1e-3f32..3e-3, 1..100)
        ) {
            prop_assert_eq!(ours(&xs), reference(&xs));
        }
    }
}
