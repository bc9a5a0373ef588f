//! The JSON Lines wire format (`runtime/cli/WIRE.md`) as a program reads it: every
//! record type, from real runs, into typed mirrors that refuse unknown fields
//! and, by serializing back to exactly what was read, missing ones.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;

use edgeclip_e2e::{default_model, edgeclip, root, samples};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every record type WIRE.md documents.
const TYPES: &[&str] = &[
    "classification",
    "tags",
    "label",
    "embedding",
    "tokens",
    "check",
    "model_info",
    "store_info",
    "store_written",
    "backend",
    "point_classification",
    "depth",
    "serving",
    "doctor",
    "error",
    "appeared",
    "left",
    "status",
    "camera",
];

/// Every `kind` an `error` record may have.
const ERROR_KINDS: &[&str] = &[
    "invalid_input",
    "io",
    "model_file",
    "store_file",
    "model_mismatch",
    "backend_unavailable",
    "backend",
    "kernel_unavailable",
    "config",
    "board_profile",
    "camera_unavailable",
    "camera",
    "frame",
    "journal_file",
    "journal_locked",
    "broker",
    "sink_full",
    "other",
];

#[derive(Debug, Serialize, Deserialize)]
#[serde(
    tag = "type",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
enum Record {
    Classification(Classification),
    Tags(Tags),
    Label(Label),
    Embedding(Embedding),
    Tokens(Tokens),
    Check(Check),
    ModelInfo(ModelInfo),
    StoreInfo(StoreInfo),
    StoreWritten(StoreWritten),
    Backend(Backend),
    PointClassification(PointClassification),
    Depth(Depth),
    Serving(Serving),
    Doctor(Doctor),
    Error(ErrorRecord),
    Appeared(Presence),
    Left(Presence),
    Status(Status),
    Camera(Camera),
}

impl Record {
    fn type_name(&self) -> &'static str {
        match self {
            Record::Classification(_) => "classification",
            Record::Tags(_) => "tags",
            Record::Label(_) => "label",
            Record::Embedding(_) => "embedding",
            Record::Tokens(_) => "tokens",
            Record::Check(_) => "check",
            Record::ModelInfo(_) => "model_info",
            Record::StoreInfo(_) => "store_info",
            Record::StoreWritten(_) => "store_written",
            Record::Backend(_) => "backend",
            Record::PointClassification(_) => "point_classification",
            Record::Depth(_) => "depth",
            Record::Serving(_) => "serving",
            Record::Doctor(_) => "doctor",
            Record::Error(_) => "error",
            Record::Appeared(_) => "appeared",
            Record::Left(_) => "left",
            Record::Status(_) => "status",
            Record::Camera(_) => "camera",
        }
    }
}

// Floats are f64 and integers u64 here whatever the binary uses: read back and
// written again they must give the very numbers that were read.

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Classification {
    path: String,
    top: Vec<LabelScore>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelScore {
    label: String,
    probability: f64,
    logit: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Serving {
    address: String,
    token: bool,
    source: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doctor {
    board: DoctorBoard,
    cpu: DoctorCpu,
    backends: Vec<DoctorBackend>,
    cameras: Vec<DoctorCamera>,
    self_test: Vec<SelfTest>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoctorBoard {
    name: String,
    title: String,
    reason: String,
    backend_order: Vec<String>,
    threads: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoctorCpu {
    arch: String,
    model: Option<String>,
    features: Vec<String>,
    missing: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoctorBackend {
    name: String,
    available: bool,
    reason: Option<String>,
    library: Option<String>,
    devices: Vec<String>,
    selected: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoctorCamera {
    device: String,
    card: Option<String>,
    driver: Option<String>,
    formats: Vec<String>,
    usable: Vec<String>,
    error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfTest {
    backend: String,
    precision: String,
    device: Option<String>,
    passed: bool,
    outputs: Vec<SelfTestOutput>,
    image_ms: Option<f64>,
    text_ms: Option<f64>,
    error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SelfTestOutput {
    output: String,
    min_cosine: f64,
    floor: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointClassification {
    path: String,
    points: u64,
    projected_points: u64,
    projection: String,
    views: u64,
    top: Vec<LabelScore>,
    views_dir: Option<String>,
    read_ms: f64,
    project_ms: f64,
    encode_ms: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Depth {
    path: String,
    width: u64,
    height: u64,
    scene_m: f64,
    min_m: f64,
    median_m: f64,
    max_m: f64,
    mean_m: f64,
    flip: bool,
    scale: f64,
    depth_png: Option<String>,
    preview_png: Option<String>,
    decode_ms: f64,
    encode_ms: f64,
    depth_ms: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tags {
    path: String,
    tags: Vec<TagScore>,
    passed: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagScore {
    label: String,
    score: f64,
    logit: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Label {
    index: u64,
    label: String,
    group: Option<String>,
    threshold: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Embedding {
    input: String,
    embedding: Vec<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tokens {
    text: String,
    ids: Vec<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    output: String,
    rows: u64,
    min_cosine: f64,
    mean_cosine: f64,
    floor: f64,
    passed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelInfo {
    dir: String,
    name: String,
    family: String,
    description: String,
    embed_dim: u64,
    logit_scale: f64,
    image_size: u64,
    interpolation: String,
    resize_mode: String,
    context_length: u64,
    files: Vec<ModelFile>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    tower: String,
    precision: String,
    backend: Option<String>,
    soc: Option<String>,
    path: String,
    form: String,
    sha256: String,
    status: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreInfo {
    path: String,
    labels: u64,
    dim: u64,
    dtype: String,
    bytes: u64,
    model: String,
    text_sha256: String,
    tokenizer: String,
    templates: Vec<String>,
    labels_with_group: u64,
    labels_with_threshold: u64,
    model_status: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreWritten {
    action: String,
    path: String,
    labels: u64,
    added: u64,
    removed: u64,
    templates: u64,
    dtype: String,
    dim: u64,
    bytes: u64,
    encode_seconds: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Backend {
    name: String,
    available: bool,
    reason: Option<String>,
    selected: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorRecord {
    input: Option<String>,
    kind: String,
    message: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Presence {
    id: String,
    seq: u64,
    time_ms: u64,
    label: String,
    group: Option<String>,
    score: f64,
    first_seen_ms: u64,
    last_seen_ms: u64,
    first_frame: u64,
    last_frame: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    id: String,
    seq: u64,
    time_ms: u64,
    uptime_s: f64,
    fps_in: f64,
    fps_out: f64,
    frames: u64,
    dropped: u64,
    bad: u64,
    stage_ms: StageMs,
    camera: String,
    present: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageMs {
    capture_wait: f64,
    decode: f64,
    preprocess: f64,
    encode: f64,
    matching: f64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Camera {
    id: String,
    seq: u64,
    time_ms: u64,
    device: String,
    state: String,
    detail: String,
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `edgeclip --format json ARGS`, checks its exit code, and parses every
/// stdout line into a typed record that must serialize back to the same JSON.
fn records<I, S>(args: I, code: i32) -> Vec<Record>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = edgeclip()
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let raw: Value = serde_json::from_str(line).expect("one JSON value per line");
            let typed: Record =
                serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{e}: {line}"));
            // A field left out would read as None and come back as null.
            assert_eq!(serde_json::to_value(&typed).unwrap(), raw, "{line}");
            typed
        })
        .collect()
}

fn store(name: &str) -> PathBuf {
    default_model().join("stores").join(name)
}

fn sample(name: &str) -> PathBuf {
    default_model().join("samples").join(name)
}

fn os(p: &Path) -> &OsStr {
    p.as_os_str()
}

#[test]
fn every_record_type_reads_into_its_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    let mut keep = |records: Vec<Record>, expected: &str| {
        assert!(!records.is_empty(), "no {expected} record");
        for r in records {
            seen.push(r);
        }
    };

    let labels = default_model().join("labels.txt");
    let mut args: Vec<&OsStr> = vec!["classify".as_ref(), "--labels-file".as_ref(), os(&labels)];
    let images = samples();
    args.extend(images.iter().map(|p| p.as_os_str()));
    keep(records(&args, 0), "classification");

    let procedural = store("procedural.emb");
    keep(
        records(
            [
                OsStr::new("classify"),
                os(&sample("red_circle.png")),
                "--store".as_ref(),
                os(&procedural),
                "--tags".as_ref(),
                "--bias".as_ref(),
                "-4".as_ref(),
            ],
            0,
        ),
        "tags",
    );
    keep(
        records([OsStr::new("labels"), "list".as_ref(), os(&procedural)], 0),
        "label",
    );
    keep(
        records(
            [
                OsStr::new("embed"),
                "image".as_ref(),
                os(&sample("red_circle.png")),
            ],
            0,
        ),
        "embedding",
    );
    keep(records(["embed", "text", "a red circle"], 0), "embedding");
    keep(records(["tokenize", "a photo of a cat."], 0), "tokens");
    keep(records(["check"], 0), "check");
    keep(records(["info"], 0), "model_info");
    keep(
        records([OsStr::new("labels"), "info".as_ref(), os(&procedural)], 0),
        "store_info",
    );

    let list = dir.path().join("labels.txt");
    std::fs::write(&list, "red circle\nblue square\tshapes\t0.4\n").unwrap();
    let built = dir.path().join("s.emb");
    keep(
        records(
            [
                OsStr::new("labels"),
                "build".as_ref(),
                os(&list),
                "-o".as_ref(),
                os(&built),
            ],
            0,
        ),
        "store_written",
    );
    keep(
        records(
            [
                OsStr::new("labels"),
                "add".as_ref(),
                os(&built),
                "green star".as_ref(),
            ],
            0,
        ),
        "store_written",
    );
    keep(
        records(
            [
                OsStr::new("labels"),
                "remove".as_ref(),
                os(&built),
                "red circle".as_ref(),
            ],
            0,
        ),
        "store_written",
    );
    keep(records(["backends"], 0), "backend");

    // One input that is not an image: reported, and the run goes on (exit 1).
    let fake = dir.path().join("notes.png");
    std::fs::write(&fake, "this is text, not a PNG").unwrap();
    keep(
        records(
            [
                OsStr::new("classify"),
                "--labels".as_ref(),
                "red circle,blue square".as_ref(),
                os(&fake),
                os(&sample("red_circle.png")),
            ],
            1,
        ),
        "error",
    );
    // A fatal error: a record with a null input, and exit 2.
    let missing = dir.path().join("no-such-store.emb");
    keep(
        records(
            [
                OsStr::new("classify"),
                os(&sample("red_circle.png")),
                "--store".as_ref(),
                os(&missing),
            ],
            2,
        ),
        "error",
    );

    // points and depth, with and without files written.
    let cloud = root().join("tests/fixtures/samples/cube.ply");
    let views = dir.path().join("views");
    keep(
        records(
            [
                OsStr::new("points"),
                os(&cloud),
                "--labels".as_ref(),
                "cube,sphere,torus".as_ref(),
                "--save-views".as_ref(),
                os(&views),
            ],
            0,
        ),
        "point_classification",
    );
    keep(
        records(
            [
                OsStr::new("points"),
                os(&cloud),
                "--labels".as_ref(),
                "cube,sphere".as_ref(),
                "--projection".as_ref(),
                "v2".as_ref(),
            ],
            0,
        ),
        "point_classification",
    );
    let scene = root().join("tests/fixtures/samples/scene_near.png");
    let maps = dir.path().join("maps");
    keep(
        records(
            [
                OsStr::new("depth"),
                os(&scene),
                "--out".as_ref(),
                os(&maps),
                "--flip".as_ref(),
            ],
            0,
        ),
        "depth",
    );
    keep(records([OsStr::new("depth"), os(&scene)], 0), "depth");

    // watch: a red circle that comes and goes, then a camera that is not there.
    let frames = tempfile::tempdir().unwrap();
    for (i, name) in ["red_circle.png"; 4]
        .into_iter()
        .chain(["green_triangle.png"; 4])
        .enumerate()
    {
        std::fs::copy(sample(name), frames.path().join(format!("{i:02}.png"))).unwrap();
    }
    let watch = |extra: &[&OsStr]| {
        let mut args: Vec<&OsStr> = vec![
            "watch".as_ref(),
            "--labels".as_ref(),
            "red circle,green triangle".as_ref(),
            "--dwell-ms".as_ref(),
            "0".as_ref(),
            "--hold-ms".as_ref(),
            "0".as_ref(),
        ];
        args.extend_from_slice(extra);
        records(&args, 0)
    };
    keep(
        watch(&[
            "--files".as_ref(),
            os(frames.path()),
            "--fps".as_ref(),
            "10".as_ref(),
        ]),
        "appeared/left/status",
    );
    keep(
        watch(&[
            "--camera".as_ref(),
            "/dev/no-such-camera".as_ref(),
            "--duration".as_ref(),
            "0.5".as_ref(),
        ]),
        "camera",
    );

    // doctor, with its self-test on every backend that can run here.
    keep(records(["doctor", "--self-test"], 0), "doctor");

    // `serve` prints one record once it listens, then runs until SIGTERM.
    let server = edgeclip_e2e::Server::start(&[], &[]);
    let raw = server.record.clone();
    let typed: Record = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), raw);
    assert!(server.terminate().success());
    keep(vec![typed], "serving");

    let types: BTreeSet<&str> = seen.iter().map(Record::type_name).collect();
    for t in TYPES {
        assert!(types.contains(t), "no `{t}` record seen (saw {types:?})");
    }

    let mut actions = BTreeSet::new();
    let mut errors = Vec::new();
    for r in &seen {
        match r {
            Record::StoreWritten(w) => {
                actions.insert(w.action.as_str());
                assert_eq!(w.path, built.display().to_string());
                assert_eq!(w.encode_seconds.is_some(), w.action != "remove", "{w:?}");
                assert!(w.bytes > 0 && w.labels > 0, "{w:?}");
            }
            Record::Error(e) => {
                assert!(ERROR_KINDS.contains(&e.kind.as_str()), "{e:?}");
                errors.push(e);
            }
            Record::Backend(b) => {
                assert_eq!(b.available, b.reason.is_none(), "{b:?}");
            }
            Record::Doctor(d) => {
                assert!(d.backends.iter().any(|b| b.name == "tract" && b.available));
                assert!(!d.self_test.is_empty(), "{d:?}");
                for t in &d.self_test {
                    assert!(t.passed && t.error.is_none(), "{t:?}");
                    assert_eq!(t.outputs.len(), 4, "{t:?}");
                    assert!(t.image_ms.is_some() && t.text_ms.is_some(), "{t:?}");
                }
            }
            Record::Tokens(t) => assert_eq!(t.ids.len(), 77),
            Record::PointClassification(p) => {
                assert_eq!(p.views, if p.projection == "v1" { 6 } else { 10 }, "{p:?}");
                assert_eq!(p.views_dir.is_some(), p.projection == "v1", "{p:?}");
                assert!(!p.top.is_empty() && p.points > 0, "{p:?}");
                assert!((1..=p.points).contains(&p.projected_points), "{p:?}");
            }
            Record::Depth(d) => {
                assert_eq!(d.depth_png.is_some(), d.flip, "{d:?}");
                assert_eq!(d.preview_png.is_some(), d.flip, "{d:?}");
                assert!(d.min_m <= d.median_m && d.median_m <= d.max_m, "{d:?}");
            }
            _ => {}
        }
    }
    assert_eq!(actions, BTreeSet::from(["add", "build", "remove"]));
    let [per_input, fatal] = errors.as_slice() else {
        panic!("two errors expected: {errors:?}")
    };
    assert_eq!(per_input.input.as_deref(), Some(fake.to_str().unwrap()));
    assert_eq!(per_input.kind, "invalid_input");
    assert!(per_input.message.contains("notes.png"), "{per_input:?}");
    assert_eq!(fatal.input, None);
    assert_eq!(fatal.kind, "io");
    assert!(fatal.message.contains("no-such-store.emb"), "{fatal:?}");
    let selected: Vec<&Backend> = seen
        .iter()
        .filter_map(|r| match r {
            Record::Backend(b) if b.selected => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(selected.len(), 1, "`auto` selects exactly one backend");
    assert!(selected[0].available);
}

#[test]
fn a_backend_that_cannot_be_selected_is_listed_then_fatal() {
    let out = edgeclip()
        .args([
            "--format",
            "json",
            "--backend",
            "no-such-backend",
            "backends",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-backend"), "{}", stderr(&out));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, backends) = lines.split_last().unwrap();
    assert!(!backends.is_empty());
    assert!(backends
        .iter()
        .all(|b| b["type"] == "backend" && b["data"]["selected"] == false));
    assert_eq!(last["type"], "error");
    assert_eq!(last["data"]["input"], Value::Null);
    assert_eq!(last["data"]["kind"], "invalid_input");
}

#[test]
fn an_unknown_backend_fails_inference_commands() {
    let out = edgeclip()
        .args([
            "--json",
            "--backend",
            "no-such-backend",
            "embed",
            "text",
            "a cat",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["data"]["kind"], "invalid_input");
}

/// Each record type has its section in WIRE.md, and WIRE.md names no other.
#[test]
fn wire_md_documents_exactly_these_types() {
    let doc = std::fs::read_to_string(root().join("runtime/cli/WIRE.md")).unwrap();
    let documented: BTreeSet<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(documented, TYPES.iter().copied().collect());
    for kind in ERROR_KINDS {
        assert!(
            doc.contains(&format!("`{kind}`")),
            "WIRE.md lacks kind `{kind}`"
        );
    }
}
