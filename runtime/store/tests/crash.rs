//! Crash safety: a writer SIGKILLed at random points leaves the old store or the new
//! one, never a mix, and its leftover temporary file is removed by the next write.
//!
//! The test re-executes its own binary, filtered to `child_writer_loop`, with
//! `EDGECLIP_STORE_CRASH_CHILD` naming the store: that child rewrites the store
//! forever, alternating two contents, until it is killed.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fingerprint, row};
use edgeclip_store::{DType, Store, StoreBuilder};

const CHILD_ENV: &str = "EDGECLIP_STORE_CRASH_CHILD";
const KILLS: usize = 200;

/// Two stores big enough (about 100 KiB) that kills land inside writes.
fn contents(which: usize) -> StoreBuilder {
    let mut b = StoreBuilder::new(DType::F16, 256, fingerprint()).unwrap();
    for i in 0..200 {
        b.add(&format!("label {i} of {which}"), &row(i + which, 256))
            .unwrap();
    }
    b
}

#[test]
fn child_writer_loop() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let both = [contents(0), contents(1)];
    for i in 0.. {
        both[i % 2].write_atomic(&path).unwrap();
    }
}

fn temp_files(dir: &Path) -> usize {
    let names = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name());
    names
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .count()
}

#[test]
fn killed_writer_leaves_the_old_or_the_new_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.emb");
    let expected = [
        contents(0).to_bytes().unwrap(),
        contents(1).to_bytes().unwrap(),
    ];
    contents(0).write_atomic(&path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let (mut seen, mut leftovers) = ([0usize; 2], 0);
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_writer_loop",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(2_000 + rng % 25_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let store = Store::open(&path).unwrap_or_else(|e| panic!("after kill {kill}: {e}"));
        let bytes = std::fs::read(&path).unwrap();
        let which = expected.iter().position(|e| *e == bytes);
        let which = which.unwrap_or_else(|| panic!("after kill {kill}: neither old nor new store"));
        assert_eq!(store.len(), 200);
        seen[which] += 1;
        let temps = temp_files(dir.path());
        assert!(
            temps <= 1,
            "after kill {kill}: {temps} temporary files: stale ones were not removed"
        );
        leftovers += temps;
    }
    eprintln!("{KILLS} kills: {seen:?} old/new contents, {leftovers} left a temporary file");
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "the child never completed a write: {seen:?}"
    );
    contents(1).write_atomic(&path).unwrap();
    assert_eq!(
        temp_files(dir.path()),
        0,
        "the next write removes the leftover"
    );
}
