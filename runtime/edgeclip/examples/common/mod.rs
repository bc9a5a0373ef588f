//! What the int8 benchmark's examples share (`profile`, `bench_case`).

use std::path::Path;

/// The dimensions after the batch the file declares for its input; a
/// symbolic one (other than the batch) is taken as 224, CLIP's image side.
pub fn input_dims(path: &Path) -> anyhow::Result<Vec<usize>> {
    use tract_onnx::prelude::*;
    use tract_onnx::tract_hir::infer::Factoid;
    let model = tract_onnx::onnx().model_for_path(path)?;
    let fact = model.input_fact(0)?;
    let shape = fact
        .shape
        .concretize()
        .ok_or_else(|| anyhow::anyhow!("{}: input of unknown rank", path.display()))?;
    Ok(shape
        .iter()
        .skip(1)
        .map(|d| d.to_i64().map_or(224, |n| n as usize))
        .collect())
}
