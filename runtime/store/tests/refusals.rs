//! Damaged, hostile and foreign files are refused with a telling error, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::small;
use edgeclip_store::{check_bytes, DType, Store, StoreBuilder, StoreError, HEADER_LEN};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn valid() -> Vec<u8> {
    small(DType::Int8).to_bytes().unwrap()
}

/// Re-seals a modified image so that the checks after the checksum are reached.
fn reseal(bytes: &mut [u8]) {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(&bytes[..120]);
    h.update(&bytes[HEADER_LEN..]);
    bytes[120..128].copy_from_slice(&h.digest().to_le_bytes());
}

fn u64_at(bytes: &[u8], at: usize) -> usize {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
}

#[test]
fn wrong_magic_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = valid();
    bytes[0] = b'X';
    let path = write(dir.path(), "png.emb", &bytes);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::BadMagic { .. }), "{err:?}");
    assert!(
        err.to_string().contains("png.emb") && err.to_string().contains("not an edgeclip store")
    );
    let path = write(dir.path(), "empty.emb", b"");
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::Truncated { .. })
    ));
}

#[test]
fn unsupported_version_names_found_and_supported() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = valid();
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    let path = write(dir.path(), "v7.emb", &bytes);
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::UnsupportedVersion {
                found: 7,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("version 7") && msg.contains("version 1") && msg.contains("v7.emb"),
        "{msg}"
    );
}

#[test]
fn model_mismatch_names_the_file_and_both_fingerprints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.emb");
    small(DType::F16).write_atomic(&path).unwrap();
    let store = Store::open(&path).unwrap();
    for (model, hash) in [("edgeclip-tiny", [0xc3; 32]), ("vit-b32", [0x5a; 32])] {
        let err = store.check_model(model, &[hash]).unwrap_err();
        assert!(matches!(err, StoreError::ModelMismatch { .. }));
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(&store.fingerprint().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("{model} text={}", hex::encode(&hash[..6]))),
            "{msg}"
        );
    }
}

#[test]
fn every_truncation_is_refused() {
    let bytes = valid();
    let path = Path::new("cut.emb");
    for len in 0..bytes.len() {
        let err = check_bytes(&bytes[..len], path).unwrap_err();
        assert!(
            matches!(err, StoreError::Truncated { .. }),
            "{len}: {err:?}"
        );
    }
    let err = check_bytes(&bytes[..200], path).unwrap_err().to_string();
    let want = format!(
        "3 rows × 8 int8 (24 bytes of vectors) in a {}-byte file, but the file is 200 bytes",
        bytes.len()
    );
    assert!(
        err.contains("cut.emb: truncated: header says") && err.contains(&want),
        "{err}"
    );
    // And through the file path, once.
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "cut.emb", &bytes[..bytes.len() - 1]);
    assert!(matches!(
        Store::open(file),
        Err(StoreError::Truncated { .. })
    ));
}

#[test]
fn every_single_bit_flip_is_refused() {
    for dtype in [DType::F32, DType::F16, DType::Int8] {
        let bytes = small(dtype).to_bytes().unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                check_bytes(&b, Path::new("flip.emb")).is_err(),
                "{dtype:?} bit {bit} accepted"
            );
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = valid();
    bytes.push(0);
    let err = check_bytes(&bytes, Path::new("x.emb")).unwrap_err();
    assert!(err.to_string().contains("1 bytes follow"), "{err}");
}

type Corruption = Box<dyn Fn(&mut Vec<u8>)>;

/// Files with a valid checksum but invalid contents: what a buggy or hostile writer makes.
#[test]
fn resealed_corruptions_are_refused() {
    let fresh = valid();
    let vectors = u64_at(&fresh, 32);
    let scales = u64_at(&fresh, 48);
    let labels = u64_at(&fresh, 80);
    let cases: Vec<(&str, Corruption)> = vec![
        ("unknown element type", Box::new(|b| b[12] = 9)),
        ("reserved", Box::new(|b| b[13] = 1)),
        ("dim is 0", Box::new(|b| b[16..20].fill(0))),
        ("need", Box::new(|b| b[20] = 200)),
        ("not a multiple of 64", Box::new(move |b| b[32] += 1)),
        (
            "overlap",
            Box::new(move |b| b[80..88].copy_from_slice(&(vectors as u64).to_le_bytes())),
        ),
        (
            "outside",
            Box::new(|b| b[64..72].copy_from_slice(&u64::MAX.to_le_bytes())),
        ),
        (
            "scale",
            Box::new(move |b| b[scales..scales + 4].copy_from_slice(&(-1f32).to_le_bytes())),
        ),
        (
            "scale",
            Box::new(move |b| b[scales..scales + 4].copy_from_slice(&f32::NAN.to_le_bytes())),
        ),
        ("not UTF-8", Box::new(move |b| b[labels + 4] = 0xff)),
        (
            "twice",
            Box::new(move |b| b[labels + 11..labels + 14].copy_from_slice(b"cat")),
        ),
        (
            "unknown metadata flags",
            Box::new(|b| {
                let meta = u64_at(b, 96);
                b[meta] = 0x80;
            }),
        ),
    ];
    for (want, corrupt) in cases {
        let mut b = fresh.clone();
        corrupt(&mut b);
        reseal(&mut b);
        let err = check_bytes(&b, Path::new("bad.emb"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(want) && err.contains("bad.emb"),
            "want {want:?}, got {err}"
        );
    }
}

#[test]
fn non_finite_values_are_refused() {
    for dtype in [DType::F32, DType::F16] {
        let mut one = StoreBuilder::new(dtype, 2, common::fingerprint()).unwrap();
        one.add("a", &[1.0, 0.0]).unwrap();
        let mut b = one.to_bytes().unwrap();
        let at = u64_at(&b, 32);
        match dtype {
            DType::F32 => b[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes()),
            _ => b[at..at + 2].copy_from_slice(&half::f16::NAN.to_le_bytes()),
        }
        reseal(&mut b);
        let err = check_bytes(&b, Path::new("nan.emb"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("non-finite") && err.contains("row 0, column 0"),
            "{err}"
        );
    }
}
