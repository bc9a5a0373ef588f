//! The aarch64 dot-product micro-kernel (ARMv8.2-A `udot`: Cortex-A55 and A76
//! and later, as on the Raspberry Pi 5, RK3588 and RK3566).
//!
//! `udot` multiplies unsigned bytes by unsigned bytes, four into each 32-bit
//! lane. The activations are u8 already; the weights are packed with 128 added
//! (`w + 128`, a u8: [`super::PackedWeights`] does it for this kernel), and
//! their zero point and column sums with them, so the zero-point corrections
//! every kernel shares stay exact: `(a − za)·(w − zw) = (a − za)·((w + 128) −
//! (zw + 128))`. The raw sums wrap like the other kernels' and the corrections
//! bring them back to the exact i32 product.
//!
//! Four groups (16 k values) per step: each row's next four 32-bit groups are
//! one vector, and `udot` by element takes group `u` from lane `u`, so a step
//! loads 8 activation and 8 weight vectors for 64 `udot`s, with the 16
//! accumulators in registers. `vdotq_u32` is not stable in Rust yet: the
//! instruction is written with `asm!` in functions compiled for `dotprod`.
//!
//! Soundness: as in the other kernels, every pointer read or written is inside
//! a slice whose length [`tile`] asserts first, and weights are packed for this
//! kernel only where the CPU has the extension (`Isa::is_available`).

use std::arch::aarch64::*;
use std::arch::asm;

use super::{Isa, Tile};

const MR: usize = 8;

/// Computes and stores one tile (`mr` 8, `nr` 8, `ku` 4).
pub(super) fn tile(t: &mut Tile<'_>) {
    super::neon::check(t, Isa::Dotprod);
    // SAFETY: `check` held the lengths; the weights were packed for this
    // kernel, which `Int8Linear::new` allows only where the CPU has `dotprod`.
    unsafe { kernel(t) }
}

/// `acc += Σ b·a` per 32-bit lane, `a`'s 32-bit element `L` used for every lane.
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn udot_lane<const L: i32>(acc: uint32x4_t, b: uint8x16_t, a: uint8x16_t) -> uint32x4_t {
    let mut acc = acc;
    // A register-only instruction of the `dotprod` extension, which this
    // function is compiled for; callers hold the feature (module docs).
    asm!(
        "udot {acc:v}.4s, {b:v}.16b, {a:v}.4b[{lane}]",
        acc = inout(vreg) acc,
        b = in(vreg) b,
        a = in(vreg) a,
        lane = const L,
        options(pure, nomem, nostack, preserves_flags),
    );
    acc
}

/// One group of the four in a step: group `U` of every row against the
/// panel's 8 columns at `b` (32 bytes).
#[inline]
#[target_feature(enable = "neon,dotprod")]
unsafe fn group<const U: i32>(
    acc: &mut [[uint32x4_t; 2]; MR],
    rows: &[uint8x16_t; MR],
    b: *const u8,
) {
    let b0 = vld1q_u8(b);
    let b1 = vld1q_u8(b.add(16));
    for (sums, &x) in acc.iter_mut().zip(rows) {
        sums[0] = udot_lane::<U>(sums[0], b0, x);
        sums[1] = udot_lane::<U>(sums[1], b1, x);
    }
}

#[target_feature(enable = "neon,dotprod")]
unsafe fn kernel(t: &mut Tile<'_>) {
    let mut acc = [[vdupq_n_u32(0); 2]; MR];
    let kg = t.kg;
    let a = t.a.as_ptr();
    let mut b = t.b.as_ptr().cast::<u8>();
    let mut g = 0;
    while g + 4 <= kg {
        let rows: [uint8x16_t; MR] =
            std::array::from_fn(|r| vreinterpretq_u8_u32(vld1q_u32(a.add(r * kg + g))));
        group::<0>(&mut acc, &rows, b);
        group::<1>(&mut acc, &rows, b.add(32));
        group::<2>(&mut acc, &rows, b.add(64));
        group::<3>(&mut acc, &rows, b.add(96));
        b = b.add(128);
        g += 4;
    }
    // The last groups, one at a time: each row's group broadcast to all lanes.
    while g < kg {
        let rows: [uint8x16_t; MR] =
            std::array::from_fn(|r| vreinterpretq_u8_u32(vdupq_n_u32(*a.add(r * kg + g))));
        group::<0>(&mut acc, &rows, b);
        b = b.add(32);
        g += 1;
    }
    // The sums wrap like i32 (module docs): the same bits, read as signed.
    let acc = acc.map(|row| row.map(|sums| vreinterpretq_s32_u32(sums)));
    super::neon::store(t, &acc);
}
