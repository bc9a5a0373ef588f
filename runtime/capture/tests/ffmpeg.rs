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
    assert!(cases.len() >= 20, "only {} cases", cases.len());
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
    for c in cases()
        .iter()
        .filter(|c| matches!(c.format, PixelFormat::Yuyv | PixelFormat::Nv12))
    {
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

#[test]
fn rgb24_is_copied_exactly() {
    let conv = Converter::default();
    let mut out = Vec::new();
    for c in cases().iter().filter(|c| c.format == PixelFormat::Rgb24) {
        let bytes = read(&c.file);
        conv.to_rgb8(&frame(c, &bytes, c.color), &mut out).unwrap();
        assert_eq!(out, bytes, "{}", c.file);
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
