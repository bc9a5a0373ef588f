//! Property tests of the readers: random clouds written by a small test-only writer in
//! every variant of every format read back exactly; truncated, mutated and arbitrary
//! bytes give an error or a valid cloud, never a panic; counts declared beyond the body
//! are errors.

use edgeclip_points::read::{read_bytes, read_bytes_with, Format, Limits, ParseErrorKind};
use proptest::prelude::*;

type Points = Vec<[f32; 3]>;

// ---- test-only writers ------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Enc {
    Ascii,
    Le,
    Be,
}

fn put(out: &mut Vec<u8>, enc: Enc, le: &[u8], be: &[u8]) {
    out.extend_from_slice(if enc == Enc::Be { be } else { le });
}

/// Writes a coordinate as the declared type: text is the shortest round-trip form.
fn put_coord(out: &mut Vec<u8>, enc: Enc, v: f32, double: bool) {
    match (enc, double) {
        (Enc::Ascii, false) => out.extend_from_slice(format!("{v} ").as_bytes()),
        (Enc::Ascii, true) => out.extend_from_slice(format!("{} ", v as f64).as_bytes()),
        (_, false) => put(out, enc, &v.to_le_bytes(), &v.to_be_bytes()),
        (_, true) => put(
            out,
            enc,
            &(v as f64).to_le_bytes(),
            &(v as f64).to_be_bytes(),
        ),
    }
}

#[derive(Debug, Clone)]
struct PlyOpts {
    enc: Enc,
    double: bool,
    extras: bool,
    faces_before: bool,
    faces_after: bool,
}

fn write_ply(points: &[[f32; 3]], o: &PlyOpts, declared: Option<u64>) -> Vec<u8> {
    let enc_name = match o.enc {
        Enc::Ascii => "ascii",
        Enc::Le => "binary_little_endian",
        Enc::Be => "binary_big_endian",
    };
    let ty = if o.double { "double" } else { "float" };
    let faces = "element face 2\nproperty list uchar int vertex_indices\nproperty uchar flags\n";
    let mut h = format!("ply\nformat {enc_name} 1.0\ncomment test\nobj_info none\n");
    if o.faces_before {
        h += faces;
    }
    h += &format!(
        "element vertex {}\n",
        declared.unwrap_or(points.len() as u64)
    );
    if o.extras {
        h += &format!(
            "property uchar red\nproperty {ty} x\nproperty list uchar ushort nb\n\
             property {ty} y\nproperty short q\nproperty {ty} z\n"
        );
    } else {
        h += &format!("property {ty} x\nproperty {ty} y\nproperty {ty} z\n");
    }
    if o.faces_after {
        h += faces;
    }
    h += "end_header\n";
    let mut out = h.into_bytes();
    let write_faces = |out: &mut Vec<u8>| {
        for (k, idx) in [[0i32, 1, 2], [2, 1, 0]].iter().enumerate() {
            if o.enc == Enc::Ascii {
                out.extend_from_slice(
                    format!("3 {} {} {} {k}\n", idx[0], idx[1], idx[2]).as_bytes(),
                );
            } else {
                out.push(3);
                for i in idx {
                    put(out, o.enc, &i.to_le_bytes(), &i.to_be_bytes());
                }
                out.push(k as u8);
            }
        }
    };
    if o.faces_before {
        write_faces(&mut out);
    }
    for (i, p) in points.iter().enumerate() {
        let list: Vec<u16> = (0..(i % 3) as u16).collect();
        if o.extras {
            if o.enc == Enc::Ascii {
                out.extend_from_slice(b"7 ");
            } else {
                out.push(7);
            }
        }
        put_coord(&mut out, o.enc, p[0], o.double);
        if o.extras {
            if o.enc == Enc::Ascii {
                out.extend_from_slice(format!("{} ", list.len()).as_bytes());
                for v in &list {
                    out.extend_from_slice(format!("{v} ").as_bytes());
                }
            } else {
                out.push(list.len() as u8);
                for v in &list {
                    put(&mut out, o.enc, &v.to_le_bytes(), &v.to_be_bytes());
                }
            }
        }
        put_coord(&mut out, o.enc, p[1], o.double);
        if o.extras {
            let q = -(i as i16);
            if o.enc == Enc::Ascii {
                out.extend_from_slice(format!("{q} ").as_bytes());
            } else {
                put(&mut out, o.enc, &q.to_le_bytes(), &q.to_be_bytes());
            }
        }
        put_coord(&mut out, o.enc, p[2], o.double);
        if o.enc == Enc::Ascii {
            out.pop();
            out.push(b'\n');
        }
    }
    if o.faces_after {
        write_faces(&mut out);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Data {
    Ascii,
    Binary,
    Compressed,
}

#[derive(Debug, Clone)]
struct PcdOpts {
    data: Data,
    double: bool,
    extras: bool,
}

/// A PCD field: name, TYPE, SIZE, COUNT.
type PcdField = (&'static str, &'static str, usize, usize);

/// A PCD file; points are `None` for NaN holes.
fn write_pcd(points: &[Option<[f32; 3]>], o: &PcdOpts, declared: Option<u64>) -> Vec<u8> {
    let (ty, size) = if o.double { ("F", 8) } else { ("F", 4) };
    let mut fields: Vec<PcdField> = Vec::new();
    if o.extras {
        fields.push(("intensity", "F", 4, 1));
    }
    fields.extend([("x", ty, size, 1), ("y", ty, size, 1), ("z", ty, size, 1)]);
    if o.extras {
        fields.extend([("normal", "F", 4, 3), ("ring", "U", 2, 1)]);
    }
    let n = declared.unwrap_or(points.len() as u64);
    let data = match o.data {
        Data::Ascii => "ascii",
        Data::Binary => "binary",
        Data::Compressed => "binary_compressed",
    };
    let join = |f: &dyn Fn(&PcdField) -> String| fields.iter().map(f).collect::<Vec<_>>().join(" ");
    let mut out = format!(
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS {}\nSIZE {}\nTYPE {}\n\
         COUNT {}\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA {data}\n",
        join(&|f| f.0.to_string()),
        join(&|f| f.2.to_string()),
        join(&|f| f.1.to_string()),
        join(&|f| f.3.to_string()),
    )
    .into_bytes();
    // Every stored value of point i, field by field, as (bytes, text).
    let values = |i: usize, field: &str| -> Vec<(Vec<u8>, String)> {
        let xyz = points[i].unwrap_or([f32::NAN; 3]);
        let coord = |v: f32| {
            if o.double {
                ((v as f64).to_le_bytes().to_vec(), format!("{}", v as f64))
            } else {
                (v.to_le_bytes().to_vec(), format!("{v}"))
            }
        };
        match field {
            "intensity" => vec![(0.5f32.to_le_bytes().to_vec(), "0.5".into())],
            "x" => vec![coord(xyz[0])],
            "y" => vec![coord(xyz[1])],
            "z" => vec![coord(xyz[2])],
            "normal" => (0..3)
                .map(|k| ((k as f32).to_le_bytes().to_vec(), format!("{k}")))
                .collect(),
            "ring" => vec![((i as u16).to_le_bytes().to_vec(), format!("{}", i as u16))],
            _ => unreachable!(),
        }
    };
    match o.data {
        Data::Ascii => {
            for i in 0..points.len() {
                let words: Vec<String> = fields
                    .iter()
                    .flat_map(|f| values(i, f.0).into_iter().map(|v| v.1))
                    .collect();
                out.extend_from_slice(words.join(" ").as_bytes());
                out.push(b'\n');
            }
        }
        Data::Binary => {
            for i in 0..points.len() {
                for f in &fields {
                    for v in values(i, f.0) {
                        out.extend_from_slice(&v.0);
                    }
                }
            }
        }
        Data::Compressed => {
            let mut columns = Vec::new();
            for f in &fields {
                for i in 0..points.len() {
                    for v in values(i, f.0) {
                        columns.extend_from_slice(&v.0);
                    }
                }
            }
            let mut payload = vec![0u8; lzf_rust::max_compressed_size(columns.len())];
            let c = lzf_rust::compress(&columns, &mut payload).unwrap();
            payload.truncate(c);
            out.extend_from_slice(&(c as u32).to_le_bytes());
            out.extend_from_slice(&(columns.len() as u32).to_le_bytes());
            out.extend_from_slice(&payload);
        }
    }
    out
}

#[derive(Debug, Clone)]
struct NpyOpts {
    double: bool,
    big: bool,
    fortran: bool,
    version: u8,
}

fn write_npy(points: &[[f32; 3]], o: &NpyOpts, declared: Option<u64>) -> Vec<u8> {
    let descr = format!(
        "{}f{}",
        if o.big { '>' } else { '<' },
        if o.double { 8 } else { 4 }
    );
    let fortran = if o.fortran { "True" } else { "False" };
    let rows = declared.unwrap_or(points.len() as u64);
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': ({rows}, 3), }}");
    let prefix = if o.version == 1 { 10 } else { 12 };
    while (prefix + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[o.version, 0]);
    if o.version == 1 {
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    let order: Vec<f32> = if o.fortran {
        (0..3)
            .flat_map(|a| points.iter().map(move |p| p[a]))
            .collect()
    } else {
        points.iter().flatten().copied().collect()
    };
    for v in order {
        match (o.double, o.big) {
            (false, false) => out.extend_from_slice(&v.to_le_bytes()),
            (false, true) => out.extend_from_slice(&v.to_be_bytes()),
            (true, false) => out.extend_from_slice(&(v as f64).to_le_bytes()),
            (true, true) => out.extend_from_slice(&(v as f64).to_be_bytes()),
        }
    }
    out
}

fn write_xyz(points: &[[f32; 3]], comma: bool, extras: bool) -> Vec<u8> {
    let sep = if comma { "," } else { " \t" };
    let mut s = String::from("# written by the test\n\n");
    for (i, p) in points.iter().enumerate() {
        s += &format!("{}{sep}{}{sep}{}", p[0], p[1], p[2]);
        if extras {
            s += &format!("{sep}{i}{sep}255 # a comment");
        }
        s += "\r\n";
    }
    s.into_bytes()
}

// ---- strategies ---------------------------------------------------------------------------

fn finite() -> impl Strategy<Value = f32> {
    any::<u32>()
        .prop_map(f32::from_bits)
        .prop_filter("finite", |v| v.is_finite())
}

fn cloud() -> impl Strategy<Value = Points> {
    prop::collection::vec([finite(), finite(), finite()], 1..40)
}

fn enc() -> impl Strategy<Value = Enc> {
    prop_oneof![Just(Enc::Ascii), Just(Enc::Le), Just(Enc::Be)]
}

fn ply_opts() -> impl Strategy<Value = PlyOpts> {
    (
        enc(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(enc, double, extras, faces_before, faces_after)| PlyOpts {
            enc,
            double,
            extras,
            faces_before,
            faces_after,
        })
}

fn pcd_opts() -> impl Strategy<Value = PcdOpts> {
    let data = prop_oneof![
        Just(Data::Ascii),
        Just(Data::Binary),
        Just(Data::Compressed)
    ];
    (data, any::<bool>(), any::<bool>()).prop_map(|(data, double, extras)| PcdOpts {
        data,
        double,
        extras,
    })
}

fn npy_opts() -> impl Strategy<Value = NpyOpts> {
    (any::<bool>(), any::<bool>(), any::<bool>(), 1u8..=3).prop_map(
        |(double, big, fortran, version)| NpyOpts {
            double,
            big,
            fortran,
            version,
        },
    )
}

/// Some valid file of any format and variant, with its format.
fn any_file() -> impl Strategy<Value = (Vec<u8>, Format)> {
    prop_oneof![
        (cloud(), ply_opts()).prop_map(|(c, o)| (write_ply(&c, &o, None), Format::Ply)),
        (cloud(), pcd_opts()).prop_map(|(c, o)| {
            let c: Vec<_> = c.into_iter().map(Some).collect();
            (write_pcd(&c, &o, None), Format::Pcd)
        }),
        (cloud(), npy_opts()).prop_map(|(c, o)| (write_npy(&c, &o, None), Format::Npy)),
        (cloud(), any::<bool>()).prop_map(|(c, comma)| (write_xyz(&c, comma, true), Format::Xyz)),
    ]
}

/// Reading must give an error or a valid cloud (non-empty, finite), never a panic.
fn check_outcome(bytes: &[u8], format: Format) {
    if let Ok(c) = read_bytes(bytes, format) {
        assert!(!c.is_empty());
        assert!(c.points().iter().flatten().all(|v| v.is_finite()));
    }
    let _ = read_bytes_with(bytes, format, &Limits::new(3));
}

// ---- properties ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn ply_round_trips(points in cloud(), o in ply_opts()) {
        let c = read_bytes(&write_ply(&points, &o, None), Format::Ply).unwrap();
        prop_assert_eq!(c.points(), points.as_slice());
    }

    #[test]
    fn pcd_round_trips_and_skips_holes(
        points in cloud(), holes in prop::collection::vec(any::<bool>(), 40), o in pcd_opts()
    ) {
        let with_holes: Vec<_> = points.iter().zip(&holes).map(|(p, &h)| (!h).then_some(*p)).collect();
        let kept: Points = with_holes.iter().flatten().copied().collect();
        let result = read_bytes(&write_pcd(&with_holes, &o, None), Format::Pcd);
        if kept.is_empty() {
            let e = result.unwrap_err();
            prop_assert_eq!(e.kind(), &ParseErrorKind::AllNan { nan: points.len() as u64 });
        } else {
            let cloud = result.unwrap();
            prop_assert_eq!(cloud.points(), kept.as_slice());
        }
    }

    #[test]
    fn npy_round_trips(points in cloud(), o in npy_opts()) {
        let c = read_bytes(&write_npy(&points, &o, None), Format::Npy).unwrap();
        prop_assert_eq!(c.points(), points.as_slice());
    }

    #[test]
    fn xyz_round_trips(points in cloud(), comma in any::<bool>(), extras in any::<bool>()) {
        let c = read_bytes(&write_xyz(&points, comma, extras), Format::Xyz).unwrap();
        prop_assert_eq!(c.points(), points.as_slice());
    }

    #[test]
    fn truncations_never_panic((file, format) in any_file(), cut in any::<prop::sample::Index>()) {
        let end = cut.index(file.len() + 1);
        check_outcome(&file[..end], format);
    }

    #[test]
    fn mutations_never_panic(
        (mut file, format) in any_file(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        for (at, byte) in flips {
            let i = at.index(file.len());
            file[i] = byte;
        }
        check_outcome(&file, format);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in Format::ALL {
            check_outcome(&bytes, format);
        }
    }

    #[test]
    fn a_valid_header_with_arbitrary_body_never_panics(
        (file, format) in any_file(), body in prop::collection::vec(any::<u8>(), 0..256)
    ) {
        // Keep the header (up to the end of its last line), replace what follows.
        let header_end = match format {
            Format::Npy => 10,
            _ => file.windows(5).position(|w| w == b"DATA " || w == b"end_h").map_or(0, |at| {
                at + file[at..].iter().position(|&b| b == b'\n').map_or(0, |n| n + 1)
            }),
        };
        let mut mixed = file[..header_end].to_vec();
        mixed.extend_from_slice(&body);
        check_outcome(&mixed, format);
    }

    #[test]
    fn counts_declared_beyond_the_body_are_errors(
        points in cloud(),
        extra in 1u64..=u64::MAX / 2,
        ply in ply_opts(),
        pcd in pcd_opts(),
        npy in npy_opts(),
    ) {
        let declared = points.len() as u64 + extra;
        let pcd_points: Vec<_> = points.iter().copied().map(Some).collect();
        let files = [
            (write_ply(&points, &PlyOpts { faces_after: false, ..ply }, Some(declared)), Format::Ply),
            (write_pcd(&pcd_points, &pcd, Some(declared)), Format::Pcd),
            (write_npy(&points, &npy, Some(declared)), Format::Npy),
        ];
        for (file, format) in files {
            let e = read_bytes(&file, format).unwrap_err();
            prop_assert!(
                matches!(
                    e.kind(),
                    ParseErrorKind::Truncated { .. }
                        | ParseErrorKind::EndsEarly { .. }
                        | ParseErrorKind::TooManyPoints { .. }
                        | ParseErrorKind::Compressed(_)
                ),
                "{format}: {e}"
            );
            // With a limit below the declared count, it is refused whichever check comes first.
            let e = read_bytes_with(&file, format, &Limits::new(points.len())).unwrap_err();
            prop_assert!(!matches!(e.kind(), ParseErrorKind::Cloud(_)), "{format}: {e}");
        }
    }
}
