//! `edgeclip points` and `edgeclip depth` as a user runs them on the default model:
//! every cloud format, both projections, saved views, depth maps on disk, bad inputs.

use std::path::{Path, PathBuf};
use std::process::Output;

use edgeclip::model::ModelPackage;
use edgeclip_e2e::{default_model, edgeclip, edgeclip_bin, fixture, root};
use serde_json::Value;

const SOLIDS: &str = "cube,sphere,cylinder,cone,torus,pyramid";

/// The sample clouds of the README, with their solids.
fn samples() -> Vec<(PathBuf, &'static str)> {
    [
        ("cube.ply", "cube"),
        ("torus.pcd", "torus"),
        ("cone.xyz", "cone"),
        ("sphere.npy", "sphere"),
    ]
    .into_iter()
    .map(|(f, s)| (fixture(&format!("samples/{f}")), s))
    .collect()
}

/// The readers' golden files: 24 points each, in the variants the samples do not cover.
fn golden(name: &str) -> PathBuf {
    root()
        .join("runtime/points/tests/fixtures/clouds")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    let out = edgeclip().arg("--json").args(args).output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn os<P: AsRef<std::ffi::OsStr> + ?Sized>(p: &P) -> &std::ffi::OsStr {
    p.as_ref()
}

fn check_top(rec: &Value, k: usize) -> Vec<String> {
    let top = rec["data"]["top"].as_array().unwrap();
    assert_eq!(top.len(), k, "{rec}");
    let p: Vec<f64> = top
        .iter()
        .map(|t| t["probability"].as_f64().unwrap())
        .collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "sorted: {p:?}");
    assert!(p.iter().all(|p| (0.0..=1.0).contains(p)) && p.iter().sum::<f64>() <= 1.0 + 1e-5);
    top.iter()
        .map(|t| t["label"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn points_reads_every_format_with_both_projections() {
    let mut files: Vec<PathBuf> = samples().into_iter().map(|(p, _)| p).collect();
    files.extend(
        [
            "binary_be_double.ply",
            "binary_compressed.pcd",
            "binary_organized_nan.pcd",
            "le_f8_fortran.npy",
            "comma_extra.txt",
            "counted.pts",
        ]
        .map(golden),
    );
    for (projection, views) in [("v1", 6), ("v2", 10)] {
        let mut args = vec![os("points"), os("--labels"), os(SOLIDS), os("-k"), os("2")];
        args.extend([os("--projection"), os(projection)]);
        args.extend(files.iter().map(|p| p.as_os_str()));
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let records = json_lines(&out);
        assert_eq!(records.len(), files.len());
        let mut correct = 0;
        for (rec, path) in records.iter().zip(&files) {
            assert_eq!(rec["type"], "point_classification");
            let d = &rec["data"];
            assert_eq!(d["path"], path.display().to_string());
            assert_eq!(
                (d["projection"].as_str(), d["views"].as_u64()),
                (Some(projection), Some(views))
            );
            for t in ["read_ms", "project_ms", "encode_ms"] {
                assert!(d[t].as_f64().unwrap() >= 0.0, "{rec}");
            }
            let top = check_top(rec, 2);
            if let Some((_, solid)) = samples().iter().find(|(p, _)| p == path) {
                correct += usize::from(top[0] == *solid);
            }
        }
        let points: Vec<u64> = records[4..]
            .iter()
            .map(|r| r["data"]["points"].as_u64().unwrap())
            .collect();
        // The organized PCD's 5 NaN holes are skipped.
        assert_eq!(points, [24, 24, 19, 24, 24, 24]);
        println!("{projection}: {correct} of 4 sample clouds right");
        if projection == "v1" {
            // The model was trained on V1 views: the README's samples must read right.
            assert_eq!(correct, 4, "{correct} of 4 sample clouds right with v1");
        }
    }
}

#[test]
fn points_text_output_and_no_normalize() {
    let (cube, _) = &samples()[0];
    let out = edgeclip()
        .args(["points", "--labels", SOLIDS, "--no-normalize"])
        .arg(cube)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with(&format!(
            "{}  (940 points, v1, 6 views; ms: read",
            cube.display()
        )),
        "{text}"
    );
    assert_eq!(text.lines().count(), 4, "{text}");
    let out = edgeclip()
        .args([
            "points",
            "--labels",
            SOLIDS,
            "--projection",
            "v2",
            "--no-normalize",
        ])
        .arg(cube)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--no-normalize applies to the v1 projection"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn points_labels_default_to_the_models_classes() {
    let (cube, _) = &samples()[0];
    let package = ModelPackage::open(default_model()).unwrap();
    let classes = package
        .manifest()
        .pointclip
        .as_ref()
        .and_then(|p| p.labels.clone())
        .expect("the default model names its PointCLIP classes");
    let out = run(&[os("points"), cube.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let top = check_top(&json_lines(&out)[0], 3.min(classes.len()));
    assert!(top.iter().all(|l| classes.contains(l)), "{top:?}");

    // A package that names no classes needs labels from the user.
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(default_model()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, copy.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let manifest = copy.path().join("model.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("labels = "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without, text, "the manifest lost its [pointclip] labels");
    std::fs::write(&manifest, without).unwrap();
    let out = std::process::Command::new(edgeclip_bin())
        .arg("--model")
        .arg(copy.path())
        .args(["--json", "points"])
        .arg(cube)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let records = json_lines(&out);
    assert_eq!(records.len(), 1, "{}", stderr(&out));
    let err = &records[0]["data"];
    assert_eq!(err["input"], Value::Null);
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("--labels"), "{message}");
}

/// Reads a saved `views.npy`: its shape and values.
fn read_npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"));
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap();
    let shape = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let data = bytes[10 + len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (shape, data)
}

#[test]
fn save_views_writes_pngs_and_the_raw_views() {
    let dir = tempfile::tempdir().unwrap();
    let (cube, _) = &samples()[0];
    for (projection, views, side) in [("v1", 6, 128), ("v2", 10, 110)] {
        let out_dir = dir.path().join(projection);
        let out = run(&[
            os("points"),
            cube.as_os_str(),
            os("--labels"),
            os(SOLIDS),
            os("--projection"),
            os(projection),
            os("--save-views"),
            out_dir.as_os_str(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            json_lines(&out)[0]["data"]["views_dir"],
            out_dir.display().to_string()
        );
        let mut pngs: Vec<PathBuf> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .collect();
        pngs.sort();
        assert_eq!(pngs.len(), views, "{projection}");
        for png in &pngs {
            let img = image::open(png).unwrap().to_luma8();
            assert_eq!(img.dimensions(), (side as u32, side as u32));
            // Something of the cube is drawn on each view.
            let (lo, hi) = img
                .pixels()
                .fold((255, 0), |(lo, hi), p| (lo.min(p[0]), hi.max(p[0])));
            assert!(hi > lo, "{} is blank", png.display());
        }
        let (shape, data) = read_npy(&out_dir.join("views.npy"));
        assert_eq!(shape, [views, side, side]);
        assert_eq!(data.len(), views * side * side);
        assert!(data.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
    // Several clouds: a folder per cloud, named after its file.
    let many = dir.path().join("many");
    let (torus, _) = &samples()[1];
    let out = run(&[
        os("points"),
        cube.as_os_str(),
        torus.as_os_str(),
        os("--labels"),
        os(SOLIDS),
        os("--save-views"),
        many.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["cube.ply", "torus.pcd"] {
        assert!(many.join(name).join("views.npy").is_file(), "{name}");
        assert!(many.join(name).join("view_05.png").is_file(), "{name}");
    }
}

#[test]
fn bad_clouds_are_reported_and_the_others_classified() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let mut truncated = std::fs::read(golden("binary_le_float.ply")).unwrap();
    truncated.truncate(truncated.len() - 200);
    let bad = [
        (write("empty.xyz", b""), "invalid_input", "no points"),
        (write("nan.xyz", b"0 0 0\n1 nan 2\n"), "invalid_input", "line 2"),
        (write("inf.npy", &npy_f32(&[0.0, 1.0, f32::INFINITY])), "invalid_input", "non-finite"),
        (write("garbage.pcd", b"hello\n"), "invalid_input", "PCD"),
        (write("truncated.ply", &truncated), "invalid_input", "PLY"),
        (write("huge.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 4294967295\nproperty float x\nproperty float y\nproperty float z\nend_header\n\0\0\0\0"), "invalid_input", "4294967295"),
        (write("shape.npy", &npy_f32(&[0.0; 4])), "invalid_input", "shape"),
        (write("cloud.obj", b"v 0 0 0\n"), "invalid_input", "extension"),
        (dir.path().join("missing.ply"), "io", "missing.ply"),
    ];
    let (cube, _) = &samples()[0];
    let mut args = vec![os("points"), os("--labels"), os(SOLIDS)];
    args.extend(bad.iter().map(|(p, _, _)| p.as_os_str()));
    args.push(cube.as_os_str());
    let out = run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let records = json_lines(&out);
    assert_eq!(records.len(), bad.len() + 1);
    for (rec, (path, kind, says)) in records.iter().zip(&bad) {
        assert_eq!(rec["type"], "error", "{rec}");
        let d = &rec["data"];
        assert_eq!(d["input"], path.display().to_string());
        assert_eq!(d["kind"], *kind, "{rec}");
        let message = d["message"].as_str().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(message.contains(name), "{message}");
        assert!(message.contains(says), "{message} lacks {says:?}");
    }
    assert_eq!(records[bad.len()]["type"], "point_classification");
}

/// A little-endian float32 `.npy`: shape (N, 3), or (N, 1) when the values do not
/// split into points (a shape the reader refuses).
fn npy_f32(values: &[f32]) -> Vec<u8> {
    let shape = if values.len().is_multiple_of(3) {
        format!("({}, 3)", values.len() / 3)
    } else {
        format!("({}, 1)", values.len())
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[test]
fn depth_writes_a_millimetre_png_that_matches_the_stats() {
    let dir = tempfile::tempdir().unwrap();
    let near = fixture("samples/scene_near.png");
    let wide = fixture("samples/scene_far_wide.png");
    for flip in [false, true] {
        let out_dir = dir.path().join(format!("flip{flip}"));
        let mut args = vec![
            os("depth"),
            near.as_os_str(),
            wide.as_os_str(),
            os("--out"),
            out_dir.as_os_str(),
        ];
        if flip {
            args.push(os("--flip"));
        }
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let records = json_lines(&out);
        assert_eq!(records.len(), 2);
        for (rec, (image, size)) in records.iter().zip([(&near, (64, 64)), (&wide, (96, 64))]) {
            assert_eq!(rec["type"], "depth");
            let d = &rec["data"];
            assert_eq!(d["path"], image.display().to_string());
            assert_eq!(
                (d["width"].as_u64(), d["height"].as_u64()),
                (Some(size.0), Some(size.1))
            );
            assert_eq!(d["flip"], flip);
            let stem = image.file_stem().unwrap().to_str().unwrap();
            let png = out_dir.join(format!("{stem}.depth.png"));
            assert_eq!(d["depth_png"], png.display().to_string());
            let preview = out_dir.join(format!("{stem}.preview.png"));
            assert_eq!(d["preview_png"], preview.display().to_string());
            let img = image::open(&png).unwrap();
            assert_eq!(img.color(), image::ColorType::L16, "16-bit grey");
            let mm = img.to_luma16();
            assert_eq!(mm.dimensions(), (size.0 as u32, size.1 as u32));
            let mut values: Vec<u16> = mm.pixels().map(|p| p[0]).collect();
            values.sort_unstable();
            let m = |key: &str| d[key].as_f64().unwrap() * 1000.0;
            // Bins span 1-3 m by default, so every depth is a valid 16-bit millimetre.
            assert_eq!(f64::from(values[0]), m("min_m").round(), "{rec}");
            assert_eq!(
                f64::from(*values.last().unwrap()),
                m("max_m").round(),
                "{rec}"
            );
            let n = values.len();
            let median = (f64::from(values[n / 2 - 1]) + f64::from(values[n / 2])) / 2.0;
            assert!(
                (median - m("median_m")).abs() <= 1.0,
                "median {median} mm, {rec}"
            );
            let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
            assert!((mean - m("mean_m")).abs() <= 0.5, "mean {mean} mm, {rec}");
            let scene = m("scene_m");
            assert!((1000.0..=3000.0).contains(&scene.round()), "{rec}");
            let rgb = image::open(&preview).unwrap();
            assert_eq!(rgb.color(), image::ColorType::Rgb8);
            assert_eq!((rgb.width(), rgb.height()), (size.0 as u32, size.1 as u32));
        }
    }
}

#[test]
fn depth_text_output_and_bad_images() {
    let dir = tempfile::tempdir().unwrap();
    let near = fixture("samples/scene_near.png");
    let out = edgeclip().arg("depth").arg(&near).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{}  (64x64; ms:", near.display())),
        "{text}"
    );
    assert!(
        lines[1].starts_with("  scene  ") && lines[1].ends_with(" m"),
        "{text}"
    );
    assert!(lines[2].starts_with("  map    min "), "{text}");
    assert_eq!(lines.len(), 3, "{text}");

    let not_image = dir.path().join("notes.png");
    std::fs::write(&not_image, "not a picture").unwrap();
    let mut truncated = std::fs::read(&near).unwrap();
    truncated.truncate(truncated.len() / 2);
    let half = dir.path().join("half.png");
    std::fs::write(&half, truncated).unwrap();
    let missing = dir.path().join("missing.jpg");
    let out = run(&[
        os("depth"),
        not_image.as_os_str(),
        half.as_os_str(),
        missing.as_os_str(),
        near.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let records = json_lines(&out);
    let kinds: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap(),
                r["data"]["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("error", "invalid_input"),
            ("error", "invalid_input"),
            ("error", "io"),
            ("depth", "")
        ]
    );
    for (rec, path) in records.iter().zip([&not_image, &half, &missing]) {
        assert_eq!(rec["data"]["input"], path.display().to_string());
        let message = rec["data"]["message"].as_str().unwrap();
        assert!(message.contains(path.to_str().unwrap()), "{message}");
    }

    let out = run(&[os("depth"), near.as_os_str(), os("--scale"), os("0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--scale 0: must be a positive number"),
        "{}",
        stderr(&out)
    );
}
