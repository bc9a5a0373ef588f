//! Zero-shot accuracy of the shipped model through the Rust runtime, on the
//! held-out procedural test sets (never trained on): 1,000 seen-combination and
//! 1,000 held-out-combination images from the generator and 1,044 plain PIL
//! drawings, generated from seeds into `target/heldout` by `firmware-tools/test-env.sh`.
//!
//! The floors are the accuracies measured with this runtime when the model was
//! packaged, minus a small margin; `models/edgeclip-tiny/eval.json` holds the
//! same measurement made with onnxruntime and open_clip's transforms.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use edgeclip::embedding::Embeddings;
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::labels::{DType, StoreBuilder};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::preprocess::load_rgb;
use edgeclip::zero_shot::LabelSet;
use edgeclip_e2e::{default_model, heldout};
use serde_json::Value;

struct Floors {
    seen: f64,
    held_out: f64,
    plain: f64,
}

/// Measured top-1 minus about 0.005 (one image is 0.001). Measured: fp32 0.998 /
/// 0.978 / 0.977, int8 0.997 / 0.976 / 0.977 (seen / held-out
/// combinations / plain PIL drawings; chance is 1/48 = 0.021). The fp32 numbers equal
/// onnxruntime's in eval.json.
const FP32: Floors = Floors {
    seen: 0.993,
    held_out: 0.973,
    plain: 0.972,
};
const INT8: Floors = Floors {
    seen: 0.992,
    held_out: 0.971,
    plain: 0.972,
};

/// Measured 0.9984 (3,039 of 3,044 images); the product target is 0.99.
const AGREEMENT_FLOOR: f64 = 0.995;

const SETS: [&str; 3] = ["seen", "held_out", "plain"];

fn labels() -> &'static Value {
    static META: OnceLock<Value> = OnceLock::new();
    META.get_or_init(|| {
        serde_json::from_str(&std::fs::read_to_string(heldout("labels.json")).unwrap()).unwrap()
    })
}

/// The decoded images of one held-out set.
fn images_of(set: &str) -> Vec<image::RgbImage> {
    labels()["sets"][set]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| load_rgb(&heldout(r[0].as_str().unwrap())).unwrap())
        .collect()
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

/// Top-1 predictions (label indices) and the truths, image by image.
type Predictions = (Vec<usize>, Vec<usize>);

/// Top-1 predictions (label indices) and truths of one set, computed once per
/// precision and set for all the tests of this file.
fn predict(precision: Precision, set: &str) -> Predictions {
    static CACHE: OnceLock<Mutex<HashMap<(Precision, String), Predictions>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (precision, set.to_owned());
    if let Some(hit) = cache.lock().unwrap().get(&key) {
        return hit.clone();
    }
    let result = predict_uncached(precision, set);
    cache.lock().unwrap().insert(key, result.clone());
    result
}

fn predict_uncached(precision: Precision, set: &str) -> Predictions {
    let meta = labels();
    let package = ModelPackage::open(default_model()).unwrap();
    let backend = edgeclip_backend_tract::engine(1);
    let template = meta["template"].as_str().unwrap().to_owned();
    let names = label_names(meta);
    let text = TextEncoder::open(&package, &backend, precision)
        .unwrap()
        .embed_labels(&names, &[template])
        .unwrap();
    let mut images = ImageEncoder::open(&package, &backend, precision).unwrap();
    let emb = images.embed_images(&images_of(set)).unwrap();
    let preds = emb
        .rows()
        .map(|img| {
            text.rows()
                .enumerate()
                .map(|(i, t)| (i, edgeclip::zero_shot::dot(t, img)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap()
                .0
        })
        .collect();
    let truth = meta["sets"][set]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_u64().unwrap() as usize)
        .collect();
    (preds, truth)
}

fn accuracy(p: &[usize], t: &[usize]) -> f64 {
    p.iter().zip(t).filter(|(a, b)| a == b).count() as f64 / t.len() as f64
}

fn check(precision: Precision, floors: &Floors) {
    for (set, floor) in SETS
        .into_iter()
        .zip([floors.seen, floors.held_out, floors.plain])
    {
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
    for set in SETS {
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
    let backend = edgeclip_backend_tract::engine(1);
    let names = label_names(meta);
    let text = TextEncoder::open(&package, &backend, Precision::Fp32)
        .unwrap()
        .embed_labels(&names, &[labels_meta_template()])
        .unwrap();
    let mut encoder = ImageEncoder::open(&package, &backend, Precision::Fp32).unwrap();
    let mut images: Option<Embeddings> = None;
    for set in SETS {
        let emb = encoder.embed_images(&images_of(set)).unwrap();
        match &mut images {
            Some(all) => all.extend(&emb).unwrap(),
            None => images = Some(emb),
        }
    }
    let images = images.unwrap();
    let reference = store_predictions(DType::F32, &images, &names, &text);
    // Measured: f16 1.0 (3044/3044), int8 0.9997 (3043/3044); the product target
    // for int8 is 0.995.
    for (dtype, floor) in [(DType::F16, 0.998), (DType::Int8, 0.997)] {
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
