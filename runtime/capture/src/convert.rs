//! Conversion of YUYV, UYVY, NV12, NV21, YU12 (I420), YV12, RGB24, BGR24, GREY and MJPEG
//! frames to packed RGB8.
//!
//! YUV → RGB uses the exact BT.601/BT.709 equations in 16-bit fixed point with
//! sample-and-hold chroma (each chroma sample serves the pixels it covers); this is
//! what ffmpeg's swscale computes with `-sws_flags accurate_rnd+full_chroma_int+neighbor`
//! (the fixtures in `tests/fixtures/capture/` are checked against it to ±2). GREY is
//! luma with no chroma: full range copies it, limited range expands 16..=235 with the
//! same luma term. Every size is validated against the frame's own bytes before anything
//! is written, and the output buffer only grows when a frame is larger than any before.

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace as ZColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::error::ConvertError;
use crate::frame::{ColorSpace, FrameRef, PixelFormat, Range};

/// Largest frames a [`Converter`] accepts. The output buffer is `width * height * 3`
/// bytes; for raw formats that is bounded by the frame's own bytes anyway, for MJPEG
/// (whose header can claim up to 65535×65535) these limits are what bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest width.
    pub max_width: u32,
    /// Largest height.
    pub max_height: u32,
    /// Largest `width * height`.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 8192 per side and 16 Mpixel (a 48 MiB RGB buffer).
    fn default() -> Self {
        Self {
            max_width: 8192,
            max_height: 8192,
            max_pixels: 4096 * 4096,
        }
    }
}

/// Fixed-point YUV → RGB coefficients (16 fraction bits).
#[derive(Debug, Clone, Copy)]
struct Coefficients {
    y_offset: i32,
    y_mul: i32,
    r_v: i32,
    g_u: i32,
    g_v: i32,
    b_u: i32,
}

const SHIFT: u32 = 16;
const ROUND: i32 = 1 << (SHIFT - 1);

impl Coefficients {
    fn new(color: ColorSpace) -> Self {
        let (kr, kb) = color.matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (y_offset, y_scale, c_scale) = match color.range {
            Range::Limited => (16, 255.0 / 219.0, 255.0 / 224.0),
            Range::Full => (0, 1.0, 1.0),
        };
        let fx = |v: f64| (v * f64::from(1u32 << SHIFT)).round() as i32;
        Self {
            y_offset,
            y_mul: fx(y_scale),
            r_v: fx(2.0 * (1.0 - kr) * c_scale),
            g_u: fx(-2.0 * kb * (1.0 - kb) / kg * c_scale),
            g_v: fx(-2.0 * kr * (1.0 - kr) / kg * c_scale),
            b_u: fx(2.0 * (1.0 - kb) * c_scale),
        }
    }

    /// Writes one pixel from its luma and the chroma terms of its chroma sample.
    #[inline(always)]
    fn pixel(&self, y: u8, chroma: (i32, i32, i32), out: &mut [u8]) {
        let y = (i32::from(y) - self.y_offset) * self.y_mul + ROUND;
        out[0] = clamp8((y + chroma.0) >> SHIFT);
        out[1] = clamp8((y + chroma.1) >> SHIFT);
        out[2] = clamp8((y + chroma.2) >> SHIFT);
    }

    /// The R, G and B chroma terms of one (U, V) sample.
    #[inline(always)]
    fn chroma(&self, u: u8, v: u8) -> (i32, i32, i32) {
        let (u, v) = (i32::from(u) - 128, i32::from(v) - 128);
        (self.r_v * v, self.g_u * u + self.g_v * v, self.b_u * u)
    }
}

#[inline(always)]
fn clamp8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Converts frames to packed RGB8 into a caller-owned buffer, reused across frames.
///
/// ```
/// use edgeclip_capture::{ColorSpace, Converter, FrameRef, PixelFormat};
/// use std::time::Duration;
///
/// // A 2x1 YUYV frame: limited-range black and white.
/// let bytes = [16, 128, 235, 128];
/// let frame = FrameRef {
///     width: 2, height: 1, stride: 0, format: PixelFormat::Yuyv,
///     color: ColorSpace::BT601_LIMITED, bytes: &bytes, sequence: 0,
///     timestamp: Duration::ZERO,
/// };
/// let mut rgb = Vec::new();
/// let (w, h) = Converter::default().to_rgb8(&frame, &mut rgb).unwrap();
/// assert_eq!((w, h), (2, 1));
/// assert_eq!(rgb, [0, 0, 0, 255, 255, 255]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Converter {
    limits: Limits,
    accept_truncated: bool,
}

impl Converter {
    /// A converter with these size limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            accept_truncated: false,
        }
    }

    /// Decodes MJPEG frames that end without their end-of-image marker (the
    /// decoder fills what is missing with grey) instead of refusing them: for
    /// cameras that send every frame that way.
    pub fn accept_truncated_jpegs(mut self, accept: bool) -> Self {
        self.accept_truncated = accept;
        self
    }

    /// The size limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Writes `frame` as packed RGB8 (`width * height * 3` bytes, no padding) into `out`,
    /// replacing its contents, and returns the image's width and height (for MJPEG, the
    /// JPEG's own size). `out` is only reallocated when it has to grow.
    pub fn to_rgb8(
        &self,
        frame: &FrameRef<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(u32, u32), ConvertError> {
        if frame.format == PixelFormat::Mjpeg {
            return self.mjpeg(frame, out);
        }
        let layout = self.check_raw(frame)?;
        let (w, h) = (frame.width as usize, frame.height as usize);
        out.resize(w * h * 3, 0);
        let (src, stride, color) = (frame.bytes, layout.stride, frame.color);
        match frame.format {
            PixelFormat::Rgb24 => rgb24(src, w, h, stride, out),
            PixelFormat::Bgr24 => bgr24(src, w, h, stride, out),
            PixelFormat::Grey => grey(src, w, h, stride, color, out),
            PixelFormat::Yuyv => packed422(src, w, h, stride, [0, 1, 2, 3], color, out),
            PixelFormat::Uyvy => packed422(src, w, h, stride, [1, 0, 3, 2], color, out),
            PixelFormat::Nv12 => semi_planar(src, w, h, &layout, false, color, out),
            PixelFormat::Nv21 => semi_planar(src, w, h, &layout, true, color, out),
            PixelFormat::Yu12
            | PixelFormat::Yv12
            | PixelFormat::RpicamI420
            | PixelFormat::RpicamI420Pi5 => planar(src, w, h, &layout, color, out),
            PixelFormat::Mjpeg => unreachable!("handled above"),
        }
        Ok((frame.width, frame.height))
    }

    fn check_size(&self, format: PixelFormat, width: u64, height: u64) -> Result<(), ConvertError> {
        let l = self.limits;
        if width == 0 || height == 0 {
            return Err(ConvertError::ZeroSize {
                format,
                width: width.min(u64::from(u32::MAX)) as u32,
                height: height.min(u64::from(u32::MAX)) as u32,
            });
        }
        if width > u64::from(l.max_width)
            || height > u64::from(l.max_height)
            || width * height > l.max_pixels
        {
            return Err(ConvertError::TooLarge {
                format,
                width,
                height,
                max_width: l.max_width,
                max_height: l.max_height,
                max_pixels: l.max_pixels,
            });
        }
        Ok(())
    }

    /// Validates a raw frame's size, stride and byte count.
    fn check_raw(&self, frame: &FrameRef<'_>) -> Result<RawLayout, ConvertError> {
        let format = frame.format;
        self.check_size(format, frame.width.into(), frame.height.into())?;
        if format.needs_even_width() && frame.width % 2 == 1 {
            return Err(ConvertError::OddWidth {
                format,
                width: frame.width,
            });
        }
        let min = format.min_stride(frame.width);
        let stride = frame.effective_stride();
        if stride < min {
            return Err(ConvertError::StrideTooSmall {
                format,
                width: frame.width,
                stride,
                min,
            });
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        // Sizes are below the limits (at most 8192 per side by default), but a caller may
        // raise them: keep the arithmetic checked. The last row needs no padding.
        let needed = match format {
            PixelFormat::Nv12 | PixelFormat::Nv21 => {
                let chroma_row = w.div_ceil(2) * 2;
                let uv_stride = stride.max(chroma_row);
                let uv_rows = h.div_ceil(2);
                stride
                    .checked_mul(h)
                    .and_then(|y| y.checked_add(uv_stride.checked_mul(uv_rows - 1)?))
                    .and_then(|v| v.checked_add(chroma_row))
                    .map(|needed| {
                        let uv = stride * h;
                        (
                            needed,
                            RawLayout {
                                stride,
                                uv_stride,
                                u: uv,
                                v: uv,
                            },
                        )
                    })
            }
            PixelFormat::Yu12
            | PixelFormat::Yv12
            | PixelFormat::RpicamI420
            | PixelFormat::RpicamI420Pi5 => {
                // V4L2's single-planar YU12: chroma rows of half the luma stride.
                let uv_stride = stride.div_ceil(2);
                let uv_rows = h.div_ceil(2);
                let first = stride.checked_mul(h);
                let second = first.and_then(|f| f.checked_add(uv_stride.checked_mul(uv_rows)?));
                let needed = second
                    .and_then(|s| s.checked_add(uv_stride.checked_mul(uv_rows - 1)?))
                    .and_then(|v| v.checked_add(w.div_ceil(2)));
                match (first, second, needed) {
                    (Some(first), Some(second), Some(needed)) => {
                        let (u, v) = if format == PixelFormat::Yv12 {
                            (second, first)
                        } else {
                            (first, second)
                        };
                        Some((
                            needed,
                            RawLayout {
                                stride,
                                uv_stride,
                                u,
                                v,
                            },
                        ))
                    }
                    _ => None,
                }
            }
            _ => stride
                .checked_mul(h - 1)
                .and_then(|v| v.checked_add(min))
                .map(|n| {
                    (
                        n,
                        RawLayout {
                            stride,
                            uv_stride: 0,
                            u: 0,
                            v: 0,
                        },
                    )
                }),
        };
        let got = frame.bytes.len();
        match needed {
            Some((needed, layout)) if needed <= got => Ok(layout),
            other => Err(ConvertError::BufferTooShort {
                format,
                width: frame.width,
                height: frame.height,
                stride,
                needed: other.map_or(usize::MAX, |(n, _)| n),
                got,
            }),
        }
    }

    fn mjpeg(&self, frame: &FrameRef<'_>, out: &mut Vec<u8>) -> Result<(u32, u32), ConvertError> {
        let data = frame.bytes;
        let len = data.len();
        if len < 4 || data[0] != 0xFF || data[1] != 0xD8 {
            return Err(ConvertError::NotJpeg { len });
        }
        // A frame without its end-of-image marker was cut short, and the decoder
        // would fill what is missing with grey.
        if !self.accept_truncated && edgeclip_io::jpeg::check_complete(data).is_err() {
            return Err(ConvertError::TruncatedJpeg { len });
        }
        let l = self.limits;
        let options = DecoderOptions::default()
            .set_max_width(l.max_width as usize)
            .set_max_height(l.max_height as usize)
            .jpeg_set_out_colorspace(ZColorSpace::RGB);
        let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
        let corrupt = |e: zune_jpeg::errors::DecodeErrors| ConvertError::CorruptJpeg {
            len,
            message: e.to_string(),
        };
        decoder.decode_headers().map_err(corrupt)?;
        let (jw, jh) = decoder.dimensions().ok_or(ConvertError::CorruptJpeg {
            len,
            message: "no frame header".into(),
        })?;
        self.check_size(PixelFormat::Mjpeg, jw as u64, jh as u64)?;
        if (frame.width != 0 || frame.height != 0)
            && (jw != frame.width as usize || jh != frame.height as usize)
        {
            return Err(ConvertError::JpegSizeMismatch {
                width: frame.width,
                height: frame.height,
                jpeg_width: jw,
                jpeg_height: jh,
            });
        }
        let size = decoder
            .output_buffer_size()
            .ok_or(ConvertError::CorruptJpeg {
                len,
                message: "image size overflows".into(),
            })?;
        if size != jw * jh * 3 {
            return Err(ConvertError::CorruptJpeg {
                len,
                message: format!("decoder wants {size} bytes for {jw}x{jh} RGB"),
            });
        }
        out.resize(size, 0);
        decoder.decode_into(out).map_err(corrupt)?;
        Ok((jw as u32, jh as u32))
    }
}

/// Converts with the default [`Limits`]; see [`Converter::to_rgb8`].
pub fn to_rgb8(frame: &FrameRef<'_>, out: &mut Vec<u8>) -> Result<(u32, u32), ConvertError> {
    Converter::default().to_rgb8(frame, out)
}

/// Where a checked frame's planes are.
struct RawLayout {
    /// Row stride of the first plane.
    stride: usize,
    /// Row stride of the chroma plane(s).
    uv_stride: usize,
    /// Offset of the U plane (NV12/NV21: of the interleaved chroma plane).
    u: usize,
    /// Offset of the V plane (NV12/NV21: as `u`).
    v: usize,
}

fn rgb24(src: &[u8], w: usize, h: usize, stride: usize, out: &mut [u8]) {
    let row = w * 3;
    for (y, dst) in out.chunks_exact_mut(row).enumerate().take(h) {
        dst.copy_from_slice(&src[y * stride..y * stride + row]);
    }
}

fn bgr24(src: &[u8], w: usize, h: usize, stride: usize, out: &mut [u8]) {
    let row = w * 3;
    for (y, dst) in out.chunks_exact_mut(row).enumerate().take(h) {
        let line = &src[y * stride..y * stride + row];
        for (bgr, rgb) in line.chunks_exact(3).zip(dst.chunks_exact_mut(3)) {
            rgb.copy_from_slice(&[bgr[2], bgr[1], bgr[0]]);
        }
    }
}

/// Luma only: the YUV equations with neutral chroma (full range copies Y exactly).
fn grey(src: &[u8], w: usize, h: usize, stride: usize, color: ColorSpace, out: &mut [u8]) {
    let c = Coefficients::new(color);
    let mut lut = [0u8; 256];
    for (y, v) in lut.iter_mut().enumerate() {
        let mut px = [0u8; 3];
        c.pixel(y as u8, (0, 0, 0), &mut px);
        *v = px[0];
    }
    for (y, dst) in out.chunks_exact_mut(w * 3).enumerate().take(h) {
        let line = &src[y * stride..y * stride + w];
        for (&l, rgb) in line.iter().zip(dst.chunks_exact_mut(3)) {
            rgb.fill(lut[usize::from(l)]);
        }
    }
}

/// Packed 4:2:2; `at` gives the positions of `Y0 U Y1 V` in each 4-byte group
/// (YUYV `[0, 1, 2, 3]`, UYVY `[1, 0, 3, 2]`).
fn packed422(
    src: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    at: [usize; 4],
    color: ColorSpace,
    out: &mut [u8],
) {
    let c = Coefficients::new(color);
    for (y, dst) in out.chunks_exact_mut(w * 3).enumerate().take(h) {
        let row = &src[y * stride..y * stride + w * 2];
        for (px, rgb) in row.chunks_exact(4).zip(dst.chunks_exact_mut(6)) {
            let chroma = c.chroma(px[at[1]], px[at[3]]);
            c.pixel(px[at[0]], chroma, &mut rgb[..3]);
            c.pixel(px[at[2]], chroma, &mut rgb[3..]);
        }
    }
}

/// NV12 (`U V` pairs) or NV21 (`V U` pairs, `swapped`).
fn semi_planar(
    src: &[u8],
    w: usize,
    h: usize,
    layout: &RawLayout,
    swapped: bool,
    color: ColorSpace,
    out: &mut [u8],
) {
    let c = Coefficients::new(color);
    let chroma_row = w.div_ceil(2) * 2;
    for (y, dst) in out.chunks_exact_mut(w * 3).enumerate().take(h) {
        let luma = &src[y * layout.stride..y * layout.stride + w];
        let uv_start = layout.u + (y / 2) * layout.uv_stride;
        let uv = &src[uv_start..uv_start + chroma_row];
        for ((ys, uv), rgb) in luma
            .chunks(2)
            .zip(uv.chunks_exact(2))
            .zip(dst.chunks_mut(6))
        {
            let chroma = if swapped {
                c.chroma(uv[1], uv[0])
            } else {
                c.chroma(uv[0], uv[1])
            };
            for (&l, px) in ys.iter().zip(rgb.chunks_exact_mut(3)) {
                c.pixel(l, chroma, px);
            }
        }
    }
}

/// Three planes (YU12, YV12 and the rpicam layouts), U and V where `layout` says.
fn planar(src: &[u8], w: usize, h: usize, layout: &RawLayout, color: ColorSpace, out: &mut [u8]) {
    let c = Coefficients::new(color);
    let chroma_row = w.div_ceil(2);
    for (y, dst) in out.chunks_exact_mut(w * 3).enumerate().take(h) {
        let luma = &src[y * layout.stride..y * layout.stride + w];
        let row = (y / 2) * layout.uv_stride;
        let u = &src[layout.u + row..layout.u + row + chroma_row];
        let v = &src[layout.v + row..layout.v + row + chroma_row];
        for (((ys, &u), &v), rgb) in luma.chunks(2).zip(u).zip(v).zip(dst.chunks_mut(6)) {
            let chroma = c.chroma(u, v);
            for (&l, px) in ys.iter().zip(rgb.chunks_exact_mut(3)) {
                c.pixel(l, chroma, px);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Matrix;
    use std::time::Duration;

    fn frame(format: PixelFormat, w: u32, h: u32, stride: usize, bytes: &[u8]) -> FrameRef<'_> {
        FrameRef {
            width: w,
            height: h,
            stride,
            format,
            color: ColorSpace::BT601_LIMITED,
            bytes,
            sequence: 0,
            timestamp: Duration::ZERO,
        }
    }

    #[test]
    fn coefficients_match_the_float_equations() {
        for matrix in [Matrix::Bt601, Matrix::Bt709] {
            for range in [Range::Limited, Range::Full] {
                let color = ColorSpace { matrix, range };
                let c = Coefficients::new(color);
                let (kr, kb) = matrix.kr_kb();
                let kg = 1.0 - kr - kb;
                for (y, u, v) in [
                    (16u8, 16u8, 240u8),
                    (235, 240, 16),
                    (128, 128, 128),
                    (81, 90, 240),
                ] {
                    let mut px = [0u8; 3];
                    c.pixel(y, c.chroma(u, v), &mut px);
                    let (yy, cs, off) = match range {
                        Range::Limited => {
                            ((f64::from(y) - 16.0) * 255.0 / 219.0, 255.0 / 224.0, 0.0)
                        }
                        Range::Full => (f64::from(y), 1.0, 0.0),
                    };
                    let (uu, vv) = (
                        (f64::from(u) - 128.0) * cs + off,
                        (f64::from(v) - 128.0) * cs,
                    );
                    let r = yy + 2.0 * (1.0 - kr) * vv;
                    let b = yy + 2.0 * (1.0 - kb) * uu;
                    let g = (yy - kr * r - kb * b) / kg;
                    for (got, want) in px.iter().zip([r, g, b]) {
                        let want = want.round().clamp(0.0, 255.0);
                        assert!(
                            (f64::from(*got) - want).abs() <= 1.0,
                            "{color:?} {y} {u} {v}: {px:?} vs {r} {g} {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn stride_padding_is_skipped() {
        // 2x2 YUYV with 4 padding bytes per row (filled with garbage).
        let padded = [16, 128, 235, 128, 9, 9, 9, 9, 235, 128, 16, 128, 7, 7, 7, 7];
        let tight = [16, 128, 235, 128, 235, 128, 16, 128];
        let mut a = Vec::new();
        let mut b = Vec::new();
        let conv = Converter::default();
        conv.to_rgb8(&frame(PixelFormat::Yuyv, 2, 2, 8, &padded), &mut a)
            .unwrap();
        conv.to_rgb8(&frame(PixelFormat::Yuyv, 2, 2, 0, &tight), &mut b)
            .unwrap();
        assert_eq!(a, b);
        // The last row may omit its padding.
        conv.to_rgb8(&frame(PixelFormat::Yuyv, 2, 2, 8, &padded[..12]), &mut a)
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn nv12_stride_applies_to_both_planes() {
        let (w, h, stride) = (4usize, 2usize, 6usize);
        let mut tight = vec![0u8; w * h + w];
        let mut padded = vec![0xEEu8; stride * h + stride];
        for (i, b) in tight.iter_mut().enumerate() {
            *b = (i * 37 % 256) as u8;
        }
        for r in 0..h {
            padded[r * stride..r * stride + w].copy_from_slice(&tight[r * w..(r + 1) * w]);
        }
        padded[stride * h..stride * h + w].copy_from_slice(&tight[w * h..]);
        let conv = Converter::default();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        conv.to_rgb8(&frame(PixelFormat::Nv12, 4, 2, 0, &tight), &mut a)
            .unwrap();
        conv.to_rgb8(&frame(PixelFormat::Nv12, 4, 2, stride, &padded), &mut b)
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_sizes_are_errors_naming_the_problem() {
        let conv = Converter::default();
        let mut out = Vec::new();
        let e = conv
            .to_rgb8(&frame(PixelFormat::Yuyv, 3, 2, 0, &[0; 12]), &mut out)
            .unwrap_err();
        assert!(matches!(e, ConvertError::OddWidth { width: 3, .. }), "{e}");
        let e = conv
            .to_rgb8(&frame(PixelFormat::Yuyv, 4, 2, 0, &[0; 15]), &mut out)
            .unwrap_err();
        assert!(
            matches!(
                e,
                ConvertError::BufferTooShort {
                    needed: 16,
                    got: 15,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("needs 16 bytes, got 15"), "{e}");
        let e = conv
            .to_rgb8(&frame(PixelFormat::Rgb24, 4, 2, 5, &[0; 100]), &mut out)
            .unwrap_err();
        assert!(
            matches!(e, ConvertError::StrideTooSmall { min: 12, .. }),
            "{e}"
        );
        let e = conv
            .to_rgb8(&frame(PixelFormat::Nv12, 0, 2, 0, &[0; 100]), &mut out)
            .unwrap_err();
        assert!(matches!(e, ConvertError::ZeroSize { .. }), "{e}");
        let e = conv
            .to_rgb8(
                &frame(PixelFormat::Nv12, u32::MAX, u32::MAX, 0, &[0; 100]),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(e, ConvertError::TooLarge { .. }), "{e}");
        // A huge claim within the limits but beyond the bytes: refused before allocating.
        let e = conv
            .to_rgb8(
                &frame(PixelFormat::Rgb24, 4096, 4096, 0, &[0; 100]),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(e, ConvertError::BufferTooShort { .. }), "{e}");
        assert!(
            out.capacity() < 4096 * 4096,
            "allocated for an untrusted claim"
        );
        // A raised limit with a stride that overflows usize arithmetic.
        let wide = Converter::with_limits(Limits {
            max_width: u32::MAX,
            max_height: u32::MAX,
            max_pixels: u64::MAX,
        });
        let e = wide
            .to_rgb8(
                &frame(PixelFormat::Nv12, u32::MAX, u32::MAX, usize::MAX, &[0; 100]),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(e, ConvertError::BufferTooShort { .. }), "{e}");
    }

    #[test]
    fn mjpeg_garbage_is_an_error() {
        let conv = Converter::default();
        let mut out = Vec::new();
        let e = conv
            .to_rgb8(
                &frame(PixelFormat::Mjpeg, 0, 0, 0, b"hello world"),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(e, ConvertError::NotJpeg { .. }), "{e}");
        let e = conv
            .to_rgb8(
                &frame(PixelFormat::Mjpeg, 0, 0, 0, &[0xFF, 0xD8, 1, 2, 3]),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(e, ConvertError::TruncatedJpeg { .. }), "{e}");
        let e = conv
            .to_rgb8(
                &frame(
                    PixelFormat::Mjpeg,
                    0,
                    0,
                    0,
                    &[0xFF, 0xD8, 1, 2, 0xFF, 0xD9, 0, 0],
                ),
                &mut out,
            )
            .unwrap_err();
        assert!(matches!(e, ConvertError::CorruptJpeg { .. }), "{e}");
    }

    #[test]
    fn a_truncated_mjpeg_frame_is_refused_unless_accepted() {
        let picture =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&picture)
            .unwrap();
        let cut = &jpeg[..jpeg.len() * 3 / 4];
        let mut out = Vec::new();
        let e = Converter::default()
            .to_rgb8(&frame(PixelFormat::Mjpeg, 0, 0, 0, cut), &mut out)
            .unwrap_err();
        assert!(matches!(e, ConvertError::TruncatedJpeg { .. }), "{e}");
        let lenient = Converter::default().accept_truncated_jpegs(true);
        let size = lenient
            .to_rgb8(&frame(PixelFormat::Mjpeg, 0, 0, 0, cut), &mut out)
            .unwrap();
        assert_eq!((size, out.len()), ((64, 48), 64 * 48 * 3));
    }

    #[test]
    fn output_buffer_is_reused() {
        let conv = Converter::default();
        let bytes = vec![128u8; 64 * 48 * 2];
        let mut out = Vec::new();
        conv.to_rgb8(&frame(PixelFormat::Yuyv, 64, 48, 0, &bytes), &mut out)
            .unwrap();
        let ptr = out.as_ptr();
        for _ in 0..10 {
            conv.to_rgb8(&frame(PixelFormat::Yuyv, 64, 48, 0, &bytes), &mut out)
                .unwrap();
            assert_eq!(out.as_ptr(), ptr);
        }
        // Smaller frames fit in the same buffer.
        conv.to_rgb8(&frame(PixelFormat::Yuyv, 32, 24, 0, &bytes), &mut out)
            .unwrap();
        assert_eq!((out.as_ptr(), out.len()), (ptr, 32 * 24 * 3));
    }
}
