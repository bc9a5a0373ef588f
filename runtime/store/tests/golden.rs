//! A committed store file pins the byte layout: the writer must reproduce it exactly
//! and the reader must read it. `EDGECLIP_BLESS=1` rewrites it after a deliberate
//! format change (which also needs a new format version and FORMAT.md update).

use std::path::{Path, PathBuf};

use edgeclip_store::{DType, Fingerprint, LabelMeta, Meta, Rows, Store, StoreBuilder};

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tiny-f16.emb")
}

/// The generator of the golden file; values are exact in f16 where possible.
fn golden() -> StoreBuilder {
    let fingerprint = Fingerprint {
        model: "tiny".into(),
        text_sha256: std::array::from_fn(|i| i as u8),
        tokenizer: "clip-bpe/77".into(),
        templates: vec!["a {}.".into()],
    };
    let mut b = StoreBuilder::new(DType::F16, 4, fingerprint).unwrap();
    b.add("cat", &[1.0, 0.0, 0.0, 0.0]).unwrap();
    let meta = LabelMeta {
        group: Some("pets".into()),
        threshold: Some(0.25),
    };
    b.add_with_meta("dog", &[0.0, 0.5, 0.5, -1.0], meta)
        .unwrap();
    let meta = LabelMeta {
        group: None,
        threshold: Some(0.5),
    };
    b.add_with_meta("sun", &[0.0, 0.0, 3.0, 4.0], meta).unwrap();
    b
}

#[test]
fn writer_reproduces_the_golden_bytes() {
    let bytes = golden().to_bytes().unwrap();
    if std::env::var_os("EDGECLIP_BLESS").is_some() {
        std::fs::write(golden_path(), &bytes).unwrap();
    }
    let committed = std::fs::read(golden_path()).unwrap();
    assert_eq!(
        bytes,
        committed,
        "writer output differs from {}",
        golden_path().display()
    );
}

#[test]
fn reader_reads_the_golden_file() {
    let store = Store::open(golden_path()).unwrap();
    assert_eq!(store.file_len(), 260);
    assert_eq!(
        (store.dtype(), store.dim(), store.len()),
        (DType::F16, 4, 3)
    );
    assert_eq!(store.labels().collect::<Vec<_>>(), ["cat", "dog", "sun"]);
    assert_eq!(store.meta(0), Meta::default());
    assert_eq!(
        store.meta(1),
        Meta {
            group: Some("pets"),
            threshold: Some(0.25)
        }
    );
    assert_eq!(
        store.meta(2),
        Meta {
            group: None,
            threshold: Some(0.5)
        }
    );
    let fp = store.fingerprint();
    assert_eq!(
        (fp.model.as_str(), fp.tokenizer.as_str()),
        ("tiny", "clip-bpe/77")
    );
    assert_eq!(fp.text_sha256[31], 31);
    assert_eq!(fp.templates, ["a {}."]);
    let Rows::F16(v) = store.rows() else {
        panic!("not f16")
    };
    let v: Vec<f32> = v.iter().map(|x| x.to_f32()).collect();
    let s = 1.0 / 1.5f32.sqrt();
    let want = [
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
        s / 2.0,
        s / 2.0,
        -s,
        0.0,
        0.0,
        0.6,
        0.8,
    ];
    for (g, w) in v.iter().zip(want) {
        assert!((g - w).abs() < 1e-3, "{v:?}");
    }
}
