//! Scoring image embeddings against label rows: the per-frame half of zero-shot
//! classification and tagging.
//!
//! A [`Matcher`] is built once for a label set's shape (`labels × dim`) and the model's
//! logit scale; it owns all the scratch it needs, so scoring a frame allocates nothing.
//! Rows come as a borrowed [`Rows`] view (f32, f16 or int8 with per-row scales), usually
//! straight from the store's memory map.
//!
//! ```
//! use edgeclip_match::{Matcher, Rows, Thresholds};
//!
//! // Three unit label rows of dimension 2 and one unit image embedding.
//! let rows = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
//! let image = [0.0, 1.0];
//! let mut matcher = Matcher::new(3, 2, 100.0);
//!
//! let top = matcher.top_k::<2>(Rows::F32(&rows), &image)?;
//! assert_eq!(top[0].label, 1); // best first
//! assert_eq!(top[1].label, 2);
//! assert!(top[0].probability > 0.99); // softmax over all three labels
//!
//! // Multi-label: sigmoid(logit + bias) against per-label thresholds.
//! let mut tagger = Matcher::new(3, 2, 10.0).with_bias(-5.0);
//! let tags = tagger.tags::<4>(Rows::F32(&rows), &image, &Thresholds::uniform(0.5))?;
//! assert_eq!(tags.tags.iter().map(|t| t.label).collect::<Vec<_>>(), [1, 2]);
//! # Ok::<(), edgeclip_match::Error>(())
//! ```
//!
//! # Design
//!
//! - **Kernels** ([`kernel`]): plain Rust loops with fixed-size lane arrays, which LLVM
//!   vectorizes without fast-math. Each whole-set kernel is compiled twice, for the
//!   baseline target and (x86-64) for AVX2, picked at run time by the `multiversion`
//!   crate; no intrinsics and no `unsafe` here. f16 rows widen bit by bit
//!   ([`kernel::f16_bits_to_f32`]). Int8 rows are dotted exactly in integers against
//!   the query quantized once per frame to **16** bits: as fast as an i8 × i8 dot on
//!   AVX2 (`vpmaddwd` either way) but the query's rounding costs ~5·10⁻⁶ of cosine
//!   instead of ~10⁻³, so the int8 score error is the rows' own quantization only
//!   (measured on 512-d unit vectors: rms 2.9·10⁻⁴, max 1.2·10⁻³ of cosine).
//! - **Top-k** ([`topk`]): a fixed-capacity heap of `K`, one comparison per label in
//!   the common case; ties go to the lower label index and NaN ranks last.
//!   [`Matcher::top_k_into`] is the same with `k` known only at run time (a
//!   server's per-request `top_k`), into a buffer the caller reuses.
//! - **Softmax** ([`softmax`]): probabilities over the whole set without storing them:
//!   one vectorized `Σ exp(l − max)` pass, then `exp` only for the `K` reported.
//! - **Speed**: single-threaded; on the x86-64 dev machine a frame against 100k
//!   512-d labels (scores, top-5, softmax) takes 9.4 ms (f32), 12.8 ms (f16) and
//!   2.9 ms (int8): 0.5–1.25× the copy-bandwidth floor and 1.3–5.6× faster than
//!   numpy. f16 rows are compute-bound without F16C (which would need intrinsics):
//!   at 1k–10k labels, where numpy's float32 copy sits in cache, they are 2–3× slower
//!   than numpy. `firmware-tools/bench/match.sh` prints the full table.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod error;
/// The dot, score and exponential kernels, from the kernels crate.
pub use edgeclip_kernels::vector as kernel;
mod matcher;
mod score;
pub mod softmax;
pub mod topk;
pub mod track;

pub use edgeclip_store::{DType, Rows};
pub use error::{Error, ErrorKind, Result};
pub use matcher::{Match, Matcher, Tag, Tags, Thresholds};
