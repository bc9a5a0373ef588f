//! Borrowed views of embedding rows in the three element types a store can hold.

use half::f16;

/// The element type of stored rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float, 4 bytes per value.
    F32,
    /// IEEE half float, 2 bytes per value.
    F16,
    /// Signed 8-bit integers with one f32 scale per row (`value = q * scale`).
    Int8,
}

/// `rows × dim` embedding values, row-major, borrowed (from a memory map or a buffer).
///
/// Rows are L2-normalized before they are stored, so a dot product with a
/// normalized query is a cosine similarity.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// f32 rows.
    F32(&'a [f32]),
    /// f16 rows.
    F16(&'a [f16]),
    /// int8 rows; `scales[i]` dequantizes row `i`.
    Int8 {
        /// Quantized values, `rows × dim`.
        values: &'a [i8],
        /// One scale per row.
        scales: &'a [f32],
    },
}

impl Rows<'_> {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Rows::F32(_) => DType::F32,
            Rows::F16(_) => DType::F16,
            Rows::Int8 { .. } => DType::Int8,
        }
    }
}
