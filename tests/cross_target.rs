//! A cross-compiled `edgeclip` (run through an emulator such as qemu-user) against
//! onnxruntime's reference outputs and against this host's own build.
//!
//! The tests are ignored in a plain `cargo test`: they need a binary built for
//! another target. `firmware-tools/cross/test-aarch64.sh` builds one and runs them
//! with two variables set:
//!
//! * `EDGECLIP_CROSS_BIN`: the cross-built binary;
//! * `EDGECLIP_CROSS_RUNNER`: the command that runs it here, split on spaces
//!   (`qemu-aarch64 -L /usr/aarch64-linux-gnu`); empty on a native board.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output};

use edgeclip_e2e::{default_model, edgeclip, fixture, min_row_cosine, samples};
use flate2::read::GzDecoder;
use serde_json::Value;

const BIN_ENV: &str = "EDGECLIP_CROSS_BIN";
const RUNNER_ENV: &str = "EDGECLIP_CROSS_RUNNER";
const WHY_IGNORED: &str = "needs EDGECLIP_CROSS_BIN; run firmware-tools/cross/test-aarch64.sh";
/// Texts per emulated `tokenize` run: each run pays the emulated start-up once.
const TOKENIZE_CHUNK: usize = 1000;

/// A `Command` for the cross-built binary with the default model selected.
fn target_edgeclip() -> Command {
    let bin = PathBuf::from(std::env::var_os(BIN_ENV).expect(WHY_IGNORED));
    let runner = std::env::var(RUNNER_ENV).unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(&bin);
            cmd
        }
        None => Command::new(&bin),
    };
    cmd.arg("--model").arg(default_model());
    cmd.env_remove("EDGECLIP_MODEL");
    cmd
}

fn target_name() -> String {
    let bin = std::env::var(BIN_ENV).unwrap_or_default();
    // target/<triple>/<profile>/edgeclip
    let triple = bin.rsplit('/').nth(2).unwrap_or("cross target");
    triple.split('-').next().unwrap_or(triple).to_owned()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("the binary runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// All embeddings of an `embed --json` run, flattened, and their width.
fn embeddings(out: &Output) -> (Vec<f32>, usize) {
    let mut flat = Vec::new();
    let mut width = 0;
    for record in json_lines(out) {
        let row = record["data"]["embedding"]
            .as_array()
            .expect("an embedding");
        width = row.len();
        flat.extend(row.iter().map(|v| v.as_f64().unwrap() as f32));
    }
    (flat, width)
}

#[test]
#[ignore = "needs EDGECLIP_CROSS_BIN; run firmware-tools/cross/test-aarch64.sh"]
fn check_matches_onnxruntime_on_target() {
    let target = target_name();
    for precision in ["fp32", "int8"] {
        let out = run(target_edgeclip().args(["check", "--json", "--precision", precision]));
        let records = json_lines(&out);
        assert_eq!(records.len(), 4, "image, patch and value tokens, text");
        for r in &records {
            let d = &r["data"];
            println!(
                "{target} {}: min cosine vs onnxruntime {:.8} over {} rows (floor {})",
                d["output"].as_str().unwrap(),
                d["min_cosine"].as_f64().unwrap(),
                d["rows"],
                d["floor"]
            );
            assert_eq!(d["passed"], true, "{r}");
        }
    }
}

/// The project's aarch64 int8 kernels, each forced on the target
/// (`EDGECLIP_INT8_ISA`: NEON, and the dot-product and matrix-multiply ones,
/// whose extensions qemu's default `max` model has), give the embeddings
/// tract's own int8 products give there, to the last printed digit (two
/// images and two prompts: emulated runs are slow).
#[test]
#[ignore = "needs EDGECLIP_CROSS_BIN; run firmware-tools/cross/test-aarch64.sh"]
fn the_aarch64_int8_kernels_give_tracts_products_on_target() {
    let target = target_name();
    if target != "aarch64" {
        println!("SKIPPED: the NEON kernel is for aarch64, not {target}");
        return;
    }
    let embed = |isa: &str, what: &str| {
        let mut cmd = target_edgeclip();
        cmd.env("EDGECLIP_INT8_ISA", isa)
            .args(["embed", what, "--json", "--precision", "int8"]);
        match what {
            "image" => cmd.args(samples().iter().take(2)),
            _ => cmd.args(["a photo of a red circle.", "a blue square."]),
        };
        String::from_utf8(run(&mut cmd).stdout).unwrap()
    };
    for what in ["image", "text"] {
        let tracts = embed("none", what);
        assert_eq!(tracts.lines().count(), 2, "{tracts}");
        for isa in ["neon", "dotprod", "i8mm"] {
            assert_eq!(
                embed(isa, what),
                tracts,
                "{what}: {isa} vs tract's products"
            );
            println!("{target} {what} int8: the {isa} kernel equals tract's products");
        }
    }
}

#[test]
#[ignore = "needs EDGECLIP_CROSS_BIN; run firmware-tools/cross/test-aarch64.sh"]
fn embeddings_match_the_host_build() {
    let target = target_name();
    let texts = [
        "a photo of a red circle.",
        "point cloud depth map of a torus.",
    ];
    for (precision, floor) in [("fp32", 0.99999), ("int8", 0.9999)] {
        let image_args = |cmd: &mut Command| {
            cmd.args(["embed", "image", "--json", "--precision", precision])
                .args(samples());
        };
        let text_args = |cmd: &mut Command| {
            cmd.args(["embed", "text", "--json", "--precision", precision])
                .args(texts);
        };
        for (what, args) in [
            ("image", &image_args as &dyn Fn(&mut Command)),
            ("text", &text_args),
        ] {
            let mut on_target = target_edgeclip();
            args(&mut on_target);
            let mut on_host = edgeclip();
            args(&mut on_host);
            let (t, width) = embeddings(&run(&mut on_target));
            let (h, _) = embeddings(&run(&mut on_host));
            assert_eq!(t.len(), h.len());
            assert!(!t.is_empty());
            let cos = min_row_cosine(&t, &h, width);
            let max_diff = t
                .iter()
                .zip(&h)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            println!(
                "{target} vs host {what} {precision}: min cosine {cos:.8}, max abs difference {max_diff:.2e}"
            );
            assert!(cos >= floor, "{what} {precision}: {cos} < {floor}");
        }
    }
}

#[test]
#[ignore = "needs EDGECLIP_CROSS_BIN; run firmware-tools/cross/test-aarch64.sh"]
fn classify_output_equals_the_host_output() {
    let target = target_name();
    let args = |cmd: &mut Command| {
        cmd.arg("classify")
            .args(samples())
            .arg("--labels-file")
            .arg(default_model().join("labels.txt"));
    };
    for precision in ["fp32", "int8"] {
        let mut on_target = target_edgeclip();
        args(on_target.args(["--precision", precision]));
        let mut on_host = edgeclip();
        args(on_host.args(["--precision", precision]));
        let t = String::from_utf8(run(&mut on_target).stdout).unwrap();
        let h = String::from_utf8(run(&mut on_host).stdout).unwrap();
        println!("{target} classify --precision {precision}:\n{t}");
        if precision == "fp32" {
            assert_eq!(t, h, "{target} and host classify differently");
            println!("{target} classify output is identical to the host's ({precision})");
        } else {
            // Dynamic int8 quantizes activations at run time: a float difference in the
            // last bit can move a value across a rounding boundary, one step of 1/127
            // of its row's range. Labels and order must agree; probabilities nearly.
            let diff = same_labels_max_probability_difference(&t, &h);
            println!(
                "{target} classify ({precision}): same labels in the same order as the host, \
                 probabilities within {diff:.3}"
            );
            assert!(diff <= 0.01, "probabilities differ by {diff}");
        }
    }
}

/// Compares two text outputs of `classify` line by line: the same paths and labels in
/// the same order; returns the largest probability difference.
fn same_labels_max_probability_difference(a: &str, b: &str) -> f64 {
    assert_eq!(a.lines().count(), b.lines().count(), "{a}\n{b}");
    let mut max = 0f64;
    for (x, y) in a.lines().zip(b.lines()) {
        match (x.trim().split_once("  "), y.trim().split_once("  ")) {
            (Some((px, lx)), Some((py, ly))) if x.starts_with(' ') => {
                assert_eq!(lx, ly, "labels differ:\n{a}\n{b}");
                let (px, py): (f64, f64) = (px.parse().unwrap(), py.parse().unwrap());
                max = max.max((px - py).abs());
            }
            _ => assert_eq!(x, y),
        }
    }
    max
}

#[test]
#[ignore = "needs EDGECLIP_CROSS_BIN; run firmware-tools/cross/test-aarch64.sh"]
fn tokenizer_matches_open_clip_on_target() {
    let target = target_name();
    let path = fixture("tokenizer/open_clip_ids.jsonl.gz");
    let lines = BufReader::new(GzDecoder::new(File::open(&path).unwrap())).lines();
    let mut cases: Vec<(String, Vec<i64>)> = Vec::new();
    let mut skipped = 0;
    for line in lines.skip(1) {
        let row: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let text = row["text"].as_str().unwrap();
        // The CLI tokenizes to the model's 77 tokens; arguments cannot hold NUL.
        if row["context_length"].as_u64().is_some_and(|n| n != 77) || text.contains('\0') {
            skipped += 1;
            continue;
        }
        // The fixture stores ids without the zero padding to 77.
        let mut ids: Vec<i64> = row["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        ids.resize(77, 0);
        cases.push((text.to_owned(), ids));
    }
    let mut mismatches = 0;
    for chunk in cases.chunks(TOKENIZE_CHUNK) {
        let out = run(target_edgeclip()
            .args(["tokenize", "--json", "--"])
            .args(chunk.iter().map(|(t, _)| OsStr::new(t))));
        let records = json_lines(&out);
        assert_eq!(records.len(), chunk.len());
        for (record, (text, ids)) in records.iter().zip(chunk) {
            let got: Vec<i64> = record["data"]["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            if &got != ids {
                mismatches += 1;
                if mismatches <= 5 {
                    println!("mismatch for {text:?}: {got:?} != {ids:?}");
                }
            }
        }
    }
    println!(
        "{target} tokenizer: {} texts, {mismatches} differ from open_clip ({skipped} skipped: other context length or NUL)",
        cases.len()
    );
    assert_eq!(mismatches, 0);
}
