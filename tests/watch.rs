//! `edgeclip watch` end to end over frames with a known timeline.
//!
//! The timeline is made here from the default model's samples: each frame of a
//! directory shows one object, in runs (`TIMELINE`), replayed at a nominal
//! 10 fps (`--fps 10` sets the frames' clock, so dwell and hold are in frame
//! time, not in how fast this machine encodes). The ground truth: an object
//! appears once its run has lasted the dwell time (plus the moving average's lag)
//! and leaves once the next run has lasted the hold time.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use edgeclip_e2e::{default_model, edgeclip};
use serde_json::Value;

/// (sample, frames) runs: what the camera "sees".
const TIMELINE: &[(&str, usize)] = &[
    ("green_triangle", 8),
    ("red_circle", 12),
    ("blue_square", 10),
    ("red_circle", 10),
];

const LABELS: &str = "red circle,green triangle,blue square,yellow star";

fn sample(name: &str) -> PathBuf {
    let dir = default_model().join("samples");
    ["png", "jpg"]
        .iter()
        .map(|ext| dir.join(format!("{name}.{ext}")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no sample {name}"))
}

/// A directory of frames `000.png`, `001.jpg`, ... following `runs`.
fn frames(runs: &[(&str, usize)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut i = 0;
    for (name, count) in runs {
        let src = sample(name);
        let ext = src.extension().unwrap().to_str().unwrap().to_owned();
        for _ in 0..*count {
            std::fs::copy(&src, dir.path().join(format!("{i:03}.{ext}"))).unwrap();
            i += 1;
        }
    }
    dir
}

fn watch(dir: &Path, extra: &[&str]) -> Output {
    edgeclip()
        .args(["--json", "watch", "--fps", "10", "--status-every", "0"])
        .arg("--files")
        .arg(dir)
        .args(["--labels", LABELS])
        .args(extra)
        .output()
        .unwrap()
}

fn events(out: &Output) -> Vec<Value> {
    edgeclip_e2e::json_lines(out)
}

/// (type, label, frame of the event's first or last sighting)
fn transitions(events: &[Value]) -> Vec<(String, String, u64)> {
    events
        .iter()
        .filter(|e| e["type"] == "appeared" || e["type"] == "left")
        .map(|e| {
            let frame = if e["type"] == "appeared" {
                &e["data"]["first_frame"]
            } else {
                &e["data"]["last_frame"]
            };
            (
                e["type"].as_str().unwrap().to_owned(),
                e["data"]["label"].as_str().unwrap().to_owned(),
                frame.as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn objects_appear_and_leave_on_the_timeline() {
    let dir = frames(TIMELINE);
    // Dwell 200 ms = 2 frames, hold 300 ms = 3 frames at 10 fps.
    let out = watch(dir.path(), &["--dwell-ms", "200", "--hold-ms", "300"]);
    let events = events(&out);
    let got = transitions(&events);
    println!("timeline events: {got:?}");
    let expected = [
        ("appeared", "green triangle"),
        ("appeared", "red circle"),
        ("left", "green triangle"),
        ("appeared", "blue square"),
        ("left", "red circle"),
        ("appeared", "red circle"),
        ("left", "blue square"),
    ];
    let kinds: Vec<(&str, &str)> = got
        .iter()
        .map(|(t, l, _)| (t.as_str(), l.as_str()))
        .collect();
    assert_eq!(kinds, expected);
    // Where each run starts and ends, in frames.
    let mut starts = Vec::new();
    let mut at = 0u64;
    for (_, n) in TIMELINE {
        starts.push(at);
        at += *n as u64;
    }
    // First sightings fall in the run's first two frames (the average's lag);
    // last sightings in the run's last frame or the one after.
    let bounds = [
        (starts[0], starts[0] + 1),
        (starts[1], starts[1] + 1),
        (starts[1] - 1, starts[1] + 1),
        (starts[2], starts[2] + 1),
        (starts[2] - 1, starts[2] + 1),
        (starts[3], starts[3] + 1),
        (starts[3] - 1, starts[3] + 1),
    ];
    for ((kind, label, frame), (lo, hi)) in got.iter().zip(bounds) {
        assert!(
            (lo..=hi).contains(frame),
            "{kind} {label} at frame {frame}, expected {lo}..={hi}"
        );
    }
    // Every event has a stable id and consecutive sequence numbers.
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["data"]["seq"].as_u64(), Some(i as u64 + 1));
        assert!(e["data"]["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("-{}", i + 1)));
    }
}

/// Every other frame shows another object: the raw top-1 score of each flips
/// between 1 and 0 each frame. Smoothed, with hysteresis, that is no storm;
/// without either, it is one event per frame.
#[test]
fn a_flickering_score_does_not_storm() {
    let runs: Vec<(&str, usize)> = (0..40)
        .map(|i| {
            (
                if i % 2 == 0 {
                    "red_circle"
                } else {
                    "green_triangle"
                },
                1,
            )
        })
        .collect();
    let dir = frames(&runs);
    let smoothed = watch(
        dir.path(),
        &[
            "--alpha",
            "0.3",
            "--enter",
            "0.6",
            "--exit",
            "0.4",
            "--dwell-ms",
            "200",
            "--hold-ms",
            "300",
        ],
    );
    let calm = transitions(&events(&smoothed));
    let raw = watch(
        dir.path(),
        &[
            "--alpha",
            "1",
            "--enter",
            "0.5",
            "--exit",
            "0.5",
            "--dwell-ms",
            "0",
            "--hold-ms",
            "0",
        ],
    );
    let storm = transitions(&events(&raw));
    println!(
        "flicker: {} events smoothed, {} without smoothing or hysteresis",
        calm.len(),
        storm.len()
    );
    assert!(calm.len() <= 2, "{calm:?}");
    assert!(storm.len() >= 60, "the test must flicker: {}", storm.len());
}

#[test]
fn status_records_report_the_run() {
    let dir = frames(&[("red_circle", 6)]);
    let out = edgeclip()
        .args([
            "--json",
            "watch",
            "--fps",
            "10",
            "--status-every",
            "0.000001",
        ])
        .arg("--files")
        .arg(dir.path())
        .args(["--labels", LABELS, "--frames", "4"])
        .output()
        .unwrap();
    let events = events(&out);
    let status: Vec<&Value> = events.iter().filter(|e| e["type"] == "status").collect();
    assert!(!status.is_empty());
    let last = status.last().unwrap();
    assert_eq!(last["data"]["frames"], 4, "--frames 4 stops after 4");
    assert_eq!(last["data"]["camera"], "file");
    assert!(last["data"]["stage_ms"]["encode"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_frames_are_skipped_and_the_loop_goes_on() {
    let dir = frames(&[("red_circle", 3)]);
    std::fs::write(dir.path().join("001.png"), b"not a png").unwrap();
    let out = watch(dir.path(), &["--dwell-ms", "0"]);
    let events = events(&out);
    assert!(events.iter().any(|e| e["type"] == "appeared"));
}

#[test]
fn raw_frames_on_stdin_and_a_truncated_last_one() {
    let (w, h) = (64usize, 48usize);
    let mut child = edgeclip()
        .args([
            "--json", "watch", "--raw", "64x48", "--pix", "rgb24", "--fps", "10",
        ])
        .args([
            "--labels",
            LABELS,
            "--status-every",
            "1000",
            "--dwell-ms",
            "0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        // Five red frames, then half a frame.
        let red: Vec<u8> = (0..w * h).flat_map(|_| [220u8, 30, 30]).collect();
        for _ in 0..5 {
            stdin.write_all(&red).unwrap();
        }
        stdin.write_all(&red[..red.len() / 2]).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let events = events(&out);
    let status = events.iter().rfind(|e| e["type"] == "status").unwrap();
    assert_eq!(status["data"]["frames"], 5);
    assert_eq!(status["data"]["bad"], 1, "the truncated frame is counted");
    assert_eq!(status["data"]["camera"], "stdin");
}

#[test]
fn settings_files_are_checked() {
    let dir = frames(&[("red_circle", 2)]);
    let cfg = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("[track]\ndwel_ms = 5\n", "dwel_ms"),
        ("[watch]\ntop_k = \"three\"\n", "top_k"),
        ("[track]\nenter = 0.3\nexit = 0.5\n", "hysteresis"),
        ("[camera]\n", "camera"),
    ] {
        let path = cfg.path().join("watch.toml");
        std::fs::write(&path, text).unwrap();
        let out = watch(dir.path(), &["--config", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(needle), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = watch(dir.path(), &["--size", "640x480"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --camera"));
    // Flags win over the file.
    let path = cfg.path().join("watch.toml");
    std::fs::write(&path, "[track]\ndwell_ms = 100000\n").unwrap();
    let out = watch(
        dir.path(),
        &["--config", path.to_str().unwrap(), "--dwell-ms", "0"],
    );
    assert!(events(&out).iter().any(|e| e["type"] == "appeared"));
}

#[test]
fn a_camera_that_is_not_there_is_waited_for() {
    let out = edgeclip()
        .args([
            "--json",
            "watch",
            "--camera",
            "/dev/no-such-camera",
            "--duration",
            "1",
        ])
        .args(["--labels", LABELS, "--status-every", "0"])
        .output()
        .unwrap();
    let events = events(&out);
    let camera = events.iter().find(|e| e["type"] == "camera").unwrap();
    assert_eq!(camera["data"]["state"], "waiting");
    assert!(camera["data"]["detail"]
        .as_str()
        .unwrap()
        .contains("/dev/no-such-camera"));
}

#[test]
fn a_device_that_is_not_a_camera_is_refused() {
    let out = edgeclip()
        .args(["watch", "--camera", "/dev/null", "--duration", "5"])
        .args(["--labels", LABELS, "--status-every", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/null"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
