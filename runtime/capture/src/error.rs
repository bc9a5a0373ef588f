//! Error types: one for converting a frame, one for pulling frames from a source.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::frame::PixelFormat;

/// Why a frame could not be converted to RGB8. A bad frame is an error value, never a
/// panic; the caller counts it and goes on with the next frame.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// Width or height is zero.
    #[error("{format} frame has a zero dimension ({width}x{height})")]
    ZeroSize {
        /// The frame's format.
        format: PixelFormat,
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
    },
    /// The frame is larger than the converter's limits allow.
    #[error("{format} frame of {width}x{height} exceeds the limit of {max_width}x{max_height} and {max_pixels} pixels")]
    TooLarge {
        /// The frame's format.
        format: PixelFormat,
        /// Claimed width.
        width: u64,
        /// Claimed height.
        height: u64,
        /// Largest width allowed.
        max_width: u32,
        /// Largest height allowed.
        max_height: u32,
        /// Largest pixel count allowed.
        max_pixels: u64,
    },
    /// YUYV packs two pixels per 4 bytes: its width must be even.
    #[error("{format} frame width {width} is odd; {format} needs an even width")]
    OddWidth {
        /// The frame's format.
        format: PixelFormat,
        /// Claimed width.
        width: u32,
    },
    /// The row stride is shorter than one row of pixels.
    #[error(
        "{format} frame of width {width} has a stride of {stride} bytes, below the minimum {min}"
    )]
    StrideTooSmall {
        /// The frame's format.
        format: PixelFormat,
        /// Claimed width.
        width: u32,
        /// Claimed stride.
        stride: usize,
        /// Smallest stride for this width.
        min: usize,
    },
    /// The buffer holds fewer bytes than the claimed size and stride need.
    #[error(
        "{format} frame of {width}x{height} (stride {stride}) needs {needed} bytes, got {got}"
    )]
    BufferTooShort {
        /// The frame's format.
        format: PixelFormat,
        /// Claimed width.
        width: u32,
        /// Claimed height.
        height: u32,
        /// Stride used.
        stride: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// An MJPEG frame that does not start with a JPEG start-of-image marker.
    #[error("MJPEG frame of {len} bytes is not a JPEG (no start-of-image marker)")]
    NotJpeg {
        /// Bytes in the frame.
        len: usize,
    },
    /// An MJPEG frame cut short: no end-of-image marker after its data.
    #[error("MJPEG frame of {len} bytes is truncated (no end-of-image marker)")]
    TruncatedJpeg {
        /// Bytes in the frame.
        len: usize,
    },
    /// The JPEG decoder refused the frame.
    #[error("MJPEG frame of {len} bytes is corrupt: {message}")]
    CorruptJpeg {
        /// Bytes in the frame.
        len: usize,
        /// The decoder's message.
        message: String,
    },
    /// The JPEG's own size differs from the size negotiated for the stream.
    #[error("MJPEG frame is {jpeg_width}x{jpeg_height} but the stream is {width}x{height}")]
    JpegSizeMismatch {
        /// The stream's width.
        width: u32,
        /// The stream's height.
        height: u32,
        /// The JPEG header's width.
        jpeg_width: usize,
        /// The JPEG header's height.
        jpeg_height: usize,
    },
}

/// What a caller should do after a [`CaptureError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Drop this frame and pull the next one (a bad frame).
    Skip,
    /// Try again on the same handle (a timeout).
    Retry,
    /// Close the source, back off, open it again (device gone, I/O error, not there yet).
    Reopen,
    /// Retrying will not help (a format the device refuses, not a camera, bad settings).
    Fatal,
}

/// Why a source could not deliver a frame.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The device node or file does not exist (yet): a camera not plugged in.
    #[error("{}: no such device or file", path.display())]
    NotFound {
        /// What was opened.
        path: PathBuf,
    },
    /// The device went away (ENODEV): unplugged, or its driver unloaded.
    #[error("{}: device lost (ENODEV): {source}", path.display())]
    DeviceLost {
        /// The device.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A fatal I/O error on the device (EIO); reopen it.
    #[error("{}: device I/O error (EIO): {source}", path.display())]
    DeviceIo {
        /// The device.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// No frame arrived within the stream timeout.
    #[error("{}: no frame within {:?}", path.display(), after)]
    Timeout {
        /// The device.
        path: PathBuf,
        /// The timeout that passed.
        after: Duration,
    },
    /// The device exists but is not a video capture device with streaming.
    #[error("{}: not a video capture device: {reason}", path.display())]
    NotACamera {
        /// The device.
        path: PathBuf,
        /// What it lacks.
        reason: String,
    },
    /// The device offers no format this crate converts, or none the caller asked for.
    #[error("{}: unsupported format: {reason}", path.display())]
    UnsupportedFormat {
        /// The device.
        path: PathBuf,
        /// What was asked and what the device offers.
        reason: String,
    },
    /// Any other I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What failed (a path and an operation).
        context: String,
        /// The OS error.
        source: io::Error,
    },
    /// A raw stream ended in the middle of a frame.
    #[error(
        "truncated frame {sequence}: got {got} of {expected} bytes before the end of the stream"
    )]
    TruncatedFrame {
        /// The frame's sequence number.
        sequence: u64,
        /// Bytes one frame needs.
        expected: usize,
        /// Bytes read.
        got: usize,
    },
    /// The device delivered a frame it flagged as broken, or an empty one.
    #[error("bad frame {sequence}: {reason}")]
    BadFrame {
        /// The driver's sequence number.
        sequence: u64,
        /// What was wrong.
        reason: String,
    },
    /// An image file could not be read or decoded.
    #[error("{}: {message}", path.display())]
    BadImage {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A source was configured with settings that cannot work.
    #[error("invalid source settings: {0}")]
    Config(String),
    /// A frame could not be converted.
    #[error(transparent)]
    Convert(#[from] ConvertError),
}

impl CaptureError {
    /// What a caller should do next.
    pub fn recovery(&self) -> Recovery {
        match self {
            Self::NotFound { .. } | Self::DeviceLost { .. } | Self::DeviceIo { .. } => {
                Recovery::Reopen
            }
            Self::Io { source, .. } => match source.kind() {
                io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => Recovery::Retry,
                _ => Recovery::Reopen,
            },
            Self::Timeout { .. } => Recovery::Retry,
            Self::TruncatedFrame { .. }
            | Self::BadFrame { .. }
            | Self::BadImage { .. }
            | Self::Convert(_) => Recovery::Skip,
            Self::NotACamera { .. } | Self::UnsupportedFormat { .. } | Self::Config(_) => {
                Recovery::Fatal
            }
        }
    }

    /// Maps an I/O error on a device to the variant a caller acts on: ENODEV → lost,
    /// EIO → I/O error, ENOENT → not found, a timed-out wait → timeout, the rest → `Io`.
    pub fn from_device_io(
        path: impl Into<PathBuf>,
        op: &str,
        err: io::Error,
        timeout: Duration,
    ) -> Self {
        const ENOENT: i32 = 2;
        const EIO: i32 = 5;
        const ENXIO: i32 = 6;
        const ENODEV: i32 = 19;
        let path = path.into();
        match err.raw_os_error() {
            Some(ENODEV) | Some(ENXIO) => Self::DeviceLost { path, source: err },
            Some(EIO) => Self::DeviceIo { path, source: err },
            Some(ENOENT) => Self::NotFound { path },
            _ if err.kind() == io::ErrorKind::TimedOut => Self::Timeout {
                path,
                after: timeout,
            },
            _ if err.kind() == io::ErrorKind::NotFound => Self::NotFound { path },
            _ => Self::Io {
                context: format!("{}: {op}", path.display()),
                source: err,
            },
        }
    }
}
