//! Fuzzes the store reader: arbitrary bytes must give Ok or Err, never a panic or an
//! out-of-bounds read.
//!
//! Each input is checked twice: as given (which almost always fails the checksum)
//! and with its checksum recomputed, so that the structural checks behind the
//! checksum see the mutations too. Inputs that validate are also opened from a file
//! through the memory map and every accessor is exercised.
#![no_main]

use std::path::Path;

use edgeclip_store::{check_bytes, Rows, Store, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = check_bytes(data, Path::new("fuzz.emb"));
    if data.len() < HEADER_LEN {
        return;
    }
    let mut sealed = data.to_vec();
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(&sealed[..120]);
    h.update(&sealed[HEADER_LEN..]);
    sealed[120..128].copy_from_slice(&h.digest().to_le_bytes());
    if check_bytes(&sealed, Path::new("fuzz.emb")).is_ok() {
        open_and_read(&sealed);
    }
});

fn open_and_read(bytes: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("valid.emb");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let store = Store::open(&path).expect("bytes that pass check_bytes must open");
    let values = match store.rows() {
        Rows::F32(v) => v.len(),
        Rows::F16(v) => v.len(),
        Rows::Int8 { values, scales } => {
            assert_eq!(scales.len(), store.len());
            values.len()
        }
    };
    assert_eq!(values, store.len() * store.dim());
    for i in 0..store.len() {
        let _ = (store.label(i).len(), store.meta(i));
    }
    assert_eq!(store.labels().count(), store.len());
    let _ = store.fingerprint().to_string();
}
