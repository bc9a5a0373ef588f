//! One frame's logits: every stored row against the query, one kernel per row type.
//!
//! Callers have checked the shapes (`matcher.rs`); this module only picks the
//! whole-set kernel for the row type, once per frame.

use crate::kernel;
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
    match rows {
        Rows::F32(values) => kernel::scores_f32(values, query, logit_scale, out),
        Rows::F16(values) => kernel::scores_f16(values, query, logit_scale, out),
        Rows::Int8 { values, scales } => {
            kernel::scores_i8(values, scales, query, q16, logit_scale, out)
        }
    }
}
