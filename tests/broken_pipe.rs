//! A reader that goes away (`edgeclip ... | head -1`) ends the run quietly with
//! exit 0: every printing subcommand, in both formats, against a pipe closed
//! before the process started and against one closed after the first line.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use edgeclip_e2e::{default_model, edgeclip, samples};

const FORMATS: [&str; 2] = ["text", "json"];

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn store(name: &str) -> PathBuf {
    default_model().join("stores").join(name)
}

/// A path in `dir` that no earlier call returned.
fn fresh(dir: &Path, name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    dir.join(format!("{}-{name}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// A copy of a shipped store that an edit may rewrite.
fn store_copy(dir: &Path, name: &str) -> PathBuf {
    let copy = fresh(dir, name);
    std::fs::copy(store(name), &copy).unwrap();
    copy
}

/// Every subcommand that prints, with arguments that make it print. Edits get
/// a fresh store each time they are asked for: the same `remove` twice would fail.
fn invocations(dir: &Path) -> Vec<(&'static str, Vec<OsString>)> {
    let os = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
    let with_samples = |head: &[&str]| {
        let mut v = os(head);
        v.extend(samples().into_iter().map(PathBuf::into_os_string));
        v
    };
    let labels_file = default_model().join("labels.txt");
    let built = fresh(dir, "built.emb");
    let mut classify = with_samples(&["classify", "--labels-file"]);
    classify.insert(2, labels_file.clone().into_os_string());
    let mut tags = with_samples(&["classify", "--tags", "--bias", "-4", "--store"]);
    tags.insert(5, store("procedural.emb").into_os_string());
    let mut build = os(&["labels", "build"]);
    build.extend([labels_file.into(), "-o".into(), built.into()]);
    let mut add = os(&["labels", "add"]);
    add.extend([
        store_copy(dir, "procedural.emb").into(),
        "violet hexagon".into(),
    ]);
    let mut remove = os(&["labels", "remove"]);
    remove.extend([
        store_copy(dir, "procedural.emb").into(),
        "red circle".into(),
    ]);
    let mut list = os(&["labels", "list"]);
    list.push(store("everyday.emb").into());
    let mut info = os(&["labels", "info"]);
    info.push(store("procedural.emb").into());
    // The samples as frames, looped: watch prints appeared/left events and stops
    // after 40 frames.
    let mut watch = os(&[
        "watch",
        "--loop",
        "--fps",
        "10",
        "--frames",
        "40",
        "--dwell-ms",
        "0",
    ]);
    watch.extend([
        "--hold-ms".into(),
        "0".into(),
        "--labels".into(),
        "red circle,green triangle,blue square,yellow star".into(),
        "--files".into(),
        default_model().join("samples").into(),
    ]);
    vec![
        ("classify", classify),
        ("classify --tags", tags),
        ("embed image", with_samples(&["embed", "image"])),
        (
            "embed text",
            os(&["embed", "text", "a red circle", "a blue square"]),
        ),
        ("tokenize", os(&["tokenize", "a photo of a cat.", "a dog"])),
        ("info", os(&["info"])),
        ("check", os(&["check"])),
        ("labels build", build),
        ("labels add", add),
        ("labels remove", remove),
        ("labels list", list),
        ("labels info", info),
        ("backends", os(&["backends"])),
        ("watch", watch),
    ]
}

/// `edgeclip --format FORMAT ARGS` with stdout a pipe whose read end is closed
/// before the process starts: its first write fails with EPIPE.
fn run_into_closed_pipe(format: &str, args: &[OsString]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    edgeclip()
        .args(["--format", format])
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn every_command_ends_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        // Each command must print at all, or a closed pipe would prove nothing.
        for (name, args) in invocations(dir.path()) {
            let out = edgeclip()
                .args(["--format", format])
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name} --format {format}: {}",
                stderr(&out)
            );
            assert!(
                !out.stdout.is_empty(),
                "{name} --format {format} printed nothing"
            );
        }
        for (name, args) in invocations(dir.path()) {
            let out = run_into_closed_pipe(format, &args);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{name} --format {format}: {}",
                stderr(&out)
            );
            assert_eq!(stderr(&out), "", "{name} --format {format}");
        }
    }
}

#[test]
fn the_json_alias_ends_quietly_too() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = edgeclip()
        .args(["tokenize", "a cat", "--json"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// `| head -1` for real: the reader takes one line and leaves while the run has
/// far more than a pipe buffer (64 KiB on Linux) still to write.
#[test]
fn reading_one_line_then_leaving_ends_the_run_quietly() {
    let images: Vec<PathBuf> = std::iter::repeat_n(samples(), 40).flatten().collect();
    for format in FORMATS {
        let (reader, writer) = std::io::pipe().unwrap();
        let child = edgeclip()
            .args(["--format", format, "embed", "image"])
            .args(&images)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(reader);
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        drop(lines);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{format}");
        assert!(
            first.ends_with('\n'),
            "{format}: a whole first line: {first:?}"
        );
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(&first).unwrap();
            assert_eq!(v["type"], "embedding");
        }
    }
}

/// The closed pipe is not mistaken for success when the run failed before
/// printing: a fatal error still exits 2 and says why on stderr.
#[test]
fn a_fatal_error_before_any_output_still_fails() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(edgeclip_e2e::edgeclip_bin())
        .args(["--model", "/nonexistent/model", "--format", "json", "info"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/nonexistent/model"),
        "{}",
        stderr(&out)
    );
}
