//! Real failures through the binary carry their library's kind in `--json` error
//! records (WIRE.md): at least one per library crate a command reaches.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const LABELS: &str = "red circle,blue square";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> PathBuf {
    root().join("models/edgeclip-tiny")
}

fn sample() -> PathBuf {
    model().join("samples/red_circle.png")
}

/// `edgeclip --json --model MODEL ARGS`.
fn edgeclip_with(model: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edgeclip"))
        .env_remove("EDGECLIP_MODEL")
        .env_remove("EDGECLIP_TOKEN")
        .arg("--model")
        .arg(model)
        .arg("--json")
        .args(args)
        .output()
        .unwrap()
}

fn edgeclip(args: &[&str]) -> Output {
    edgeclip_with(&model(), args)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The `data` of the error record of a run that failed as a whole (exit 2, the
/// last record, no input).
fn fatal(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("no record: {stderr}"));
    let record: Value = serde_json::from_str(last).unwrap();
    assert_eq!(record["type"], "error", "{record}");
    assert_eq!(record["data"]["input"], Value::Null, "{record}");
    record["data"].clone()
}

/// Asserts the fatal error's kind and that its message names `says`.
fn assert_fatal(out: &Output, kind: &str, says: &str) {
    let data = fatal(out);
    assert_eq!(data["kind"], kind, "{data}");
    let message = data["message"].as_str().unwrap();
    assert!(message.contains(says), "{message} lacks {says:?}");
}

// edgeclip-capture, through the watch loop (edgeclip-pipeline).

#[test]
fn a_device_that_is_not_a_camera_is_camera_unavailable() {
    let out = edgeclip(&[
        "watch",
        "--camera",
        "/dev/null",
        "--duration",
        "5",
        "--labels",
        LABELS,
        "--status-every",
        "0",
    ]);
    assert_fatal(&out, "camera_unavailable", "/dev/null");
}

#[test]
fn frame_sources_refuse_settings_and_missing_files_by_kind() {
    let empty = tempfile::tempdir().unwrap();
    let out = edgeclip(&["watch", "--files", path(empty.path()), "--labels", LABELS]);
    assert_fatal(&out, "config", "no image files");
    let missing = empty.path().join("missing.png");
    let out = edgeclip(&["watch", "--files", path(&missing), "--labels", LABELS]);
    assert_fatal(&out, "io", "missing.png");
    let out = edgeclip(&[
        "watch",
        "--camera",
        "/dev/null",
        "--size",
        "wide",
        "--labels",
        LABELS,
    ]);
    assert_fatal(&out, "config", "wide");
}

// edgeclip-pipeline: the watch settings, from flags and from a settings file.

#[test]
fn watch_settings_that_break_a_rule_are_config() {
    let sample = sample();
    let out = edgeclip(&[
        "watch",
        "--files",
        path(&sample),
        "--labels",
        LABELS,
        "--enter",
        "0.3",
        "--exit",
        "0.5",
    ]);
    assert_fatal(&out, "config", "watch settings");
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("watch.toml");
    std::fs::write(&settings, "[camera]\n").unwrap();
    let out = edgeclip(&[
        "watch",
        "--files",
        path(&sample),
        "--labels",
        LABELS,
        "--config",
        path(&settings),
    ]);
    assert_fatal(&out, "config", "camera");
}

// edgeclip-journal: `events` reading a damaged journal, `watch` writing a busy one.

#[test]
fn a_damaged_journal_is_journal_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("00000000000000000001.ecj"), [0x5a_u8; 64]).unwrap();
    let out = edgeclip(&["events", "list", "--journal", path(dir.path())]);
    assert_fatal(&out, "journal_file", "00000000000000000001.ecj");
}

#[test]
fn a_journal_another_writer_holds_is_journal_locked() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let _writer =
        edgeclip_journal::Journal::open(&journal, edgeclip_journal::JournalConfig::default())
            .unwrap();
    let sample = sample();
    let out = edgeclip(&[
        "watch",
        "--files",
        path(&sample),
        "--labels",
        LABELS,
        "--journal",
        path(&journal),
    ]);
    assert_fatal(&out, "journal_locked", "locked");
}

#[test]
fn a_durability_policy_that_does_not_parse_is_config() {
    let dir = tempfile::tempdir().unwrap();
    let sample = sample();
    let out = edgeclip(&[
        "watch",
        "--files",
        path(&sample),
        "--labels",
        LABELS,
        "--journal",
        path(&dir.path().join("journal")),
        "--durability",
        "sometimes",
    ]);
    assert_fatal(&out, "config", "durability");
}

// edgeclip-mqtt.

#[test]
fn mqtt_settings_without_a_host_are_config() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("watch.toml");
    std::fs::write(&settings, "[mqtt]\nport = 1883\n").unwrap();
    let sample = sample();
    let out = edgeclip(&[
        "watch",
        "--files",
        path(&sample),
        "--labels",
        LABELS,
        "--config",
        path(&settings),
        "--journal",
        path(&dir.path().join("journal")),
    ]);
    assert_fatal(&out, "config", "mqtt.host");
}

// edgeclip-depth: a model whose `[depthclip]` table breaks one of DepthCLIP's
// rules (an empty word) is refused when the package loads, by the depth crate's
// own check, before any command uses it.

#[test]
fn a_depthclip_table_that_breaks_a_rule_is_a_model_file_error() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("model");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(model()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "model.toml" {
            std::os::unix::fs::symlink(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    let manifest = std::fs::read_to_string(model().join("model.toml")).unwrap();
    let table = "[depthclip]\n";
    assert!(
        manifest.contains(table),
        "the default model has a [depthclip] table"
    );
    let manifest = manifest.replace(
        table,
        "[depthclip]\nwords = [\"close\", \" \"]\nbins_m = [1.0, 4.0]\n",
    );
    std::fs::write(copy.join("model.toml"), manifest).unwrap();
    let sample = sample();
    let out = edgeclip_with(&copy, &["depth", path(&sample)]);
    assert_fatal(
        &out,
        "model_file",
        "[depthclip]: invalid DepthCLIP config: word 1 is empty",
    );
}

// edgeclip-points.

#[test]
fn a_malformed_point_cloud_is_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pcd");
    std::fs::write(&garbage, "hello\n").unwrap();
    let out = edgeclip(&["points", "--labels", "cube,sphere", path(&garbage)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["type"], "error", "{record}");
    assert_eq!(record["data"]["input"], path(&garbage));
    assert_eq!(record["data"]["kind"], "invalid_input", "{record}");
}

// edgeclip-serve.

#[test]
fn serve_refuses_unsafe_settings_and_a_taken_address_by_kind() {
    let out = edgeclip(&["serve", "--bind", "0.0.0.0:0"]);
    assert_fatal(&out, "config", "give a token");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = edgeclip(&["serve", "--bind", &address]);
    assert_fatal(&out, "io", &address);
}

// edgeclip-store, through the runtime.

#[test]
fn a_damaged_store_is_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("labels.emb");
    std::fs::write(&store, [0u8; 256]).unwrap();
    let sample = sample();
    let out = edgeclip(&["classify", "--store", path(&store), path(&sample)]);
    assert_fatal(&out, "store_file", "labels.emb");
}

// edgeclip-backend: a flag naming no backend of this build.

#[test]
fn a_backend_option_for_no_backend_of_this_build_is_invalid_input() {
    let sample = sample();
    let out = edgeclip(&[
        "--backend-option",
        "openvno.device=GPU",
        "classify",
        path(&sample),
        "--labels",
        "a,b",
    ]);
    assert_fatal(
        &out,
        "invalid_input",
        "unknown backend `openvno` (this build has:",
    );
}
