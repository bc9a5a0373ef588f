//! The readers against golden files written by each format's reference peer (plyfile,
//! pypcd4, numpy; `firmware-tools/fixtures/make_cloud_files.py`), and against broken
//! copies of them: every error names the file, the format and the problem.

use std::path::{Path, PathBuf};

use edgeclip_points::read::{
    read_bytes, read_bytes_with, read_path, read_path_with, Format, Limits, ParseErrorKind,
    ReadError,
};
use edgeclip_points::{CloudError, PointCloud};

const HOLES: [usize; 5] = [0, 5, 6, 17, 23];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/clouds")
        .join(name)
}

/// The 24 points of every golden file (the script's `points()`).
fn expected() -> Vec<[f32; 3]> {
    (0..24i32)
        .map(|i| {
            [
                (i - 12) as f32 * 0.125,
                ((i * 7) % 11) as f32 * 0.5 - 2.5,
                ((i * 5) % 13) as f32 * 0.25 + 100.0,
            ]
        })
        .collect()
}

fn expected_with_holes() -> Vec<[f32; 3]> {
    let all = expected();
    (0..all.len())
        .filter(|i| !HOLES.contains(i))
        .map(|i| all[i])
        .collect()
}

fn assert_reads(name: &str, want: &[[f32; 3]]) {
    let path = fixture(name);
    let cloud = read_path(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cloud.points(), want, "{name}");
    let bytes = std::fs::read(&path).unwrap();
    let format = Format::from_path(&path).unwrap();
    assert_eq!(read_bytes(&bytes, format).unwrap(), cloud, "{name}");
}

#[test]
fn golden_ply_every_encoding_and_coordinate_type() {
    for enc in ["ascii", "binary_le", "binary_be"] {
        // Float files have faces after the vertices; double ones faces before and a list
        // property among the vertex properties.
        for ty in ["float", "double"] {
            assert_reads(&format!("{enc}_{ty}.ply"), &expected());
        }
    }
}

#[test]
fn golden_pcd_every_data_mode() {
    for name in [
        "ascii.pcd",
        "binary.pcd",
        "binary_compressed.pcd",
        "binary_double.pcd",
        "binary_compressed_double.pcd",
        "ascii_count3.pcd",
        "binary_compressed_count3.pcd",
    ] {
        assert_reads(name, &expected());
    }
}

#[test]
fn golden_organized_pcd_skips_nan_holes() {
    for mode in ["ascii", "binary", "binary_compressed"] {
        assert_reads(&format!("{mode}_organized_nan.pcd"), &expected_with_holes());
    }
}

#[test]
fn golden_npy_every_dtype_order_and_version() {
    for order in ["le", "be"] {
        for ty in ["f4", "f8"] {
            for layout in ["c", "fortran"] {
                assert_reads(&format!("{order}_{ty}_{layout}.npy"), &expected());
            }
        }
    }
    assert_reads("le_f4_c_v2.npy", &expected());
    assert_reads("be_f8_fortran_v3.npy", &expected());
}

#[test]
fn golden_xyz_text_layouts() {
    for name in ["space.xyz", "comma_extra.txt", "counted.pts"] {
        assert_reads(name, &expected());
    }
}

// ---- broken copies of the golden files -------------------------------------------------

/// Writes `bytes` as `name` in a fresh directory and reads it; the error must start with
/// the path, and its message is returned without it.
fn read_broken(name: &str, bytes: &[u8], limits: &Limits) -> (ReadError, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let err = read_path_with(&path, None, limits).unwrap_err();
    let msg = err.to_string();
    let prefix = format!("{}: ", path.display());
    assert!(msg.starts_with(&prefix), "{msg}");
    assert_eq!(err.path(), path);
    (err, msg[prefix.len()..].to_string())
}

fn broken(name: &str, bytes: &[u8]) -> String {
    read_broken(name, bytes, &Limits::default()).1
}

fn golden(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

/// `bytes` with the first `from` replaced by `to` (same length keeps binary offsets).
fn patched(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("no {from:?}"));
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(to.as_bytes());
    out.extend_from_slice(&bytes[at + from.len()..]);
    out
}

fn header_end(bytes: &[u8], marker: &str) -> usize {
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .unwrap();
    at + bytes[at..].iter().position(|&b| b == b'\n').unwrap() + 1
}

#[test]
fn truncated_bodies() {
    let ply = golden("binary_le_float.ply");
    let body = header_end(&ply, "end_header");
    let msg = broken("cloud.ply", &ply[..body + 100]);
    // 24 vertices of 3 floats, a float normal, 3 uchar colours and a short: 21 bytes each.
    assert_eq!(
        msg,
        "PLY: header declares 24 vertices but the body holds 100 bytes (at least 504 needed)"
    );
    let pcd = golden("binary.pcd");
    let body = header_end(&pcd, "DATA");
    let msg = broken("scan.pcd", &pcd[..body + 50]);
    assert!(
        msg.starts_with("PCD: header declares 24 points but the body holds 50 bytes"),
        "{msg}"
    );
    let npy = golden("le_f8_c.npy");
    let msg = broken("a.npy", &npy[..npy.len() - 1]);
    assert_eq!(
        msg,
        "NPY: header declares 24 rows but the body holds 575 bytes (at least 576 needed)"
    );
    let ascii = golden("ascii_float.ply");
    let cut = ascii.len() - 400;
    let msg = broken("cloud.ply", &ascii[..cut]);
    assert!(msg.starts_with("PLY: line "), "{msg}");
    let text = golden("space.xyz");
    // Cut inside a number: still three numbers, so the cloud is the shorter one.
    let cloud = read_bytes(&text[..text.len() - 9], Format::Xyz).unwrap();
    assert_eq!(cloud.len(), 24);
    let cloud = read_bytes(&text[..text.len() - 20], Format::Xyz).unwrap_err();
    assert!(cloud.to_string().contains("expected 3 numbers"), "{cloud}");
}

#[test]
fn huge_declared_counts_are_refused_without_reading() {
    let ply = patched(
        &golden("binary_be_float.ply"),
        "element vertex 24\n",
        "element vertex 4294967295\n",
    );
    let msg = broken("cloud.ply", &ply);
    assert!(
        msg.starts_with("PLY: header declares 4294967295 vertices but the body holds "),
        "{msg}"
    );
    let ply = patched(
        &golden("ascii_double.ply"),
        "element face 4\n",
        "element face 99999999999\n",
    );
    let msg = broken("cloud.ply", &ply);
    assert!(
        msg.starts_with("PLY: header declares 99999999999 `face` elements"),
        "{msg}"
    );
    let pcd = patched(
        &golden("binary_compressed.pcd"),
        "WIDTH 24\n",
        "WIDTH 4000000000\n",
    );
    let pcd = patched(&pcd, "POINTS 24\n", "POINTS 4000000000\n");
    let msg = broken("scan.pcd", &pcd);
    assert_eq!(
        msg,
        "PCD: header declares 4000000000 points, more than the limit of 50000000"
    );
    let pcd = patched(&golden("binary.pcd"), "WIDTH 24\n", "WIDTH 4000000000\n");
    let pcd = patched(&pcd, "POINTS 24\n", "POINTS 4000000000\n");
    let msg = broken("scan.pcd", &pcd);
    assert!(
        msg.starts_with("PCD: header declares 4000000000 points but the body holds 816 bytes"),
        "{msg}"
    );
    // Padding spaces absorb the longer number, so the header keeps its length.
    let npy = patched(
        &golden("le_f4_c.npy"),
        "(24, 3), }        ",
        "(4294967295, 3), }",
    );
    let msg = broken("a.npy", &npy);
    assert!(
        msg.starts_with("NPY: header declares 4294967295 rows but the body holds 288 bytes"),
        "{msg}"
    );
}

#[test]
fn the_point_limit_is_enforced() {
    let limits = Limits::new(10);
    for name in [
        "binary_le_double.ply",
        "ascii.pcd",
        "binary_compressed.pcd",
        "be_f4_c.npy",
    ] {
        let (err, msg) = read_broken(name, &golden(name), &limits);
        assert!(
            msg.ends_with("header declares 24 points, more than the limit of 10"),
            "{msg}"
        );
        let ReadError::Parse { error, .. } = err else {
            panic!("{msg}")
        };
        assert_eq!(
            error.kind(),
            &ParseErrorKind::TooManyPoints {
                declared: 24,
                limit: 10
            }
        );
    }
    let (_, msg) = read_broken("space.xyz", &golden("space.xyz"), &limits);
    assert_eq!(
        msg,
        "XYZ: line 11: the file holds more than the limit of 10 points"
    );
    assert_eq!(
        read_bytes_with(&golden("space.xyz"), Format::Xyz, &Limits::new(24))
            .unwrap()
            .len(),
        24
    );
}

#[test]
fn nan_and_inf_coordinates() {
    let ply = golden("ascii_float.ply");
    let line = std::str::from_utf8(&ply)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("-1.25 "))
        .unwrap()
        + 1;
    let ply = patched(&ply, "\n-1.25 ", "\nnan ");
    let msg = broken("cloud.ply", &ply);
    assert_eq!(
        msg,
        format!("PLY: line {line}: point 2 has a non-finite coordinate (NaN, -1, 102.5)")
    );

    let mut ply = golden("binary_le_float.ply");
    let body = header_end(&ply, "end_header");
    // Vertex 1's y: after vertex 0 (21 bytes) and vertex 1's x and nx.
    ply[body + 21 + 8..][..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    assert_eq!(
        broken("cloud.ply", &ply),
        "PLY: point 1 has a non-finite coordinate (-1.375, inf, 101.25)"
    );

    let mut npy = golden("le_f8_fortran.npy");
    let n = npy.len();
    // The last value of the z column.
    npy[n - 8..].copy_from_slice(&f64::NEG_INFINITY.to_le_bytes());
    assert_eq!(
        broken("a.npy", &npy),
        "NPY: point 23 has a non-finite coordinate (1.375, 1, -inf)"
    );

    // PCD skips all-NaN holes but refuses a partly NaN point and infinities.
    let pcd = golden("ascii.pcd");
    let pcd = patched(&pcd, " -1.3750000000 ", " nan ");
    let msg = broken("scan.pcd", &pcd);
    assert_eq!(
        msg,
        "PCD: line 12: point 1 has a non-finite coordinate (NaN, 1, 101.25)"
    );
    let pcd = patched(
        &golden("ascii_organized_nan.pcd"),
        " -1.2500000000 ",
        " -inf ",
    );
    let msg = broken("scan.pcd", &pcd);
    assert_eq!(
        msg,
        "PCD: line 13: point 2 has a non-finite coordinate (-inf, -1, 102.5)"
    );
    let mut pcd = golden("binary.pcd");
    let body = header_end(&pcd, "DATA");
    for i in 0..24 {
        // x, y, z of every point (after a 4-byte intensity; 34-byte points).
        for k in 0..3 {
            pcd[body + i * 34 + 4 + 4 * k..][..4].copy_from_slice(&f32::NAN.to_le_bytes());
        }
    }
    let (err, msg) = read_broken("scan.pcd", &pcd, &Limits::default());
    assert_eq!(
        msg,
        "PCD: all 24 points are NaN: the cloud has no valid points"
    );
    let ReadError::Parse { error, .. } = err else {
        panic!()
    };
    assert_eq!(error.kind(), &ParseErrorKind::AllNan { nan: 24 });
}

#[test]
fn zero_points() {
    let mut ply = golden("binary_le_float.ply");
    let body = header_end(&ply, "end_header");
    ply.truncate(body);
    let ply = patched(&ply, "element vertex 24\n", "element vertex 0\n");
    let ply = patched(&ply, "element face 4\n", "element face 0\n");
    assert_eq!(broken("empty.ply", &ply), "PLY: the cloud has no points");
    let mut pcd = golden("binary.pcd");
    pcd.truncate(header_end(&pcd, "DATA"));
    let pcd = patched(
        &patched(&pcd, "WIDTH 24\n", "WIDTH 0\n"),
        "POINTS 24\n",
        "POINTS 0\n",
    );
    assert_eq!(broken("empty.pcd", &pcd), "PCD: the cloud has no points");
    let npy = patched(&golden("le_f4_c.npy"), "(24, 3)", "(0, 3) ");
    let (err, msg) = read_broken("empty.npy", &npy[..128], &Limits::default());
    assert_eq!(msg, "NPY: the cloud has no points");
    let ReadError::Parse { error, .. } = err else {
        panic!()
    };
    assert_eq!(error.kind(), &ParseErrorKind::Cloud(CloudError::Empty));
    assert_eq!(
        broken("empty.xyz", b"# only a comment\n\n"),
        "XYZ: the cloud has no points"
    );
    assert_eq!(broken("empty.txt", b""), "XYZ: the cloud has no points");
}

#[test]
fn missing_coordinates() {
    let ply = patched(
        &golden("binary_be_double.ply"),
        "property double y\n",
        "property double q\n",
    );
    assert_eq!(
        broken("cloud.ply", &ply),
        "PLY: no `y` coordinate: the vertex element has none"
    );
    let ply = patched(
        &golden("ascii_float.ply"),
        "element vertex",
        "element points",
    );
    assert_eq!(broken("cloud.ply", &ply), "PLY: no `vertex` element");
    let pcd = patched(
        &golden("binary_compressed.pcd"),
        "FIELDS intensity x",
        "FIELDS intensity w",
    );
    assert_eq!(
        broken("scan.pcd", &pcd),
        "PCD: no `x` coordinate: the FIELDS line has none"
    );
}

#[test]
fn wrong_npy_shape_and_dtype() {
    let npy = patched(&golden("le_f4_c.npy"), "(24, 3)", "(18, 4)");
    assert_eq!(
        broken("a.npy", &npy),
        "NPY: shape (18, 4) (expected (N, 3))"
    );
    let npy = patched(&golden("le_f4_c.npy"), "(24, 3)", "(72,)  ");
    assert_eq!(broken("a.npy", &npy), "NPY: shape (72,) (expected (N, 3))");
    let npy = patched(&golden("le_f4_c.npy"), "'<f4'", "'<i4'");
    let msg = broken("a.npy", &npy);
    assert_eq!(
        msg,
        "NPY: dtype '<i4' (expected float32 or float64: '<f4', '<f8', '>f4' or '>f8')"
    );
    let npy = patched(&golden("be_f8_c.npy"), "'>f8'", "'|O8'");
    assert!(broken("a.npy", &npy).starts_with("NPY: dtype '|O8'"));
}

#[test]
fn bad_lzf_sizes_and_payloads() {
    let pcd = golden("binary_compressed.pcd");
    let body = header_end(&pcd, "DATA");
    let sizes = |b: &[u8]| {
        let c = u32::from_le_bytes(b[body..body + 4].try_into().unwrap());
        let u = u32::from_le_bytes(b[body + 4..body + 8].try_into().unwrap());
        (c, u)
    };
    let (c, u) = sizes(&pcd);
    assert_eq!(u, 24 * 34);
    assert_eq!(pcd.len(), body + 8 + c as usize);

    let mut bad = pcd.clone();
    bad[body + 4..body + 8].copy_from_slice(&(u + 1).to_le_bytes());
    let msg = broken("scan.pcd", &bad);
    assert_eq!(
        msg,
        format!("PCD: binary_compressed data: uncompressed size {} bytes but 24 points of 34 bytes take 816", u + 1)
    );
    let mut bad = pcd.clone();
    bad[body..body + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let msg = broken("scan.pcd", &bad);
    assert_eq!(
        msg,
        format!("PCD: binary_compressed data: compressed size 4294967295 bytes but the body holds {c} after the sizes")
    );
    let mut bad = pcd.clone();
    bad[body..body + 4].copy_from_slice(&5u32.to_le_bytes());
    let msg = broken("scan.pcd", &bad);
    assert_eq!(msg, "PCD: binary_compressed data: uncompressed size 816 bytes is more than LZF can expand 5 bytes to");
    let mut bad = pcd.clone();
    let last = bad.len() - 1;
    bad[body + 8] = 0xff; // a back reference before the start of the output
    bad[last] ^= 0x55;
    let msg = broken("scan.pcd", &bad);
    assert!(
        msg.starts_with("PCD: binary_compressed data: the LZF payload does not decompress"),
        "{msg}"
    );
    let msg = broken("scan.pcd", &pcd[..body + 6]);
    assert_eq!(
        msg,
        "PCD: binary_compressed data: the body holds 6 bytes, fewer than the 8 of the two sizes"
    );
}

#[test]
fn unknown_extensions_and_missing_files() {
    let err = read_path(Path::new("model.obj")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model.obj: unknown point-cloud file extension (expected .ply, .pcd, .npy, .xyz, .txt or .pts)"
    );
    let err = read_path(Path::new("no/such/cloud.ply")).unwrap_err();
    assert!(matches!(err, ReadError::Io { .. }));
    assert!(
        err.to_string()
            .starts_with("no/such/cloud.ply: cannot read the file: "),
        "{err}"
    );
    // An explicit format overrides the extension.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.dat");
    std::fs::copy(fixture("space.xyz"), &path).unwrap();
    let cloud: PointCloud = read_path_with(&path, Some(Format::Xyz), &Limits::default()).unwrap();
    assert_eq!(cloud.points(), expected().as_slice());
}
