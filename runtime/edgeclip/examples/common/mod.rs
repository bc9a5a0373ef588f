//! What the int8 benchmark's examples share (`profile`, `bench_case`): the
//! tower a file is run as, and a fixed item of its input.

use std::path::Path;

use edgeclip::backend::{DType, ModelSpec};

/// One item (batch of one) of a tower's input.
pub enum Item {
    /// An image, or any f32 input.
    F32(Vec<f32>),
    /// Token ids.
    I64(Vec<i64>),
}

impl Item {
    /// `batch` copies of the item, one after the other.
    pub fn repeat(&self, batch: usize) -> Item {
        match self {
            Item::F32(x) => Item::F32(x.repeat(batch)),
            Item::I64(x) => Item::I64(x.repeat(batch)),
        }
    }
}

/// The spec of `tower` for the file and a synthetic item: for `image`, any f32
/// input the file declares (`[batch, ...]`, a CLIP image or a bare product's
/// activations) filled with a smooth, image-like signal in about [-2, 2]; for
/// `text`, 77 token ids of one short prompt.
pub fn tower(path: &Path, tower: &str) -> anyhow::Result<(ModelSpec, Item)> {
    match tower {
        "image" => {
            let dims = input_dims(path)?;
            let len: usize = dims.iter().product();
            let item = (0..len).map(|i| ((i as f32) * 0.0137).sin() * 1.8);
            Ok((
                ModelSpec::batched("image", DType::F32, &dims, &["embedding"]),
                Item::F32(item.collect()),
            ))
        }
        "text" => {
            let mut ids = vec![0i64; 77];
            ids[..8].copy_from_slice(&[49406, 320, 1125, 539, 320, 736, 7117, 49407]);
            Ok((
                ModelSpec::batched("text", DType::I64, &[77], &["embedding"]),
                Item::I64(ids),
            ))
        }
        other => anyhow::bail!("tower must be image or text, not {other}"),
    }
}

/// The dimensions after the batch the file declares for its input; a
/// symbolic one (other than the batch) is taken as 224, CLIP's image side.
fn input_dims(path: &Path) -> anyhow::Result<Vec<usize>> {
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
