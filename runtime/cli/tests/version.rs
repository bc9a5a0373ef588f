//! The binary starts and reports its version. Having an integration test here
//! also makes `cargo test --workspace` build the `edgeclip` binary, which the
//! end-to-end tests in the top-level `tests/` run.

#[test]
fn prints_its_version() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgeclip"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("edgeclip {}", env!("CARGO_PKG_VERSION"))
    );
}
