//! Dot products of stored rows with the frame's query, one kernel per row type, the
//! exponentials of the softmaxes, and the alternatives that were measured against them.
//!
//! The kernels are plain Rust written so that LLVM vectorizes them without fast-math:
//! float sums keep `LANES` independent accumulators in a fixed-size array (each lane is
//! its own exact IEEE sum, so no reassociation licence is needed) and the integer
//! kernel is a plain `sum()` (integer addition is associative, LLVM may reorder it).
//! Each whole-set function (`scores_*`) exists twice from one body (`multiversion!`):
//! the baseline-target copy (`*_portable`; SSE2 on x86-64, NEON on aarch64) and, on
//! x86-64, an AVX2 copy chosen at run time.
//!
//! What the x86-64 assembly showed (`cargo rustc --release -p edgeclip-match --lib --
//! --emit asm`, when this module was the matcher's `kernel`):
//!
//! - f32: the AVX2 loop is `vmulps` + `vaddps` into four ymm accumulators, the SSE2
//!   one `mulps`/`addps` into xmm registers. How the lanes are summed afterwards
//!   decides that: see `reduce`.
//! - f16: [`f16_bits_to_f32`] vectorizes (`vpmovzxwd`, `vpslld`, `vcvtdq2ps`,
//!   `vblendvps`…), ~16 instructions per 8 values; `half`'s slice conversion stays an
//!   out-of-line call per 8 values. F16C's `vcvtph2ps` (one instruction per 8 values,
//!   measured 2× faster at 100k rows) needs intrinsics, and this module keeps to safe code.
//! - int8: the block sum of [`dot_i8_i16`] becomes `vpmovsxbw` + `vpmaddwd` + `vpaddd`
//!   (SSE2: `punpcklbw`/`psraw` + `pmaddwd`).
//!
//! Measured on this project's x86-64 dev machine (AMD EPYC, 2 cores shared with other
//! builds, read bandwidth ~24 GB/s), 512-d rows, whole-set scoring without top-k,
//! criterion medians (`cargo bench -p edgeclip-match -- kernel/`, which runs these):
//!
//! | kernel | 1k rows | 100k rows |
//! |---|---|---|
//! | f32, portable (SSE2) / AVX2 | 49 / **34 µs** | 10.0 / **9.5 ms** |
//! | **f16 bits**, portable / AVX2 | 266 / **116 µs** | 26.9 / **11.9 ms** |
//! | f16 via `half` slices | 241 µs | 25.5 ms |
//! | f16 F16C intrinsic (not kept: needs `unsafe`) | 28 µs | 5.6 ms |
//! | int8 dequantized to f32, portable / AVX2 | 93 / 35 µs | 9.4 / 4.1 ms |
//! | **int8 × i16 query**, portable / AVX2 | 73 / **22 µs** | 7.5 / **3.1 ms** |
//!
//! At 100k rows the chosen kernels read 17–22 GB/s, close to the machine's read
//! bandwidth; 1k rows (≤ 2 MB) are served from cache.

use half::f16;

/// Independent accumulators per float kernel: 32 f32 lanes are eight SSE registers
/// or four AVX registers: enough independent add chains to cover the add latency
/// (two chains would stall on it) without running out of registers.
const LANES: usize = 32;

/// Values per int8 block summed in `i32`: `512 × 128 × 32767 < 2³¹`, so a block of
/// i8 × i16 products cannot overflow; blocks are then added in `i64`.
const I8_BLOCK: usize = 512;

/// Largest magnitude of a quantized query value.
const Q16_MAX: f32 = 32767.0;

/// Adds the lanes as a tree. Out of line on purpose: inlined, the reduction steered
/// LLVM's SLP vectorizer (a tree made it pair lanes and fall back to 2-wide `movsd`
/// loads in the main loop; an in-order sum kept the loop wide but cost ~32 dependent
/// `addss` per row, the bottleneck for rows in cache). A call per row lets both the
/// main loop and this tree vectorize; measured 15–20% faster at 1k rows.
#[inline(never)]
fn reduce(acc: &[f32; LANES]) -> f32 {
    let mut s = [0f32; 8];
    for (i, s) in s.iter_mut().enumerate() {
        *s = (acc[i] + acc[i + 8]) + (acc[i + 16] + acc[i + 24]);
    }
    ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

/// `Σ a[i]·b[i]` over the common length of `a` and `b`.
#[inline(always)]
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
    reduce(&acc) + tail
}

/// The Euclidean norm of `v`, summed in f64: no overflow for any finite f32 input,
/// and one order of summation, so the same bits on every ISA.
pub fn l2_norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// Scales `row` to unit L2 norm in place: each value divided by [`l2_norm`] in f64
/// and rounded once. The one normalisation of the project, so that a stored label
/// row and a query embedding of the same vector are the same bits. A row with a
/// non-finite value or a zero norm has no direction: it is left as it is and the
/// norm returned as the error (NaN for a non-finite value).
pub fn normalize_l2(row: &mut [f32]) -> Result<(), f64> {
    let norm = l2_norm(row);
    if !(norm.is_finite() && norm > 0.0) {
        return Err(norm);
    }
    row.iter_mut()
        .for_each(|v| *v = (f64::from(*v) / norm) as f32);
    Ok(())
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
#[inline(always)]
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
    reduce(&acc) + tail
}

/// Like [`dot_f16`], but widening through `half`'s slice conversion (F16C when the
/// CPU has it, detected at run time) into a stack buffer, 64 values at a time.
/// Kept for the benchmark's comparison: see the module docs for why it lost.
#[inline(always)]
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
#[inline(always)]
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
    reduce(&acc) + tail
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
    // Adding 1.5·2²³ rounds to nearest (ties to even) and leaves the integer in the
    // low mantissa bits: plain float and integer adds, so this loop vectorizes where
    // `round()` is a libm call per value (SSE2) and `as i16` a scalar conversion.
    const MAGIC: f32 = 12_582_912.0;
    let inv = Q16_MAX / max;
    for (o, x) in out.iter_mut().zip(q) {
        // |x·inv| ≤ 32767 by construction, so the difference fits in i16.
        *o = ((x * inv + MAGIC).to_bits() as i32 - MAGIC.to_bits() as i32) as i16;
    }
    max / Q16_MAX
}

/// `Σ row[i]·q[i]` exactly, for an int8 row and a query from [`quantize_query_i16`].
#[inline(always)]
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

/// Defines a whole-set scoring function twice from one body: `$portable`, compiled
/// for the build's baseline target (SSE2 on x86-64, NEON on aarch64), and `$name`,
/// which the `multiversion` crate also compiles for AVX2 + FMA and picks at run time
/// (the CPU check is cached) on x86-64 CPUs that have them.
///
/// The kernels are `#[inline(always)]`, so they are compiled into each copy with that
/// copy's features; the source stays plain Rust with no intrinsics and no `unsafe`.
macro_rules! multiversion {
    ($(#[$doc:meta])* pub fn $name:ident / $portable:ident ($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        #[multiversion::multiversion(targets("x86_64+avx2+fma"))]
        pub fn $name($($arg: $ty),*) $(-> $ret)? $body

        // Not `#[inline]`: compiled here, once, as every caller gets it. (Inlined into
        // the benchmark's closures, the same body ran 4–7× slower than this copy.)
        #[doc = concat!("[`", stringify!($name), "`] compiled for the baseline target only (no run-time dispatch).")]
        pub fn $portable($($arg: $ty),*) $(-> $ret)? $body
    };
}

multiversion! {
    /// `out[i] = scale · (rows[i] · q)` for f32 rows of `q.len()` values.
    pub fn scores_f32 / scores_f32_portable(rows: &[f32], q: &[f32], scale: f32, out: &mut [f32]) {
        if q.is_empty() {
            out.fill(0.0);
            return;
        }
        for (row, o) in rows.chunks_exact(q.len()).zip(out) {
            *o = scale * dot_f32(row, q);
        }
    }
}

multiversion! {
    /// `out[i] = scale · (rows[i] · q)` for f16 rows, widened with [`f16_bits_to_f32`].
    pub fn scores_f16 / scores_f16_portable(rows: &[f16], q: &[f32], scale: f32, out: &mut [f32]) {
        if q.is_empty() {
            out.fill(0.0);
            return;
        }
        for (row, o) in rows.chunks_exact(q.len()).zip(out) {
            *o = scale * dot_f16(row, q);
        }
    }
}

/// [`scores_f16`] widening through `half`'s slice conversion instead (measured, not
/// used: `half` converts 8 values per out-of-line call, which cannot inline here).
pub fn scores_f16_via_half(rows: &[f16], q: &[f32], scale: f32, out: &mut [f32]) {
    if q.is_empty() {
        out.fill(0.0);
        return;
    }
    for (row, o) in rows.chunks_exact(q.len()).zip(out) {
        *o = scale * dot_f16_via_half(row, q);
    }
}

multiversion! {
    /// `out[i] = scale · scales[i] · (values[i] · q)` for int8 rows dequantized on
    /// the fly against the f32 query.
    pub fn scores_i8_f32 / scores_i8_f32_portable(values: &[i8], scales: &[f32], q: &[f32], scale: f32, out: &mut [f32]) {
        if q.is_empty() {
            out.fill(0.0);
            return;
        }
        for ((row, &s), o) in values.chunks_exact(q.len()).zip(scales).zip(out) {
            *o = dot_i8_f32(row, q) * (s * scale);
        }
    }
}

multiversion! {
    /// `out[i] = scale · scales[i] · (values[i] · q)` for int8 rows, through a
    /// 16-bit quantized query (`q16`: scratch of `q.len()`) and exact integer dots.
    pub fn scores_i8 / scores_i8_portable(values: &[i8], scales: &[f32], q: &[f32], q16: &mut [i16], scale: f32, out: &mut [f32]) {
        if q.is_empty() {
            out.fill(0.0);
            return;
        }
        let frame = scale * quantize_query_i16(q, q16);
        for ((row, &s), o) in values.chunks_exact(q.len()).zip(scales).zip(out) {
            *o = dot_i8_i16(row, q16) as f32 * (s * frame);
        }
    }
}

/// `exp(x)` for `x ≤ 0`, branch-free so a loop over it vectorizes (std's `exp` is a
/// libm call per value). Cody–Waite reduction `x = n·ln2 + r`, `|r| ≤ ln2/2`, and a
/// degree-6 Taylor polynomial: relative error ≤ 3·10⁻⁷ (tested). Inputs below −87
/// (results under 2⁻¹²⁵) are raised to −87: for a softmax sum whose largest term
/// is 1 they are noise either way. NaN stays NaN.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split so n·LN2_HI is exact for |n| ≤ 2⁸.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let x = if x < -87.0 { -87.0 } else { x };
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let n_int = t.to_bits() as i32 - MAGIC.to_bits() as i32;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n_int + 127) as u32) << 23)
}

multiversion! {
    /// `Σ exp(l − max)` over `logits` (all `≤ max`): the softmax denominator.
    /// f32 lanes within blocks of 1024 values, blocks added in f64, so the rounding
    /// stays near `64·ε` relative however many labels there are.
    pub fn sum_exp_shifted / sum_exp_shifted_portable(logits: &[f32], max: f32) -> f64 {
        const EXP_LANES: usize = 16;
        let mut total = 0f64;
        for block in logits.chunks(1024) {
            let chunks = block.chunks_exact(EXP_LANES);
            let tail: f32 = chunks.remainder().iter().map(|&l| exp_nonpositive(l - max)).sum();
            let mut acc = [0f32; EXP_LANES];
            for c in chunks {
                for i in 0..EXP_LANES {
                    acc[i] += exp_nonpositive(c[i] - max);
                }
            }
            total += f64::from(acc.iter().sum::<f32>() + tail);
        }
        total
    }
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
    fn normalize_l2_gives_unit_rows_and_refuses_directionless_ones() {
        let mut row = [3.0f32, 4.0];
        normalize_l2(&mut row).unwrap();
        assert_eq!(row, [0.6, 0.8]);
        // Values whose squares overflow f32 still normalise.
        let mut big = [3.0 * 2f32.powi(100), 4.0 * 2f32.powi(100)];
        normalize_l2(&mut big).unwrap();
        assert_eq!(big, [0.6, 0.8]);
        let mut zero = [0.0f32; 3];
        assert_eq!(normalize_l2(&mut zero), Err(0.0));
        let mut nan = [1.0, f32::NAN];
        assert!(normalize_l2(&mut nan).unwrap_err().is_nan());
        assert!(nan[0] == 1.0, "a refused row is left as it was");
        let mut inf = [1.0, f32::INFINITY];
        assert!(normalize_l2(&mut inf).is_err());
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

    #[test]
    fn exp_nonpositive_matches_std() {
        let mut worst = 0f64;
        for k in 0..=200_000 {
            let x = -87.0 * k as f32 / 200_000.0;
            let want = f64::from(x).exp();
            let got = f64::from(exp_nonpositive(x));
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst <= 3e-7, "relative error {worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(f32::NEG_INFINITY) < 1e-37);
        assert!(exp_nonpositive(f32::NAN).is_nan());
    }

    #[test]
    fn sum_exp_matches_f64() {
        let logits: Vec<f32> = (0..100_003)
            .map(|i| ((i * 7919) % 1000) as f32 * -0.05)
            .collect();
        let want: f64 = logits.iter().map(|&l| f64::from(l).exp()).sum();
        for got in [
            sum_exp_shifted(&logits, 0.0),
            sum_exp_shifted_portable(&logits, 0.0),
        ] {
            assert!((got - want).abs() <= 2e-6 * want, "{got} vs {want}");
        }
    }

    /// Every whole-set function, dispatched and portable, against f64 on shapes
    /// that leave tails (dims not a multiple of the lane count).
    #[test]
    fn set_kernels_match_f64() {
        let mut runner = proptest::test_runner::TestRunner::default();
        let shape = (0usize..4, 0usize..100).prop_flat_map(|(rows, dim)| {
            (
                proptest::collection::vec(-1f32..1.0, rows * dim),
                proptest::collection::vec(-1f32..1.0, dim),
                proptest::collection::vec(0.001f32..0.01, rows),
            )
        });
        runner
            .run(&shape, |(rows, q, scales)| {
                let n = scales.len();
                let dim = q.len();
                let mut out = vec![f32::NAN; n];
                let halves: Vec<f16> = rows.iter().map(|&x| f16::from_f32(x)).collect();
                let int8: Vec<i8> = rows.iter().map(|&x| (x * 127.0) as i8).collect();
                let mut q16 = vec![0i16; dim];
                let check = |out: &[f32], want: &dyn Fn(usize) -> (f64, f64)| {
                    for (i, &o) in out.iter().enumerate() {
                        let (w, tol) = want(i);
                        assert!((f64::from(o) - w).abs() <= tol, "row {i}: {o} vs {w}");
                    }
                };
                let row = |i: usize| i * dim..(i + 1) * dim;
                let f32_ref = |i: usize| {
                    let a = || rows[row(i)].iter().map(|&x| f64::from(x));
                    (2.0 * reference(a(), &q), 2.0 * bound(a(), &q))
                };
                let f16_ref = |i: usize| {
                    let a = || halves[row(i)].iter().map(|x| f64::from(x.to_f32()));
                    (2.0 * reference(a(), &q), 2.0 * bound(a(), &q))
                };
                let i8_ref = |i: usize| {
                    let a = || int8[row(i)].iter().map(|&x| f64::from(x));
                    let s = f64::from(scales[i]);
                    let l1: f64 = int8[row(i)].iter().map(|&x| f64::from(x).abs()).sum();
                    let qmax = q.iter().fold(0f64, |m, &x| m.max(f64::from(x).abs()));
                    // f32 rounding, plus the 16-bit query's half step per value.
                    let tol = bound(a(), &q) + 0.5 * qmax / 32767.0 * l1;
                    (s * reference(a(), &q), s * tol * (1.0 + 1e-5) + 1e-12)
                };
                type F32 = fn(&[f32], &[f32], f32, &mut [f32]);
                for f in [scores_f32 as F32, scores_f32_portable] {
                    f(&rows, &q, 2.0, &mut out);
                    check(&out, &f32_ref);
                }
                type F16 = fn(&[f16], &[f32], f32, &mut [f32]);
                for f in [scores_f16 as F16, scores_f16_portable, scores_f16_via_half] {
                    f(&halves, &q, 2.0, &mut out);
                    check(&out, &f16_ref);
                }
                type I8 = fn(&[i8], &[f32], &[f32], f32, &mut [f32]);
                for f in [scores_i8_f32 as I8, scores_i8_f32_portable] {
                    f(&int8, &scales, &q, 1.0, &mut out);
                    check(&out, &i8_ref);
                }
                scores_i8(&int8, &scales, &q, &mut q16, 1.0, &mut out);
                check(&out, &i8_ref);
                scores_i8_portable(&int8, &scales, &q, &mut q16, 1.0, &mut out);
                check(&out, &i8_ref);
                Ok(())
            })
            .unwrap();
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
