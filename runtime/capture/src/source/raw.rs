//! Raw frames from any reader (stdin in the CLI: `--raw WxH --pix yuyv|nv12|i420|…`).
//!
//! Frames are tightly packed ([`PixelFormat::packed_len`]), except the two rpicam
//! layouts, which are read exactly as `rpicam-vid --codec yuv420 -o -` writes them: its
//! null encoder hands each libcamera buffer over whole (`encoder/null_encoder.cpp`,
//! `EncodeBuffer` queues `{ mem, size }` of the buffer's one mmap'ed span, `core/
//! rpicam_encoder.hpp`), and that buffer is the ISP's single-planar YUV420 with padded
//! rows: Y rows of `stride` bytes, then U and V rows of `stride / 2`, no padding between
//! planes, `stride * height * 3 / 2` bytes. The stride is the ISP's: on a Pi up to the 4
//! the bcm2835-isp driver aligns YUV420 `bytesperline` to 64 bytes (raspberrypi/linux
//! #4419; rpicam-apps #151: 4056x3040 frames of 4096x3040x1.5 bytes, #188: 780 wide →
//! 832); on a Pi 5 libcamera's PiSP handler aligns the chroma stride to 64 and doubles
//! it for Y (`computeOptimalStride` in `pipeline/rpi/pisp/pisp.cpp`). rpicam-vid asks
//! for libcamera's sYCC colour space (BT.601, full range) with `--codec yuv420`
//! (`get_colourspace_flags` in `apps/rpicam_vid.cpp`), which is the rpicam layouts'
//! default colour here.

use std::io::{ErrorKind, Read};
use std::time::Instant;

use super::{FrameSource, SourceStats};
use crate::convert::Limits;
use crate::error::CaptureError;
use crate::frame::{ColorSpace, FrameRef, PixelFormat};

/// Reads tightly packed frames of one size and format back to back from a reader,
/// exactly one frame's bytes at a time. A short final read is a
/// [`CaptureError::TruncatedFrame`]; the end of the stream on a frame boundary is the end.
#[derive(Debug)]
pub struct RawFrames<R> {
    reader: R,
    width: u32,
    height: u32,
    format: PixelFormat,
    color: ColorSpace,
    buf: Vec<u8>,
    sequence: u64,
    started: Option<Instant>,
    stats: SourceStats,
    ended: bool,
}

impl<R: Read> RawFrames<R> {
    /// A source of `width`x`height` frames in `format` (not MJPEG: a raw stream has no
    /// frame boundaries for it), refused when the size exceeds the default [`Limits`].
    pub fn new(
        reader: R,
        width: u32,
        height: u32,
        format: PixelFormat,
    ) -> Result<Self, CaptureError> {
        Self::with_limits(reader, width, height, format, Limits::default())
    }

    /// As [`RawFrames::new`], with explicit size limits.
    pub fn with_limits(
        reader: R,
        width: u32,
        height: u32,
        format: PixelFormat,
        limits: Limits,
    ) -> Result<Self, CaptureError> {
        if format.is_compressed() {
            return Err(CaptureError::Config(format!(
                "raw frames cannot be {format}: use an uncompressed format (yuyv, nv12, \
                 i420, rgb24, ...)"
            )));
        }
        if width == 0 || height == 0 {
            return Err(CaptureError::Config(format!(
                "raw frame size {width}x{height} has a zero side"
            )));
        }
        if format.needs_even_width() && width % 2 == 1 {
            return Err(CaptureError::Config(format!(
                "raw {format} frames need an even width, not {width}"
            )));
        }
        let rpicam = matches!(format, PixelFormat::RpicamI420 | PixelFormat::RpicamI420Pi5);
        if rpicam && (width % 2 == 1 || height % 2 == 1) {
            return Err(CaptureError::Config(format!(
                "rpicam-vid writes YUV420 frames of even sizes only, not {width}x{height}"
            )));
        }
        if width > limits.max_width
            || height > limits.max_height
            || u64::from(width) * u64::from(height) > limits.max_pixels
        {
            return Err(CaptureError::Config(format!(
                "raw frame size {width}x{height} exceeds the limit of {}x{} and {} pixels",
                limits.max_width, limits.max_height, limits.max_pixels
            )));
        }
        let len = format.packed_len(width, height).ok_or_else(|| {
            CaptureError::Config(format!("raw frame size {width}x{height} overflows"))
        })?;
        Ok(Self {
            reader,
            width,
            height,
            format,
            color: if rpicam {
                ColorSpace::BT601_FULL
            } else {
                ColorSpace::BT601_LIMITED
            },
            buf: vec![0; len],
            sequence: 0,
            started: None,
            stats: SourceStats::default(),
            ended: false,
        })
    }

    /// Sets the colour encoding of YUV frames (default BT.601, limited range; for the
    /// rpicam layouts BT.601 full range, what rpicam-vid asks libcamera for).
    pub fn with_color(mut self, color: ColorSpace) -> Self {
        self.color = color;
        self
    }

    /// Bytes in one frame.
    pub fn frame_len(&self) -> usize {
        self.buf.len()
    }
}

impl<R: Read> FrameSource for RawFrames<R> {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        if self.ended {
            return Ok(None);
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        let mut got = 0;
        while got < self.buf.len() {
            match self.reader.read(&mut self.buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(source) => {
                    self.ended = true;
                    return Err(CaptureError::Io {
                        context: "reading raw frames".into(),
                        source,
                    });
                }
            }
        }
        let sequence = self.sequence;
        if got < self.buf.len() {
            self.ended = true;
            if got == 0 {
                return Ok(None);
            }
            self.stats.bad += 1;
            log::warn!(
                "raw frame {sequence}: stream ended after {got} of {} bytes",
                self.buf.len()
            );
            return Err(CaptureError::TruncatedFrame {
                sequence,
                expected: self.buf.len(),
                got,
            });
        }
        self.sequence += 1;
        self.stats.delivered += 1;
        Ok(Some(FrameRef {
            width: self.width,
            height: self.height,
            stride: 0,
            format: self.format,
            color: self.color,
            bytes: &self.buf,
            sequence,
            timestamp: started.elapsed(),
        }))
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A reader that hands out at most `chunk` bytes per read and is interrupted once.
    struct Dribble {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        interrupted: bool,
    }

    impl Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.chunk).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn whole_frames_then_end() {
        let data: Vec<u8> = (0..4 * 2 * 2 * 3).map(|i| i as u8).collect();
        let reader = Dribble {
            data: data.clone(),
            pos: 0,
            chunk: 5,
            interrupted: false,
        };
        let mut src = RawFrames::new(reader, 4, 2, PixelFormat::Yuyv).unwrap();
        assert_eq!(src.frame_len(), 16);
        for i in 0..3u64 {
            let f = src.next_frame().unwrap().unwrap();
            assert_eq!(
                (f.sequence, f.width, f.height, f.format),
                (i, 4, 2, PixelFormat::Yuyv)
            );
            assert_eq!(f.bytes, &data[i as usize * 16..(i as usize + 1) * 16]);
        }
        // 48 bytes = 3 frames exactly: then the end, and it stays the end.
        assert!(src.next_frame().unwrap().is_none());
        assert!(src.next_frame().unwrap().is_none());
        assert_eq!(
            src.stats(),
            SourceStats {
                delivered: 3,
                dropped: 0,
                bad: 0
            }
        );
    }

    #[test]
    fn short_final_read_is_a_truncated_frame() {
        let mut src =
            RawFrames::new(Cursor::new(vec![7u8; 12 * 2 + 5]), 2, 2, PixelFormat::Rgb24).unwrap();
        assert!(src.next_frame().unwrap().is_some());
        assert!(src.next_frame().unwrap().is_some());
        let e = src.next_frame().unwrap_err();
        assert!(
            matches!(
                e,
                CaptureError::TruncatedFrame {
                    sequence: 2,
                    expected: 12,
                    got: 5
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("got 5 of 12 bytes"), "{e}");
        assert_eq!(e.recovery(), crate::Recovery::Skip);
        assert!(src.next_frame().unwrap().is_none());
        assert_eq!(src.stats().bad, 1);
    }

    #[test]
    fn nv12_odd_sizes_use_rounded_up_chroma() {
        let src = RawFrames::new(Cursor::new(Vec::new()), 63, 45, PixelFormat::Nv12).unwrap();
        assert_eq!(src.frame_len(), 63 * 45 + 64 * 23);
    }

    #[test]
    fn new_formats_have_their_frame_sizes() {
        let len = |w, h, f| {
            RawFrames::new(Cursor::new(Vec::new()), w, h, f)
                .unwrap()
                .frame_len()
        };
        assert_eq!(len(63, 45, PixelFormat::Yu12), 63 * 45 + 2 * 32 * 23);
        assert_eq!(len(63, 45, PixelFormat::Yv12), 63 * 45 + 2 * 32 * 23);
        assert_eq!(len(63, 45, PixelFormat::Nv21), 63 * 45 + 64 * 23);
        assert_eq!(len(64, 45, PixelFormat::Uyvy), 64 * 45 * 2);
        assert_eq!(len(63, 45, PixelFormat::Bgr24), 63 * 45 * 3);
        assert_eq!(len(63, 45, PixelFormat::Grey), 63 * 45);
        // rpicam-vid: rows padded (Pi 0-4: Y to 64 bytes; Pi 5: chroma to 64, Y to 128).
        assert_eq!(len(1536, 864, PixelFormat::RpicamI420), 1536 * 864 * 3 / 2);
        assert_eq!(len(640, 480, PixelFormat::RpicamI420), 640 * 480 * 3 / 2);
        assert_eq!(len(1000, 750, PixelFormat::RpicamI420), 1024 * 750 * 3 / 2);
        assert_eq!(len(780, 360, PixelFormat::RpicamI420), 832 * 360 * 3 / 2);
        assert_eq!(len(4056, 3040, PixelFormat::RpicamI420), 18_677_760);
        assert_eq!(len(780, 360, PixelFormat::RpicamI420Pi5), 896 * 360 * 3 / 2);
        assert_eq!(
            len(1000, 750, PixelFormat::RpicamI420Pi5),
            1024 * 750 * 3 / 2
        );
        let src = RawFrames::new(Cursor::new(Vec::new()), 64, 48, PixelFormat::RpicamI420);
        assert_eq!(src.unwrap().color, ColorSpace::BT601_FULL);
    }

    #[test]
    fn bad_settings_are_refused() {
        let r = || Cursor::new(Vec::new());
        for (w, h, f) in [
            (0, 2, PixelFormat::Yuyv),
            (3, 2, PixelFormat::Yuyv),
            (3, 2, PixelFormat::Uyvy),
            (3, 2, PixelFormat::RpicamI420),
            (4, 3, PixelFormat::RpicamI420Pi5),
            (2, 2, PixelFormat::Mjpeg),
            (100_000, 100_000, PixelFormat::Rgb24),
        ] {
            let e = RawFrames::new(r(), w, h, f).unwrap_err();
            assert!(matches!(e, CaptureError::Config(_)), "{e}");
        }
    }
}
