//! Raw frames from any reader (stdin in the CLI: `--raw WxH --pix yuyv|nv12|rgb24`).

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
                "raw frames cannot be {format}: use yuyv, nv12 or rgb24"
            )));
        }
        if width == 0 || height == 0 {
            return Err(CaptureError::Config(format!(
                "raw frame size {width}x{height} has a zero side"
            )));
        }
        if format == PixelFormat::Yuyv && width % 2 == 1 {
            return Err(CaptureError::Config(format!(
                "raw {format} frames need an even width, not {width}"
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
            color: ColorSpace::BT601_LIMITED,
            buf: vec![0; len],
            sequence: 0,
            started: None,
            stats: SourceStats::default(),
            ended: false,
        })
    }

    /// Sets the colour encoding of YUV frames (default BT.601, limited range).
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
    fn bad_settings_are_refused() {
        let r = || Cursor::new(Vec::new());
        for (w, h, f) in [
            (0, 2, PixelFormat::Yuyv),
            (3, 2, PixelFormat::Yuyv),
            (2, 2, PixelFormat::Mjpeg),
            (100_000, 100_000, PixelFormat::Rgb24),
        ] {
            let e = RawFrames::new(r(), w, h, f).unwrap_err();
            assert!(matches!(e, CaptureError::Config(_)), "{e}");
        }
    }
}
