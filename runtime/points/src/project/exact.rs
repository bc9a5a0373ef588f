//! Float helpers that the compiler can vectorise on every target (without SSE4.1,
//! `f32::ceil` is a library call per value and float-to-int casts are scalar), exact on
//! the ranges the projections use them on.

/// 1.5 · 2²³: adding and subtracting it rounds any |x| ≤ 2²² to the nearest integer,
/// because floats between 2²³ and 2²⁴ are spaced exactly 1 apart.
const ROUNDER: f32 = 12_582_912.0;

/// `x.ceil()` for |x| ≤ 2²² (callers clamp first).
#[inline(always)]
pub(super) fn ceil(x: f32) -> f32 {
    let nearest = (x + ROUNDER) - ROUNDER;
    if nearest < x {
        nearest + 1.0
    } else {
        nearest
    }
}

/// `x` limited to [lo, hi], NaN to `lo`: written as comparisons that map onto single
/// min/max instructions, where `f32::clamp`/`max`/`min` add NaN handling.
#[inline(always)]
pub(super) fn clamp(x: f32, lo: f32, hi: f32) -> f32 {
    let x = if x > lo { x } else { lo };
    if x < hi {
        x
    } else {
        hi
    }
}

/// The integer `x` as an index, for whole numbers 0 ≤ x < 2²²: read from the bits of
/// `x + 1.5 · 2²³`, whose low mantissa bits hold it.
#[inline(always)]
pub(super) fn index(x: f32) -> usize {
    ((x + ROUNDER).to_bits() - ROUNDER.to_bits()) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_and_index_are_exact_on_their_ranges() {
        for k in -200_000..=200_000 {
            let x = k as f32 / 997.0;
            for x in [x, x.next_up(), x.next_down(), k as f32, -(k as f32)] {
                assert_eq!(ceil(x), x.ceil(), "{x}");
            }
        }
        for x in [4_194_304.0f32, -4_194_304.0, 4_194_303.5, -0.0] {
            assert_eq!(ceil(x), x.ceil(), "{x}");
        }
        assert_eq!(clamp(f32::NAN, -1.0, 2.0), -1.0);
        assert_eq!(clamp(5.0, -1.0, 2.0), 2.0);
        assert_eq!(clamp(-5.0, -1.0, 2.0), -1.0);
        assert_eq!(clamp(0.5, -1.0, 2.0), 0.5);
        for k in [0usize, 1, 2, 127, 16_384, 100_351, (1 << 22) - 1] {
            assert_eq!(index(k as f32), k);
        }
    }
}
