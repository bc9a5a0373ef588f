//! V4L2 cameras through the `v4l` crate (feature `v4l`): open, negotiate, mmap-stream.

use std::path::{Path, PathBuf};
use std::time::Duration;

use v4l::buffer::{Flags as BufferFlags, Type};
use v4l::capability::Flags as CapFlags;
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;
use v4l::video::capture::Parameters;
use v4l::video::Capture;
use v4l::{Device, Format, FourCC};

use super::negotiate::{
    choose_format, choose_interval, choose_size, color_from_v4l, fourcc_str, interval_fps,
    IntervalOffer, Negotiated, Request, SizeOffer,
};
use super::{FrameSource, SourceStats};
use crate::error::CaptureError;
use crate::frame::{FrameRef, PixelFormat};

/// How to open a camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraConfig {
    /// Format, size and rate wanted.
    pub request: Request,
    /// Driver buffers to stream with (the driver may give more or fewer).
    pub buffers: u32,
    /// How long to wait for one frame before [`CaptureError::Timeout`].
    pub timeout: Duration,
}

impl Default for CameraConfig {
    /// The default [`Request`], 4 buffers, a 2 s timeout.
    fn default() -> Self {
        Self {
            request: Request::default(),
            buffers: 4,
            timeout: Duration::from_secs(2),
        }
    }
}

/// One format a device offers, with its sizes and, per size, its intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatInfo {
    /// The fourcc.
    pub fourcc: [u8; 4],
    /// The driver's description.
    pub description: String,
    /// The format, if this crate converts it.
    pub format: Option<PixelFormat>,
    /// Sizes offered, each with the intervals offered at that size (discrete sizes only;
    /// stepwise ranges are listed without intervals).
    pub sizes: Vec<(SizeOffer, Vec<IntervalOffer>)>,
}

/// What a device is and offers.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// The driver (`uvcvideo`, `vivid`…).
    pub driver: String,
    /// The card name.
    pub card: String,
    /// The bus.
    pub bus: String,
    /// The capture formats.
    pub formats: Vec<FormatInfo>,
}

/// A V4L2 capture device streaming through mmap buffers.
pub struct V4lCamera {
    path: PathBuf,
    // Dropped after the stream (fields drop in declaration order): the stream's buffers
    // are unmapped and released while the device is still open.
    stream: Stream<'static>,
    device: Device,
    negotiated: Negotiated,
    timeout: Duration,
    stats: SourceStats,
    last_sequence: Option<u32>,
}

impl std::fmt::Debug for V4lCamera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4lCamera")
            .field("path", &self.path)
            .field("negotiated", &self.negotiated)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn io_err<'a>(
    path: &'a Path,
    op: &str,
    timeout: Duration,
) -> impl FnOnce(std::io::Error) -> CaptureError + 'a {
    let op = op.to_string();
    move |e| CaptureError::from_device_io(path, &op, e, timeout)
}

fn open_device(path: &Path) -> Result<Device, CaptureError> {
    if !path.exists() {
        return Err(CaptureError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let device = Device::with_path(path).map_err(io_err(path, "open", Duration::ZERO))?;
    let caps = device.query_caps().map_err(|e| {
        const ENOTTY: i32 = 25;
        if e.raw_os_error() == Some(ENOTTY) {
            CaptureError::NotACamera {
                path: path.to_path_buf(),
                reason: "not a V4L2 device (VIDIOC_QUERYCAP: ENOTTY)".into(),
            }
        } else {
            CaptureError::from_device_io(path, "VIDIOC_QUERYCAP", e, Duration::ZERO)
        }
    })?;
    let missing: Vec<&str> = [
        (CapFlags::VIDEO_CAPTURE, "video capture"),
        (CapFlags::STREAMING, "streaming"),
    ]
    .into_iter()
    .filter(|(flag, _)| !caps.capabilities.contains(*flag))
    .map(|(_, name)| name)
    .collect();
    if !missing.is_empty() {
        return Err(CaptureError::NotACamera {
            path: path.to_path_buf(),
            reason: format!(
                "{} ({}) lacks {}",
                caps.card,
                caps.driver,
                missing.join(" and ")
            ),
        });
    }
    Ok(device)
}

fn size_offers(device: &Device, fourcc: FourCC) -> Vec<SizeOffer> {
    let Ok(sizes) = device.enum_framesizes(fourcc) else {
        return Vec::new();
    };
    sizes
        .into_iter()
        .map(|s| match s.size {
            FrameSizeEnum::Discrete(d) => SizeOffer::Discrete {
                width: d.width,
                height: d.height,
            },
            FrameSizeEnum::Stepwise(s) => SizeOffer::Stepwise {
                min_width: s.min_width,
                max_width: s.max_width,
                step_width: s.step_width,
                min_height: s.min_height,
                max_height: s.max_height,
                step_height: s.step_height,
            },
        })
        .collect()
}

fn interval_offers(device: &Device, fourcc: FourCC, width: u32, height: u32) -> Vec<IntervalOffer> {
    let Ok(intervals) = device.enum_frameintervals(fourcc, width, height) else {
        return Vec::new();
    };
    intervals
        .into_iter()
        .map(|i| match i.interval {
            FrameIntervalEnum::Discrete(f) => IntervalOffer::Discrete {
                numerator: f.numerator,
                denominator: f.denominator,
            },
            FrameIntervalEnum::Stepwise(s) => IntervalOffer::Stepwise {
                min: (s.min.numerator, s.min.denominator),
                max: (s.max.numerator, s.max.denominator),
            },
        })
        .collect()
}

/// Lists what the device at `path` is and which formats, sizes and intervals it offers.
pub fn describe(path: impl AsRef<Path>) -> Result<DeviceInfo, CaptureError> {
    let path = path.as_ref();
    let device = open_device(path)?;
    let caps = device
        .query_caps()
        .map_err(io_err(path, "VIDIOC_QUERYCAP", Duration::ZERO))?;
    let descriptions =
        device
            .enum_formats()
            .map_err(io_err(path, "VIDIOC_ENUM_FMT", Duration::ZERO))?;
    let formats = descriptions
        .into_iter()
        .map(|d| {
            let sizes = size_offers(&device, d.fourcc)
                .into_iter()
                .map(|s| {
                    let intervals = match s {
                        SizeOffer::Discrete { width, height } => {
                            interval_offers(&device, d.fourcc, width, height)
                        }
                        SizeOffer::Stepwise { .. } => Vec::new(),
                    };
                    (s, intervals)
                })
                .collect();
            FormatInfo {
                fourcc: d.fourcc.repr,
                description: d.description,
                format: PixelFormat::from_fourcc(d.fourcc.repr),
                sizes,
            }
        })
        .collect();
    Ok(DeviceInfo {
        driver: caps.driver,
        card: caps.card,
        bus: caps.bus,
        formats,
    })
}

impl V4lCamera {
    /// Opens `path` (`/dev/videoN`, `/dev/v4l/by-id/…`), negotiates the format, size and
    /// rate, and maps the stream buffers; streaming starts with the first frame.
    pub fn open(path: impl AsRef<Path>, config: CameraConfig) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let device = open_device(path)?;
        let request = config.request;
        let offered: Vec<[u8; 4]> = device
            .enum_formats()
            .map_err(io_err(path, "VIDIOC_ENUM_FMT", Duration::ZERO))?
            .into_iter()
            .map(|d| d.fourcc.repr)
            .collect();
        let format = choose_format(&offered, request.format).map_err(|reason| {
            CaptureError::UnsupportedFormat {
                path: path.to_path_buf(),
                reason,
            }
        })?;
        let fourcc = FourCC::new(&format.fourcc());
        let (width, height) = choose_size(
            &size_offers(&device, fourcc),
            (request.width, request.height),
        )
        .unwrap_or((request.width, request.height));
        let chosen = device
            .set_format(&Format::new(width, height, fourcc))
            .map_err(io_err(path, "VIDIOC_S_FMT", Duration::ZERO))?;
        if chosen.fourcc != fourcc {
            return Err(CaptureError::UnsupportedFormat {
                path: path.to_path_buf(),
                reason: format!(
                    "asked for {format}, the driver set {}",
                    fourcc_str(chosen.fourcc.repr)
                ),
            });
        }
        let mut fps = device
            .params()
            .ok()
            .and_then(|p| interval_fps(p.interval.numerator, p.interval.denominator));
        if let Some(want) = request.fps {
            let offers = interval_offers(&device, fourcc, chosen.width, chosen.height);
            let (numerator, denominator) =
                choose_interval(&offers, want).unwrap_or((1000, (want * 1000.0).round() as u32));
            match device.set_params(&Parameters::new(v4l::Fraction::new(numerator, denominator))) {
                Ok(p) => fps = interval_fps(p.interval.numerator, p.interval.denominator),
                Err(e) => log::warn!("{}: setting {want} fps failed: {e}", path.display()),
            }
        }
        let color = color_from_v4l(
            format,
            chosen.colorspace as u32,
            0,
            chosen.quantization as u32,
        );
        let negotiated = Negotiated {
            requested: request,
            format,
            width: chosen.width,
            height: chosen.height,
            stride: chosen.stride as usize,
            size_image: chosen.size as usize,
            fps,
            color,
        };
        for line in negotiated.adjustments() {
            log::info!("{}: driver adjusted the request: {line}", path.display());
        }
        let mut stream = Stream::with_buffers(&device, Type::VideoCapture, config.buffers.max(2))
            .map_err(io_err(path, "VIDIOC_REQBUFS/mmap", Duration::ZERO))?;
        stream.set_timeout(config.timeout);
        log::info!("{}: streaming {negotiated}", path.display());
        Ok(Self {
            path: path.to_path_buf(),
            stream,
            device,
            negotiated,
            timeout: config.timeout,
            stats: SourceStats::default(),
            last_sequence: None,
        })
    }

    /// What the driver chose.
    pub fn negotiated(&self) -> &Negotiated {
        &self.negotiated
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open device (for controls).
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Frames lost between two driver sequence numbers (`u32`, wrapping).
pub fn sequence_gap(last: Option<u32>, now: u32) -> u64 {
    match last {
        Some(last) => u64::from(now.wrapping_sub(last).saturating_sub(1)),
        None => 0,
    }
}

impl FrameSource for V4lCamera {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        let (buf, meta) = CaptureStream::next(&mut self.stream).map_err(|e| {
            CaptureError::from_device_io(&self.path, "VIDIOC_DQBUF", e, self.timeout)
        })?;
        self.stats.dropped += sequence_gap(self.last_sequence, meta.sequence);
        self.last_sequence = Some(meta.sequence);
        let used = (meta.bytesused as usize).min(buf.len());
        let sequence = u64::from(meta.sequence);
        if meta.flags.contains(BufferFlags::ERROR) || used == 0 {
            self.stats.bad += 1;
            return Err(CaptureError::BadFrame {
                sequence,
                reason: if used == 0 {
                    "empty buffer".into()
                } else {
                    "driver flagged the buffer as corrupt".into()
                },
            });
        }
        self.stats.delivered += 1;
        let n = &self.negotiated;
        let timestamp = Duration::from_secs(meta.timestamp.sec.max(0) as u64)
            + Duration::from_micros(meta.timestamp.usec.clamp(0, 999_999) as u64);
        Ok(Some(FrameRef {
            width: n.width,
            height: n.height,
            stride: n.stride,
            format: n.format,
            color: n.color,
            bytes: &buf[..used],
            sequence,
            timestamp,
        }))
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_gaps_count_lost_frames() {
        assert_eq!(sequence_gap(None, 7), 0);
        assert_eq!(sequence_gap(Some(7), 8), 0);
        assert_eq!(sequence_gap(Some(7), 10), 2);
        assert_eq!(sequence_gap(Some(u32::MAX), 1), 1);
        assert_eq!(sequence_gap(Some(5), 5), 0);
    }

    #[test]
    fn missing_device_is_not_found() {
        let e = V4lCamera::open("/dev/video-does-not-exist", CameraConfig::default()).unwrap_err();
        assert!(matches!(e, CaptureError::NotFound { .. }), "{e}");
        assert_eq!(e.recovery(), crate::Recovery::Reopen);
        assert!(e.to_string().contains("/dev/video-does-not-exist"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_camera_is_refused() {
        for path in ["/dev/null", "Cargo.toml"] {
            let e = V4lCamera::open(path, CameraConfig::default()).unwrap_err();
            assert!(matches!(e, CaptureError::NotACamera { .. }), "{path}: {e}");
            assert_eq!(e.recovery(), crate::Recovery::Fatal);
            let e = describe(path).unwrap_err();
            assert!(e.to_string().contains("not a V4L2 device"), "{e}");
        }
    }
}
