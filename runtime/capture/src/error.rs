//! Error types: one for converting a frame, one for pulling frames from a source;
//! and [`CaptureErrorKind`], the class of every error of the crate (the mailbox's
//! [`RecvError`] included), which callers act on and JSON records carry.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::frame::PixelFormat;
use crate::mailbox::RecvError;

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

/// The class of a capture error: what failed, independent of the message.
///
/// Where [`Recovery`] says what to do next in the capture loop, the kind says whose
/// fault it is to someone reading a report: the camera, one frame, the settings,
/// the caller's image file, or the operating system.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// The operating system refused an operation, or a file or device node named
    /// does not exist.
    Io,
    /// An image file the caller named is not a readable image.
    InvalidInput,
    /// The source's settings cannot work: a size that is not `WIDTHxHEIGHT`, a raw
    /// frame size that overflows, a glob that is malformed or matches no image.
    Config,
    /// The camera cannot be used: not a V4L2 capture device, no format the caller
    /// asked for (or that this crate converts), gone (unplugged), or the capture
    /// side has stopped.
    CameraUnavailable,
    /// A camera that is there failed while streaming: a device I/O error (EIO), or
    /// no frame within the timeout.
    Camera,
    /// One frame is unusable (corrupt, truncated, of the wrong size, flagged broken
    /// by the driver); the frames after it may be fine.
    Frame,
}

impl CaptureErrorKind {
    /// The kind as written in JSON records: `io`, `invalid_input`, `config`,
    /// `camera_unavailable`, `camera`, `frame`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureErrorKind::Io => "io",
            CaptureErrorKind::InvalidInput => "invalid_input",
            CaptureErrorKind::Config => "config",
            CaptureErrorKind::CameraUnavailable => "camera_unavailable",
            CaptureErrorKind::Camera => "camera",
            CaptureErrorKind::Frame => "frame",
        }
    }
}

impl fmt::Display for CaptureErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CaptureError {
    /// What class of failure this is.
    pub fn kind(&self) -> CaptureErrorKind {
        match self {
            // Raised for files as well as device nodes: a missing path is the
            // operating system's answer, whatever was to be opened there.
            Self::NotFound { .. } | Self::Io { .. } => CaptureErrorKind::Io,
            Self::DeviceLost { .. } | Self::NotACamera { .. } | Self::UnsupportedFormat { .. } => {
                CaptureErrorKind::CameraUnavailable
            }
            Self::DeviceIo { .. } | Self::Timeout { .. } => CaptureErrorKind::Camera,
            Self::TruncatedFrame { .. } | Self::BadFrame { .. } => CaptureErrorKind::Frame,
            Self::BadImage { .. } => CaptureErrorKind::InvalidInput,
            Self::Config(_) => CaptureErrorKind::Config,
            Self::Convert(e) => e.kind(),
        }
    }
}

impl ConvertError {
    /// What class of failure this is: always one unusable frame.
    pub fn kind(&self) -> CaptureErrorKind {
        match self {
            Self::ZeroSize { .. }
            | Self::TooLarge { .. }
            | Self::OddWidth { .. }
            | Self::StrideTooSmall { .. }
            | Self::BufferTooShort { .. }
            | Self::NotJpeg { .. }
            | Self::TruncatedJpeg { .. }
            | Self::CorruptJpeg { .. }
            | Self::JpegSizeMismatch { .. } => CaptureErrorKind::Frame,
        }
    }
}

impl RecvError {
    /// What class of failure this is, seen from the consumer's side of the mailbox:
    /// nothing in time is the camera failing to deliver; a closed mailbox is a
    /// capture side that stopped for good.
    pub fn kind(&self) -> CaptureErrorKind {
        match self {
            RecvError::Timeout => CaptureErrorKind::Camera,
            RecvError::Closed => CaptureErrorKind::CameraUnavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(e: CaptureError) -> &'static str {
        e.kind().as_str()
    }

    #[test]
    fn kinds_tell_the_camera_from_a_frame_the_settings_and_the_os() {
        let path = PathBuf::from("/dev/video0");
        let os = || io::Error::from(io::ErrorKind::Other);
        assert_eq!(kind_of(CaptureError::NotFound { path: path.clone() }), "io");
        assert_eq!(
            kind_of(CaptureError::Io {
                context: "reading".into(),
                source: os(),
            }),
            "io"
        );
        for unavailable in [
            CaptureError::DeviceLost {
                path: path.clone(),
                source: os(),
            },
            CaptureError::NotACamera {
                path: path.clone(),
                reason: "ENOTTY".into(),
            },
            CaptureError::UnsupportedFormat {
                path: path.clone(),
                reason: "no MJPG".into(),
            },
        ] {
            assert_eq!(kind_of(unavailable), "camera_unavailable");
        }
        assert_eq!(
            kind_of(CaptureError::DeviceIo {
                path: path.clone(),
                source: os(),
            }),
            "camera"
        );
        assert_eq!(
            kind_of(CaptureError::Timeout {
                path: path.clone(),
                after: Duration::from_secs(2),
            }),
            "camera"
        );
        assert_eq!(
            kind_of(CaptureError::TruncatedFrame {
                sequence: 3,
                expected: 12,
                got: 5,
            }),
            "frame"
        );
        assert_eq!(
            kind_of(CaptureError::BadFrame {
                sequence: 3,
                reason: "empty".into(),
            }),
            "frame"
        );
        assert_eq!(
            kind_of(CaptureError::BadImage {
                path: "a.png".into(),
                message: "not a PNG".into(),
            }),
            "invalid_input"
        );
        assert_eq!(kind_of(crate::parse_size("640").unwrap_err()), "config");
        assert_eq!(
            kind_of(CaptureError::from(ConvertError::NotJpeg { len: 4 })),
            "frame"
        );
    }

    #[test]
    fn device_errors_keep_their_kind_through_errno_mapping() {
        const ENODEV: i32 = 19;
        const EIO: i32 = 5;
        let kind = |errno| {
            CaptureError::from_device_io(
                "/dev/video0",
                "VIDIOC_DQBUF",
                io::Error::from_raw_os_error(errno),
                Duration::from_secs(1),
            )
            .kind()
        };
        assert_eq!(kind(ENODEV), CaptureErrorKind::CameraUnavailable);
        assert_eq!(kind(EIO), CaptureErrorKind::Camera);
    }

    #[test]
    fn every_conversion_error_is_one_bad_frame() {
        let f = PixelFormat::Yuyv;
        let errors = [
            ConvertError::ZeroSize {
                format: f,
                width: 0,
                height: 2,
            },
            ConvertError::TooLarge {
                format: f,
                width: 1 << 20,
                height: 1 << 20,
                max_width: 8192,
                max_height: 8192,
                max_pixels: 1 << 26,
            },
            ConvertError::OddWidth {
                format: f,
                width: 3,
            },
            ConvertError::StrideTooSmall {
                format: f,
                width: 4,
                stride: 2,
                min: 8,
            },
            ConvertError::BufferTooShort {
                format: f,
                width: 4,
                height: 2,
                stride: 8,
                needed: 16,
                got: 3,
            },
            ConvertError::NotJpeg { len: 4 },
            ConvertError::TruncatedJpeg { len: 4 },
            ConvertError::CorruptJpeg {
                len: 4,
                message: "bad Huffman table".into(),
            },
            ConvertError::JpegSizeMismatch {
                width: 4,
                height: 2,
                jpeg_width: 8,
                jpeg_height: 2,
            },
        ];
        for e in errors {
            assert_eq!(e.kind(), CaptureErrorKind::Frame, "{e}");
        }
    }

    #[test]
    fn the_mailbox_reports_a_silent_or_stopped_capture_side() {
        assert_eq!(RecvError::Timeout.kind().as_str(), "camera");
        assert_eq!(RecvError::Closed.kind().as_str(), "camera_unavailable");
    }
}
