//! Packed layouts: weights once at load, activations per call.
//!
//! A weight panel holds `nr` columns. Within it, for each group of `ku`
//! consecutive k values, each column's `ku` bytes follow one another, so one
//! vector load gives a kernel `nr / lanes` columns' next `ku` products and one
//! 32-bit broadcast of the activation row's group multiplies them all
//! (`vpdpbusd` with `ku = 4`; `vpmaddwd` on 16-bit pairs with `ku = 2`). Rows
//! and columns past the matrix, and k values past `k`, are zeros: they add
//! nothing to the sums, and the corrections use the true `k`.

use super::{check_len, Error, Isa, Layout};

/// A `k × n` i8 weight packed in panels for one kernel, with its column sums.
#[derive(Debug, Clone)]
pub struct PackedWeights {
    isa: Isa,
    k: usize,
    n: usize,
    zero_point: i32,
    panels: Vec<i8>,
    col_sums: Vec<i32>,
}

impl PackedWeights {
    /// Packs the row-major `k × n` weight `w` for `isa`'s kernel.
    ///
    /// For the dot-product kernel, which multiplies unsigned bytes, each weight
    /// is stored as `w + 128` (its bits with the sign bit flipped), and the zero
    /// point and column sums are those of the offset weights: the product with
    /// both zero points taken out is unchanged.
    pub fn new(isa: Isa, w: &[i8], k: usize, n: usize, zero_point: i8) -> Result<Self, Error> {
        check_len("weight", w.len(), k * n)?;
        let Layout { nr, ku, .. } = isa.layout();
        let offset = if isa == Isa::Dotprod { 128 } else { 0 };
        let groups = k.div_ceil(ku);
        let panels = n.div_ceil(nr);
        let mut packed = vec![0i8; panels * groups * nr * ku];
        let mut col_sums = vec![0i32; panels * nr];
        for (l, row) in w.chunks_exact(n.max(1)).enumerate().take(k) {
            let (g, u) = (l / ku, l % ku);
            for (j, &v) in row.iter().enumerate() {
                let (p, c) = (j / nr, j % nr);
                let stored = i32::from(v) + offset;
                // `stored` is an i8, or with the offset a u8 kept in its bits.
                packed[((p * groups + g) * nr + c) * ku + u] = stored as u8 as i8;
                col_sums[j] += stored;
            }
        }
        Ok(Self {
            isa,
            k,
            n,
            zero_point: i32::from(zero_point) + offset,
            panels: packed,
            col_sums,
        })
    }

    /// The kernel this layout is for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Rows of the weight (the product's depth).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns of the weight (the product's output width).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Bytes held: the panels and the column sums.
    pub fn bytes(&self) -> usize {
        self.panels.len() + self.col_sums.len() * 4
    }

    pub(crate) fn zero_point(&self) -> i32 {
        self.zero_point
    }

    pub(crate) fn groups(&self) -> usize {
        self.k.div_ceil(self.isa.layout().ku)
    }

    pub(crate) fn panels(&self) -> usize {
        self.n.div_ceil(self.isa.layout().nr)
    }

    pub(crate) fn padded_n(&self) -> usize {
        self.col_sums.len()
    }

    /// Column sums, zero past `n` (`padded_n` of them).
    pub(crate) fn col_sums(&self) -> &[i32] {
        &self.col_sums
    }

    pub(crate) fn panel(&self, p: usize) -> &[i8] {
        let Layout { nr, ku, .. } = self.isa.layout();
        let size = self.groups() * nr * ku;
        &self.panels[p * size..(p + 1) * size]
    }
}

/// Packs the row-major `m × k` activation `a` into `groups` (rows padded to a
/// multiple of `mr` with zeros, each row `ceil(k / ku)` groups of
/// [`Layout::words`] 32-bit words) and writes each row's sum to `row_sums`
/// (zero for padding rows). Rows follow one another, except for 8-byte groups
/// ([`pack_row_pairs`]).
pub(crate) fn pack_activation(
    layout: Layout,
    a: &[u8],
    m: usize,
    k: usize,
    groups: &mut Vec<u32>,
    row_sums: &mut Vec<i32>,
) {
    let Layout { mr, ku, .. } = layout;
    let words = layout.words();
    let kg = k.div_ceil(ku);
    let rows = m.div_ceil(mr) * mr;
    groups.clear();
    groups.resize(rows * kg * words, 0);
    row_sums.clear();
    row_sums.resize(rows, 0);
    if k == 0 {
        return;
    }
    if words > 1 {
        pack_row_pairs(a, k, kg, groups, row_sums);
        return;
    }
    for ((row, packed), sum) in a
        .chunks_exact(k)
        .zip(groups.chunks_exact_mut(kg))
        .zip(row_sums.iter_mut())
    {
        *sum = row.iter().map(|&v| i32::from(v)).sum();
        let chunks = row.chunks_exact(ku);
        let tail = chunks.remainder();
        let last = packed.len() - usize::from(!tail.is_empty());
        for (g, c) in packed[..last].iter_mut().zip(chunks) {
            *g = group(ku, c);
        }
        if !tail.is_empty() {
            packed[last] = group(ku, tail);
        }
    }
}

/// The 8-byte groups of the matrix-multiply kernel, which multiplies two rows
/// at once: rows in pairs, and for each pair and group 16 bytes, the first
/// row's 8 then the second's (four words, low bytes first), so one vector load
/// gives the kernel both.
fn pack_row_pairs(a: &[u8], k: usize, kg: usize, groups: &mut [u32], row_sums: &mut [i32]) {
    for (i, (row, sum)) in a.chunks_exact(k).zip(row_sums.iter_mut()).enumerate() {
        *sum = row.iter().map(|&v| i32::from(v)).sum();
        let (pair, second) = (i / 2, i % 2);
        for (g, bytes) in row.chunks(8).enumerate() {
            let at = (pair * kg + g) * 4 + second * 2;
            groups[at] = group(4, bytes);
            groups[at + 1] = group(4, bytes.get(4..).unwrap_or_default());
        }
    }
}

/// One group of `ku` activation bytes (zero past the slice) as the kernels
/// broadcast it: four bytes, or two bytes each widened to 16 bits.
fn group(ku: usize, bytes: &[u8]) -> u32 {
    let b = |i: usize| u32::from(bytes.get(i).copied().unwrap_or(0));
    if ku == 2 {
        b(0) | b(1) << 16
    } else {
        b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24
    }
}
