//! What flows through a session: tensor descriptions, one batch of input, and
//! the caller-owned outputs a run fills.

use std::path::Path;

use crate::{Error, Result};

/// Element type of a model input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// 32-bit float (images, embeddings).
    F32,
    /// 64-bit signed integer (token ids).
    I64,
}

/// One dimension of a tensor: fixed, or the batch dimension chosen per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    /// The batch size, set by each [`Session::run`].
    Batch,
    /// A fixed size.
    Fixed(usize),
}

/// Name, type and shape of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// The tensor's name in the model file.
    pub name: String,
    /// Its element type.
    pub dtype: DType,
    /// Its shape, the batch dimension first where there is one.
    pub shape: Vec<Dim>,
}

impl TensorSpec {
    /// Number of elements for `batch` items (no allocation: runs call it per frame).
    pub fn len(&self, batch: usize) -> usize {
        self.shape
            .iter()
            .map(|d| match d {
                Dim::Batch => batch,
                Dim::Fixed(n) => *n,
            })
            .product()
    }

    /// Checks that `input` holds `batch` items of this tensor: what every
    /// [`Session::run`] verifies before handing data to its engine. `path` names
    /// the model in the error.
    pub fn check_input(&self, path: &Path, input: &Input<'_>, batch: usize) -> Result<()> {
        let expected = self.len(batch);
        if batch == 0 || input.len() != expected || input.dtype() != self.dtype {
            return Err(Error::InvalidInput(format!(
                "{}: input `{}` needs {expected} {:?} values for shape {:?}, got {} {:?}",
                path.display(),
                self.name,
                self.dtype,
                self.concrete(batch),
                input.len(),
                input.dtype()
            )));
        }
        Ok(())
    }

    /// The shape with the batch dimension set to `batch`.
    pub fn concrete(&self, batch: usize) -> Vec<usize> {
        self.shape
            .iter()
            .map(|d| match d {
                Dim::Batch => batch,
                Dim::Fixed(n) => *n,
            })
            .collect()
    }
}

/// Input data of one batch, laid out row-major in the input's shape.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Float data (images, normalised; token ids never).
    F32(&'a [f32]),
    /// Integer data (token ids).
    I64(&'a [i64]),
    /// Raw 8-bit RGB pixels standing for an f32 image input: each item the
    /// model's square (`side × side × 3`, row-major, channels last), resized and
    /// cropped but not normalised. Only for a session that says it takes them
    /// ([`Session::takes_pixels`](crate::Session::takes_pixels)): an engine that
    /// folds the normalisation into the model (RKNN) then gets its pixels as they
    /// are, instead of floats it would turn back into pixels.
    Pixels(&'a [u8]),
}

impl Input<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Input::F32(d) => d.len(),
            Input::I64(d) => d.len(),
            Input::Pixels(d) => d.len(),
        }
    }

    /// True when there is no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type of the tensor this stands for: pixels stand for the f32
    /// image they normalise to, one value per byte.
    pub fn dtype(&self) -> DType {
        match self {
            Input::F32(_) | Input::Pixels(_) => DType::F32,
            Input::I64(_) => DType::I64,
        }
    }
}

/// One output tensor of a run, as f32.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// The output's name in the model file.
    pub name: String,
    /// Its concrete shape.
    pub shape: Vec<usize>,
    /// Its data, row-major.
    pub data: Vec<f32>,
}

/// The outputs of a run, owned by the caller and reused: a session resizes the
/// buffers in place, so after the first run of a shape nothing is allocated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    tensors: Vec<Output>,
    len: usize,
}

impl Outputs {
    /// No outputs yet; the first run sizes them.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of outputs the last run produced.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first run.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Output `i` of the last run.
    pub fn get(&self, i: usize) -> Option<&Output> {
        self.tensors[..self.len].get(i)
    }

    /// The outputs of the last run, in the session's order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Output> {
        self.tensors[..self.len].iter()
    }

    /// For sessions: starts a run that will fill `count` outputs.
    pub fn begin(&mut self, count: usize) {
        if self.tensors.len() < count {
            self.tensors.resize_with(count, Output::default);
        }
        self.len = count;
    }

    /// For sessions: the data of output `i` as the last [`Outputs::slot`] call
    /// sized it, to fill more of it.
    pub fn slot_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.tensors[i].data
    }

    /// For sessions: output `i`, named `name`, resized to `shape`; returns its data
    /// to fill. Reuses the buffer's memory when it is large enough.
    pub fn slot(&mut self, i: usize, name: &str, shape: &[usize]) -> &mut [f32] {
        let out = &mut self.tensors[i];
        if out.name != name {
            name.clone_into(&mut out.name);
        }
        out.shape.clear();
        out.shape.extend_from_slice(shape);
        out.data.resize(shape.iter().product(), 0.0);
        &mut out.data
    }
}

/// What a model file is expected to take in (checked at load).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The single input the model must have.
    pub input: TensorSpec,
    /// Outputs the model must produce, in this order.
    pub outputs: Vec<String>,
    /// For an image input: how 8-bit RGB pixels became its values,
    /// `(p / 255 - mean[c]) / std[c]`. Backends whose files take the pixels
    /// themselves (RKNN, normalization folded in) undo it; `None` otherwise.
    pub normalization: Option<Normalization>,
}

impl ModelSpec {
    /// One `input` of `dims` after a batch dimension and the named `outputs`,
    /// no pixel normalization: a bare file's spec (benches, tests, tools).
    pub fn batched(input: &str, dtype: DType, dims: &[usize], outputs: &[&str]) -> Self {
        let mut shape = vec![Dim::Batch];
        shape.extend(dims.iter().copied().map(Dim::Fixed));
        ModelSpec {
            input: TensorSpec {
                name: input.into(),
                dtype,
                shape,
            },
            outputs: outputs.iter().map(|&o| o.into()).collect(),
            normalization: None,
        }
    }
}

/// What a model file declares about its inputs and outputs, as its engine reads
/// them: checked against the [`ModelSpec`] by [`ModelSpec::check_declared`], the
/// one check every backend runs at load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredIo {
    /// Input names, in the file's order.
    pub inputs: Vec<String>,
    /// The first input's shape where the file gives one (`None` per symbolic
    /// dimension); `None` when the engine cannot tell.
    pub input_shape: Option<Vec<Option<usize>>>,
    /// Output names, in the file's order.
    pub outputs: Vec<String>,
}

impl ModelSpec {
    /// Checks that the file at `path` declares the single input and the outputs
    /// this spec promises: one input of the spec's name (and shape, where the
    /// file says), every wanted output present.
    pub fn check_declared(&self, path: &Path, declared: &DeclaredIo) -> Result<()> {
        let bad = |message: String| Error::model(path, message);
        let [name] = declared.inputs.as_slice() else {
            return Err(bad(format!(
                "expected 1 input, the model has {}",
                declared.inputs.len()
            )));
        };
        if *name != self.input.name {
            return Err(bad(format!(
                "expected input `{}`, the model's is `{name}`",
                self.input.name
            )));
        }
        if let Some(shape) = &declared.input_shape {
            let fits = shape.len() == self.input.shape.len()
                && shape
                    .iter()
                    .zip(&self.input.shape)
                    .all(|(d, want)| match (d, want) {
                        (Some(n), Dim::Fixed(w)) => n == w,
                        _ => true,
                    });
            if !fits {
                return Err(bad(format!(
                    "input `{name}` has shape {shape:?}, expected {:?}",
                    self.input.shape
                )));
            }
        }
        for want in &self.outputs {
            if !declared.outputs.contains(want) {
                return Err(bad(format!(
                    "no output `{want}` (the model has {:?})",
                    declared.outputs
                )));
            }
        }
        Ok(())
    }
}

/// Per-channel mean and standard deviation of an image input (RGB order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// Subtracted from `p / 255`.
    pub mean: [f32; 3],
    /// Then divided by.
    pub std: [f32; 3],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec::batched("pixels", DType::F32, &[3, 4, 4], &["embedding"])
    }

    fn declared(
        inputs: &[&str],
        shape: Option<Vec<Option<usize>>>,
        outputs: &[&str],
    ) -> DeclaredIo {
        DeclaredIo {
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            input_shape: shape,
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_file_as_promised_passes() {
        let shape = Some(vec![None, Some(3), Some(4), Some(4)]);
        let ok = declared(&["pixels"], shape, &["patches", "embedding"]);
        assert!(spec().check_declared(Path::new("m.onnx"), &ok).is_ok());
        assert!(spec()
            .check_declared(
                Path::new("m.onnx"),
                &declared(&["pixels"], None, &["embedding"])
            )
            .is_ok());
    }

    #[test]
    fn each_broken_promise_is_named() {
        let check = |d: DeclaredIo| {
            let e = spec().check_declared(Path::new("m.onnx"), &d).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Model);
            e.to_string()
        };
        assert!(check(declared(&["a", "b"], None, &["embedding"]))
            .contains("expected 1 input, the model has 2"));
        assert!(
            check(declared(&["image"], None, &["embedding"])).contains("the model's is `image`")
        );
        let wrong = Some(vec![None, Some(3), Some(8), Some(8)]);
        assert!(check(declared(&["pixels"], wrong, &["embedding"])).contains("has shape"));
        assert!(check(declared(
            &["pixels"],
            Some(vec![None, Some(3)]),
            &["embedding"]
        ))
        .contains("has shape"));
        assert!(check(declared(&["pixels"], None, &["logits"])).contains("no output `embedding`"));
    }
}
