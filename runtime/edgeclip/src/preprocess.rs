//! Image preprocessing that reproduces open_clip's eval transform.
//!
//! open_clip prepares an image with torchvision on a PIL image:
//! `Resize(size, BICUBIC)` (shortest side to `size`), `CenterCrop(size)`,
//! `ToTensor`, `Normalize(mean, std)`. A model is only as accurate as its
//! inputs are faithful to that, so this module copies its arithmetic rather
//! than approximating it:
//!
//! * the resized size and crop offset use torchvision's formulas, including
//!   its truncating long-side size and Python's round-half-to-even offset;
//! * resampling is Pillow's: an antialiased convolution whose kernel widens
//!   with the downscale factor, done as a horizontal pass then a vertical pass
//!   with the intermediate rounded and clipped to u8 (fast_image_resize's
//!   CatmullRom is Pillow's bicubic, a = -0.5). Only the output pixels that
//!   survive the crop are computed: each one depends on the source alone, so
//!   this is the same as resizing everything and cropping afterwards;
//! * normalization is evaluated in f32 in torchvision's order,
//!   `(v / 255 - mean) / std`, so it is bit-identical to it.
//!
//! `tests/preprocess_parity.rs` holds the result to open_clip's own output on
//! images of many sizes and shapes. What remains is at most 2/255: Pillow
//! stores filter weights with 22 fractional bits, fast_image_resize with at
//! most 15, which now and then rounds a pass the other way. (Letting
//! fast_image_resize pick its own pass order, vertical first, was up to
//! 28/255 off at hard edges.)
//!
//! Decoding is not Pillow's: the `image` crate's JPEG decoder differs from
//! libjpeg-turbo by up to about 5/255 at chroma edges of 4:2:0 files (3/255
//! for 4:4:4). Downscaling averages most of that away; a JPEG shown near its
//! native size keeps it.

use std::path::Path;

use fast_image_resize as fir;

use crate::{Error, Result};

/// Borrowed RGB8 pixels, as the resizer reads them.
type RgbRef<'a> = fir::images::TypedImageRef<'a, fir::pixels::U8x3>;
/// An RGB8 buffer the resizer writes into.
type RgbMut<'a> = fir::images::TypedImage<'a, fir::pixels::U8x3>;

/// The per-channel mean of OpenAI's CLIP training images, which most CLIP
/// models are normalized with.
pub const OPENAI_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// The per-channel standard deviation of OpenAI's CLIP training images.
pub const OPENAI_STD: [f32; 3] = [0.268_629_5, 0.261_302_6, 0.275_777_1];

/// How a model wants its input image prepared (filled from the model manifest).
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct PreprocessConfig {
    /// Side of the square input, in pixels.
    pub image_size: u32,
    /// Per-channel (R, G, B) mean subtracted after scaling to `0..=1`.
    pub mean: [f32; 3],
    /// Per-channel (R, G, B) standard deviation divided by after subtracting the mean.
    pub std: [f32; 3],
    /// Resize filter.
    #[serde(default)]
    pub interpolation: Interpolation,
    /// How the image is brought to a square.
    #[serde(default)]
    pub resize_mode: ResizeMode,
}

impl PreprocessConfig {
    /// open_clip's defaults for a model with `image_size` inputs: OpenAI
    /// mean/std, bicubic, shortest side then center crop.
    pub fn openai(image_size: u32) -> Self {
        Self {
            image_size,
            mean: OPENAI_MEAN,
            std: OPENAI_STD,
            interpolation: Interpolation::Bicubic,
            resize_mode: ResizeMode::Shortest,
        }
    }
}

/// Resize filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// Pillow's antialiased bicubic (Keys cubic, a = -0.5); open_clip's default.
    #[default]
    Bicubic,
    /// Pillow's antialiased bilinear (triangle filter).
    Bilinear,
}

/// How the image reaches the square input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResizeMode {
    /// Resize the shortest side to `image_size`, keeping the aspect ratio,
    /// then center crop (open_clip's default).
    #[default]
    Shortest,
    /// Resize both sides to `image_size`, distorting the aspect ratio.
    Squash,
}

impl Interpolation {
    fn filter(self) -> fir::FilterType {
        match self {
            Interpolation::Bicubic => fir::FilterType::CatmullRom,
            Interpolation::Bilinear => fir::FilterType::Bilinear,
        }
    }

    /// Kernel radius at scale 1, in source pixels.
    fn support(self) -> f64 {
        match self {
            Interpolation::Bicubic => 2.0,
            Interpolation::Bilinear => 1.0,
        }
    }
}

/// Where the output square lies in the (virtual) resized image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    /// Size of the whole resized image.
    resized_w: u32,
    resized_h: u32,
    /// Top-left corner of the crop in the resized image.
    left: u32,
    top: u32,
}

/// torchvision's `Resize(int)` + `CenterCrop` geometry for a square target.
fn geometry(width: u32, height: u32, size: u32, mode: ResizeMode) -> Geometry {
    match mode {
        ResizeMode::Squash => Geometry {
            resized_w: size,
            resized_h: size,
            left: 0,
            top: 0,
        },
        ResizeMode::Shortest => {
            let (short, long) = (width.min(height), width.max(height));
            // torchvision: int(size * long / short) -- an exact integer product,
            // one correctly rounded division, then truncation, as here.
            let new_long = ((u64::from(size) * u64::from(long)) as f64 / f64::from(short)) as u32;
            let (resized_w, resized_h) = if width <= height {
                (size, new_long)
            } else {
                (new_long, size)
            };
            Geometry {
                resized_w,
                resized_h,
                left: crop_offset(resized_w, size),
                top: crop_offset(resized_h, size),
            }
        }
    }
}

/// torchvision's `int(round((full - crop) / 2.0))`: Python rounds halves to even,
/// so 12.5 gives 12 and 13.5 gives 14.
fn crop_offset(full: u32, crop: u32) -> u32 {
    (f64::from(full.saturating_sub(crop)) / 2.0).round_ties_even() as u32
}

/// The source interval `[start, start + len)` that maps onto output pixels
/// `[offset, offset + count)` of a `resized`-long axis made from `source` pixels.
fn source_span(source: u32, resized: u32, offset: u32, count: u32) -> (f64, f64) {
    let scale = |i: u32| (u64::from(i) * u64::from(source)) as f64 / f64::from(resized);
    let start = scale(offset);
    (start, fit_len(start, scale(offset + count) - start, source))
}

/// `len`, shortened by the ulps it takes for `start + len` to stay within
/// `limit`: fast_image_resize rejects a crop box reaching past the image by
/// even one ulp, and float rounding can do that.
fn fit_len(start: f64, mut len: f64, limit: u32) -> f64 {
    while len > 0.0 && start + len > f64::from(limit) {
        len = f64::from_bits(len.to_bits() - 1);
    }
    len
}

/// The part of a `width` × `height` image that preprocessing keeps, in source
/// pixels: what the model's square input shows. Dense outputs (patch grids) are
/// mapped back to the image through it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceWindow {
    /// Left edge, in source pixels.
    pub left: f64,
    /// Top edge, in source pixels.
    pub top: f64,
    /// Width, in source pixels.
    pub width: f64,
    /// Height, in source pixels.
    pub height: f64,
}

impl SourceWindow {
    /// The source pixel under the point (`u`, `v`) of the model's `size`-pixel
    /// square input (fractions allowed).
    pub fn to_source(&self, u: f64, v: f64, size: u32) -> (f64, f64) {
        let s = f64::from(size);
        (
            self.left + u * self.width / s,
            self.top + v * self.height / s,
        )
    }
}

/// Where preprocessing with `config` crops a `width` × `height` image.
pub fn source_window(config: &PreprocessConfig, width: u32, height: u32) -> SourceWindow {
    let size = config.image_size;
    let geo = geometry(width, height, size, config.resize_mode);
    let (left, crop_w) = source_span(width, geo.resized_w, geo.left, size);
    let (top, crop_h) = source_span(height, geo.resized_h, geo.top, size);
    SourceWindow {
        left,
        top,
        width: crop_w,
        height: crop_h,
    }
}

/// Reusable preprocessor: owns its resize buffers so a camera loop allocates
/// nothing per frame after the first.
#[derive(Debug, Clone)]
pub struct Preprocessor {
    config: PreprocessConfig,
    resizer: fir::Resizer,
    /// Result of the horizontal pass: `image_size` columns by the source rows
    /// the vertical pass reads.
    horizontal: Vec<u8>,
    /// The resized, cropped RGB8 square.
    square: Vec<u8>,
    /// `lut[c][v]`: the normalized value of channel `c` at level `v`.
    lut: [[f32; 256]; 3],
}

impl Preprocessor {
    /// A preprocessor for `config`. Invalid settings (a zero `image_size`, a
    /// zero or non-finite `std`) are reported by the first call that uses them.
    pub fn new(config: PreprocessConfig) -> Self {
        let lut = normalization_lut(config.mean, config.std);
        Self {
            config,
            resizer: fir::Resizer::new(),
            horizontal: Vec::new(),
            square: Vec::new(),
            lut,
        }
    }

    /// The configuration this preprocessor was made with.
    pub fn config(&self) -> &PreprocessConfig {
        &self.config
    }

    /// RGB8 pixels (row-major, `width * height * 3` bytes) → the resized,
    /// cropped RGB8 square (`image_size² * 3` bytes), i.e. the step tested
    /// against PIL.
    pub fn resize_crop(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<&[u8]> {
        let size = self.config.image_size;
        if size == 0 {
            return Err(Error::InvalidInput("preprocess image_size is 0".into()));
        }
        check_rgb(rgb, width, height)?;
        let geo = geometry(width, height, size, self.config.resize_mode);
        let interpolation = self.config.interpolation;
        let options = fir::ResizeOptions::new()
            .resize_alg(fir::ResizeAlg::Convolution(interpolation.filter()))
            .use_alpha(false);

        let (left, crop_w) = source_span(width, geo.resized_w, geo.left, size);
        let (top, crop_h) = source_span(height, geo.resized_h, geo.top, size);

        // Rows the vertical pass reads (generously: rows outside the kernel
        // get zero weight, rows missing from it would change the result).
        let scale_y = f64::from(height) / f64::from(geo.resized_h);
        let radius = interpolation.support() * scale_y.max(1.0);
        let first = (top + 0.5 * scale_y - radius).floor() - 1.0;
        let last = (top + (f64::from(size) - 0.5) * scale_y + radius).ceil() + 1.0;
        let row0 = first.max(0.0) as u32;
        let row1 = (last.min(f64::from(height)) as u32).max(row0 + 1);
        let rows = row1 - row0;

        let square_len = size as usize * size as usize * 3;
        self.square.resize(square_len, 0);
        self.horizontal.resize(size as usize * rows as usize * 3, 0);

        // Pillow filters horizontally first and rounds to u8 in between;
        // fast_image_resize would go vertically first for u8 images, which
        // rounds and clips at different places. Two single-axis resizes force
        // Pillow's order.
        //
        // The typed API: `Resizer::resize` would dispatch on the pixel type at run
        // time and so link the kernels of all 13 pixel types (2 MB of the binary).
        let src = RgbRef::from_buffer(width, height, rgb).map_err(resize_error)?;
        let mut mid =
            RgbMut::from_buffer(size, rows, &mut self.horizontal).map_err(resize_error)?;
        let horizontal_options = options.crop(left, f64::from(row0), crop_w, f64::from(rows));
        self.resizer
            .resize_typed(&src, &mut mid, &horizontal_options)
            .map_err(resize_error)?;

        let mut dst = RgbMut::from_buffer(size, size, &mut self.square).map_err(resize_error)?;
        let mid_top = top - f64::from(row0);
        let vertical_options = options.crop(
            0.0,
            mid_top,
            f64::from(size),
            fit_len(mid_top, crop_h, rows),
        );
        self.resizer
            .resize_typed(&mid, &mut dst, &vertical_options)
            .map_err(resize_error)?;

        Ok(&self.square)
    }

    /// The square the last [`Preprocessor::resize_crop`] (or
    /// [`Preprocessor::run_into`]) made: `image_size² * 3` RGB8 bytes, empty
    /// before the first.
    pub fn square(&self) -> &[u8] {
        &self.square
    }

    /// Full pipeline into a caller buffer of `3 * image_size²` f32 in CHW
    /// order (normalized).
    pub fn run_into(&mut self, rgb: &[u8], width: u32, height: u32, out: &mut [f32]) -> Result<()> {
        check_norm_params(self.config.mean, self.config.std)?;
        let size = self.config.image_size as usize;
        if out.len() != 3 * size * size {
            return Err(Error::InvalidInput(format!(
                "output buffer holds {} floats, a {size}x{size} RGB input needs {}",
                out.len(),
                3 * size * size
            )));
        }
        self.resize_crop(rgb, width, height)?;
        normalize_with_lut(&self.square, &self.lut, out);
        Ok(())
    }

    /// Convenience: run the full pipeline on a decoded image (alpha dropped,
    /// grey replicated); returns CHW f32.
    pub fn run_image(&mut self, image: &image::DynamicImage) -> Result<Vec<f32>> {
        let size = self.config.image_size as usize;
        let mut out = vec![0.0; 3 * size * size];
        let (width, height) = (image.width(), image.height());
        match image.as_rgb8() {
            Some(rgb) => self.run_into(rgb.as_raw(), width, height, &mut out)?,
            None => self.run_into(image.to_rgb8().as_raw(), width, height, &mut out)?,
        }
        Ok(out)
    }
}

fn resize_error(e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("resize failed: {e}"))
}

fn check_rgb(rgb: &[u8], width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::InvalidInput(format!(
            "image is {width}x{height}; both sides must be > 0"
        )));
    }
    let expected = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(3));
    if expected != Some(rgb.len()) {
        return Err(Error::InvalidInput(format!(
            "RGB buffer holds {} bytes, a {width}x{height} image needs {}",
            rgb.len(),
            3 * u128::from(width) * u128::from(height)
        )));
    }
    Ok(())
}

fn check_norm_params(mean: [f32; 3], std: [f32; 3]) -> Result<()> {
    if mean.iter().chain(&std).any(|v| !v.is_finite()) || std.contains(&0.0) {
        return Err(Error::InvalidInput(format!(
            "normalization needs finite mean and non-zero finite std, got mean {mean:?} std {std:?}"
        )));
    }
    Ok(())
}

/// torchvision's f32 arithmetic, `(v / 255 - mean) / std`, for every level:
/// a table keeps it bit-identical without a division per pixel.
fn normalization_lut(mean: [f32; 3], std: [f32; 3]) -> [[f32; 256]; 3] {
    let mut lut = [[0.0; 256]; 3];
    for (c, table) in lut.iter_mut().enumerate() {
        for (v, slot) in table.iter_mut().enumerate() {
            *slot = (v as f32 / 255.0 - mean[c]) / std[c];
        }
    }
    lut
}

fn normalize_with_lut(hwc: &[u8], lut: &[[f32; 256]; 3], out: &mut [f32]) {
    let plane = hwc.len() / 3;
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in hwc.chunks_exact(3).enumerate() {
        r[i] = lut[0][usize::from(px[0])];
        g[i] = lut[1][usize::from(px[1])];
        b[i] = lut[2][usize::from(px[2])];
    }
}

/// Interleaved RGB8 (HWC, as [`Preprocessor::resize_crop`] returns it) →
/// normalized planar f32 (CHW), `(v / 255 - mean[c]) / std[c]` evaluated in
/// f32 exactly as torchvision's `ToTensor` + `Normalize` do.
///
/// `out` must hold exactly `hwc.len()` floats and `hwc.len()` must be a
/// multiple of 3; `std` must be finite and non-zero.
pub fn normalize_to_chw(hwc: &[u8], mean: [f32; 3], std: [f32; 3], out: &mut [f32]) -> Result<()> {
    check_norm_params(mean, std)?;
    if !hwc.len().is_multiple_of(3) || out.len() != hwc.len() {
        return Err(Error::InvalidInput(format!(
            "normalize: {} input bytes (must be a multiple of 3) into {} floats (must be equal)",
            hwc.len(),
            out.len()
        )));
    }
    normalize_with_lut(hwc, &normalization_lut(mean, std), out);
    Ok(())
}

/// The largest image file [`load_rgb`] reads.
pub const IMAGE_FILE_LIMIT: edgeclip_io::Limit =
    edgeclip_io::Limit::new("an image file", 256 << 20);

/// The most pixels [`load_rgb`] decodes: 64 Mpixel (a 192 MiB RGB image), more than
/// any camera of a board gives; a 12000×12000 PNG is refused before its pixels are
/// allocated instead of taking gigabytes.
pub const MAX_IMAGE_PIXELS: u64 = 64_000_000;

/// Peak bytes per pixel while an image is decoded to RGB8: the decoder's own
/// buffer in the file's layout (up to 8 for a 16-bit RGBA PNG; a progressive
/// JPEG's coefficients take 6) plus the RGB8 copy (3), rounded up.
pub const DECODE_BYTES_PER_PIXEL: u64 = 12;

/// The pixel limit that keeps `at_once` decodes running together within `bytes` of
/// memory, and within [`MAX_IMAGE_PIXELS`]: how a board's memory budget becomes
/// the decoders' limit.
pub fn pixels_within(bytes: u64, at_once: u64) -> u64 {
    (bytes / DECODE_BYTES_PER_PIXEL / at_once.max(1)).min(MAX_IMAGE_PIXELS)
}

/// Why image bytes were not decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a JPEG or PNG: the format the bytes look like, `None` when none.
    Format(Option<image::ImageFormat>),
    /// A JPEG without its end-of-image marker.
    Truncated(edgeclip_io::jpeg::Truncated),
    /// More pixels than the caller allows, found before any was allocated.
    TooLarge {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The limit.
        max_pixels: u64,
    },
    /// The decoder's own error (a corrupt header or stream).
    Decode(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Format(None) => f.write_str("unrecognised image format (not JPEG or PNG)"),
            DecodeError::Format(Some(format)) => {
                write!(f, "the image is {format:?}, not JPEG or PNG")
            }
            DecodeError::Truncated(t) => t.fmt(f),
            DecodeError::TooLarge {
                width,
                height,
                max_pixels,
            } => write!(
                f,
                "the image is {width}x{height}; at most {max_pixels} pixels are decoded"
            ),
            DecodeError::Decode(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes JPEG or PNG `bytes` to RGB8 (alpha dropped, grey replicated, as PIL's
/// `convert("RGB")` does), the format from the content. A JPEG without its
/// end-of-image marker is refused (the decoder would fill the missing part with
/// grey), and so is an image over `max_pixels`, before its pixels are allocated.
/// The one decoder of untrusted images: files and posted images alike.
pub fn decode_rgb(
    bytes: &[u8],
    max_pixels: u64,
) -> std::result::Result<image::RgbImage, DecodeError> {
    let reader = || {
        image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| DecodeError::Decode(e.to_string()))
    };
    match reader()?.format() {
        Some(image::ImageFormat::Jpeg) => {
            edgeclip_io::jpeg::check_complete(bytes).map_err(DecodeError::Truncated)?
        }
        Some(image::ImageFormat::Png) => {}
        other => return Err(DecodeError::Format(other)),
    }
    let (width, height) = reader()?
        .into_dimensions()
        .map_err(|e| DecodeError::Decode(e.to_string()))?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DecodeError::TooLarge {
            width,
            height,
            max_pixels,
        });
    }
    let mut reader = reader()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    reader.limits(limits);
    let decoded = reader
        .decode()
        .map_err(|e| DecodeError::Decode(e.to_string()))?;
    Ok(decoded.into_rgb8())
}

/// Decodes an image file to RGB8 with [`decode_rgb`] and [`MAX_IMAGE_PIXELS`],
/// naming the file in errors (not an image, truncated, missing, too large).
pub fn load_rgb(path: &Path) -> Result<image::RgbImage> {
    load_rgb_within(path, MAX_IMAGE_PIXELS)
}

/// [`load_rgb`] with a pixel limit of its own (see [`pixels_within`]).
pub fn load_rgb_within(path: &Path, max_pixels: u64) -> Result<image::RgbImage> {
    let bytes =
        edgeclip_io::read_limited(path, IMAGE_FILE_LIMIT).map_err(|e| Error::io(path, e))?;
    decode_rgb(&bytes, max_pixels).map_err(|e| Error::Image {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn source_window_is_the_centre_crop_in_source_pixels() {
        let config = PreprocessConfig::openai(224);
        // 640x480 -> 298x224, crop from x = 37: 37 * 640 / 298 = 79.46 source pixels in.
        let w = source_window(&config, 640, 480);
        assert!((w.left - 37.0 * 640.0 / 298.0).abs() < 1e-9);
        assert_eq!(w.top, 0.0);
        assert!((w.width - 224.0 * 640.0 / 298.0).abs() < 1e-9);
        assert!((w.height - 480.0).abs() < 1e-9);
        let (x, y) = w.to_source(112.0, 112.0, 224);
        assert!((x - 320.0).abs() < 1.5 && (y - 240.0).abs() < 1e-9);
        // A square image is kept whole.
        let w = source_window(&config, 100, 100);
        assert_eq!((w.left, w.top, w.width, w.height), (0.0, 0.0, 100.0, 100.0));
    }

    #[test]
    fn geometry_matches_torchvision() {
        // 7x5 -> shortest 5 to 64: long int(64 * 7 / 5) = 89; (89 - 64) / 2 = 12.5 rounds to 12.
        assert_eq!(
            geometry(7, 5, 64, ResizeMode::Shortest),
            Geometry {
                resized_w: 89,
                resized_h: 64,
                left: 12,
                top: 0
            }
        );
        // 640x480 -> 298x224 (int(298.67)); (298 - 224) / 2 = 37.
        assert_eq!(
            geometry(640, 480, 224, ResizeMode::Shortest),
            Geometry {
                resized_w: 298,
                resized_h: 224,
                left: 37,
                top: 0
            }
        );
        assert_eq!(
            geometry(1, 300, 64, ResizeMode::Shortest),
            Geometry {
                resized_w: 64,
                resized_h: 19200,
                left: 0,
                top: 9568
            }
        );
        assert_eq!(crop_offset(91, 64), 14); // 13.5 -> 14 (even)
        assert_eq!(crop_offset(64, 64), 0);
        assert_eq!(
            geometry(640, 480, 64, ResizeMode::Squash),
            Geometry {
                resized_w: 64,
                resized_h: 64,
                left: 0,
                top: 0
            }
        );
    }

    #[test]
    fn identity_size_is_a_copy() {
        let mut p = Preprocessor::new(PreprocessConfig::openai(4));
        let rgb: Vec<u8> = (0..48).map(|v| v as u8 * 5).collect();
        assert_eq!(p.resize_crop(&rgb, 4, 4).unwrap(), &rgb[..]);
    }

    #[test]
    fn crop_without_resize_takes_the_middle() {
        // 4 wide, 8 tall at size 4: no resampling, rows 2..6.
        let mut p = Preprocessor::new(PreprocessConfig::openai(4));
        let rgb: Vec<u8> = (0..96).map(|v| v as u8).collect();
        assert_eq!(p.resize_crop(&rgb, 4, 8).unwrap(), &rgb[24..72]);
    }

    #[test]
    fn uniform_image_stays_uniform() {
        for mode in [ResizeMode::Shortest, ResizeMode::Squash] {
            for interpolation in [Interpolation::Bicubic, Interpolation::Bilinear] {
                let config = PreprocessConfig {
                    interpolation,
                    resize_mode: mode,
                    ..PreprocessConfig::openai(17)
                };
                let mut p = Preprocessor::new(config);
                let rgb = [200u8, 10, 99].repeat(31 * 57);
                let out = p.resize_crop(&rgb, 31, 57).unwrap();
                assert!(
                    out.chunks(3).all(|px| px == [200, 10, 99]),
                    "{mode:?} {interpolation:?}"
                );
            }
        }
    }

    #[test]
    fn run_into_normalizes_the_square() {
        let mut p = Preprocessor::new(PreprocessConfig::openai(8));
        let rgb: Vec<u8> = (0..20 * 12 * 3).map(|v| (v * 7 % 256) as u8).collect();
        let mut out = vec![0.0; 3 * 64];
        p.run_into(&rgb, 20, 12, &mut out).unwrap();
        let square = p.resize_crop(&rgb, 20, 12).unwrap().to_vec();
        for c in 0..3 {
            for i in 0..64 {
                let want = (square[i * 3 + c] as f32 / 255.0 - OPENAI_MEAN[c]) / OPENAI_STD[c];
                assert_eq!(out[c * 64 + i], want);
            }
        }
        let mut short = vec![0.0; 10];
        assert!(matches!(
            p.run_into(&rgb, 20, 12, &mut short),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn run_image_accepts_any_colour_type() {
        let mut p = Preprocessor::new(PreprocessConfig::openai(8));
        let grey =
            image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(9, 5, image::Luma([77])));
        let rgb = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            9,
            5,
            image::Rgb([77, 77, 77]),
        ));
        assert_eq!(p.run_image(&grey).unwrap(), p.run_image(&rgb).unwrap());
    }

    #[test]
    fn bad_config_is_an_error() {
        let mut p = Preprocessor::new(PreprocessConfig::openai(0));
        assert!(matches!(
            p.resize_crop(&[0; 3], 1, 1),
            Err(Error::InvalidInput(_))
        ));
        let config = PreprocessConfig {
            std: [1.0, 0.0, 1.0],
            ..PreprocessConfig::openai(2)
        };
        let mut p = Preprocessor::new(config);
        assert!(matches!(
            p.run_into(&[0; 3], 1, 1, &mut [0.0; 12]),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn config_serde_names() {
        let json = r#"{"image_size": 224, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
                       "interpolation": "bilinear", "resize_mode": "squash"}"#;
        let config: PreprocessConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.interpolation, Interpolation::Bilinear);
        assert_eq!(config.resize_mode, ResizeMode::Squash);
        let defaults: PreprocessConfig =
            serde_json::from_str(r#"{"image_size": 64, "mean": [0, 0, 0], "std": [1, 1, 1]}"#)
                .unwrap();
        assert_eq!(
            (defaults.interpolation, defaults.resize_mode),
            (Interpolation::Bicubic, ResizeMode::Shortest)
        );
    }

    fn naive_normalize(hwc: &[u8], mean: [f32; 3], std: [f32; 3]) -> Vec<f32> {
        let n = hwc.len() / 3;
        let mut out = vec![0.0; hwc.len()];
        for i in 0..n {
            for c in 0..3 {
                out[c * n + i] = (f32::from(hwc[i * 3 + c]) / 255.0 - mean[c]) / std[c];
            }
        }
        out
    }

    proptest! {
        #[test]
        fn normalize_matches_naive(
            hwc in proptest::collection::vec(any::<u8>(), 0..300).prop_map(|mut v| { v.truncate(v.len() / 3 * 3); v }),
            mean in proptest::array::uniform3(-1.0f32..2.0),
            std in proptest::array::uniform3(0.01f32..3.0),
        ) {
            let mut out = vec![f32::NAN; hwc.len()];
            normalize_to_chw(&hwc, mean, std, &mut out).unwrap();
            prop_assert_eq!(out, naive_normalize(&hwc, mean, std));
        }

        #[test]
        fn resize_crop_always_yields_the_square(
            width in 1u32..=600,
            height in 1u32..=600,
            size in prop_oneof![1u32..=80, Just(224u32)],
            bicubic in any::<bool>(),
            squash in any::<bool>(),
            seed in any::<u8>(),
        ) {
            let config = PreprocessConfig {
                interpolation: if bicubic { Interpolation::Bicubic } else { Interpolation::Bilinear },
                resize_mode: if squash { ResizeMode::Squash } else { ResizeMode::Shortest },
                ..PreprocessConfig::openai(size)
            };
            let mut p = Preprocessor::new(config);
            let rgb: Vec<u8> = (0..width as usize * height as usize * 3)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
                .collect();
            let out = p.resize_crop(&rgb, width, height).unwrap();
            prop_assert_eq!(out.len(), size as usize * size as usize * 3);
        }

        #[test]
        fn resize_crop_rejects_bad_buffers(
            width in 0u32..=600,
            height in 0u32..=600,
            delta in -5i64..=5,
        ) {
            let needed = width as i64 * height as i64 * 3;
            let len = (needed + delta).max(0) as usize;
            prop_assume!(width == 0 || height == 0 || len as i64 != needed);
            let mut p = Preprocessor::new(PreprocessConfig::openai(16));
            let result = p.resize_crop(&vec![0; len], width, height);
            prop_assert!(matches!(result, Err(Error::InvalidInput(_))));
        }
    }
}
