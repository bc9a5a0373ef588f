//! Writing then reading a store gives back what was written, for every element type;
//! edits carry encoded rows over unchanged.

mod common;

use common::{decoded, fingerprint, row, small, tolerance, unit};
use edgeclip_store::{DType, LabelMeta, Meta, Rows, Store, StoreBuilder, StoreError};

const DTYPES: [DType; 3] = [DType::F32, DType::F16, DType::Int8];

#[test]
fn every_dtype_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in DTYPES {
        let path = dir.path().join(format!("{}.emb", dtype.name()));
        small(dtype).write_atomic(&path).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(store.dtype(), dtype);
        assert_eq!((store.len(), store.dim()), (3, 8));
        assert_eq!(
            store.labels().collect::<Vec<_>>(),
            ["cat", "dog", "red circle"]
        );
        assert_eq!(store.fingerprint(), &fingerprint());
        assert_eq!(store.meta(0), Meta::default());
        assert_eq!(
            store.meta(1),
            Meta {
                group: Some("animals"),
                threshold: Some(0.3)
            }
        );
        assert!(store.has_meta());
        assert_eq!(store.path(), path);
        assert_eq!(store.file_len(), std::fs::metadata(&path).unwrap().len());
        for (i, got) in decoded(&store).iter().enumerate() {
            for (g, w) in got.iter().zip(unit(&row(i, 8))) {
                assert!(
                    (g - w).abs() <= tolerance(dtype),
                    "{dtype:?} row {i}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn rows_are_zero_copy_views_of_the_map_at_an_aligned_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.emb");
    small(DType::F32).write_atomic(&path).unwrap();
    let store = Store::open(&path).unwrap();
    let Rows::F32(v) = store.rows() else {
        panic!("not f32")
    };
    let base = store.as_bytes().as_ptr() as usize;
    let at = v.as_ptr() as usize - base;
    assert!(at >= edgeclip_store::HEADER_LEN && at < store.file_len() as usize);
    assert_eq!(at % edgeclip_store::VECTOR_ALIGN, 0);
    assert_eq!(v.as_ptr() as usize % 64, 0);
}

#[test]
fn int8_uses_a_symmetric_per_row_scale() {
    let mut b = StoreBuilder::new(DType::Int8, 4, fingerprint()).unwrap();
    b.add("a", &[0.0, -4.0, 2.0, 1.0]).unwrap();
    let bytes = b.to_bytes().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.emb");
    std::fs::write(&path, bytes).unwrap();
    let store = Store::open(&path).unwrap();
    let Rows::Int8 { values, scales } = store.rows() else {
        panic!()
    };
    assert_eq!(values, [0, -127, 64, 32]);
    let norm = 21f32.sqrt();
    assert!((scales[0] - 4.0 / norm / 127.0).abs() < 1e-7);
}

#[test]
fn empty_store_round_trips_without_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.emb");
    StoreBuilder::new(DType::F16, 16, fingerprint())
        .unwrap()
        .write_atomic(&path)
        .unwrap();
    let store = Store::open(&path).unwrap();
    assert!(store.is_empty());
    assert!(!store.has_meta());
    assert_eq!(store.labels().count(), 0);
    assert!(matches!(store.rows(), Rows::F16(v) if v.is_empty()));
}

#[test]
fn builder_refuses_bad_rows_duplicates_and_dims() {
    let mut b = StoreBuilder::new(DType::F32, 3, fingerprint()).unwrap();
    b.add("a", &[1.0, 2.0, 3.0]).unwrap();
    assert!(
        matches!(b.add("a", &[1.0, 0.0, 0.0]), Err(StoreError::LabelExists { label }) if label == "a")
    );
    assert!(matches!(
        b.add("b", &[1.0, 0.0]),
        Err(StoreError::DimMismatch {
            expected: 3,
            found: 2,
            ..
        })
    ));
    assert!(matches!(
        b.add("c", &[0.0; 3]),
        Err(StoreError::InvalidRow { .. })
    ));
    assert!(matches!(
        b.add("d", &[f32::NAN, 0.0, 1.0]),
        Err(StoreError::InvalidRow { .. })
    ));
    let meta = LabelMeta {
        group: None,
        threshold: Some(f32::INFINITY),
    };
    assert!(matches!(
        b.add_with_meta("e", &[1.0; 3], meta),
        Err(StoreError::InvalidMeta { .. })
    ));
    assert_eq!(b.len(), 1);
    assert!(matches!(
        StoreBuilder::new(DType::F32, 0, fingerprint()),
        Err(StoreError::InvalidDim { dim: 0 })
    ));
}

#[test]
fn editing_carries_encoded_rows_over_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edit.emb");
    for dtype in DTYPES {
        small(dtype).write_atomic(&path).unwrap();
        let before = decoded(&Store::open(&path).unwrap());
        for round in 0..3 {
            let store = Store::open(&path).unwrap();
            let mut b = StoreBuilder::from_store(&store);
            b.add(&format!("new {round}"), &row(10 + round, 8)).unwrap();
            b.remove(&format!("new {round}")).unwrap();
            b.write_atomic(&path).unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            decoded(&store),
            before,
            "{dtype:?}: rows drifted across edits"
        );

        let mut b = StoreBuilder::from_store(&store);
        b.remove("dog").unwrap();
        let meta = LabelMeta {
            group: Some("shapes".into()),
            threshold: None,
        };
        b.add_with_meta("blue square", &row(5, 8), meta).unwrap();
        assert!(b.contains("blue square") && !b.contains("dog"));
        assert_eq!(b.row_f32(0), before[0]);
        b.write_atomic(&path).unwrap();
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.labels().collect::<Vec<_>>(),
            ["cat", "red circle", "blue square"]
        );
        let rows = decoded(&store);
        assert_eq!(rows[..2], [before[0].clone(), before[2].clone()]);
        assert_eq!(store.meta(2).group, Some("shapes"));
        assert_eq!(store.meta(0), Meta::default());
    }
}

#[test]
fn editing_refuses_existing_and_unknown_labels() {
    let mut b = small(DType::F16);
    assert!(matches!(
        b.add("cat", &row(9, 8)),
        Err(StoreError::LabelExists { .. })
    ));
    let err = b.remove("zebra").unwrap_err();
    assert!(matches!(&err, StoreError::UnknownLabel { label } if label == "zebra"));
    assert!(err.to_string().contains("\"zebra\""), "{err}");
}

#[test]
fn check_model_accepts_any_precision_of_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.emb");
    small(DType::Int8).write_atomic(&path).unwrap();
    let store = Store::open(&path).unwrap();
    store
        .check_model("edgeclip-tiny", &[[1; 32], [0x5a; 32]])
        .unwrap();
}

#[test]
fn writing_keeps_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.emb");
    // A leftover of a killed writer of this store, and a file of another store.
    std::fs::write(dir.path().join(".t.emb.AbC123.tmp"), b"partial").unwrap();
    std::fs::write(dir.path().join(".t.emb.x.AbC123.tmp"), b"other").unwrap();
    small(DType::F32).write_atomic(&path).unwrap();
    small(DType::F16).write_atomic(&path).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [".t.emb.x.AbC123.tmp", "t.emb"]);
}
