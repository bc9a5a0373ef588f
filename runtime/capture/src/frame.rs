//! Frame types: pixel formats, colour encodings and borrowed/owned frames.

use std::fmt;
use std::time::Duration;

/// The layout of a frame's bytes, as a camera, a file or a pipe delivers them.
///
/// Row strides: every format has one stride, the bytes from one row of its first plane
/// to the next ([`FrameRef::stride`]). The planes that follow it derive theirs from it:
/// NV12/NV21 chroma rows have the same stride (or `2 * ceil(width / 2)` if larger), and
/// the YU12/YV12 chroma planes have `ceil(stride / 2)`, which is what V4L2 defines for
/// its single-planar `YU12`/`YV12` (`bytesperline / 2`) and, for a tightly packed frame
/// of odd width, ffmpeg's `ceil(width / 2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// Packed 4:2:2, `Y0 U Y1 V` per two pixels (V4L2 `YUYV`, ffmpeg `yuyv422`).
    Yuyv,
    /// Planar 4:2:0: a Y plane, then one plane of interleaved `U V` pairs at half the
    /// resolution in both directions (V4L2 `NV12`, ffmpeg `nv12`).
    Nv12,
    /// Packed 8-bit `R G B` (V4L2 `RGB3`, ffmpeg `rgb24`).
    Rgb24,
    /// One JPEG image per frame (V4L2 `MJPG`).
    Mjpeg,
    /// Planar 4:2:0, three planes: Y, then U, then V, each chroma plane at half the
    /// width and height rounded up (V4L2 `YU12`, also called I420; ffmpeg `yuv420p`).
    Yu12,
    /// As [`PixelFormat::Yu12`] with the V plane before the U plane (V4L2 `YV12`).
    Yv12,
    /// As [`PixelFormat::Nv12`] with each chroma pair in `V U` order (V4L2 `NV21`,
    /// ffmpeg `nv21`).
    Nv21,
    /// Packed 4:2:2, `U Y0 V Y1` per two pixels (V4L2 `UYVY`, ffmpeg `uyvy422`).
    Uyvy,
    /// Packed 8-bit `B G R` (V4L2 `BGR3`, ffmpeg `bgr24`).
    Bgr24,
    /// 8-bit luma only (V4L2 `GREY`, ffmpeg `gray`): grey RGB, the luma expanded as the
    /// frame's range says (full range copies it, limited range maps 16..=235 to 0..=255).
    Grey,
    /// I420 exactly as `rpicam-vid --codec yuv420` writes it on a Raspberry Pi up to the
    /// Pi 4 (VideoCore ISP): [`PixelFormat::Yu12`] whose luma rows are padded to a
    /// multiple of 64 bytes and chroma rows to half that, frames of
    /// `stride * height * 3 / 2` bytes. BT.601 full range (libcamera's sYCC).
    RpicamI420,
    /// I420 exactly as `rpicam-vid --codec yuv420` writes it on a Raspberry Pi 5 (PiSP):
    /// [`PixelFormat::Yu12`] whose chroma rows are padded to a multiple of 64 bytes and
    /// luma rows to twice that (so to a multiple of 128 bytes).
    RpicamI420Pi5,
}

impl PixelFormat {
    /// Every format this crate converts.
    pub const ALL: [PixelFormat; 12] = [
        Self::Yuyv,
        Self::Nv12,
        Self::Rgb24,
        Self::Mjpeg,
        Self::Yu12,
        Self::Yv12,
        Self::Nv21,
        Self::Uyvy,
        Self::Bgr24,
        Self::Grey,
        Self::RpicamI420,
        Self::RpicamI420Pi5,
    ];

    /// The V4L2 fourcc code of this format (the rpicam layouts are `YU12` bytes).
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Self::Yuyv => *b"YUYV",
            Self::Nv12 => *b"NV12",
            Self::Rgb24 => *b"RGB3",
            Self::Mjpeg => *b"MJPG",
            Self::Yu12 | Self::RpicamI420 | Self::RpicamI420Pi5 => *b"YU12",
            Self::Yv12 => *b"YV12",
            Self::Nv21 => *b"NV21",
            Self::Uyvy => *b"UYVY",
            Self::Bgr24 => *b"BGR3",
            Self::Grey => *b"GREY",
        }
    }

    /// The format with this V4L2 fourcc (`JPEG` is taken as MJPEG, as drivers use both).
    pub fn from_fourcc(code: [u8; 4]) -> Option<Self> {
        match &code {
            b"YUYV" => Some(Self::Yuyv),
            b"NV12" => Some(Self::Nv12),
            b"RGB3" => Some(Self::Rgb24),
            b"MJPG" | b"JPEG" => Some(Self::Mjpeg),
            b"YU12" => Some(Self::Yu12),
            b"YV12" => Some(Self::Yv12),
            b"NV21" => Some(Self::Nv21),
            b"UYVY" => Some(Self::Uyvy),
            b"BGR3" => Some(Self::Bgr24),
            b"GREY" => Some(Self::Grey),
            _ => None,
        }
    }

    /// Whether the bytes are compressed (their length says nothing about the size).
    pub fn is_compressed(self) -> bool {
        matches!(self, Self::Mjpeg)
    }

    /// Whether the bytes are R'G'B' (the colour encoding is then ignored).
    pub fn is_rgb(self) -> bool {
        matches!(self, Self::Rgb24 | Self::Bgr24)
    }

    /// Whether a row holds whole pixel pairs only (packed 4:2:2: YUYV, UYVY).
    pub fn needs_even_width(self) -> bool {
        matches!(self, Self::Yuyv | Self::Uyvy)
    }

    /// The smallest valid row stride in bytes of the first plane (0 for MJPEG). For the
    /// rpicam layouts it is the padded stride rpicam-vid writes.
    pub fn min_stride(self, width: u32) -> usize {
        let w = width as usize;
        match self {
            Self::Yuyv | Self::Uyvy => w * 2,
            Self::Nv12 | Self::Nv21 | Self::Yu12 | Self::Yv12 | Self::Grey => w,
            Self::Rgb24 | Self::Bgr24 => w * 3,
            Self::RpicamI420 => w.div_ceil(64).saturating_mul(64),
            Self::RpicamI420Pi5 => w.div_ceil(2).div_ceil(64).saturating_mul(128),
            Self::Mjpeg => 0,
        }
    }

    /// Bytes in one frame of this size laid out with [`PixelFormat::min_stride`]: tightly
    /// packed, or for the rpicam layouts padded as rpicam-vid writes them (`None` for
    /// MJPEG or on overflow).
    ///
    /// NV12, NV21, YU12 and YV12 with an odd dimension round the chroma planes up, as
    /// ffmpeg lays them out.
    pub fn packed_len(self, width: u32, height: u32) -> Option<usize> {
        let (w, h) = (width as usize, height as usize);
        match self {
            Self::Yuyv | Self::Uyvy => w.checked_mul(h)?.checked_mul(2),
            Self::Rgb24 | Self::Bgr24 => w.checked_mul(h)?.checked_mul(3),
            Self::Grey => w.checked_mul(h),
            Self::Nv12 | Self::Nv21 | Self::Yu12 | Self::Yv12 => {
                let chroma = w.div_ceil(2).checked_mul(2)?.checked_mul(h.div_ceil(2))?;
                w.checked_mul(h)?.checked_add(chroma)
            }
            Self::RpicamI420 | Self::RpicamI420Pi5 => {
                let stride = self.min_stride(width);
                let chroma = stride
                    .div_ceil(2)
                    .checked_mul(2)?
                    .checked_mul(h.div_ceil(2))?;
                stride.checked_mul(h)?.checked_add(chroma)
            }
            Self::Mjpeg => None,
        }
    }

    /// Parses a format's name (any case; V4L2 fourccs and ffmpeg's names work too):
    /// `yuyv`, `nv12`, `rgb24`, `mjpeg`, `yu12`/`i420`/`yuv420p`, `yv12`, `nv21`,
    /// `uyvy`, `bgr24`, `grey`/`gray`, `rpicam-i420`, `rpicam-i420-pi5`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "yuyv" | "yuyv422" | "yuy2" => Some(Self::Yuyv),
            "nv12" => Some(Self::Nv12),
            "rgb24" | "rgb" | "rgb3" => Some(Self::Rgb24),
            "mjpeg" | "mjpg" | "jpeg" => Some(Self::Mjpeg),
            "yu12" | "i420" | "yuv420p" | "yuv420" => Some(Self::Yu12),
            "yv12" => Some(Self::Yv12),
            "nv21" => Some(Self::Nv21),
            "uyvy" | "uyvy422" => Some(Self::Uyvy),
            "bgr24" | "bgr" | "bgr3" => Some(Self::Bgr24),
            "grey" | "gray" | "y8" => Some(Self::Grey),
            "rpicam-i420" => Some(Self::RpicamI420),
            "rpicam-i420-pi5" => Some(Self::RpicamI420Pi5),
            _ => None,
        }
    }
}

impl fmt::Display for PixelFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yuyv => "YUYV",
            Self::Nv12 => "NV12",
            Self::Rgb24 => "RGB24",
            Self::Mjpeg => "MJPEG",
            Self::Yu12 => "YU12",
            Self::Yv12 => "YV12",
            Self::Nv21 => "NV21",
            Self::Uyvy => "UYVY",
            Self::Bgr24 => "BGR24",
            Self::Grey => "GREY",
            Self::RpicamI420 => "I420 (rpicam-vid, Pi 0-4)",
            Self::RpicamI420Pi5 => "I420 (rpicam-vid, Pi 5)",
        })
    }
}

/// The Y'CbCr → R'G'B' matrix of a YUV frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Matrix {
    /// ITU-R BT.601 (SMPTE 170M): SD video, most USB webcams, JPEG.
    #[default]
    Bt601,
    /// ITU-R BT.709: HD video.
    Bt709,
}

impl Matrix {
    /// The luma weights `(Kr, Kb)` of this matrix.
    pub fn kr_kb(self) -> (f64, f64) {
        match self {
            Self::Bt601 => (0.299, 0.114),
            Self::Bt709 => (0.2126, 0.0722),
        }
    }
}

/// The quantization range of a YUV frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Range {
    /// Y in 16..=235 and chroma in 16..=240 ("TV", "MPEG"): what video normally carries.
    #[default]
    Limited,
    /// Y and chroma in 0..=255 ("PC", "JPEG").
    Full,
}

/// How a YUV frame's values map to RGB. Ignored for RGB24 and BGR24 (GREY uses only the
/// range); JPEG defines its own (BT.601,
/// full range), so MJPEG frames ignore it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ColorSpace {
    /// The Y'CbCr matrix.
    pub matrix: Matrix,
    /// The quantization range.
    pub range: Range,
}

impl ColorSpace {
    /// BT.601, limited range: the usual webcam YUYV.
    pub const BT601_LIMITED: Self = Self {
        matrix: Matrix::Bt601,
        range: Range::Limited,
    };
    /// BT.601, full range (JPEG's).
    pub const BT601_FULL: Self = Self {
        matrix: Matrix::Bt601,
        range: Range::Full,
    };
    /// BT.709, limited range: HD video.
    pub const BT709_LIMITED: Self = Self {
        matrix: Matrix::Bt709,
        range: Range::Limited,
    };
    /// BT.709, full range.
    pub const BT709_FULL: Self = Self {
        matrix: Matrix::Bt709,
        range: Range::Full,
    };
}

/// A frame whose bytes are borrowed (from a driver's mmap buffer, a reader's buffer…).
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from the start of one row of the first plane to the next; 0 means
    /// [`PixelFormat::min_stride`] (tightly packed; for the rpicam layouts, their padding).
    /// The chroma planes follow the Y plane (`height` rows) directly. For NV12/NV21 the
    /// chroma plane has the same stride, or `2 * ceil(width / 2)` if that is larger (odd
    /// widths). For YU12/YV12 each chroma plane (`ceil(height / 2)` rows) has the stride
    /// `ceil(stride / 2)`: V4L2's `bytesperline / 2` for single-planar `YU12`, and
    /// `ceil(width / 2)` for a tightly packed odd width. Ignored for MJPEG.
    pub stride: usize,
    /// The layout of `bytes`.
    pub format: PixelFormat,
    /// The colour encoding of YUV formats.
    pub color: ColorSpace,
    /// The frame's bytes; for MJPEG only the bytes used (a driver's `bytesused`).
    pub bytes: &'a [u8],
    /// The source's frame counter (a driver's sequence number; gaps mean lost frames).
    pub sequence: u64,
    /// When the frame was captured, on the source's clock (a driver's monotonic
    /// timestamp, or the time since the source was opened).
    pub timestamp: Duration,
}

impl FrameRef<'_> {
    /// The stride to use: `stride`, or the packed stride when it is 0.
    pub fn effective_stride(&self) -> usize {
        if self.stride == 0 {
            self.format.min_stride(self.width)
        } else {
            self.stride
        }
    }

    /// Copies the frame into an owned one.
    pub fn to_owned_frame(&self) -> Frame {
        let mut frame = Frame::default();
        frame.copy_from(self);
        frame
    }
}

/// A frame that owns its bytes. Its buffer is meant to be reused: [`Frame::copy_from`]
/// only allocates when a frame is larger than any before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row stride of the first plane, as in [`FrameRef::stride`].
    pub stride: usize,
    /// The layout of `bytes`.
    pub format: PixelFormat,
    /// The colour encoding of YUV formats.
    pub color: ColorSpace,
    /// The frame's bytes.
    pub bytes: Vec<u8>,
    /// The source's frame counter.
    pub sequence: u64,
    /// When the frame was captured, on the source's clock.
    pub timestamp: Duration,
}

impl Default for Frame {
    fn default() -> Self {
        Self {
            width: 0,
            height: 0,
            stride: 0,
            format: PixelFormat::Rgb24,
            color: ColorSpace::default(),
            bytes: Vec::new(),
            sequence: 0,
            timestamp: Duration::ZERO,
        }
    }
}

impl Frame {
    /// Borrows the frame.
    pub fn as_ref(&self) -> FrameRef<'_> {
        FrameRef {
            width: self.width,
            height: self.height,
            stride: self.stride,
            format: self.format,
            color: self.color,
            bytes: &self.bytes,
            sequence: self.sequence,
            timestamp: self.timestamp,
        }
    }

    /// Makes this frame a copy of `src`, reusing this frame's buffer.
    pub fn copy_from(&mut self, src: &FrameRef<'_>) {
        self.width = src.width;
        self.height = src.height;
        self.stride = src.stride;
        self.format = src.format;
        self.color = src.color;
        self.sequence = src.sequence;
        self.timestamp = src.timestamp;
        self.bytes.clear();
        self.bytes.extend_from_slice(src.bytes);
    }
}
