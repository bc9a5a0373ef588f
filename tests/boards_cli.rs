//! Board profiles through the binary: `--board`, the backend order with fallback,
//! and `doctor`'s report of them.

use edgeclip_e2e::{edgeclip, samples};
use serde_json::Value;

fn doctor(args: &[&str]) -> Value {
    let out = edgeclip()
        .args(args)
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["type"], "doctor");
    record["data"].clone()
}

#[test]
fn the_detected_board_is_named_with_its_evidence() {
    let report = doctor(&[]);
    let board = &report["board"];
    // This host is no shipped board: the generic profile of its architecture.
    assert_eq!(
        board["name"],
        format!("generic-{}", std::env::consts::ARCH),
        "{report}"
    );
    assert!(board["reason"]
        .as_str()
        .unwrap()
        .contains("by architecture"));
    let tract = report["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "tract")
        .unwrap();
    assert_eq!(tract["available"], true);
    assert!(report["cpu"]["features"].as_array().is_some());
}

#[test]
fn an_rk3588_without_its_npu_runtime_falls_back_to_tract() {
    let report = doctor(&[
        "--board",
        "rk3588",
        "--rknn-lib",
        "/nonexistent/librknnrt.so",
    ]);
    assert_eq!(report["board"]["name"], "rk3588");
    assert_eq!(
        report["board"]["backend_order"],
        serde_json::json!(["rknn", "tract"])
    );
    assert_eq!(report["board"]["threads"], 4, "the A76 cluster");
    let backends = report["backends"].as_array().unwrap();
    let rknn = backends.iter().find(|b| b["name"] == "rknn").unwrap();
    assert_eq!(rknn["available"], false);
    assert!(rknn["reason"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/librknnrt.so"));
    let selected: Vec<&str> = backends
        .iter()
        .filter(|b| b["selected"] == true)
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(selected, ["tract"]);

    let out = edgeclip()
        .args([
            "--board",
            "rk3588",
            "--rknn-lib",
            "/nonexistent/librknnrt.so",
        ])
        .args(["classify", "--labels", "a red circle,a blue star"])
        .arg(&samples()[0])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_backend_named_on_the_command_line_is_required() {
    let out = edgeclip()
        .args([
            "--board",
            "rk3588",
            "--rknn-lib",
            "/nonexistent/librknnrt.so",
        ])
        .args(["--backend", "rknn", "classify", "--labels", "a,b"])
        .arg(&samples()[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rknn") && stderr.contains("/nonexistent/librknnrt.so"),
        "{stderr}"
    );
}

#[test]
fn unknown_boards_and_broken_profile_files_are_clear_errors() {
    let out = edgeclip()
        .args(["--board", "rpi9", "classify", "--labels", "a,b"])
        .arg(&samples()[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rpi9") && stderr.contains("rpi5"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "name = \"mine\"\ntitle = 3\n").unwrap();
    let out = edgeclip()
        .arg("--board")
        .arg(&file)
        .args(["classify", "--labels", "a,b"])
        .arg(&samples()[0])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mine.toml") && stderr.contains("line 2"),
        "{stderr}"
    );
}

#[test]
fn a_profile_file_of_ones_own_board_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lab-box.toml");
    let generic = std::fs::read_to_string(
        edgeclip_e2e::root().join(format!("boards/generic-{}.toml", std::env::consts::ARCH)),
    )
    .unwrap();
    let mine = generic
        .replacen(
            &format!("name = \"generic-{}\"", std::env::consts::ARCH),
            "name = \"lab-box\"",
            1,
        )
        .replacen("count = 1", "count = 3", 1);
    std::fs::write(&file, mine).unwrap();
    let report = doctor(&["--board", file.to_str().unwrap()]);
    assert_eq!(report["board"]["name"], "lab-box");
    assert_eq!(report["board"]["threads"], 3);
    assert!(report["board"]["reason"]
        .as_str()
        .unwrap()
        .contains("lab-box.toml"));
}
