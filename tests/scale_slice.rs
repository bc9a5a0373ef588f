//! tract against onnxruntime on a ViT-B/32-width slice, fp32 and int8.
//!
//! The int8 traps (a wrong fused u8 softmax, QGemm, weight folding stopping at
//! 4 MiB) only show at real width; `firmware-tools/test-env.sh` builds the
//! slice from a seed into target/scale-slice with onnxruntime's outputs.

use std::path::PathBuf;
use std::time::Instant;

use edgeclip::backend::{DType, Dim, Input, ModelSpec, TensorSpec};
use edgeclip::backend::{Engine, Outputs};
use edgeclip_e2e::{cosine, read_f32, root};

fn slice_dir() -> PathBuf {
    let dir = root().join("target").join("scale-slice");
    assert!(
        dir.join("meta.json").is_file(),
        "{} is missing: run firmware-tools/test-env.sh first (it builds the ViT-B/32 slice)",
        dir.display()
    );
    dir
}

fn check(precision: &str, floor: f64) {
    let dir = slice_dir();
    let spec = ModelSpec {
        input: TensorSpec {
            name: "image".into(),
            dtype: DType::F32,
            shape: vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(224), Dim::Fixed(224)],
        },
        outputs: vec!["embedding".into()],
        normalization: None,
    };
    let started = Instant::now();
    let mut session = Engine::tract(1)
        .load(&dir.join(format!("slice.{precision}.onnx")), &spec)
        .unwrap();
    let input = read_f32(&dir.join("input.bin"));
    let mut out = Outputs::new();
    session.run(Input::F32(&input), 1, &mut out).unwrap();
    let load_and_first = started.elapsed();
    let started = Instant::now();
    session.run(Input::F32(&input), 1, &mut out).unwrap();
    let second = started.elapsed();
    let expected = read_f32(&dir.join(format!("{precision}.ort.bin")));
    let cos = cosine(&out.get(0).unwrap().data, &expected);
    println!(
        "ViT-B/32 slice {precision}: cosine vs onnxruntime {cos:.8} (load+first run {load_and_first:?}, second run {second:?})"
    );
    assert!(cos >= floor, "{precision}: cosine {cos} < {floor}");
}

#[test]
fn fp32_slice_matches_onnxruntime() {
    check("fp32", 0.99999);
}

/// The traps this guards against give cosines of 0.7-0.8. What remains is
/// rounding: tract and onnxruntime differ by about one step in some
/// DynamicQuantizeLinear outputs, which a 768-wide residual stream carries
/// through (measured 0.99988; onnxruntime's own int8 vs fp32 is 0.99974).
#[test]
fn int8_slice_matches_onnxruntime() {
    check("int8", 0.9998);
}
