//! The int8 weight product and its epilogue as one operator, on the project's
//! own kernels ([`edgeclip_kernels::int8`]).
//!
//! An ONNX dynamic-int8 layer is `DynamicQuantizeLinear → MatMulInteger →
//! Cast → Mul(scale) [→ Add(bias)]`; tract runs the product on its own i32
//! kernels (at 0.43 GMAC/s with AVX2 only, 89 with AVX-512 VNNI) and the
//! epilogue as further passes. This operator takes the quantized activation,
//! its zero point and the combined scale, holds the weights packed once for
//! the chosen kernel with their column sums and the bias, and writes the f32
//! result: the same values, bit for bit (the kernels' tests and
//! `tests/encoder.rs` check it against tract's own operators).

use std::sync::Arc;

use edgeclip_kernels::int8::Int8Linear;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// Multiply-adds per thread below which splitting a product costs more than
/// it saves (a few microseconds of work at AVX-512 VNNI speed; the default
/// model's products stay on one thread).
const MACS_PER_THREAD: usize = 4 << 20;

/// `y[.., n] = ((a[.., k] - za) · (w - zw)) as f32 * scale (+ bias[n])` with the
/// weights packed in an [`Int8Linear`]. Inputs: the u8 activation, its zero
/// point and the f32 scale (one element each).
#[derive(Clone, Debug)]
pub struct Int8MatMul {
    /// The packed weights, zero point and bias.
    pub linear: Arc<Int8Linear>,
}

impl PartialEq for Int8MatMul {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.linear, &other.linear)
    }
}

impl Eq for Int8MatMul {}

impl Op for Int8MatMul {
    fn name(&self) -> StaticName {
        "EdgeclipInt8MatMul".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "kernel {}, k {}, n {}",
            self.linear.isa().name(),
            self.linear.k(),
            self.linear.n()
        )])
    }

    op_as_typed_op!();
}

impl EvalOp for Int8MatMul {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (k, n) = (self.linear.k(), self.linear.n());
        let shape = inputs[0].shape();
        ensure!(
            shape.last() == Some(&k),
            "activation of shape {shape:?} for a weight of depth {k}"
        );
        let zero_point = u8::try_from(inputs[1].cast_to_scalar::<i32>()?)
            .context("activation zero point outside u8")?;
        let scale = inputs[2].cast_to_scalar::<f32>()?;
        let a = inputs[0].try_as_plain_ram()?;
        let a = a.as_slice::<u8>()?;
        let rows = shape[..shape.len() - 1].iter().product();
        let mut out_shape: TVec<usize> = shape.into();
        *out_shape.last_mut().expect("rank checked above") = n;
        let mut out = Tensor::zero::<f32>(&out_shape)?;
        {
            let mut plain = out.try_as_plain_ram_mut()?;
            let out = plain.as_slice_mut::<f32>()?;
            self.run(a, rows, zero_point, scale, out)?;
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl Int8MatMul {
    /// Runs the product, split by rows over tract's pool when it is large.
    fn run(&self, a: &[u8], rows: usize, za: u8, scale: f32, out: &mut [f32]) -> TractResult<()> {
        use rayon::prelude::*;
        let (k, n) = (self.linear.k(), self.linear.n());
        let work = rows * k * n / MACS_PER_THREAD;
        let Some((pool, threads)) = super::pool_for(work, 1) else {
            return Ok(self.linear.run(a, rows, za, scale, out)?);
        };
        let chunk = rows.div_ceil(threads);
        pool.install(|| {
            a.par_chunks(chunk * k.max(1))
                .zip(out.par_chunks_mut(chunk * n))
                .try_for_each(|(a, out)| {
                    let m = out.len() / n;
                    self.linear.run(a, m, za, scale, out)
                })
        })?;
        Ok(())
    }
}

impl TypedOp for Int8MatMul {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].datum_type == u8::datum_type());
        let mut shape = inputs[0].shape.to_tvec();
        ensure!(
            shape.last() == Some(&self.linear.k().to_dim()),
            "activation {:?} for a weight of depth {}",
            inputs[0].shape,
            self.linear.k()
        );
        *shape.last_mut().expect("checked above") = self.linear.n().to_dim();
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}
