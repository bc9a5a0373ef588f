//! x86-64 micro-kernels: AVX2, AVX-VNNI and AVX-512 VNNI.
//!
//! Each keeps its `mr × nr` accumulators in registers for the whole depth,
//! then applies the epilogue on the vectors and stores them; a tile cut by the
//! matrix's right edge goes through [`Tile::store_row`] instead.
//!
//! Soundness: a kernel is only called for weights packed for its [`Isa`], and
//! [`super::Int8Linear::new`] packs only for kernels `Isa::is_available`
//! confirmed on this CPU; every pointer read or written is inside a slice whose
//! length is asserted at the kernel's start.

use std::arch::x86_64::*;

use super::{Isa, Tile};

/// Asserts the slice lengths every kernel's pointer arithmetic relies on.
fn check(t: &Tile<'_>, isa: Isa) {
    let l = isa.layout();
    assert!(isa.is_available(), "{isa:?} kernel on a CPU without it");
    assert!(t.a.len() >= l.mr * t.kg && t.b.len() >= t.kg * l.nr * l.ku);
    assert!(t.col_corr.len() >= l.nr && t.row_corr.len() >= l.mr);
    assert!(t.bias.is_none_or(|b| b.len() >= l.nr));
    assert!(t.rows >= 1 && t.rows <= l.mr && t.cols >= 1 && t.cols <= l.nr);
    assert!(t.out.len() >= (t.rows - 1) * t.out_stride + t.cols);
}

/// AVX2 (`mr` 6, `nr` 16, `ku` 2): 16-bit pairs multiplied and summed into
/// 32 bits by `vpmaddwd`, which cannot saturate on u8 × i8 values.
pub(super) fn tile_avx2(t: &mut Tile<'_>) {
    check(t, Isa::Avx2);
    // SAFETY: AVX2 is available and the lengths are checked (module docs).
    unsafe { avx2(t) }
}

/// AVX-VNNI (`mr` 6, `nr` 16, `ku` 4): `vpdpbusd` on 256-bit vectors.
pub(super) fn tile_avx_vnni(t: &mut Tile<'_>) {
    check(t, Isa::AvxVnni);
    // SAFETY: AVX-VNNI is available and the lengths are checked (module docs).
    unsafe { avx_vnni(t) }
}

/// AVX-512 VNNI (`mr` 8, `nr` 32, `ku` 4): `vpdpbusd` on 512-bit vectors.
pub(super) fn tile_avx512_vnni(t: &mut Tile<'_>) {
    check(t, Isa::Avx512Vnni);
    // SAFETY: AVX-512 F, BW and VNNI are available and the lengths are checked.
    unsafe { avx512_vnni(t) }
}

const MR256: usize = 6;

#[target_feature(enable = "avx2")]
unsafe fn avx2(t: &mut Tile<'_>) {
    let mut acc = [[_mm256_setzero_si256(); 2]; MR256];
    let mut b = t.b.as_ptr() as *const __m128i;
    let a = t.a.as_ptr();
    for g in 0..t.kg {
        let b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b));
        let b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(1)));
        b = b.add(2);
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm256_set1_epi32(*a.add(r * t.kg + g) as i32);
            row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(x, b0));
            row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(x, b1));
        }
    }
    store256(t, &acc);
}

#[target_feature(enable = "avx2,avxvnni")]
unsafe fn avx_vnni(t: &mut Tile<'_>) {
    let mut acc = [[_mm256_setzero_si256(); 2]; MR256];
    let mut b = t.b.as_ptr() as *const __m256i;
    let a = t.a.as_ptr();
    for g in 0..t.kg {
        let b0 = _mm256_loadu_si256(b);
        let b1 = _mm256_loadu_si256(b.add(1));
        b = b.add(2);
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm256_set1_epi32(*a.add(r * t.kg + g) as i32);
            row[0] = _mm256_dpbusd_avx_epi32(row[0], x, b0);
            row[1] = _mm256_dpbusd_avx_epi32(row[1], x, b1);
        }
    }
    store256(t, &acc);
}

/// The epilogue of the 256-bit kernels: `(acc + col + row) as f32 * scale (+ bias)`.
#[target_feature(enable = "avx2")]
unsafe fn store256(t: &mut Tile<'_>, acc: &[[__m256i; 2]; MR256]) {
    let scale = _mm256_set1_ps(t.scale);
    let col = t.col_corr.as_ptr() as *const __m256i;
    let cols = [_mm256_loadu_si256(col), _mm256_loadu_si256(col.add(1))];
    for (r, row) in acc.iter().enumerate().take(t.rows) {
        if t.cols < 16 {
            let mut raw = [0i32; 16];
            _mm256_storeu_si256(raw.as_mut_ptr() as *mut __m256i, row[0]);
            _mm256_storeu_si256(raw.as_mut_ptr().add(8) as *mut __m256i, row[1]);
            t.store_row(r, &raw);
            continue;
        }
        let corr = _mm256_set1_epi32(t.row_corr[r]);
        let out = t.out.as_mut_ptr().add(r * t.out_stride);
        for h in 0..2 {
            let v = _mm256_add_epi32(_mm256_add_epi32(row[h], cols[h]), corr);
            let mut f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), scale);
            if let Some(bias) = t.bias {
                f = _mm256_add_ps(f, _mm256_loadu_ps(bias.as_ptr().add(h * 8)));
            }
            _mm256_storeu_ps(out.add(h * 8), f);
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn avx512_vnni(t: &mut Tile<'_>) {
    const MR: usize = 8;
    let mut acc = [[_mm512_setzero_si512(); 2]; MR];
    let mut b = t.b.as_ptr() as *const __m512i;
    let a = t.a.as_ptr();
    for g in 0..t.kg {
        let b0 = _mm512_loadu_si512(b);
        let b1 = _mm512_loadu_si512(b.add(1));
        b = b.add(2);
        for (r, row) in acc.iter_mut().enumerate() {
            let x = _mm512_set1_epi32(*a.add(r * t.kg + g) as i32);
            row[0] = _mm512_dpbusd_epi32(row[0], x, b0);
            row[1] = _mm512_dpbusd_epi32(row[1], x, b1);
        }
    }
    let scale = _mm512_set1_ps(t.scale);
    let col = t.col_corr.as_ptr() as *const __m512i;
    let cols = [_mm512_loadu_si512(col), _mm512_loadu_si512(col.add(1))];
    for (r, row) in acc.iter().enumerate().take(t.rows) {
        if t.cols < 32 {
            let mut raw = [0i32; 32];
            _mm512_storeu_si512(raw.as_mut_ptr() as *mut __m512i, row[0]);
            _mm512_storeu_si512(raw.as_mut_ptr().add(16) as *mut __m512i, row[1]);
            t.store_row(r, &raw);
            continue;
        }
        let corr = _mm512_set1_epi32(t.row_corr[r]);
        let out = t.out.as_mut_ptr().add(r * t.out_stride);
        for h in 0..2 {
            let v = _mm512_add_epi32(_mm512_add_epi32(row[h], cols[h]), corr);
            let mut f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), scale);
            if let Some(bias) = t.bias {
                f = _mm512_add_ps(f, _mm512_loadu_ps(bias.as_ptr().add(h * 16)));
            }
            _mm512_storeu_ps(out.add(h * 16), f);
        }
    }
}
