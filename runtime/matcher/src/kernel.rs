//! Dot products of one stored row with the frame's query, one kernel per row type.
//!
//! All kernels are plain Rust written so that LLVM vectorizes them without fast-math:
//! float sums keep `LANES` independent accumulators in a fixed-size array (each lane is
//! its own exact IEEE sum, so the vectorizer needs no reassociation licence), and the
//! integer kernel is a plain `sum()` (integer addition is associative, so LLVM may
//! reorder it freely). What the x86-64 (SSE2 baseline) assembly showed:
//!
//! - [`dot_f32`]: the 16-lane body is four `mulps` + four `addps` on xmm registers
//!   per 16 values, no scalar code in the loop.
//! - [`dot_f16`]: the bit-level widening ([`f16_bits_to_f32`]) becomes `pand`/`pslld`/
//!   `paddd`/`pcmpgtd`/`cvtdq2ps`/`mulps` plus and/andn/or blends, four values per
//!   instruction, no branches and no calls in the loop.
//! - [`dot_i8_i16`]: the block sum becomes `pmaddwd` (sign-extended row times query,
//!   adjacent pairs summed into i32) with `paddd`, 8 values per instruction.
//!
//! Measured speeds and the choices they led to are in `benches/match.rs` and the
//! crate's README section of the docs ([`crate`]).

use half::f16;

/// Independent accumulators per float kernel: 16 f32 lanes are four SSE registers or
/// two AVX registers, enough to hide add latency without spilling.
const LANES: usize = 16;

/// Values per int8 block summed in `i32`: `512 × 128 × 32767 < 2³¹`, so a block of
/// i8 × i16 products cannot overflow; blocks are then added in `i64`.
const I8_BLOCK: usize = 512;

/// Largest magnitude of a quantized query value.
const Q16_MAX: f32 = 32767.0;

/// Adds the lanes pairwise, which keeps the rounding error of the final sum at
/// `log2(LANES)` additions instead of `LANES`.
#[inline(always)]
fn reduce(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for i in 0..width {
            acc[i] += acc[i + width];
        }
        width /= 2;
    }
    acc[0]
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = [0f32; LANES];
    for (x, y) in ac.zip(bc) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    reduce(acc) + tail
}

/// Widens one IEEE half (as bits) to f32 exactly, subnormals, infinities and NaN
/// included, with selects instead of branches so a loop over it vectorizes.
#[inline(always)]
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let mag = u32::from(h & 0x7fff);
    // Normal numbers: move exponent and mantissa into place and rebias 15 → 127.
    let normal = f32::from_bits((mag << 13) + ((127 - 15) << 23));
    // Subnormals are `mantissa × 2⁻²⁴`; an integer conversion does that exactly and
    // never feeds a subnormal f32 to the FPU (slow on some cores).
    let subnormal = mag as f32 * f32::from_bits((127 - 24) << 23);
    let finite = if mag < 0x0400 { subnormal } else { normal };
    let value = if mag >= 0x7c00 {
        f32::from_bits((mag << 13) | 0x7f80_0000)
    } else {
        finite
    };
    f32::from_bits(value.to_bits() | sign)
}

/// `Σ f32(row[i])·q[i]` over the common length, widening halves in registers.
#[inline]
pub fn dot_f16(row: &[f16], q: &[f32]) -> f32 {
    let n = row.len().min(q.len());
    let row: &[u16] = half::slice::HalfFloatSliceExt::reinterpret_cast(&row[..n]);
    let q = &q[..n];
    let (rc, qc) = (row.chunks_exact(LANES), q.chunks_exact(LANES));
    let tail: f32 = rc
        .remainder()
        .iter()
        .zip(qc.remainder())
        .map(|(&h, y)| f16_bits_to_f32(h) * y)
        .sum();
    let mut acc = [0f32; LANES];
    for (x, y) in rc.zip(qc) {
        for i in 0..LANES {
            acc[i] += f16_bits_to_f32(x[i]) * y[i];
        }
    }
    reduce(acc) + tail
}

/// Like [`dot_f16`], but widening through `half`'s slice conversion (F16C when the
/// CPU has it, detected at run time) into a stack buffer, 64 values at a time.
/// Kept for the benchmark's comparison: see the crate docs for why it lost.
#[inline]
pub fn dot_f16_via_half(row: &[f16], q: &[f32]) -> f32 {
    use half::slice::HalfFloatSliceExt;
    const CHUNK: usize = 64;
    let n = row.len().min(q.len());
    let mut buf = [0f32; CHUNK];
    let mut sum = 0.0;
    for (r, y) in row[..n].chunks(CHUNK).zip(q[..n].chunks(CHUNK)) {
        let buf = &mut buf[..r.len()];
        r.convert_to_f32_slice(buf);
        sum += dot_f32(buf, y);
    }
    sum
}

/// `Σ f32(row[i])·q[i]`: int8 row dequantized on the fly against the f32 query (the
/// row's scale is applied by the caller). Kept for the benchmark's comparison with
/// [`dot_i8_i16`].
#[inline]
pub fn dot_i8_f32(row: &[i8], q: &[f32]) -> f32 {
    let n = row.len().min(q.len());
    let (row, q) = (&row[..n], &q[..n]);
    let (rc, qc) = (row.chunks_exact(LANES), q.chunks_exact(LANES));
    let tail: f32 = rc
        .remainder()
        .iter()
        .zip(qc.remainder())
        .map(|(&x, y)| f32::from(x) * y)
        .sum();
    let mut acc = [0f32; LANES];
    for (x, y) in rc.zip(qc) {
        for i in 0..LANES {
            acc[i] += f32::from(x[i]) * y[i];
        }
    }
    reduce(acc) + tail
}

/// Quantizes the query once per frame for [`dot_i8_i16`]: `q ≈ out · scale`,
/// symmetric, 16 bits. Returns `scale` (0 for an all-zero query).
///
/// 16 rather than 8 bits because the query's rounding then costs about 5·10⁻⁶ of
/// cosine instead of 10⁻³, while the dot product stays one `pmaddwd` per 8 values.
pub fn quantize_query_i16(q: &[f32], out: &mut [i16]) -> f32 {
    let max = q.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        out.iter_mut().for_each(|o| *o = 0);
        return if max == 0.0 { 0.0 } else { f32::NAN };
    }
    let inv = Q16_MAX / max;
    for (o, x) in out.iter_mut().zip(q) {
        // `as` saturates, and |x·inv| ≤ 32767 by construction.
        *o = (x * inv).round() as i16;
    }
    max / Q16_MAX
}

/// `Σ row[i]·q[i]` exactly, for an int8 row and a query from [`quantize_query_i16`].
#[inline]
pub fn dot_i8_i16(row: &[i8], q: &[i16]) -> i64 {
    let n = row.len().min(q.len());
    row[..n]
        .chunks(I8_BLOCK)
        .zip(q[..n].chunks(I8_BLOCK))
        .map(|(r, q)| {
            let block: i32 = r
                .iter()
                .zip(q)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
            i64::from(block)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(a: impl Iterator<Item = f64>, b: &[f32]) -> f64 {
        a.zip(b).map(|(x, &y)| x * f64::from(y)).sum()
    }

    /// Worst-case f32 rounding of a dot product, with room for the lane reduction:
    /// `n·ε·Σ|a·b|` (the classic bound), ε = 2⁻²⁴.
    fn bound(a: impl Iterator<Item = f64>, b: &[f32]) -> f64 {
        let n = b.len() as f64 + 1.0;
        let abs: f64 = a.zip(b).map(|(x, &y)| (x * f64::from(y)).abs()).sum();
        n * f64::from(f32::EPSILON) / 2.0 * abs + 1e-30
    }

    fn pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (0usize..300).prop_flat_map(|n| {
            (
                proptest::collection::vec(-1f32..1.0, n),
                proptest::collection::vec(-1f32..1.0, n),
            )
        })
    }

    #[test]
    fn f16_widening_is_exact_for_every_half() {
        for bits in 0..=u16::MAX {
            let want = f16::from_bits(bits).to_f32();
            let got = f16_bits_to_f32(bits);
            if want.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
            }
        }
    }

    #[test]
    fn i8_blocks_cannot_overflow() {
        let row = vec![-128i8; 3 * I8_BLOCK + 7];
        let q = vec![-32767i16; row.len()];
        assert_eq!(dot_i8_i16(&row, &q), row.len() as i64 * 128 * 32767);
    }

    #[test]
    fn zero_query_quantizes_to_zero() {
        let mut out = [1i16; 4];
        assert_eq!(quantize_query_i16(&[0.0; 4], &mut out), 0.0);
        assert_eq!(out, [0; 4]);
    }

    proptest! {
        #[test]
        fn f32_matches_f64((a, b) in pair()) {
            let a64 = || a.iter().map(|&x| f64::from(x));
            let got = f64::from(dot_f32(&a, &b));
            prop_assert!((got - reference(a64(), &b)).abs() <= bound(a64(), &b));
        }

        #[test]
        fn f16_matches_f64((a, b) in pair()) {
            let h: Vec<f16> = a.iter().map(|&x| f16::from_f32(x)).collect();
            let h64 = || h.iter().map(|x| f64::from(x.to_f32()));
            let want = reference(h64(), &b);
            let tol = bound(h64(), &b);
            prop_assert!((f64::from(dot_f16(&h, &b)) - want).abs() <= tol);
            prop_assert!((f64::from(dot_f16_via_half(&h, &b)) - want).abs() <= tol);
        }

        #[test]
        fn i8_f32_matches_f64(
            (r, b) in (0usize..300).prop_flat_map(|n| (
                proptest::collection::vec(any::<i8>(), n),
                proptest::collection::vec(-1f32..1.0, n),
            ))
        ) {
            let r64 = || r.iter().map(|&x| f64::from(x));
            let got = f64::from(dot_i8_f32(&r, &b));
            prop_assert!((got - reference(r64(), &b)).abs() <= bound(r64(), &b));
        }

        /// The only error is the query's rounding: at most half a step per value, so
        /// `|err| ≤ ½·step·Σ|row|` (plus f32 rounding of the final product).
        #[test]
        fn i8_i16_matches_f64(
            (r, b) in (0usize..1200).prop_flat_map(|n| (
                proptest::collection::vec(any::<i8>(), n),
                proptest::collection::vec(-1f32..1.0, n),
            ))
        ) {
            let mut q = vec![0i16; b.len()];
            let scale = quantize_query_i16(&b, &mut q);
            let got = dot_i8_i16(&r, &q) as f64 * f64::from(scale);
            let want = reference(r.iter().map(|&x| f64::from(x)), &b);
            let l1: f64 = r.iter().map(|&x| f64::from(x).abs()).sum();
            let tol = 0.5 * f64::from(scale) * l1 * (1.0 + 1e-6) + 1e-6 * want.abs() + 1e-30;
            prop_assert!((got - want).abs() <= tol, "got {got}, want {want}, tol {tol}");
        }
    }
}
