//! Zero-shot accuracy of the shipped model through the Rust runtime, on the
//! held-out procedural test set (tests/fixtures/heldout, never trained on).
//!
//! The floors are the accuracies measured with this runtime when the model was
//! packaged, minus a small margin; `models/edgeclip-tiny/eval.json` holds the
//! same measurement made with onnxruntime and open_clip's transforms.

use edgeclip::backend::Engine;
use edgeclip::embedding::Embeddings;
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::labels::{DType, StoreBuilder};
use edgeclip::matcher::LabelSet;
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::preprocess::load_rgb;
use edgeclip_e2e::{default_model, fixture};
use serde_json::Value;

struct Floors {
    seen: f64,
    held_out: f64,
    plain: f64,
}

/// Measured top-1 minus about 0.03. Measured: fp32 0.5583 / 0.4292 / 0.5172,
/// int8 0.5542 / 0.4125 / 0.5172 (seen / held-out combinations / plain PIL drawings;
/// chance is 1/48 = 0.021). The fp32 numbers equal onnxruntime's in eval.json.
const FP32: Floors = Floors {
    seen: 0.53,
    held_out: 0.40,
    plain: 0.49,
};
const INT8: Floors = Floors {
    seen: 0.52,
    held_out: 0.38,
    plain: 0.49,
};

/// Measured 0.9709. The target is 0.99; this under-trained model has many
/// near-ties between shapes of one colour, and int8 rounding flips them.
const AGREEMENT_FLOOR: f64 = 0.96;

fn labels() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("heldout/labels.json")).unwrap()).unwrap()
}

/// The 48 label names of the held-out set, in index order.
fn label_names(meta: &Value) -> Vec<String> {
    meta["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Top-1 predictions (label indices) and truths of one set.
fn predict(precision: Precision, set: &str) -> (Vec<usize>, Vec<usize>) {
    let meta = labels();
    let package = ModelPackage::open(default_model()).unwrap();
    let backend = Engine::tract(1);
    let template = meta["template"].as_str().unwrap().to_owned();
    let names = label_names(&meta);
    let text = TextEncoder::open(&package, &backend, precision)
        .unwrap()
        .embed_labels(&names, &[template])
        .unwrap();
    let mut images = ImageEncoder::open(&package, &backend, precision).unwrap();
    let rows = meta["sets"][set].as_array().unwrap();
    let pics: Vec<_> = rows
        .iter()
        .map(|r| load_rgb(&fixture(&format!("heldout/{}", r[0].as_str().unwrap()))).unwrap())
        .collect();
    let emb = images.embed_images(&pics).unwrap();
    let preds = emb
        .rows()
        .map(|img| {
            text.rows()
                .enumerate()
                .map(|(i, t)| (i, edgeclip::matcher::dot(t, img)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap()
                .0
        })
        .collect();
    let truth = rows
        .iter()
        .map(|r| r[1].as_u64().unwrap() as usize)
        .collect();
    (preds, truth)
}

fn accuracy(p: &[usize], t: &[usize]) -> f64 {
    p.iter().zip(t).filter(|(a, b)| a == b).count() as f64 / t.len() as f64
}

fn check(precision: Precision, floors: &Floors) {
    for (set, floor) in [
        ("seen", floors.seen),
        ("held_out", floors.held_out),
        ("plain", floors.plain),
    ] {
        let (p, t) = predict(precision, set);
        let acc = accuracy(&p, &t);
        println!(
            "{precision} {set}: top-1 {acc:.4} over {} images (floor {floor})",
            t.len()
        );
        assert!(
            acc >= floor,
            "{precision} {set}: top-1 {acc} < floor {floor}"
        );
    }
}

#[test]
fn fp32_zero_shot_accuracy() {
    check(Precision::Fp32, &FP32);
}

#[test]
fn int8_zero_shot_accuracy() {
    check(Precision::Int8, &INT8);
}

#[test]
fn int8_agrees_with_fp32() {
    let mut agree = 0;
    let mut total = 0;
    for set in ["seen", "held_out", "plain"] {
        let (a, _) = predict(Precision::Fp32, set);
        let (b, _) = predict(Precision::Int8, set);
        agree += a.iter().zip(&b).filter(|(x, y)| x == y).count();
        total += a.len();
    }
    let rate = agree as f64 / total as f64;
    println!("int8 vs fp32 top-1 agreement: {rate:.4} over {total} images");
    assert!(
        rate >= AGREEMENT_FLOOR,
        "agreement {rate} < {AGREEMENT_FLOOR}"
    );
}

/// Top-1 label of every held-out image against one store of the 48 labels.
fn store_predictions(
    dtype: DType,
    images: &Embeddings,
    labels: &[String],
    text: &Embeddings,
) -> Vec<usize> {
    let package = ModelPackage::open(default_model()).unwrap();
    let templates = [labels_meta_template()];
    let fingerprint = edgeclip::labels::fingerprint(&package, Precision::Fp32, &templates).unwrap();
    let mut builder = StoreBuilder::new(dtype, text.dim(), fingerprint).unwrap();
    for (label, row) in labels.iter().zip(text.rows()) {
        builder.add(label, row).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.emb");
    builder.write_atomic(&path).unwrap();
    let store = edgeclip::labels::open_store(&path, &package).unwrap();
    let mut set = LabelSet::from_store(store, package.manifest().logit_scale).unwrap();
    images
        .rows()
        .map(|img| set.top_k(img, 1).unwrap()[0].label)
        .collect()
}

fn labels_meta_template() -> String {
    labels()["template"].as_str().unwrap().to_owned()
}

/// The int8 and f16 stores against the f32 store, on every held-out image embedded
/// by the fp32 image tower: only the stored rows' element type differs.
#[test]
fn quantized_stores_agree_with_f32_store() {
    let meta = labels();
    let package = ModelPackage::open(default_model()).unwrap();
    let backend = Engine::tract(1);
    let names = label_names(&meta);
    let text = TextEncoder::open(&package, &backend, Precision::Fp32)
        .unwrap()
        .embed_labels(&names, &[labels_meta_template()])
        .unwrap();
    let mut encoder = ImageEncoder::open(&package, &backend, Precision::Fp32).unwrap();
    let mut images: Option<Embeddings> = None;
    for set in ["seen", "held_out", "plain"] {
        let pics: Vec<_> = meta["sets"][set]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| load_rgb(&fixture(&format!("heldout/{}", r[0].as_str().unwrap()))).unwrap())
            .collect();
        let emb = encoder.embed_images(&pics).unwrap();
        match &mut images {
            Some(all) => all.extend(&emb).unwrap(),
            None => images = Some(emb),
        }
    }
    let images = images.unwrap();
    let reference = store_predictions(DType::F32, &images, &names, &text);
    // Measured: f16 0.9969 (652/654), int8 0.9878 (646/654). The product target for
    // int8 is 0.995; this model's many near-ties between shapes of one colour (top-1
    // and top-2 cosines within the int8 rounding of a row) keep it below that.
    for (dtype, floor) in [(DType::F16, 0.995), (DType::Int8, 0.98)] {
        let p = store_predictions(dtype, &images, &names, &text);
        let agree = p.iter().zip(&reference).filter(|(a, b)| a == b).count();
        let rate = agree as f64 / p.len() as f64;
        println!(
            "{} store vs f32 store top-1 agreement: {rate:.4} ({agree}/{} images)",
            dtype.name(),
            p.len()
        );
        assert!(rate >= floor, "{}: {rate} < {floor}", dtype.name());
    }
}
