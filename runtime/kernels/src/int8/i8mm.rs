//! The aarch64 int8 matrix-multiply micro-kernel (ARMv8.6-A `usmmla`: the
//! Cortex-A78 and X1, Neoverse N2 and V1, Apple M2 and later).
//!
//! `usmmla` multiplies a 2×8 block of unsigned bytes by an 8×2 block of signed
//! ones into a 2×2 block of 32-bit sums: exactly the u8 activation × i8 weight
//! product, with no offset and no widening. Groups are 8 k values (`ku = 8`):
//! each weight vector holds two columns' 8 bytes (the packed layout as it is),
//! each activation vector two rows' 8 bytes (packed in row pairs for it). A group
//! is 16 `usmmla`s (4 row pairs × 4 column pairs, 512 multiply-accumulates)
//! into 16 accumulator tiles that stay in registers; the tiles are unzipped
//! into rows for the shared epilogue (`neon::store`). `vusmmlaq_s32` is not
//! stable in Rust yet: the instruction is written with `asm!` in functions
//! compiled for `i8mm`.
//!
//! Soundness: as in the other kernels, every pointer read or written is inside
//! a slice whose length `neon::check` asserts first, and weights are packed for
//! this kernel only where the CPU has the extension (`Isa::is_available`).

use std::arch::aarch64::*;
use std::arch::asm;

use super::{Isa, Tile};

const MR: usize = 8;

/// Computes and stores one tile (`mr` 8, `nr` 8, `ku` 8).
pub(super) fn tile(t: &mut Tile<'_>) {
    super::neon::check(t, Isa::I8mm);
    // SAFETY: `check` held the lengths; the weights were packed for this
    // kernel, which `Int8Linear::new` allows only where the CPU has `i8mm`.
    unsafe { kernel(t) }
}

/// `acc += a · bᵀ` on 2×8 blocks: `a` two rows of u8, `b` two columns of i8.
#[inline]
#[target_feature(enable = "neon,i8mm")]
unsafe fn usmmla(acc: int32x4_t, a: uint8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // A register-only instruction of the `i8mm` extension, which this function
    // is compiled for; callers hold the feature (module docs).
    asm!(
        "usmmla {acc:v}.4s, {a:v}.16b, {b:v}.16b",
        acc = inout(vreg) acc,
        a = in(vreg) a,
        b = in(vreg) b,
        options(pure, nomem, nostack, preserves_flags),
    );
    acc
}

#[target_feature(enable = "neon,i8mm")]
unsafe fn kernel(t: &mut Tile<'_>) {
    // acc[p][c]: rows 2p and 2p+1 by columns 2c and 2c+1, as
    // [r0·c0, r0·c1, r1·c0, r1·c1].
    let mut acc = [[vdupq_n_s32(0); 4]; MR / 2];
    let kg = t.kg;
    let a = t.a.as_ptr().cast::<u8>();
    let mut b = t.b.as_ptr();
    for g in 0..kg {
        let pairs: [uint8x16_t; MR / 2] =
            std::array::from_fn(|p| vld1q_u8(a.add((p * kg + g) * 16)));
        let cols: [int8x16_t; 4] = std::array::from_fn(|c| vld1q_s8(b.add(c * 16)));
        b = b.add(64);
        for (tiles, &x) in acc.iter_mut().zip(&pairs) {
            for (sums, &w) in tiles.iter_mut().zip(&cols) {
                *sums = usmmla(*sums, x, w);
            }
        }
    }
    // Row 2p takes the low halves of its pair's tiles, row 2p+1 the high ones.
    let rows: [[int32x4_t; 2]; MR] = std::array::from_fn(|r| {
        let tiles = &acc[r / 2];
        let half = |x: int32x4_t| {
            if r % 2 == 0 {
                vget_low_s32(x)
            } else {
                vget_high_s32(x)
            }
        };
        [
            vcombine_s32(half(tiles[0]), half(tiles[1])),
            vcombine_s32(half(tiles[2]), half(tiles[3])),
        ]
    });
    super::neon::store(t, &rows);
}
