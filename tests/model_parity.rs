//! The runtime's embeddings against onnxruntime's on the same ONNX files and
//! inputs (fixtures made by firmware-tools/fixtures/make_model_fixtures.py).

use edgeclip::backend::tract::TractBackend;
use edgeclip::backend::{Backend, DType, Dim, Input, ModelSpec, TensorSpec};
use edgeclip::model::{ModelPackage, Precision, TowerKind};
use edgeclip_e2e::{default_model, fixture, min_row_cosine, read_f32, read_i64};
use serde_json::Value;

fn meta() -> Value {
    let text = std::fs::read_to_string(fixture("model/parity.json")).expect("parity.json");
    serde_json::from_str(&text).unwrap()
}

fn shape(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

fn reference(meta: &Value, key: &str) -> (Vec<f32>, Vec<usize>) {
    let entry = &meta["outputs"][key];
    (
        read_f32(&fixture(&format!(
            "model/{}",
            entry["file"].as_str().unwrap()
        ))),
        shape(entry),
    )
}

/// Runs one tower of the default package on the fixture input; returns outputs by name.
fn run_tower(kind: TowerKind, precision: Precision, threads: usize) -> Vec<(String, Vec<f32>)> {
    let package = ModelPackage::open(default_model()).unwrap();
    let meta = meta();
    let path = package.verified_path(kind, precision).unwrap();
    let m = package.manifest();
    let (spec, outputs) = match kind {
        TowerKind::Image => {
            let s = m.preprocess.image_size as usize;
            let input = TensorSpec {
                name: m.image.input.clone(),
                dtype: DType::F32,
                shape: vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(s), Dim::Fixed(s)],
            };
            (
                input,
                vec![
                    m.image.embedding.clone(),
                    m.image.patch_tokens.clone().unwrap(),
                ],
            )
        }
        TowerKind::Text => {
            let input = TensorSpec {
                name: m.text.input.clone(),
                dtype: DType::I64,
                shape: vec![Dim::Batch, Dim::Fixed(m.tokenizer.context_length)],
            };
            (input, vec![m.text.embedding.clone()])
        }
    };
    let mut session = TractBackend::new(threads)
        .load(
            &path,
            &ModelSpec {
                input: spec,
                outputs: outputs.clone(),
            },
        )
        .unwrap();
    let result = match kind {
        TowerKind::Image => {
            let data = read_f32(&fixture("model/images.f32.bin"));
            session
                .run(Input::F32(&data), shape(&meta["images"])[0])
                .unwrap()
        }
        TowerKind::Text => {
            let data = read_i64(&fixture("model/tokens.i64.bin"));
            session
                .run(Input::I64(&data), shape(&meta["tokens"])[0])
                .unwrap()
        }
    };
    result.into_iter().map(|o| (o.name, o.data)).collect()
}

fn check(kind: TowerKind, precision: Precision, threads: usize, floor: f64) {
    let meta = meta();
    let outputs = run_tower(kind, precision, threads);
    for (name, data) in outputs {
        let key = match (kind, name.as_str()) {
            (TowerKind::Text, _) => format!("text.{precision}"),
            (TowerKind::Image, "patch_tokens") => format!("patch_tokens.{precision}"),
            (TowerKind::Image, _) => format!("image.{precision}"),
        };
        let (expected, shape) = reference(&meta, &key);
        let dim = *shape.last().unwrap();
        let cos = min_row_cosine(&data, &expected, dim);
        // Single patch tokens have small norms, so int8 rounding moves their
        // direction more than the pooled embedding's; the pooled floor is the target.
        let floor = if name == "patch_tokens" && precision == Precision::Int8 {
            0.9995
        } else {
            floor
        };
        println!("{key} ({threads} thread(s)): min cosine vs onnxruntime {cos:.8}");
        assert!(cos >= floor, "{key}: cosine {cos} < {floor}");
    }
}

#[test]
fn image_fp32_matches_onnxruntime() {
    check(TowerKind::Image, Precision::Fp32, 1, 0.99999);
}

#[test]
fn image_int8_matches_onnxruntime() {
    check(TowerKind::Image, Precision::Int8, 1, 0.9999);
}

#[test]
fn text_fp32_matches_onnxruntime() {
    check(TowerKind::Text, Precision::Fp32, 1, 0.99999);
}

#[test]
fn text_int8_matches_onnxruntime() {
    check(TowerKind::Text, Precision::Int8, 1, 0.9999);
}

#[test]
fn two_threads_give_the_same_embeddings() {
    check(TowerKind::Image, Precision::Int8, 2, 0.9999);
    check(TowerKind::Text, Precision::Fp32, 2, 0.99999);
}
