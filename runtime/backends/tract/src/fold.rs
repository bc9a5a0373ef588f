//! Constant folding of weight-only subgraphs, with a larger allowance than tract's.
//!
//! tract's own folding (`PropConst`) refuses a fold whose output exceeds
//! `max(inputs, 4 MiB)`. At ViT-B/32 width an int8 weight is 2.4 MB, its i32
//! cast 9.4 MB: the cast and the zero-point column sums built from it are then
//! recomputed on every run (measured: ~270 of ~370 ms per image). Folding them
//! once at load costs memory only transiently for chains (cast -> sum) and
//! removes that work.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_core::optim::{Optimizer, TypedPass};

use super::ops::FastOps;

/// Largest folded output accepted, whatever the inputs' size.
const FOLD_BUDGET: u64 = 256 << 20;

/// Folds every stateless node whose inputs are all constants (see module docs).
#[derive(Clone, Debug, Default)]
pub struct FoldWeights(usize);

impl TypedPass for FoldWeights {
    fn reset(&mut self) -> TractResult<()> {
        self.0 = 0;
        Ok(())
    }

    fn next(
        &mut self,
        _session: &mut tract_onnx::tract_core::optim::OptimizerSession,
        model: &TypedModel,
    ) -> TractResult<Option<TypedModelPatch>> {
        for node in &model.nodes[self.0..] {
            if node.op_is::<Const>() || node.op_is::<TypedSource>() || node.inputs.is_empty() {
                continue;
            }
            let facts = model.node_input_facts(node.id)?;
            if !facts.iter().all(|f| f.konst.is_some()) {
                continue;
            }
            let inputs: TVec<TValue> = facts
                .iter()
                .map(|f| f.konst.clone().unwrap().into_tvalue())
                .collect();
            let Ok(Some(mut values)) = node.op.eval_out_of_plan(inputs) else {
                continue;
            };
            if mem(&values) > FOLD_BUDGET {
                continue;
            }
            // Walk single-successor chains so a transient (the i32 cast of a
            // weight) is never kept, only what the chain ends in.
            let mut last = node;
            while let Some(succ) = model.single_succ(last.id)? {
                if succ.inputs.len() != 1 || last.outputs.len() != 1 {
                    break;
                }
                match succ.op.eval_out_of_plan(values.clone()) {
                    Ok(Some(next)) if mem(&next) <= FOLD_BUDGET => {
                        values = next;
                        last = succ;
                    }
                    _ => break,
                }
            }
            let mut patch = TypedModelPatch::default();
            for (ix, value) in values.into_iter().enumerate() {
                let name = if ix > 0 {
                    format!("{}.{ix}", last.name)
                } else {
                    last.name.clone()
                };
                // Packed weights carry an exotic fact the consumer relies on: keep it.
                let exotic = model
                    .outlet_fact(OutletId::new(last.id, ix))?
                    .exotic_fact
                    .clone();
                let konst = Const::new_with_opt_exotic_fact(value.into_arc_tensor(), exotic)?;
                let wire = patch.wire_node(name, konst, &[])?[0];
                patch.shunt_outside(model, OutletId::new(last.id, ix), wire)?;
            }
            self.0 = node.id;
            return Ok(Some(patch));
        }
        Ok(None)
    }
}

fn mem(values: &[TValue]) -> u64 {
    values
        .iter()
        .map(|t| (t.datum_type().size_of() * t.len()) as u64)
        .sum()
}

/// tract's declutter with [`FoldWeights`] run first: a graph of plain operators
/// and folded constants, still independent of this machine's kernels.
pub fn declutter(mut model: TypedModel) -> TractResult<TypedModel> {
    let mut declutter = Optimizer::declutter();
    declutter.add_pass(0, Box::<FoldWeights>::default());
    declutter.session().optimize(&mut model)?;
    Ok(model)
}

/// tract's codegen with [`FoldWeights`] run first and, with `fast_ops`, this
/// crate's operators swapped in ([`super::ops::FastOps`], int8 products on
/// `int8`'s kernel): kernel selection and weight packing for this machine.
pub fn codegen(mut model: TypedModel, fast_ops: Option<FastOps>) -> TractResult<TypedModel> {
    let mut codegen = Optimizer::codegen();
    if let Some(fast_ops) = fast_ops {
        codegen.add_pass(0, Box::new(fast_ops));
    }
    codegen.add_pass(0, Box::<FoldWeights>::default());
    codegen.session().optimize(&mut model)?;
    Ok(model)
}
