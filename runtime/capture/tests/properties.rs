//! Property tests of the converters: any bytes and any claimed size give either exactly
//! `w * h * 3` bytes or an error, never a panic; grey maps to grey (GREY frames too);
//! full-range extremes map to 0 and 255; the chroma orders (UYVY, NV21, YV12) are the
//! same colours as their YUYV, NV12 and YU12 counterparts.

use std::time::Duration;

use edgeclip_capture::{ColorSpace, Converter, FrameRef, Limits, Matrix, PixelFormat, Range};
use proptest::prelude::*;

fn frame(
    format: PixelFormat,
    w: u32,
    h: u32,
    stride: usize,
    color: ColorSpace,
    bytes: &[u8],
) -> FrameRef<'_> {
    FrameRef {
        width: w,
        height: h,
        stride,
        format,
        color,
        bytes,
        sequence: 0,
        timestamp: Duration::ZERO,
    }
}

fn any_format() -> impl Strategy<Value = PixelFormat> {
    prop::sample::select(PixelFormat::ALL.to_vec())
}

fn any_color() -> impl Strategy<Value = ColorSpace> {
    (
        prop::sample::select(vec![Matrix::Bt601, Matrix::Bt709]),
        prop::sample::select(vec![Range::Limited, Range::Full]),
    )
        .prop_map(|(matrix, range)| ColorSpace { matrix, range })
}

fn small_limits() -> Converter {
    Converter::with_limits(Limits {
        max_width: 4096,
        max_height: 4096,
        max_pixels: 1 << 22,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_input_is_ok_with_exact_size_or_an_error(
        format in any_format(),
        color in any_color(),
        w in prop_oneof![0u32..70, Just(u32::MAX), 1u32..100_000],
        h in prop_oneof![0u32..70, Just(u32::MAX), 1u32..100_000],
        stride in prop_oneof![Just(0usize), 0usize..300, Just(usize::MAX)],
        bytes in prop::collection::vec(any::<u8>(), 0..20_000),
    ) {
        let mut out = vec![1, 2, 3];
        match small_limits().to_rgb8(&frame(format, w, h, stride, color, &bytes), &mut out) {
            Ok((ow, oh)) => {
                prop_assert_eq!(out.len(), ow as usize * oh as usize * 3);
                if format != PixelFormat::Mjpeg {
                    prop_assert_eq!((ow, oh), (w, h));
                    // Never more output than twice the frame's own bytes (4:2:0: 1.5 → 3),
                    // three times for GREY (1 → 3).
                    let ratio = if format == PixelFormat::Grey { 3 } else { 2 };
                    prop_assert!(out.len() <= bytes.len() * ratio);
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn exact_sized_raw_frames_convert(
        format in prop::sample::select(
            PixelFormat::ALL.into_iter().filter(|f| !f.is_compressed()).collect::<Vec<_>>()
        ),
        color in any_color(),
        half_w in 1u32..40,
        h in 1u32..40,
        pad in 0usize..9,
        seed in any::<u8>(),
    ) {
        let odd = !format.needs_even_width() && seed % 2 == 1;
        let w = half_w * 2 - u32::from(odd);
        let stride = format.min_stride(w) + pad;
        let chroma_rows = match format {
            PixelFormat::Nv12 | PixelFormat::Nv21 => (h as usize).div_ceil(2),
            // Two planes of ceil(h / 2) rows at half the stride.
            PixelFormat::Yu12 | PixelFormat::Yv12 | PixelFormat::RpicamI420
            | PixelFormat::RpicamI420Pi5 => (h as usize).div_ceil(2),
            _ => 0,
        };
        let rows = h as usize + chroma_rows;
        let bytes: Vec<u8> = (0..(stride + 1).max(w as usize + 1) * rows).map(|i| (i as u8).wrapping_mul(seed)).collect();
        let mut out = Vec::new();
        let got = small_limits().to_rgb8(&frame(format, w, h, stride, color, &bytes), &mut out);
        prop_assert_eq!(got.unwrap(), (w, h));
        prop_assert_eq!(out.len(), (w * h * 3) as usize);
        // One byte less than a tightly packed frame is an error, never a panic (the
        // rpicam layouts' last chroma row has padding a frame may leave out).
        let rpicam = matches!(format, PixelFormat::RpicamI420 | PixelFormat::RpicamI420Pi5);
        if let Some(len) = format.packed_len(w, h).filter(|_| pad == 0 && !rpicam) {
            prop_assert!(small_limits().to_rgb8(&frame(format, w, h, 0, color, &bytes[..len]), &mut out).is_ok());
            prop_assert!(small_limits().to_rgb8(&frame(format, w, h, 0, color, &bytes[..len - 1]), &mut out).is_err());
        }
    }

    #[test]
    fn corrupted_jpegs_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/capture/mjpeg_64x48_422.jpg");
        let mut bytes = std::fs::read(path).unwrap();
        for (i, v) in flips {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        let end = 2 + cut.index(bytes.len() - 1);
        let mut out = Vec::new();
        if let Ok((w, h)) = Converter::default().to_rgb8(&frame(PixelFormat::Mjpeg, 0, 0, 0, ColorSpace::default(), &bytes[..end]), &mut out) {
            prop_assert_eq!(out.len(), (w * h * 3) as usize);
        }
    }

    #[test]
    fn grey_maps_to_grey(
        format in prop::sample::select(vec![
            PixelFormat::Yuyv, PixelFormat::Uyvy, PixelFormat::Nv12, PixelFormat::Nv21,
            PixelFormat::Yu12, PixelFormat::Yv12, PixelFormat::Grey,
        ]),
        color in any_color(),
        y in 16u8..=235,
    ) {
        let (w, h) = (4u32, 2u32);
        let bytes = match format {
            PixelFormat::Yuyv => [y, 128].repeat(8),
            PixelFormat::Uyvy => [128, y].repeat(8),
            PixelFormat::Grey => vec![y; 8],
            _ => [vec![y; 8], vec![128; 4]].concat(),
        };
        let mut out = Vec::new();
        Converter::default().to_rgb8(&frame(format, w, h, 0, color, &bytes), &mut out).unwrap();
        let want = match color.range {
            Range::Full => f64::from(y),
            Range::Limited => (f64::from(y) - 16.0) * 255.0 / 219.0,
        };
        for px in out.chunks_exact(3) {
            prop_assert!(px[0] == px[1] && px[1] == px[2], "not grey: {:?}", px);
            prop_assert!((f64::from(px[0]) - want).abs() <= 1.0, "{} -> {:?}, want {}", y, px, want);
        }
    }
}

#[test]
fn range_extremes_map_to_black_and_white() {
    for matrix in [Matrix::Bt601, Matrix::Bt709] {
        for (range, black, white) in [(Range::Full, 0u8, 255u8), (Range::Limited, 16, 235)] {
            let color = ColorSpace { matrix, range };
            let bytes = [black, 128, white, 128];
            let mut out = Vec::new();
            Converter::default()
                .to_rgb8(&frame(PixelFormat::Yuyv, 2, 1, 0, color, &bytes), &mut out)
                .unwrap();
            assert_eq!(out, [0, 0, 0, 255, 255, 255], "{color:?}");
            // Out-of-gamut values clip instead of wrapping: white with the most blue
            // chroma keeps B at 255; black with the least red chroma keeps R at 0.
            let bytes = [255, 255, 0, 0];
            Converter::default()
                .to_rgb8(&frame(PixelFormat::Yuyv, 2, 1, 0, color, &bytes), &mut out)
                .unwrap();
            assert_eq!((out[2], out[3]), (255, 0), "{color:?}: {out:?}");
        }
    }
}

/// The same pixels in every YUV layout (and BGR24 against RGB24) give the same RGB.
#[test]
fn layouts_of_the_same_pixels_agree() {
    let (w, h) = (6usize, 4usize);
    let luma: Vec<u8> = (0..w * h).map(|i| (20 + i * 9) as u8).collect();
    let (cw, ch) = (w / 2, h / 2);
    let u: Vec<u8> = (0..cw * ch).map(|i| (40 + i * 31) as u8).collect();
    let v: Vec<u8> = (0..cw * ch).map(|i| (200 - i * 17) as u8).collect();
    let interleave =
        |a: &[u8], b: &[u8]| -> Vec<u8> { a.iter().zip(b).flat_map(|(x, y)| [*x, *y]).collect() };
    let nv12 = [luma.clone(), interleave(&u, &v)].concat();
    let nv21 = [luma.clone(), interleave(&v, &u)].concat();
    let yu12 = [luma.clone(), u.clone(), v.clone()].concat();
    let yv12 = [luma.clone(), v.clone(), u.clone()].concat();
    for color in [ColorSpace::BT601_LIMITED, ColorSpace::BT709_FULL] {
        let conv = Converter::default();
        let rgb = |format, bytes: &[u8]| {
            let mut out = Vec::new();
            conv.to_rgb8(
                &frame(format, w as u32, h as u32, 0, color, bytes),
                &mut out,
            )
            .unwrap();
            out
        };
        let want = rgb(PixelFormat::Nv12, &nv12);
        assert_eq!(rgb(PixelFormat::Nv21, &nv21), want);
        assert_eq!(rgb(PixelFormat::Yu12, &yu12), want);
        assert_eq!(rgb(PixelFormat::Yv12, &yv12), want);
        // 4:2:2 from the first row of each chroma pair.
        let mut yuyv = Vec::new();
        let mut uyvy = Vec::new();
        for r in 0..h {
            for c in 0..cw {
                let (y0, y1) = (luma[r * w + 2 * c], luma[r * w + 2 * c + 1]);
                let (cu, cv) = (u[(r / 2) * cw + c], v[(r / 2) * cw + c]);
                yuyv.extend_from_slice(&[y0, cu, y1, cv]);
                uyvy.extend_from_slice(&[cu, y0, cv, y1]);
            }
        }
        assert_eq!(rgb(PixelFormat::Yuyv, &yuyv), want);
        assert_eq!(rgb(PixelFormat::Uyvy, &uyvy), want);
        let bgr: Vec<u8> = want
            .chunks_exact(3)
            .flat_map(|p| [p[2], p[1], p[0]])
            .collect();
        assert_eq!(rgb(PixelFormat::Bgr24, &bgr), want);
        assert_eq!(rgb(PixelFormat::Rgb24, &want), want);
    }
}
