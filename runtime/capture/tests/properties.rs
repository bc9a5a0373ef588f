//! Property tests of the converters: any bytes and any claimed size give either exactly
//! `w * h * 3` bytes or an error, never a panic; grey maps to grey; full-range extremes
//! map to 0 and 255.

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
                    // Never more output than twice the frame's own bytes (NV12: 1.5 → 3).
                    prop_assert!(out.len() <= bytes.len() * 2);
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn exact_sized_raw_frames_convert(
        format in prop::sample::select(vec![PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb24]),
        color in any_color(),
        half_w in 1u32..40,
        h in 1u32..40,
        pad in 0usize..9,
        seed in any::<u8>(),
    ) {
        let w = half_w * 2 - u32::from(format == PixelFormat::Nv12 && seed % 2 == 1);
        let stride = format.min_stride(w) + pad;
        let rows = h as usize + if format == PixelFormat::Nv12 { (h as usize).div_ceil(2) } else { 0 };
        let bytes: Vec<u8> = (0..stride.max(w as usize + 1) * rows).map(|i| (i as u8).wrapping_mul(seed)).collect();
        let mut out = Vec::new();
        let got = small_limits().to_rgb8(&frame(format, w, h, stride, color, &bytes), &mut out);
        prop_assert_eq!(got.unwrap(), (w, h));
        prop_assert_eq!(out.len(), (w * h * 3) as usize);
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
        format in prop::sample::select(vec![PixelFormat::Yuyv, PixelFormat::Nv12]),
        color in any_color(),
        y in 16u8..=235,
    ) {
        let (w, h) = (4u32, 2u32);
        let bytes = match format {
            PixelFormat::Yuyv => [y, 128].repeat(8),
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
