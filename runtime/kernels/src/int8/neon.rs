//! The aarch64 NEON micro-kernel (every ARMv8-A core: Cortex-A72 to A76).
//!
//! Without the dot-product extension, u8 × i8 products are exact in 16-bit
//! lanes widened to 32 (`smlal` by lane): each weight group of 4 k values ×
//! 8 columns is loaded de-interleaved (`ld4`) so each k's 8 columns form one
//! vector, and each activation row's 4 values are lanes to multiply by.
//!
//! Soundness: as in the x86 kernels, every pointer read or written is inside
//! a slice whose length [`tile`] asserts first; NEON is part of ARMv8-A.

use std::arch::aarch64::*;

use super::{Isa, Tile};

const MR: usize = 8;
const NR: usize = 8;

/// Computes and stores one tile (`mr` 8, `nr` 8, `ku` 4).
pub(super) fn tile(t: &mut Tile<'_>) {
    check(t, Isa::Neon);
    // SAFETY: NEON is mandatory on aarch64 and `check` held the lengths.
    unsafe { kernel(t) }
}

/// What the 8×8 aarch64 kernels read and write, checked before they run: every
/// pointer they follow stays inside these lengths.
pub(super) fn check(t: &Tile<'_>, isa: Isa) {
    let l = isa.layout();
    debug_assert!(l.mr == MR && l.nr == NR);
    assert!(t.a.len() >= MR * t.kg * l.words() && t.b.len() >= t.kg * NR * l.ku);
    assert!(t.col_corr.len() >= NR && t.row_corr.len() >= MR);
    assert!(t.bias.is_none_or(|b| b.len() >= NR));
    assert!(t.rows >= 1 && t.rows <= MR && t.cols >= 1 && t.cols <= NR);
    assert!(t.out.len() >= (t.rows - 1) * t.out_stride + t.cols);
}

#[target_feature(enable = "neon")]
unsafe fn kernel(t: &mut Tile<'_>) {
    let mut acc = [[vdupq_n_s32(0); 2]; MR];
    let mut b = t.b.as_ptr();
    let a = t.a.as_ptr();
    for g in 0..t.kg {
        let w = vld4_s8(b);
        b = b.add(NR * 4);
        let w = [vmovl_s8(w.0), vmovl_s8(w.1), vmovl_s8(w.2), vmovl_s8(w.3)];
        for (r, row) in acc.iter_mut().enumerate() {
            let bytes = vreinterpret_u8_u32(vdup_n_u32(*a.add(r * t.kg + g)));
            let x = vget_low_s16(vreinterpretq_s16_u16(vmovl_u8(bytes)));
            row[0] = vmlal_lane_s16::<0>(row[0], vget_low_s16(w[0]), x);
            row[1] = vmlal_high_lane_s16::<0>(row[1], w[0], x);
            row[0] = vmlal_lane_s16::<1>(row[0], vget_low_s16(w[1]), x);
            row[1] = vmlal_high_lane_s16::<1>(row[1], w[1], x);
            row[0] = vmlal_lane_s16::<2>(row[0], vget_low_s16(w[2]), x);
            row[1] = vmlal_high_lane_s16::<2>(row[1], w[2], x);
            row[0] = vmlal_lane_s16::<3>(row[0], vget_low_s16(w[3]), x);
            row[1] = vmlal_high_lane_s16::<3>(row[1], w[3], x);
        }
    }
    store(t, &acc);
}

/// The epilogue of the 8×8 aarch64 kernels: each row's raw sums `acc` plus the
/// zero-point corrections, as f32 times the scale (plus the bias), stored.
#[target_feature(enable = "neon")]
pub(super) unsafe fn store(t: &mut Tile<'_>, acc: &[[int32x4_t; 2]; MR]) {
    let scale = vdupq_n_f32(t.scale);
    let cols = [
        vld1q_s32(t.col_corr.as_ptr()),
        vld1q_s32(t.col_corr.as_ptr().add(4)),
    ];
    for (r, row) in acc.iter().enumerate().take(t.rows) {
        if t.cols < NR {
            let mut raw = [0i32; NR];
            vst1q_s32(raw.as_mut_ptr(), row[0]);
            vst1q_s32(raw.as_mut_ptr().add(4), row[1]);
            t.store_row(r, &raw);
            continue;
        }
        let corr = vdupq_n_s32(t.row_corr[r]);
        let out = t.out.as_mut_ptr().add(r * t.out_stride);
        for h in 0..2 {
            let v = vaddq_s32(vaddq_s32(row[h], cols[h]), corr);
            let mut f = vmulq_f32(vcvtq_f32_s32(v), scale);
            if let Some(bias) = t.bias {
                f = vaddq_f32(f, vld1q_f32(bias.as_ptr().add(h * 4)));
            }
            vst1q_f32(out.add(h * 4), f);
        }
    }
}
