//! `edgeclip labels` and `classify --store` as a user runs them: building, editing,
//! listing stores, matching with them, and refusing stores that do not fit.

use std::path::Path;
use std::process::Output;

use edgeclip::labels::{DType, Fingerprint, StoreBuilder};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip_e2e::{default_model, edgeclip, samples};
use serde_json::Value;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    o
}

fn build(list: &Path, out: &Path, dtype: &str) -> Output {
    edgeclip()
        .args(["labels", "build"])
        .arg(list)
        .arg("-o")
        .arg(out)
        .args(["--dtype", dtype])
        .output()
        .unwrap()
}

/// (label, probability) rows of every image from `classify --json`.
fn classify(extra: &[&str], label_args: &[&std::ffi::OsStr]) -> Vec<Vec<(String, f64)>> {
    let out = ok(edgeclip()
        .arg("classify")
        .args(samples())
        .args(label_args)
        .args(extra)
        .arg("--json")
        .output()
        .unwrap());
    stdout(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["data"]["top"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["label"].as_str().unwrap().to_owned(),
                        t["probability"].as_f64().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn store_classifies_like_encoding_the_labels() {
    let dir = tempfile::tempdir().unwrap();
    let list = default_model().join("labels.txt");
    let direct = classify(&["-k", "5"], &["--labels-file".as_ref(), list.as_os_str()]);
    for (dtype, tolerance) in [("f32", 1e-5), ("f16", 2e-3)] {
        let store = dir.path().join(format!("labels.{dtype}.emb"));
        let out = ok(build(&list, &store, dtype));
        assert!(stdout(&out).contains("48 labels"), "{}", stdout(&out));
        assert!(stdout(&out).contains("labels/s"), "{}", stdout(&out));
        let stored = classify(&["-k", "5"], &["--store".as_ref(), store.as_os_str()]);
        assert_eq!(stored.len(), direct.len());
        for (s, d) in stored.iter().zip(&direct) {
            assert_eq!(s[0].0, d[0].0, "{dtype}: top label");
            for ((_, ps), (_, pd)) in s.iter().zip(d) {
                assert!((ps - pd).abs() <= tolerance, "{dtype}: {ps} vs {pd}");
            }
        }
    }
}

#[test]
fn add_remove_list_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("labels.txt");
    std::fs::write(
        &list,
        "red circle\nblue square\tshapes\t0.4\n# comment\n\ngreen star\n",
    )
    .unwrap();
    let store = dir.path().join("s.emb");
    ok(build(&list, &store, "int8"));

    let more = dir.path().join("more.txt");
    std::fs::write(&more, "yellow ring\tshapes\n").unwrap();
    let out = ok(edgeclip()
        .args(["labels", "add"])
        .arg(&store)
        .args(["orange cross", "--labels-file"])
        .arg(&more)
        .output()
        .unwrap());
    assert!(stdout(&out).contains("5 labels now"), "{}", stdout(&out));

    let out = ok(edgeclip()
        .args(["labels", "remove"])
        .arg(&store)
        .arg("red circle")
        .output()
        .unwrap());
    assert!(stdout(&out).contains("4 labels left"), "{}", stdout(&out));

    let out = ok(edgeclip()
        .args(["labels", "list", "--json"])
        .arg(&store)
        .output()
        .unwrap());
    let rows: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let labels: Vec<&str> = rows
        .iter()
        .map(|r| r["data"]["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["blue square", "green star", "orange cross", "yellow ring"]
    );
    assert_eq!(rows[0]["data"]["group"], "shapes");
    assert!((rows[0]["data"]["threshold"].as_f64().unwrap() - 0.4).abs() < 1e-6);
    assert_eq!(rows[1]["data"]["group"], Value::Null);
    assert_eq!(rows[3]["data"]["group"], "shapes");

    let out = ok(edgeclip()
        .args(["labels", "info", "--json"])
        .arg(&store)
        .output()
        .unwrap());
    let info: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(info["type"], "store_info");
    let info = &info["data"];
    assert_eq!(info["labels"], 4);
    assert_eq!(info["dtype"], "int8");
    assert_eq!(info["dim"], 128);
    assert_eq!(info["model"], "edgeclip-tiny");
    assert_eq!(info["tokenizer"], "clip-bpe/77");
    assert_eq!(info["templates"][0], "a photo of a {}.");
    assert_eq!(info["labels_with_group"], 2);
    assert_eq!(
        info["bytes"].as_u64().unwrap(),
        std::fs::metadata(&store).unwrap().len()
    );
    assert!(info["model_status"].as_str().unwrap().contains("usable"));
}

#[test]
fn failed_edits_leave_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("labels.txt");
    std::fs::write(&list, "red circle\nblue square\n").unwrap();
    let store = dir.path().join("s.emb");
    ok(build(&list, &store, "f16"));
    let before = std::fs::read(&store).unwrap();

    let out = edgeclip()
        .args(["labels", "remove"])
        .arg(&store)
        .args(["blue square", "no such label"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no such label"), "{}", stderr(&out));

    let out = edgeclip()
        .args(["labels", "add"])
        .arg(&store)
        .arg("red circle")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("red circle"), "{}", stderr(&out));

    let out = build(&list, &store, "f16");
    assert_eq!(out.status.code(), Some(2), "build does not overwrite");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));

    assert_eq!(std::fs::read(&store).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "no temporary file left: {leftovers:?}");
}

#[test]
fn another_models_store_is_refused_naming_both_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.emb");
    let fingerprint = Fingerprint {
        model: "other-model".into(),
        text_sha256: [7; 32],
        tokenizer: "clip-bpe/77".into(),
        templates: vec!["a photo of a {}.".into()],
    };
    let mut builder = StoreBuilder::new(DType::F16, 128, fingerprint).unwrap();
    let mut row = vec![0.0f32; 128];
    row[0] = 1.0;
    builder.add("red circle", &row).unwrap();
    builder.write_atomic(&path).unwrap();

    let out = edgeclip()
        .arg("classify")
        .args(&samples()[..1])
        .arg("--store")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("other.emb"), "{err}");
    assert!(
        err.contains("other-model") && err.contains("070707070707"),
        "{err}"
    );
    let package = ModelPackage::open(default_model()).unwrap();
    let text_fp32 = package
        .manifest()
        .text
        .files
        .iter()
        .find(|f| f.precision == Precision::Fp32 && f.backend.is_none())
        .expect("the default model has a generic fp32 text file");
    assert!(
        err.contains("edgeclip-tiny") && err.contains(&text_fp32.sha256[..12]),
        "{err}"
    );

    let out = ok(edgeclip()
        .args(["labels", "info"])
        .arg(&path)
        .output()
        .unwrap());
    assert!(stdout(&out).contains("not usable"), "{}", stdout(&out));
}

#[test]
fn damaged_stores_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.emb");
    ok(build(&default_model().join("labels.txt"), &store, "int8"));
    let bytes = std::fs::read(&store).unwrap();
    for (name, damaged) in [
        ("truncated.emb", bytes[..bytes.len() - 10].to_vec()),
        ("flipped.emb", {
            let mut b = bytes.clone();
            b[bytes.len() / 2] ^= 0x10;
            b
        }),
        ("empty.emb", Vec::new()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, damaged).unwrap();
        let out = edgeclip()
            .arg("classify")
            .args(&samples()[..1])
            .arg("--store")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains(name), "{}", stderr(&out));
    }
}

#[test]
fn tags_use_the_stores_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("labels.txt");
    // Sigmoid scores lie in (0, 1): threshold 0 always passes, 2 never does.
    std::fs::write(
        &list,
        "red circle\t\t0\nblue square\t\t2\ngreen star\nyellow ring\t\t0\n",
    )
    .unwrap();
    let store = dir.path().join("s.emb");
    ok(build(&list, &store, "f16"));
    let out = ok(edgeclip()
        .arg("classify")
        .args(&samples()[..2])
        .arg("--store")
        .arg(&store)
        .args([
            "--tags",
            "--threshold",
            "0.999999",
            "--bias",
            "-1000",
            "--json",
        ])
        .output()
        .unwrap());
    for line in stdout(&out).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["type"], "tags");
        let mut tags: Vec<&str> = v["data"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["label"].as_str().unwrap())
            .collect();
        tags.sort();
        assert_eq!(tags, ["red circle", "yellow ring"], "{line}");
        assert_eq!(v["data"]["passed"], 2);
    }
}

/// The stores shipped with the default model were built by it from the lists beside them.
#[test]
fn shipped_stores_match_their_lists_and_the_model() {
    let package = ModelPackage::open(default_model()).unwrap();
    let stores = default_model().join("stores");
    for (store, list) in [
        ("procedural.emb", default_model().join("labels.txt")),
        ("everyday.emb", stores.join("everyday.txt")),
    ] {
        let store = edgeclip::labels::open_store(&stores.join(store), &package).unwrap();
        let expected: Vec<String> = edgeclip::labels::read_label_list(&list)
            .unwrap()
            .into_iter()
            .map(|e| e.label)
            .collect();
        let got: Vec<&str> = store.labels().collect();
        assert_eq!(got, expected, "{}", store.path().display());
    }
}
