//! Numeric kernels of the edgeclip runtime, with no knowledge of models or engines.
//!
//! [`vector`] holds the dot products of stored label rows with a query (f32,
//! f16, int8), the bounded exponential and the shifted sum of exponentials the
//! softmaxes use: plain Rust that LLVM vectorizes, compiled twice on x86-64
//! (baseline and AVX2, chosen at run time). [`int8`] is the int8 matrix product behind every quantized linear layer of
//! a CLIP encoder: weights packed once at load with their column sums,
//! activations (u8 with a zero point, as ONNX's `DynamicQuantizeLinear` makes
//! them) packed per call, i32 accumulation and the dequantizing epilogue
//! (`acc as f32 * scale + bias`) in the micro-kernel's store. The micro-kernel
//! is chosen at run time from the CPU's features ([`int8::Isa`]).
//!
//! ```
//! use edgeclip_kernels::int8::{Int8Linear, Isa};
//!
//! // y = (x - 128) · w as f32 * 0.5 for a 2×3 activation and a 3×2 weight.
//! let w: [i8; 6] = [1, -1, 2, 0, -3, 4];
//! let linear = Int8Linear::new(Isa::best(), &w, 3, 2, 0, None).unwrap();
//! let x: [u8; 6] = [129, 130, 128, 128, 128, 127];
//! let mut y = [0f32; 4];
//! linear.run(&x, 2, 128, 0.5, &mut y).unwrap();
//! assert_eq!(y, [2.5, -0.5, 1.5, -2.0]);
//! ```
//!
//! `unsafe` here is confined to the micro-kernels (`int8/x86.rs`,
//! `int8/neon.rs`): CPU intrinsics are `unsafe` to call, and each call site
//! states why it is sound.
#![deny(missing_docs)]

pub mod int8;
pub mod vector;
