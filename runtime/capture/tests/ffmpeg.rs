//! The crate's conversions against ffmpeg's on the fixtures of
//! `firmware-tools/fixtures/make_capture_fixtures.sh` (listed in `cases.txt`).

use std::path::PathBuf;
use std::time::Duration;

use edgeclip_capture::{ColorSpace, ConvertError, Converter, FrameRef, Matrix, PixelFormat, Range};

/// Channel values beyond ±2 allowed per fixture (MJPEG decoders differ a little).
const MAX_OVER_2: f64 = 0.002;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/capture")
}

struct Case {
    file: String,
    width: u32,
    height: u32,
    format: PixelFormat,
    color: ColorSpace,
    reference: String,
    max_diff: u8,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("cases.txt")).expect("cases.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 8, "bad line {l:?}");
            let matrix = match f[4] {
                "bt709" => Matrix::Bt709,
                _ => Matrix::Bt601,
            };
            let range = match f[5] {
                "pc" => Range::Full,
                _ => Range::Limited,
            };
            Case {
                file: f[0].into(),
                width: f[1].parse().unwrap(),
                height: f[2].parse().unwrap(),
                format: PixelFormat::parse(f[3]).unwrap(),
                color: ColorSpace { matrix, range },
                reference: f[6].into(),
                max_diff: f[7].parse().unwrap(),
            }
        })
        .collect()
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn frame<'a>(c: &Case, bytes: &'a [u8], color: ColorSpace) -> FrameRef<'a> {
    FrameRef {
        width: c.width,
        height: c.height,
        stride: 0,
        format: c.format,
        color,
        bytes,
        sequence: 0,
        timestamp: Duration::ZERO,
    }
}

/// (max abs difference, count of channel values more than 2 off).
fn diff(a: &[u8], b: &[u8]) -> (u8, usize) {
    assert_eq!(a.len(), b.len());
    let d = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y));
    (d.clone().max().unwrap_or(0), d.filter(|&v| v > 2).count())
}

#[test]
fn conversions_match_the_references() {
    let conv = Converter::default();
    let mut out = Vec::new();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 52, "only {} cases", cases.len());
    for format in [
        PixelFormat::Yu12,
        PixelFormat::Nv21,
        PixelFormat::Uyvy,
        PixelFormat::Bgr24,
        PixelFormat::Grey,
    ] {
        assert!(
            cases.iter().any(|c| c.format == format),
            "no {format} fixture"
        );
    }
    for c in &cases {
        let bytes = read(&c.file);
        let reference = read(&c.reference);
        let (w, h) = conv
            .to_rgb8(&frame(c, &bytes, c.color), &mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", c.file));
        assert_eq!((w, h), (c.width, c.height), "{}", c.file);
        assert_eq!(out.len(), reference.len(), "{}", c.file);
        let (max, over) = diff(&out, &reference);
        let frac = over as f64 / out.len() as f64;
        println!(
            "capture fixture {:<26} {:>2}x{:<2} {:<5} {:?}/{:?} vs {}: max |diff| {max} (allowed {}), {over} of {} values over 2",
            c.file, w, h, c.format.to_string(), c.color.matrix, c.color.range, c.reference, c.max_diff, out.len()
        );
        if max > c.max_diff || frac > MAX_OVER_2 {
            failures.push(format!(
                "{}: max diff {max} (allowed {}), {over} values over 2",
                c.file, c.max_diff
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The fixtures really exercise the colour settings: reading a frame with the wrong
/// matrix or range is far off ffmpeg's reference.
#[test]
fn wrong_colour_settings_are_detected() {
    let conv = Converter::default();
    let mut out = Vec::new();
    for c in cases().iter().filter(|c| {
        matches!(
            c.format,
            PixelFormat::Yuyv
                | PixelFormat::Nv12
                | PixelFormat::Yu12
                | PixelFormat::Nv21
                | PixelFormat::Uyvy
        )
    }) {
        let bytes = read(&c.file);
        let reference = read(&c.reference);
        let other_matrix = ColorSpace {
            matrix: if c.color.matrix == Matrix::Bt601 {
                Matrix::Bt709
            } else {
                Matrix::Bt601
            },
            ..c.color
        };
        let other_range = ColorSpace {
            range: if c.color.range == Range::Full {
                Range::Limited
            } else {
                Range::Full
            },
            ..c.color
        };
        for wrong in [other_matrix, other_range] {
            conv.to_rgb8(&frame(c, &bytes, wrong), &mut out).unwrap();
            let (max, _) = diff(&out, &reference);
            assert!(
                max > 10,
                "{} read as {wrong:?} is still within {max} of ffmpeg",
                c.file
            );
        }
    }
}

/// GREY has no matrix, but its range is read: the other range is far off ffmpeg's.
#[test]
fn grey_range_is_read() {
    let conv = Converter::default();
    let mut out = Vec::new();
    let cases = cases();
    let grey: Vec<&Case> = cases
        .iter()
        .filter(|c| c.format == PixelFormat::Grey)
        .collect();
    assert_eq!(grey.len(), 4);
    for c in grey {
        let bytes = read(&c.file);
        let reference = read(&c.reference);
        let wrong = ColorSpace {
            range: if c.color.range == Range::Full {
                Range::Limited
            } else {
                Range::Full
            },
            ..c.color
        };
        conv.to_rgb8(&frame(c, &bytes, wrong), &mut out).unwrap();
        let (max, _) = diff(&out, &reference);
        assert!(max > 10, "{} read as {wrong:?} is within {max}", c.file);
        // Either matrix gives the same grey.
        let other = ColorSpace {
            matrix: Matrix::Bt709,
            ..c.color
        };
        conv.to_rgb8(&frame(c, &bytes, other), &mut out).unwrap();
        assert_eq!(diff(&out, &reference).0, 0, "{}", c.file);
    }
}

/// A frame in the middle of a driver buffer: the same frame with padded rows (and, for
/// the planar formats, chroma rows padded as V4L2 defines: half the luma stride)
/// converts to the same RGB.
#[test]
fn padded_rows_convert_as_the_packed_frame() {
    let conv = Converter::default();
    let (mut packed, mut padded) = (Vec::new(), Vec::new());
    for c in cases().iter().filter(|c| {
        matches!(
            c.format,
            PixelFormat::Yu12
                | PixelFormat::Nv21
                | PixelFormat::Uyvy
                | PixelFormat::Bgr24
                | PixelFormat::Grey
        )
    }) {
        let bytes = read(&c.file);
        let (w, h) = (c.width as usize, c.height as usize);
        let min = c.format.min_stride(c.width);
        let stride = (min + 16).div_ceil(16) * 16;
        let mut buf = Vec::new();
        // Appends `rows` rows of `row` bytes padded to `stride`; returns the padding of
        // the last row (which a frame may leave out).
        let mut push_rows = |src: &[u8], rows: usize, row: usize, stride: usize| {
            for r in 0..rows {
                buf.extend_from_slice(&src[r * row..(r + 1) * row]);
                buf.resize(buf.len() + stride - row, 0xA5);
            }
            stride - row
        };
        let mut last_pad = push_rows(&bytes, h, min, stride);
        match c.format {
            PixelFormat::Yu12 => {
                let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
                push_rows(&bytes[w * h..], ch, cw, stride / 2);
                last_pad = push_rows(&bytes[w * h + cw * ch..], ch, cw, stride / 2);
            }
            PixelFormat::Nv21 => {
                let cw = w.div_ceil(2) * 2;
                last_pad = push_rows(&bytes[w * h..], h.div_ceil(2), cw, stride);
            }
            _ => {}
        }
        conv.to_rgb8(&frame(c, &bytes, c.color), &mut packed)
            .unwrap();
        let mut f = frame(c, &buf, c.color);
        f.stride = stride;
        conv.to_rgb8(&f, &mut padded)
            .unwrap_or_else(|e| panic!("{}: {e}", c.file));
        assert_eq!(packed, padded, "{} with stride {stride}", c.file);
        // Without the last row's padding it still converts; one byte less is refused.
        let needed = buf.len() - last_pad;
        f.bytes = &buf[..needed];
        conv.to_rgb8(&f, &mut padded).unwrap();
        assert_eq!(packed, padded, "{}", c.file);
        f.bytes = &buf[..needed - 1];
        let e = conv.to_rgb8(&f, &mut padded).unwrap_err();
        assert!(
            matches!(e, ConvertError::BufferTooShort { got, .. } if got == needed - 1),
            "{}: {e}",
            c.file
        );
    }
}

#[test]
fn rgb24_is_copied_exactly() {
    let conv = Converter::default();
    let mut out = Vec::new();
    for c in cases().iter().filter(|c| c.format == PixelFormat::Rgb24) {
        let bytes = read(&c.file);
        conv.to_rgb8(&frame(c, &bytes, c.color), &mut out).unwrap();
        assert_eq!(out, bytes, "{}", c.file);
    }
    for c in cases().iter().filter(|c| c.format == PixelFormat::Bgr24) {
        let bytes = read(&c.file);
        conv.to_rgb8(&frame(c, &bytes, c.color), &mut out).unwrap();
        let swapped: Vec<u8> = bytes
            .chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect();
        assert_eq!(out, swapped, "{}", c.file);
    }
}

#[test]
fn mjpeg_padding_after_the_end_marker_is_accepted() {
    let c = cases()
        .into_iter()
        .find(|c| c.format == PixelFormat::Mjpeg)
        .unwrap();
    let mut bytes = read(&c.file);
    let conv = Converter::default();
    let mut clean = Vec::new();
    conv.to_rgb8(&frame(&c, &bytes, c.color), &mut clean)
        .unwrap();
    // A driver buffer: bytesused covers the JPEG plus zero padding.
    bytes.extend_from_slice(&[0; 300]);
    let mut padded = Vec::new();
    conv.to_rgb8(&frame(&c, &bytes, c.color), &mut padded)
        .unwrap();
    assert_eq!(clean, padded);
}

#[test]
fn truncated_and_corrupt_mjpeg_are_errors() {
    let conv = Converter::default();
    let mut out = Vec::new();
    for c in cases().iter().filter(|c| c.format == PixelFormat::Mjpeg) {
        let bytes = read(&c.file);
        // Cut anywhere: never a panic, always an error.
        for cut in [
            1,
            2,
            3,
            10,
            100,
            300,
            bytes.len() / 2,
            bytes.len() - 2,
            bytes.len() - 1,
        ] {
            let e = conv
                .to_rgb8(&frame(c, &bytes[..cut], c.color), &mut out)
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    ConvertError::NotJpeg { .. } | ConvertError::TruncatedJpeg { .. }
                ),
                "{} cut at {cut}: {e}",
                c.file
            );
        }
        // A frame from a stream of another size.
        let mut wrong = frame(c, &bytes, c.color);
        wrong.width += 2;
        let e = conv.to_rgb8(&wrong, &mut out).unwrap_err();
        assert!(matches!(e, ConvertError::JpegSizeMismatch { .. }), "{e}");
        // A zero size means "take the JPEG's own".
        wrong.width = 0;
        wrong.height = 0;
        assert_eq!(conv.to_rgb8(&wrong, &mut out).unwrap(), (c.width, c.height));
        // The header claiming a huge size is refused by the limits, not allocated.
        let mut huge = bytes.clone();
        let sof = huge
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline SOF0");
        huge[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        let mut small = Vec::new();
        let e = conv
            .to_rgb8(&frame(c, &huge, c.color), &mut small)
            .unwrap_err();
        assert!(
            matches!(
                e,
                ConvertError::TooLarge { .. } | ConvertError::CorruptJpeg { .. }
            ),
            "{e}"
        );
        assert!(small.capacity() < 1 << 20);
    }
}
