//! Property tests: no input makes the reader panic; any labels and rows round-trip.

mod common;

use std::path::Path;

use common::{decoded, fingerprint, small, tolerance, unit};
use edgeclip_store::{check_bytes, DType, Fingerprint, LabelMeta, Store, StoreBuilder};
use proptest::prelude::*;

fn dtype() -> impl Strategy<Value = DType> {
    prop_oneof![Just(DType::F32), Just(DType::F16), Just(DType::Int8)]
}

/// Rows whose largest value is not tiny, so that normalization is well defined.
fn rows(n: usize, dim: usize) -> impl Strategy<Value = Vec<Vec<f32>>> {
    prop::collection::vec(prop::collection::vec(-1e3f32..1e3, dim), n)
        .prop_filter("non-zero rows", |rs| {
            rs.iter().all(|r| r.iter().any(|x| x.abs() > 1e-3))
        })
}

/// dtype, dim, labels, rows, groups.
type Case = (
    DType,
    usize,
    Vec<String>,
    Vec<Vec<f32>>,
    Vec<Option<String>>,
);

fn case() -> impl Strategy<Value = Case> {
    (
        dtype(),
        1usize..24,
        prop::collection::hash_set(any::<String>(), 0..12),
    )
        .prop_flat_map(|(dtype, dim, labels)| {
            let labels: Vec<String> = labels.into_iter().collect();
            let n = labels.len();
            let groups = prop::collection::vec(prop::option::of(any::<String>()), n);
            (Just(dtype), Just(dim), Just(labels), rows(n, dim), groups)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = check_bytes(&bytes, Path::new("any.emb"));
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_prefix_never_panic(
        cut in 0usize..140, tail in prop::collection::vec(any::<u8>(), 0..400)
    ) {
        let mut bytes = small(DType::F16).to_bytes().unwrap();
        bytes.truncate(cut);
        bytes.extend(tail);
        let _ = check_bytes(&bytes, Path::new("any.emb"));
    }

    #[test]
    fn mutated_valid_files_never_panic(
        dtype in dtype(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        reseal in any::<bool>(),
    ) {
        let mut bytes = small(dtype).to_bytes().unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if reseal {
            // Past the checksum: exercises the structural checks on garbage.
            let mut h = xxhash_rust::xxh3::Xxh3Default::new();
            h.update(&bytes[..120]);
            h.update(&bytes[128..]);
            bytes[120..128].copy_from_slice(&h.digest().to_le_bytes());
        }
        let _ = check_bytes(&bytes, Path::new("mutated.emb"));
    }

    #[test]
    fn any_labels_and_rows_round_trip((dtype, dim, labels, rows, groups) in case(), model in any::<String>()) {
        let fp = Fingerprint { model, templates: vec![String::new(), "{}".into()], ..fingerprint() };
        let mut b = StoreBuilder::new(dtype, dim, fp.clone()).unwrap();
        for ((label, row), group) in labels.iter().zip(&rows).zip(&groups) {
            let meta = LabelMeta { group: group.clone(), threshold: None };
            b.add_with_meta(label, row, meta).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.emb");
        b.write_atomic(&path).unwrap();
        let store = Store::open(&path).unwrap();
        prop_assert_eq!(store.fingerprint(), &fp);
        prop_assert_eq!(store.labels().collect::<Vec<_>>(), labels.iter().map(String::as_str).collect::<Vec<_>>());
        for (i, (got, want)) in decoded(&store).iter().zip(&rows).enumerate() {
            prop_assert_eq!(store.meta(i).group, groups[i].as_deref());
            for (g, w) in got.iter().zip(unit(want)) {
                prop_assert!((g - w).abs() <= tolerance(dtype) * 1.01, "{} vs {}", g, w);
            }
        }
    }
}
