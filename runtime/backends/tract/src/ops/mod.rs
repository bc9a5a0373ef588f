//! Operators this crate puts into tract's plans where tract 0.23's own are slow
//! at CLIP's shapes, through tract's public extension points (`TypedOp` and an
//! optimizer pass): no fork of the engine.
//!
//! Each replacement computes what the operator it replaces defines; the
//! rewrite runs on the decluttered graph, before tract's codegen. The int8
//! weight products run on the project's own kernels ([`Int8MatMul`]) where one
//! is written for this CPU, else on tract's as before.

mod dequantize;
mod int8_matmul;
mod quantize;
mod softmax;

pub use dequantize::DequantizeAffine;
pub use int8_matmul::Int8MatMul;
pub use quantize::DynamicQuantize;
pub use softmax::RowSoftmax;

use std::sync::Arc;

use edgeclip_kernels::int8::{Int8Linear, Isa};
use tract_linalg::multithread::{current_tract_executor, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::DimLike;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use tract_onnx::tract_core::optim::{OptimizerSession, TypedPass};

/// Elements per thread below which splitting an element-wise pass costs more
/// than it saves.
const PER_THREAD: usize = 128 * 1024;

/// tract's pool and how many of its threads a pass over `work` units should
/// use, at least `per_thread` each, when that is more than one (the run's
/// executor, see `run_state`).
fn pool_for(work: usize, per_thread: usize) -> Option<(Arc<rayon::ThreadPool>, usize)> {
    match current_tract_executor() {
        Executor::MultiThread(pool) => {
            let threads = pool.current_num_threads().min(work / per_thread);
            (threads > 1).then_some((pool, threads))
        }
        _ => None,
    }
}

/// Swaps tract's `DynamicQuantizeLinearU8` and last-axis f32 `Softmax` for
/// [`DynamicQuantize`] and [`RowSoftmax`], and an int8 product with its
/// epilogue (`Cast` i32 to f32, `Mul` by a scalar, optionally `Add` of a bias
/// row) for [`Int8MatMul`] on `int8`'s kernel, or without one, the epilogue
/// alone for [`DequantizeAffine`].
#[derive(Clone, Debug, Default)]
pub struct FastOps {
    next: usize,
    int8: Option<Isa>,
}

impl FastOps {
    /// The rewrite, with int8 products on `int8`'s kernel (`None`: tract's).
    pub fn new(int8: Option<Isa>) -> Self {
        Self { next: 0, int8 }
    }
}

impl TypedPass for FastOps {
    fn reset(&mut self) -> TractResult<()> {
        self.next = 0;
        Ok(())
    }

    fn next(
        &mut self,
        _session: &mut OptimizerSession,
        model: &TypedModel,
    ) -> TractResult<Option<TypedModelPatch>> {
        for node in &model.nodes[self.next..] {
            self.next = node.id + 1;
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
            if let Some(patch) = dequantize_epilogue(model, node, self.int8)? {
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

/// A dequantizing epilogue found in a plan: `Cast(i32 -> f32) -> Mul(scalar)
/// [-> Add(bias row)]`.
struct Epilogue<'m> {
    /// The i32 accumulator the cast reads.
    acc: OutletId,
    /// The scalar scale.
    scale: OutletId,
    /// The bias `Add` and its constant row, when there is one.
    bias: Option<(&'m TypedNode, Arc<Tensor>)>,
    /// The epilogue's last node, whose output the fused operator replaces.
    last: &'m TypedNode,
    /// The output width (the last axis).
    n: usize,
}

/// The epilogue starting at `node` (the cast), if it is one.
fn find_epilogue<'m>(model: &'m TypedModel, node: &TypedNode) -> TractResult<Option<Epilogue<'m>>> {
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
    let last = bias.as_ref().map_or(mul, |(add, _)| *add);
    Ok(Some(Epilogue {
        acc: node.inputs[0],
        scale,
        bias,
        last,
        n,
    }))
}

/// `Cast(i32 -> f32) -> Mul(scalar) [-> Add(bias row)]` from `node` (the
/// cast): with `int8` and an int8 weight product feeding the cast, the product
/// and all of it as one [`Int8MatMul`]; otherwise the epilogue as one
/// [`DequantizeAffine`].
fn dequantize_epilogue(
    model: &TypedModel,
    node: &TypedNode,
    int8: Option<Isa>,
) -> TractResult<Option<TypedModelPatch>> {
    let Some(epilogue) = find_epilogue(model, node)? else {
        return Ok(None);
    };
    let mut patch = TypedModelPatch::default();
    let product = match int8 {
        Some(isa) => weight_product(model, epilogue.acc)?
            .filter(|p| p.weight.shape()[1] == epilogue.n)
            .map(|p| (isa, p)),
        None => None,
    };
    let wire = match product {
        Some((isa, product)) => wire_int8(model, &mut patch, &epilogue, isa, &product)?,
        None => wire_affine(model, &mut patch, &epilogue)?,
    };
    patch.shunt_outside(model, epilogue.last.id.into(), wire)?;
    Ok(Some(patch))
}

/// The weight product and its epilogue as one [`Int8MatMul`] on `isa`'s kernel.
fn wire_int8(
    model: &TypedModel,
    patch: &mut TypedModelPatch,
    epilogue: &Epilogue<'_>,
    isa: Isa,
    product: &WeightProduct,
) -> TractResult<OutletId> {
    let plain = product.weight.try_as_plain_ram()?;
    let bias = epilogue
        .bias
        .as_ref()
        .map(|(_, row)| row.try_as_plain_ram())
        .transpose()?;
    let linear = Int8Linear::new(
        isa,
        plain.as_slice::<i8>()?,
        product.k,
        epilogue.n,
        product.zero_point,
        bias.as_ref().map(|b| b.as_slice::<f32>()).transpose()?,
    )?;
    let inputs = patch.taps(model, &[product.a, product.a_zero_point, epilogue.scale])?;
    let op = Int8MatMul {
        linear: Arc::new(linear),
    };
    let name = &epilogue.last.name;
    let mut wire = patch.wire_node(name, op, &inputs)?[0];
    for &axis in product.dropped.iter().rev() {
        wire = patch.wire_node(format!("{name}.rm-{axis}"), AxisOp::Rm(axis), &[wire])?[0];
    }
    Ok(wire)
}

/// The epilogue alone as one [`DequantizeAffine`] after tract's own product.
fn wire_affine(
    model: &TypedModel,
    patch: &mut TypedModelPatch,
    epilogue: &Epilogue<'_>,
) -> TractResult<OutletId> {
    let mut inputs = patch.taps(model, &[epilogue.acc, epilogue.scale])?;
    if let Some((add, row)) = &epilogue.bias {
        let flat = row.clone().into_tensor().into_shape(&[epilogue.n])?;
        inputs.push(patch.add_const(format!("{}.bias", add.name), flat)?);
    }
    let op = DequantizeAffine {
        bias: epilogue.bias.is_some(),
    };
    Ok(patch.wire_node(&epilogue.last.name, op, &inputs)?[0])
}

/// What [`Int8MatMul`] takes over from an int8 weight product.
struct WeightProduct {
    /// The u8 activation and its zero point (from the dynamic quantization).
    a: OutletId,
    a_zero_point: OutletId,
    /// The constant `k × n` i8 weight and its zero point.
    weight: Arc<Tensor>,
    zero_point: i8,
    k: usize,
    /// Unit axes of `a` the product's output does not have.
    dropped: Vec<usize>,
}

/// The int8 product whose i32 output is `acc`, when it is a plain
/// `a[.., k] · w[k, n]` (what tract-onnx makes of `MatMulInteger`) of a u8
/// activation with a constant i8 weight, scalar zero points, no bias and unit
/// scales, and `acc` goes nowhere but the epilogue.
fn weight_product(model: &TypedModel, acc: OutletId) -> TractResult<Option<WeightProduct>> {
    let node = model.node(acc.node);
    let Some(op) = node.op_as::<EinSum>() else {
        return Ok(None);
    };
    if acc.slot != 0
        || op.q_params != Some(i32::datum_type())
        || node.inputs.len() != 9
        || model.outlet_successors(acc).len() != 1
    {
        return Ok(None);
    }
    // The axes: `a` is any prefix then k, the weight exactly (k, n), the output
    // the same prefix then n; zero points and scales are scalars.
    let (ins, outs) = op.axes.to_strs();
    let w_axes: Vec<char> = ins[1].chars().collect();
    let [k_axis, n_axis] = w_axes[..] else {
        return Ok(None);
    };
    let Some(prefix) = ins[0].strip_suffix(k_axis) else {
        return Ok(None);
    };
    // tract drops unit axes of `a` from the output: the rows keep their order.
    let facts = model.node_input_facts(node.id)?;
    let dropped: Vec<usize> = prefix
        .chars()
        .enumerate()
        .filter(|(_, c)| !outs[0].contains(*c))
        .map(|(i, _)| i)
        .collect();
    let kept: String = prefix.chars().filter(|c| outs[0].contains(*c)).collect();
    if prefix.contains(n_axis)
        || prefix.contains(k_axis)
        || outs[0] != format!("{kept}{n_axis}")
        || !dropped.iter().all(|&i| facts[0].shape[i].is_one())
        || ins[2..].iter().any(|s| !s.is_empty())
    {
        return Ok(None);
    }
    let scalar = |i: usize, want: f64| -> bool {
        facts[i]
            .konst
            .as_ref()
            .and_then(|t| t.cast_to_scalar::<f64>().ok())
            .is_some_and(|v| v == want)
    };
    // Inputs 2..=8: bias, a zero point, a scale, w zero point, w scale, c zero
    // point, c scale (tract-onnx's MatMulInteger wiring).
    if facts[0].datum_type != u8::datum_type()
        || facts[3].datum_type != u8::datum_type()
        || !(scalar(2, 0.0) && scalar(4, 1.0) && scalar(6, 1.0) && scalar(7, 0.0) && scalar(8, 1.0))
    {
        return Ok(None);
    }
    let (Some(weight), Some(w_zero)) = (&facts[1].konst, &facts[5].konst) else {
        return Ok(None);
    };
    if weight.datum_type() != i8::datum_type() || weight.rank() != 2 {
        return Ok(None);
    }
    let Ok(zero_point) = i8::try_from(w_zero.cast_to_scalar::<i32>()?) else {
        return Ok(None);
    };
    Ok(Some(WeightProduct {
        a: node.inputs[0],
        a_zero_point: node.inputs[3],
        weight: weight.clone(),
        zero_point,
        k: weight.shape()[0],
        dropped,
    }))
}
