//! One frame's logits: every stored row against the query, one kernel per row type.
//!
//! Callers have checked the shapes (`matcher.rs`); this module only dispatches once
//! per frame, never per row, so each loop below inlines its kernel.

use crate::kernel::{dot_f16, dot_f32, dot_i8_i16, quantize_query_i16};
use edgeclip_store::Rows;

/// Writes `logit_scale · (row · query)` for every row into `out`.
///
/// `rows` holds `out.len() × query.len()` values (and one scale per row for int8);
/// `q16` is scratch of `query.len()` values for the int8 path.
pub(crate) fn logits(
    rows: Rows<'_>,
    query: &[f32],
    logit_scale: f32,
    q16: &mut [i16],
    out: &mut [f32],
) {
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    match rows {
        Rows::F32(values) => {
            for (row, o) in values.chunks_exact(dim).zip(out) {
                *o = logit_scale * dot_f32(row, query);
            }
        }
        Rows::F16(values) => {
            for (row, o) in values.chunks_exact(dim).zip(out) {
                *o = logit_scale * dot_f16(row, query);
            }
        }
        Rows::Int8 { values, scales } => {
            // The query is quantized once per frame; each row then costs an exact
            // integer dot and one multiply by its combined scale.
            let frame = logit_scale * quantize_query_i16(query, q16);
            for ((row, &s), o) in values.chunks_exact(dim).zip(scales).zip(out) {
                *o = dot_i8_i16(row, q16) as f32 * (s * frame);
            }
        }
    }
}
