//! Operators this crate puts into tract's plans where tract 0.23's own are slow
//! at CLIP's shapes, through tract's public extension points (`TypedOp` and an
//! optimizer pass): no fork of the engine.
//!
//! Each replacement computes what the operator it replaces defines; the
//! rewrite runs on the decluttered graph, before tract's codegen, so tract's
//! own kernels (the int8 matrix products included) are chosen as before.

mod dequantize;
mod quantize;
mod softmax;

pub use dequantize::DequantizeAffine;
pub use quantize::DynamicQuantize;
pub use softmax::RowSoftmax;

use std::sync::Arc;

use tract_linalg::multithread::{current_tract_executor, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use tract_onnx::tract_core::optim::{OptimizerSession, TypedPass};

/// Elements per thread below which splitting a pass costs more than it saves.
const PER_THREAD: usize = 128 * 1024;

/// tract's pool and how many of its threads a pass over `len` elements should
/// use, when that is more than one (the run's executor, see `run_state`).
fn pool_for(len: usize) -> Option<(Arc<rayon::ThreadPool>, usize)> {
    match current_tract_executor() {
        Executor::MultiThread(pool) => {
            let threads = pool.current_num_threads().min(len / PER_THREAD);
            (threads > 1).then_some((pool, threads))
        }
        _ => None,
    }
}

/// Swaps tract's `DynamicQuantizeLinearU8` and last-axis f32 `Softmax` for
/// [`DynamicQuantize`] and [`RowSoftmax`], and an int8 product's epilogue
/// (`Cast` i32 to f32, `Mul` by a scalar, optionally `Add` of a bias row) for
/// [`DequantizeAffine`].
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
            if let Some(patch) = dequantize_epilogue(model, node)? {
                return Ok(Some(patch));
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

/// The binary operator `node` applies when it is `name` (tract's mini-op
/// name), with no output type override, and its input other than `from`.
fn binary_with(node: &TypedNode, name: &str, from: OutletId) -> Option<OutletId> {
    let op = node.op_as::<TypedBinOp>()?;
    if op.0.name() != name || op.1.is_some() || node.inputs.len() != 2 {
        return None;
    }
    match (node.inputs[0] == from, node.inputs[1] == from) {
        (true, false) => Some(node.inputs[1]),
        (false, true) => Some(node.inputs[0]),
        _ => None,
    }
}

/// `Cast(i32 -> f32) -> Mul(scalar) [-> Add(bias row)]` from `node` (the
/// cast), as one [`DequantizeAffine`].
fn dequantize_epilogue(
    model: &TypedModel,
    node: &TypedNode,
) -> TractResult<Option<TypedModelPatch>> {
    let Some(cast) = node.op_as::<Cast>() else {
        return Ok(None);
    };
    let acc = model.outlet_fact(node.inputs[0])?;
    if cast.to != f32::datum_type() || acc.datum_type != i32::datum_type() {
        return Ok(None);
    }
    let shape = acc.shape.clone();
    let Some(n) = shape.last().and_then(|d| d.to_usize().ok()) else {
        return Ok(None);
    };
    let same_shape = |outlet: OutletId| -> TractResult<bool> {
        let fact = model.outlet_fact(outlet)?;
        Ok(fact.datum_type == f32::datum_type() && fact.shape == shape)
    };
    let Some(mul) = model.single_succ(node.id)? else {
        return Ok(None);
    };
    let Some(scale) = binary_with(mul, "Mul", node.id.into()) else {
        return Ok(None);
    };
    let scale_fact = model.outlet_fact(scale)?;
    if scale_fact.datum_type != f32::datum_type()
        || !scale_fact.shape.iter().all(|d| d.is_one())
        || !same_shape(mul.id.into())?
    {
        return Ok(None);
    }
    // A constant bias row after the multiply joins the pass.
    let bias = match model.single_succ(mul.id)? {
        Some(add) => binary_with(add, "Add", mul.id.into())
            .filter(|_| same_shape(add.id.into()).unwrap_or(false))
            .and_then(|b| {
                let fact = model.outlet_fact(b).ok()?;
                let row = fact.konst.as_ref()?;
                let is_row = row.datum_type() == f32::datum_type()
                    && row.len() == n
                    && row.shape().last() == Some(&n)
                    && row.rank() <= shape.len();
                is_row.then(|| (add, row.clone()))
            }),
        None => None,
    };
    let mut patch = TypedModelPatch::default();
    let mut inputs = patch.taps(model, &[node.inputs[0], scale])?;
    let last = match &bias {
        Some((add, row)) => {
            let flat = row.clone().into_tensor().into_shape(&[n])?;
            inputs.push(patch.add_const(format!("{}.bias", add.name), flat)?);
            *add
        }
        None => mul,
    };
    let op = DequantizeAffine {
        bias: bias.is_some(),
    };
    let wire = patch.wire_node(&last.name, op, &inputs)?[0];
    patch.shunt_outside(model, last.id.into(), wire)?;
    Ok(Some(patch))
}
