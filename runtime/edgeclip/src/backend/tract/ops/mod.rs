//! Operators this crate puts into tract's plans where tract 0.23's own are slow
//! at CLIP's shapes, through tract's public extension points (`TypedOp` and an
//! optimizer pass): no fork of the engine.
//!
//! Each replacement computes what the operator it replaces defines; the
//! rewrite runs on the decluttered graph, before tract's codegen, so tract's
//! own kernels (the int8 matrix products included) are chosen as before.

mod quantize;
mod softmax;

pub use quantize::DynamicQuantize;
pub use softmax::RowSoftmax;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use tract_onnx::tract_core::optim::{OptimizerSession, TypedPass};

/// Swaps tract's `DynamicQuantizeLinearU8` and last-axis f32 `Softmax` for
/// [`DynamicQuantize`] and [`RowSoftmax`].
#[derive(Clone, Debug, Default)]
pub struct FastOps(usize);

impl TypedPass for FastOps {
    fn reset(&mut self) -> TractResult<()> {
        self.0 = 0;
        Ok(())
    }

    fn next(
        &mut self,
        _session: &mut OptimizerSession,
        model: &TypedModel,
    ) -> TractResult<Option<TypedModelPatch>> {
        for node in &model.nodes[self.0..] {
            self.0 = node.id + 1;
            // tract-onnx keeps its operator private: it is known by name.
            if node.op().name() == "DynamicQuantizeLinearU8" {
                let facts = model.node_input_facts(node.id)?;
                if facts.len() == 1 && facts[0].datum_type == f32::datum_type() {
                    return TypedModelPatch::replace_single_op(
                        model,
                        node,
                        &node.inputs,
                        DynamicQuantize,
                    )
                    .map(Some);
                }
            }
            if let Some(softmax) = node.op_as::<Softmax>() {
                let fact = model.outlet_fact(node.inputs[0])?;
                let last = fact.rank().checked_sub(1);
                if softmax.kind == SoftmaxKind::Softmax
                    && softmax.quant_output_dt.is_none()
                    && fact.datum_type == f32::datum_type()
                    && last.is_some_and(|last| *softmax.axes == [last])
                {
                    return TypedModelPatch::replace_single_op(
                        model,
                        node,
                        &node.inputs,
                        RowSoftmax,
                    )
                    .map(Some);
                }
            }
        }
        Ok(None)
    }
}
