//! The portable micro-kernel: plain Rust over the `ku = 4` layout, the
//! reference for the others and the path of CPUs without one of their own.

use super::{Isa, Tile};

/// Computes and stores one tile (`mr × nr` of [`Isa::Portable`]'s layout).
pub(super) fn tile(t: &mut Tile<'_>) {
    const MR: usize = 4;
    const NR: usize = 16;
    const KU: usize = 4;
    debug_assert_eq!(Isa::Portable.layout().mr, MR);
    debug_assert_eq!(Isa::Portable.layout().nr, NR);
    let mut acc = [[0i32; NR]; MR];
    for (g, b) in t.b.chunks_exact(NR * KU).enumerate().take(t.kg) {
        for (r, row) in acc.iter_mut().enumerate() {
            let a = t.a[r * t.kg + g].to_le_bytes();
            for (sum, col) in row.iter_mut().zip(b.chunks_exact(KU)) {
                for (&x, &y) in a.iter().zip(col) {
                    *sum = sum.wrapping_add(i32::from(x) * i32::from(y));
                }
            }
        }
    }
    for (r, row) in acc.iter().enumerate().take(t.rows) {
        t.store_row(r, row);
    }
}
