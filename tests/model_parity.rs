//! The runtime's outputs against onnxruntime's on the same ONNX files and inputs:
//! the reference shipped in the default package (made by
//! firmware-tools/fixtures/make_model_fixtures.py), checked through
//! `edgeclip::reference`, the code `edgeclip check` runs on boards.

use edgeclip::model::{ModelPackage, Precision};
use edgeclip::reference::{Reference, FP32_FLOOR, INT8_FLOOR};
use edgeclip_e2e::default_model;

fn check(precision: Precision, threads: usize) {
    let package = ModelPackage::open(default_model()).unwrap();
    let reference = Reference::of_package(&package).unwrap();
    let agreements = reference
        .check(
            &package,
            &edgeclip_backend_tract::engine(threads),
            precision,
        )
        .unwrap();
    let mut outputs: Vec<&str> = agreements.iter().map(|a| a.output.as_str()).collect();
    outputs.sort();
    let expected =
        ["image", "patch_tokens", "text", "value_tokens"].map(|o| format!("{o}.{precision}"));
    assert_eq!(outputs, expected, "every output has a reference");
    for a in &agreements {
        println!(
            "{} ({threads} thread(s)): min cosine vs onnxruntime {:.8} over {} rows (floor {})",
            a.output, a.min_cosine, a.rows, a.floor
        );
        assert!(
            a.passed(),
            "{}: cosine {} < {}",
            a.output,
            a.min_cosine,
            a.floor
        );
        let floor = if precision == Precision::Fp32 {
            FP32_FLOOR
        } else {
            INT8_FLOOR
        };
        assert!(a.floor <= floor, "floors are the documented ones");
    }
}

#[test]
fn fp32_matches_onnxruntime() {
    check(Precision::Fp32, 1);
}

#[test]
fn int8_matches_onnxruntime() {
    check(Precision::Int8, 1);
}

#[test]
fn two_threads_give_the_same_embeddings() {
    check(Precision::Int8, 2);
    check(Precision::Fp32, 2);
}
