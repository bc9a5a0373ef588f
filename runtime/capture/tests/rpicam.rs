//! Raspberry Pi CSI cameras through `rpicam-vid --codec yuv420 -o -`: frames built byte
//! for byte as rpicam-vid writes them, read by [`RawFrames`] and converted.
//!
//! What rpicam-vid writes (rpicam-apps, read at commit 9270b60):
//! - `--codec yuv420` selects the "null" encoder (`encoder/encoder.cpp`), whose
//!   `EncodeBuffer` queues `{ mem, size }` and whose output thread hands exactly that to
//!   the output (`encoder/null_encoder.cpp`); `mem`/`size` are the buffer's single
//!   mmap'ed span of `frameSize` bytes (`core/rpicam_encoder.hpp` `EncodeBuffer`,
//!   `core/rpicam_app.cpp` `setupCapture`). So each frame is the whole ISP buffer:
//!   Y rows of `stride` bytes, then U and V rows of `stride / 2` (the libav encoder reads
//!   the same buffer with planes at `stride * height` and `stride * height * 5 / 4`,
//!   pitch `stride >> 1`), `stride * height * 3 / 2` bytes, padding included.
//! - The stride is the ISP's. Pi 0-4 (bcm2835-isp): YUV420 `bytesperline` aligned to 64
//!   bytes (raspberrypi/linux PR #4419; rpicam-apps issue #151: 4056x3040 frames of
//!   18677760 = 4096 * 3040 * 1.5 bytes; #188: 780 wide gives 832). Pi 5 (PiSP):
//!   libcamera's `computeOptimalStride` aligns the chroma stride (`width / 2`) to 64 and
//!   sets the luma stride to twice that.
//! - Colour: rpicam-vid configures `--codec yuv420` with `FLAG_VIDEO_JPEG_COLOURSPACE`
//!   (`get_colourspace_flags` in `apps/rpicam_vid.cpp`), i.e. libcamera's `Sycc`: BT.601,
//!   full range.

use std::io::Cursor;

use edgeclip_capture::{CaptureError, ColorSpace, Converter, FrameSource, PixelFormat, RawFrames};

/// A test pattern, constant over 2x2 blocks so that 4:2:0 loses nothing: colour bars
/// across, a brightness ramp down.
fn pattern(w: usize, h: usize) -> Vec<u8> {
    let bars: [[u8; 3]; 8] = [
        [235, 235, 235],
        [230, 220, 40],
        [40, 210, 220],
        [50, 200, 60],
        [200, 50, 190],
        [210, 60, 50],
        [30, 40, 200],
        [20, 20, 20],
    ];
    let mut rgb = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let bar = bars[(x / 2 * 2) * bars.len() / w];
            let fade = 1.0 - 0.4 * ((y / 2 * 2) as f64 / h as f64);
            rgb.extend(bar.iter().map(|&c| (f64::from(c) * fade).round() as u8));
        }
    }
    rgb
}

/// BT.601 full range R'G'B' → Y'CbCr (libcamera's sYCC), rounded.
fn ycbcr(rgb: &[u8]) -> (u8, u8, u8) {
    let (r, g, b) = (f64::from(rgb[0]), f64::from(rgb[1]), f64::from(rgb[2]));
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    let u = 128.0 + (b - y) / 1.772;
    let v = 128.0 + (r - y) / 1.402;
    let q = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    (q(y), q(u), q(v))
}

/// One frame exactly as rpicam-vid writes it: planes with `stride` (chroma `stride / 2`)
/// and the padding filled with junk, `stride * h * 3 / 2` bytes.
fn rpicam_frame(rgb: &[u8], w: usize, h: usize, stride: usize, junk: u8) -> Vec<u8> {
    let mut out = vec![junk; stride * h * 3 / 2];
    let (u_base, v_base) = (stride * h, stride * h * 5 / 4);
    for y in 0..h {
        for x in 0..w {
            let (l, u, v) = ycbcr(&rgb[(y * w + x) * 3..]);
            out[y * stride + x] = l;
            if x % 2 == 0 && y % 2 == 0 {
                let at = (y / 2) * (stride / 2) + x / 2;
                out[u_base + at] = u;
                out[v_base + at] = v;
            }
        }
    }
    out
}

fn check(format: PixelFormat, w: usize, h: usize, stride: usize) {
    let rgb = pattern(w, h);
    let frames = 3;
    let mut stream = Vec::new();
    for i in 0..frames {
        stream.extend(rpicam_frame(&rgb, w, h, stride, 0x11 * (i + 1) as u8));
    }
    let mut src = RawFrames::new(Cursor::new(stream), w as u32, h as u32, format).unwrap();
    assert_eq!(src.frame_len(), stride * h * 3 / 2, "{format} {w}x{h}");
    let conv = Converter::default();
    let mut out = Vec::new();
    let mut seen = 0;
    while let Some(frame) = src.next_frame().unwrap() {
        assert_eq!(frame.color, ColorSpace::BT601_FULL);
        assert_eq!(
            conv.to_rgb8(&frame, &mut out).unwrap(),
            (w as u32, h as u32)
        );
        let max = out
            .iter()
            .zip(&rgb)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        // Only the rounding of the 8-bit Y'CbCr values: at most 2 levels.
        assert!(max <= 2, "{format} {w}x{h} stride {stride}: max diff {max}");
        seen += 1;
    }
    assert_eq!(seen, frames, "{format} {w}x{h}");
    assert_eq!(src.stats().bad, 0);
}

#[test]
fn pi4_frames_are_read_with_their_padding() {
    // 1536 is a multiple of 64: no padding. 640 too. 1000 → 1024, 780 → 832.
    for (w, h, stride) in [
        (1536, 864, 1536),
        (640, 480, 640),
        (1000, 750, 1024),
        (780, 360, 832),
        (62, 46, 64),
    ] {
        check(PixelFormat::RpicamI420, w, h, stride);
    }
}

#[test]
fn pi5_frames_are_read_with_their_padding() {
    // Chroma stride align64(w / 2), luma twice that.
    for (w, h, stride) in [
        (1536, 864, 1536),
        (640, 480, 640),
        (1000, 750, 1024),
        (780, 360, 896),
        (1296, 972, 1408),
    ] {
        check(PixelFormat::RpicamI420Pi5, w, h, stride);
    }
}

/// Read as tightly packed I420, rpicam-vid's padded frames are misaligned: the padding
/// is what makes the difference (and why the rpicam formats exist).
#[test]
fn padded_frames_read_as_packed_i420_are_wrong() {
    let (w, h, stride) = (1000usize, 750usize, 1024usize);
    let rgb = pattern(w, h);
    let bytes = rpicam_frame(&rgb, w, h, stride, 0);
    let mut src = RawFrames::new(Cursor::new(bytes), w as u32, h as u32, PixelFormat::Yu12)
        .unwrap()
        .with_color(ColorSpace::BT601_FULL);
    assert!(src.frame_len() < stride * h * 3 / 2);
    let frame = src.next_frame().unwrap().unwrap();
    let mut out = Vec::new();
    Converter::default().to_rgb8(&frame, &mut out).unwrap();
    let max = out.iter().zip(&rgb).map(|(a, b)| a.abs_diff(*b)).max();
    assert!(max > Some(50), "{max:?}");
}

/// A stream cut inside a frame is one truncated frame, counted as bad.
#[test]
fn a_cut_stream_is_a_truncated_frame() {
    let (w, h) = (640usize, 480usize);
    let mut bytes = rpicam_frame(&pattern(w, h), w, h, 640, 0);
    bytes.extend_from_slice(&bytes.clone()[..1000]);
    let mut src = RawFrames::new(
        Cursor::new(bytes),
        w as u32,
        h as u32,
        PixelFormat::RpicamI420,
    )
    .unwrap();
    assert!(src.next_frame().unwrap().is_some());
    let e = src.next_frame().unwrap_err();
    assert!(
        matches!(e, CaptureError::TruncatedFrame { got: 1000, .. }),
        "{e}"
    );
    assert_eq!(src.stats().bad, 1);
}
