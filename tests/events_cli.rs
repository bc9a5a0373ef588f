//! `watch --journal` and `edgeclip events list|tail|export` end to end: the journal
//! holds exactly what `watch` printed, numbering continues across runs, and the
//! filters select what they say.

use std::path::{Path, PathBuf};
use std::process::Output;

use edgeclip_e2e::{default_model, edgeclip};
use serde_json::Value;

const LABELS: &str = "red circle,green triangle,blue square,yellow star";

fn frames() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let runs = [("green_triangle", 6), ("red_circle", 6), ("blue_square", 6)];
    let mut i = 0;
    for (name, count) in runs {
        let src: PathBuf = ["png", "jpg"]
            .iter()
            .map(|e| default_model().join("samples").join(format!("{name}.{e}")))
            .find(|p| p.is_file())
            .unwrap();
        let ext = src.extension().unwrap().to_str().unwrap().to_owned();
        for _ in 0..count {
            std::fs::copy(&src, dir.path().join(format!("{i:03}.{ext}"))).unwrap();
            i += 1;
        }
    }
    dir
}

fn lines(out: &Output) -> Vec<Value> {
    edgeclip_e2e::json_lines(out)
}

fn watch(frames: &Path, journal: &Path) -> Vec<Value> {
    lines(
        &edgeclip()
            .args(["--json", "watch", "--fps", "10", "--status-every", "0.5"])
            .args(["--dwell-ms", "200", "--hold-ms", "200"])
            .arg("--files")
            .arg(frames)
            .args(["--labels", LABELS])
            .arg("--journal")
            .arg(journal)
            .output()
            .unwrap(),
    )
}

fn events(journal: &Path, args: &[&str]) -> Vec<Value> {
    lines(
        &edgeclip()
            .args(["--json", "events"])
            .args(args)
            .arg("--journal")
            .arg(journal)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_journal_holds_what_watch_printed_and_numbering_continues() {
    let frames = frames();
    let work = tempfile::tempdir().unwrap();
    let journal = work.path().join("journal");
    let first = watch(frames.path(), &journal);
    assert!(first.iter().any(|e| e["type"] == "appeared"));
    assert_eq!(events(&journal, &["list"]), first);

    let second = watch(frames.path(), &journal);
    let last_of_first = first.last().unwrap()["data"]["seq"].as_u64().unwrap();
    assert_eq!(
        second[0]["data"]["seq"].as_u64().unwrap(),
        last_of_first + 1
    );
    let all = events(&journal, &["list"]);
    assert_eq!(all, [first.clone(), second.clone()].concat());

    // Filters.
    let appeared = events(&journal, &["list", "--type", "appeared"]);
    assert!(!appeared.is_empty() && appeared.iter().all(|e| e["type"] == "appeared"));
    let red = events(&journal, &["list", "--label", "red circle"]);
    assert!(!red.is_empty() && red.iter().all(|e| e["data"]["label"] == "red circle"));
    let after = events(
        &journal,
        &["list", "--after-seq", &last_of_first.to_string()],
    );
    assert_eq!(after, second);
    assert!(events(&journal, &["list", "--since", "2999-01-01T00:00:00Z"]).is_empty());
    assert_eq!(events(&journal, &["list", "--since", "1h"]), all);
    let tail = events(&journal, &["tail", "-n", "3"]);
    assert_eq!(tail, all[all.len() - 3..]);

    // Export: the journaled envelopes, one per line, into a file.
    let file = work.path().join("out.jsonl");
    let out = edgeclip()
        .args(["events", "export", "--type", "left", "-o"])
        .arg(&file)
        .arg("--journal")
        .arg(&journal)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let left: Vec<Value> = all
        .iter()
        .filter(|e| e["type"] == "left")
        .cloned()
        .collect();
    assert_eq!(exported, left);
}

#[test]
fn bad_journal_arguments_are_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("nope");
    let out = edgeclip()
        .args(["events", "list", "--journal"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.contains("no journal"), "{err}");

    std::fs::create_dir(&missing).unwrap();
    let out = edgeclip()
        .args(["events", "list", "--since", "yesterday", "--journal"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--since yesterday"), "{err}");

    let out = edgeclip()
        .args([
            "watch",
            "--files",
            "x",
            "--labels",
            "a,b",
            "--durability",
            "sometimes",
            "--journal",
        ])
        .arg(work.path().join("j"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sometimes"), "{err}");

    let out = edgeclip()
        .args([
            "watch",
            "--files",
            "x",
            "--labels",
            "a,b",
            "--mqtt",
            "127.0.0.1:1883",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--journal"), "{err}");
}

#[test]
fn damaged_records_are_skipped_by_readers_and_unwritten_segments_do_not_stop_watch() {
    let frames = frames();
    let work = tempfile::tempdir().unwrap();
    let journal = work.path().join("journal");
    let all = watch(frames.path(), &journal);
    assert!(all.len() > 2);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ecj"))
        .collect();
    segments.sort();
    let segment = segments[0].clone();

    // One flipped bit in the first record: a reader skips that record only, and
    // says how much it skipped.
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[32 + 30] ^= 0x04;
    std::fs::write(&segment, &bytes).unwrap();
    let out = edgeclip()
        .args(["--json", "events", "list", "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    let listed = lines(&out);
    assert_eq!(listed, all[1..], "every event but the damaged one");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("skipped") && stderr.contains("damaged bytes"),
        "{stderr}"
    );
    let strict = edgeclip()
        .args(["events", "list", "--strict", "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success(), "{stderr}");
    assert!(stderr.contains(&segment.display().to_string()), "{stderr}");

    // A newest segment created but never written (zeros) is removed and the next
    // run numbers on.
    let last = all.last().unwrap()["data"]["seq"].as_u64().unwrap();
    let unwritten = journal.join(format!("{:020}.ecj", last + 1));
    std::fs::write(&unwritten, [0u8; 32]).unwrap();
    let again = watch(frames.path(), &journal);
    assert_eq!(again[0]["data"]["seq"].as_u64().unwrap(), last + 1);
}
