//! The `edgeclip` binary as a user runs it: outputs, exit codes, bad inputs.

use std::path::{Path, PathBuf};
use std::process::Output;

use edgeclip_e2e::{default_model, edgeclip, edgeclip_bin, samples};
use serde_json::Value;

fn labels_file() -> PathBuf {
    default_model().join("labels.txt")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// "red_circle.png" -> "red circle"
fn expected_label(path: &Path) -> String {
    path.file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .replace('_', " ")
}

#[test]
fn classify_tags_the_samples() {
    let out = edgeclip()
        .arg("classify")
        .args(samples())
        .arg("--labels-file")
        .arg(labels_file())
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let records = json_lines(&out);
    assert_eq!(records.len(), samples().len());
    let mut correct = 0;
    let mut colour_correct = 0;
    for (rec, path) in records.iter().zip(samples()) {
        assert_eq!(rec["type"], "classification");
        let top = rec["data"]["top"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        let p: Vec<f64> = top
            .iter()
            .map(|t| t["probability"].as_f64().unwrap())
            .collect();
        assert!(p.windows(2).all(|w| w[0] >= w[1]), "sorted: {p:?}");
        assert!(p.iter().sum::<f64>() <= 1.0 + 1e-5);
        let expected = expected_label(&path);
        let got = top[0]["label"].as_str().unwrap();
        correct += usize::from(got == expected);
        colour_correct += usize::from(got.split(' ').next() == expected.split(' ').next());
    }
    // Measured with the shipped model: colour 7/7, colour and shape 7/7.
    println!(
        "samples: colour {colour_correct}/{n}, label {correct}/{n}",
        n = records.len()
    );
    assert_eq!(colour_correct, records.len());
    assert_eq!(
        correct,
        records.len(),
        "only {correct} of {} samples right",
        records.len()
    );
}

#[test]
fn classify_text_output_and_templates() {
    let out = edgeclip()
        .args(["classify", "--labels", "red circle, blue square", "-k", "2"])
        .args([
            "--template",
            "a photo of a {}.",
            "--template",
            "a drawing of a {}.",
        ])
        .arg(default_model().join("samples/red_circle.png"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("red_circle.png"));
    assert!(lines[1].split_whitespace().nth(1) == Some("red"), "{text}");
    assert_eq!(lines.len(), 3);
}

#[test]
fn int8_agrees_with_fp32_on_the_samples() {
    let run = |precision: &str| {
        let out = edgeclip()
            .args([
                "--precision",
                precision,
                "classify",
                "--json",
                "-k",
                "1",
                "--labels-file",
            ])
            .arg(labels_file())
            .args(samples())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json_lines(&out)
            .iter()
            .map(|r| r["data"]["top"][0]["label"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(run("fp32"), run("int8"));
}

#[test]
fn tokenize_gives_77_ids() {
    let out = edgeclip()
        .args(["tokenize", "a photo of a red circle.", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rec = &json_lines(&out)[0];
    assert_eq!(rec["type"], "tokens");
    let ids: Vec<i64> = rec["data"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 77);
    assert_eq!(ids[0], 49406);
    let end = ids.iter().position(|&i| i == 49407).unwrap();
    assert!(end > 1 && ids[end + 1..].iter().all(|&i| i == 0));
}

#[test]
fn embed_prints_unit_vectors() {
    for (kind, input) in [
        ("text", "a photo of a red circle.".to_owned()),
        (
            "image",
            default_model()
                .join("samples/red_circle.png")
                .display()
                .to_string(),
        ),
    ] {
        let out = edgeclip()
            .args(["embed", kind, &input, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let rec = &json_lines(&out)[0];
        let v: Vec<f64> = rec["data"]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(v.len(), 128);
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
}

#[test]
fn info_verifies_every_file() {
    let out = edgeclip().args(["info", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["type"], "model_info");
    let v = &v["data"];
    assert_eq!(v["name"], "edgeclip-tiny");
    let files = v["files"].as_array().unwrap();
    // fp32 and int8 ONNX per tower, the int8 files for OpenVINO, and the RKNN builds
    // for rk3588 and rk3566.
    assert_eq!(files.len(), 10);
    assert!(files.iter().all(|f| f["status"] == "ok"));
}

// ---------------------------------------------------------------- bad inputs

/// A copy of the default package that a test may damage.
fn package_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(default_model()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn classify_with(model: &Path, extra: &[&str]) -> Output {
    std::process::Command::new(edgeclip_bin())
        .arg("--model")
        .arg(model)
        .args(extra)
        .args(["classify", "--labels", "red circle,blue square"])
        .arg(default_model().join("samples/red_circle.png"))
        .output()
        .unwrap()
}

fn assert_clean_failure(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`: {err}");
    }
}

#[test]
fn a_corrupt_model_file_is_refused() {
    let pkg = package_copy();
    let file = pkg.path().join("image.int8.onnx");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&file, bytes).unwrap();
    // Loading checks the manifest's XXH3-64 (fast); `info` its SHA-256.
    let out = classify_with(pkg.path(), &["--precision", "int8"]);
    assert_clean_failure(&out, &["image.int8.onnx", "XXH3-64 mismatch"]);
    let out = std::process::Command::new(edgeclip_bin())
        .arg("--model")
        .arg(pkg.path())
        .arg("info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains("image.int8.onnx"))
        .unwrap();
    assert!(line.contains("SHA-256 mismatch"), "{text}");
}

#[test]
fn truncated_onnx_is_refused_even_with_a_matching_hash() {
    let pkg = package_copy();
    let file = pkg.path().join("image.fp32.onnx");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 3]).unwrap();
    // Re-sign the manifest so the hash check passes and the parser must catch it.
    let manifest = pkg.path().join("model.toml");
    let original = default_model().join("image.fp32.onnx");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    for digest in [edgeclip::model::sha256_file, edgeclip::model::xxh3_file] {
        text = text.replace(&digest(&original).unwrap(), &digest(&file).unwrap());
    }
    std::fs::write(&manifest, text).unwrap();
    let out = classify_with(pkg.path(), &[]);
    assert_clean_failure(&out, &["image.fp32.onnx", "not a loadable ONNX model"]);
}

#[test]
fn missing_manifest_field_is_named() {
    let pkg = package_copy();
    let manifest = pkg.path().join("model.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("embed_dim"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&manifest, text).unwrap();
    let out = classify_with(pkg.path(), &[]);
    assert_clean_failure(&out, &["model.toml", "embed_dim"]);
}

#[test]
fn missing_model_file_is_named() {
    let pkg = package_copy();
    std::fs::remove_file(pkg.path().join("text.fp32.onnx")).unwrap();
    let out = classify_with(pkg.path(), &[]);
    assert_clean_failure(&out, &["text.fp32.onnx"]);
}

#[test]
fn a_file_that_is_not_an_image_is_reported_and_the_rest_run() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("notes.png");
    std::fs::write(&fake, "this is text, not a PNG").unwrap();
    let out = edgeclip()
        .args(["classify", "--json", "--labels", "red circle,blue square"])
        .arg(&fake)
        .arg(default_model().join("samples/red_circle.png"))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("notes.png") && !err.contains("panicked"),
        "{err}"
    );
    let records = json_lines(&out);
    assert_eq!(records[0]["type"], "error");
    assert_eq!(records[1]["type"], "classification");
}

#[test]
fn a_missing_file_is_named_once_with_the_reason_once() {
    let frame = default_model().join("samples/red_circle.png");
    let frame = frame.to_str().unwrap();
    for (args, missing, code) in [
        (
            vec!["embed", "image", "no-such-frame.png"],
            "no-such-frame.png",
            1,
        ),
        (
            vec!["classify", frame, "--store", "no-such-store.emb"],
            "no-such-store.emb",
            2,
        ),
    ] {
        let out = edgeclip().args(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{err}");
        assert_eq!(err.matches(missing).count(), 1, "{err}");
        assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    }
}

#[test]
fn empty_label_list_is_an_error() {
    let out = edgeclip()
        .args(["classify", "--labels", " , ,"])
        .arg(default_model().join("samples/red_circle.png"))
        .output()
        .unwrap();
    assert_clean_failure(&out, &["label list is empty"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("labels.txt");
    std::fs::write(&file, "# only a comment\n\n").unwrap();
    let out = edgeclip()
        .args(["classify", "--labels-file"])
        .arg(&file)
        .arg(default_model().join("samples/red_circle.png"))
        .output()
        .unwrap();
    assert_clean_failure(&out, &["label list is empty"]);
}

#[test]
fn a_template_needs_exactly_one_label_slot() {
    for (template, needle) in [("a photo", "has no `{}`"), ("{} and {}", "expected one")] {
        let out = edgeclip()
            .args(["classify", "--labels", "red circle", "--template", template])
            .arg(default_model().join("samples/red_circle.png"))
            .output()
            .unwrap();
        assert_clean_failure(&out, &[template, needle]);
    }
}

#[test]
fn no_model_found_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(edgeclip_bin())
        .current_dir(dir.path())
        .env_remove("EDGECLIP_MODEL")
        .args(["info"])
        .output()
        .unwrap();
    assert_clean_failure(&out, &["no model package found", "--model"]);
}

#[test]
fn check_passes_against_the_shipped_reference() {
    for precision in ["fp32", "int8"] {
        let out = edgeclip()
            .args(["check", "--json", "--precision", precision])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let records = json_lines(&out);
        let outputs: Vec<&str> = records
            .iter()
            .map(|r| r["data"]["output"].as_str().unwrap())
            .collect();
        assert_eq!(
            outputs,
            ["image", "patch_tokens", "value_tokens", "text"].map(|o| format!("{o}.{precision}"))
        );
        for r in &records {
            assert_eq!(r["type"], "check");
            assert_eq!(r["data"]["passed"], true);
            assert!(
                r["data"]["min_cosine"].as_f64().unwrap() >= r["data"]["floor"].as_f64().unwrap()
            );
        }
    }
}

/// A copy of the shipped reference folder, to tamper with.
fn reference_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(default_model().join("reference")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn check_fails_when_outputs_differ_from_the_reference() {
    let dir = reference_copy();
    // Swap two images' expected embeddings: the run can no longer agree with them.
    let file = dir.path().join("image.fp32.ort.f32.bin");
    let mut bytes = std::fs::read(&file).unwrap();
    let row = bytes.len() / 7;
    let (first, rest) = bytes.split_at_mut(row);
    first.swap_with_slice(&mut rest[..row]);
    std::fs::write(&file, bytes).unwrap();
    let out = edgeclip()
        .arg("check")
        .arg("--reference")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let image = text.lines().find(|l| l.starts_with("image.fp32")).unwrap();
    assert!(image.ends_with("FAILED"), "{text}");
    let patches = text
        .lines()
        .find(|l| l.starts_with("patch_tokens"))
        .unwrap();
    assert!(patches.ends_with("ok"), "{text}");
}

#[test]
fn check_names_a_truncated_reference_file() {
    let dir = reference_copy();
    let file = dir.path().join("tokens.i64.bin");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
    let out = edgeclip()
        .arg("check")
        .arg("--reference")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("tokens.i64.bin"), "{err}");
}

/// `EDGECLIP_INT8_ISA` forces the int8 kernel: each one this CPU has (and
/// `none`, tract's own product) gives the same classification JSON; a name
/// that is not a kernel is an error naming the variable, exit 2.
#[test]
fn the_int8_kernel_can_be_forced_and_a_wrong_name_is_refused() {
    let classify = |isa: &str| {
        edgeclip()
            .env("EDGECLIP_INT8_ISA", isa)
            .args(["--precision", "int8", "--json", "classify"])
            .args(samples())
            .arg("--labels-file")
            .arg(labels_file())
            .output()
            .unwrap()
    };
    let reference = classify("none");
    assert!(reference.status.success(), "{}", stderr(&reference));
    let mut kernels: Vec<&str> = edgeclip_kernels::int8::Isa::available()
        .into_iter()
        .map(|i| i.name())
        .collect();
    kernels.push("");
    for isa in kernels {
        let out = classify(isa);
        assert!(out.status.success(), "{isa}: {}", stderr(&out));
        assert_eq!(stdout(&out), stdout(&reference), "kernel {isa:?}");
    }
    let out = classify("sse9");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("EDGECLIP_INT8_ISA") && err.contains("sse9"),
        "{err}"
    );
}
