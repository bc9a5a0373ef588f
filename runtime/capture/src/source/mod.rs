//! Frame sources behind one small trait: image files, raw frames from a reader and
//! (feature `v4l`) V4L2 cameras.

use crate::error::CaptureError;
use crate::frame::FrameRef;

pub mod files;
pub mod negotiate;
pub mod raw;
pub mod reconnect;
#[cfg(feature = "v4l")]
pub mod v4l_camera;

/// Counters a source keeps about what it delivered and what it lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Frames returned by [`FrameSource::next_frame`].
    pub delivered: u64,
    /// Frames the source knows it lost before they reached us (gaps in a driver's
    /// sequence numbers: the driver had no free buffer because we were slow).
    pub dropped: u64,
    /// Frames that arrived broken (flagged by the driver, truncated, undecodable).
    pub bad: u64,
}

/// Something that produces frames, one at a time, newest first: the caller pulls when it
/// is ready, so a source never queues frames on its own beyond what its device buffers.
pub trait FrameSource {
    /// The next frame, borrowed from the source's own buffer until the next call;
    /// `Ok(None)` at the end of a finite source. An error says what went wrong and,
    /// through [`CaptureError::recovery`], what to do next.
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError>;

    /// What was delivered, lost and broken so far.
    fn stats(&self) -> SourceStats;
}

impl<S: FrameSource + ?Sized> FrameSource for Box<S> {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        (**self).next_frame()
    }
    fn stats(&self) -> SourceStats {
        (**self).stats()
    }
}

/// Parses a `WIDTHxHEIGHT` size such as `640x480`.
pub fn parse_size(text: &str) -> Result<(u32, u32), CaptureError> {
    let bad = || CaptureError::Config(format!("size {text:?} is not WIDTHxHEIGHT (e.g. 640x480)"));
    let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if w == 0 || h == 0 {
        return Err(bad());
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("640x480").unwrap(), (640, 480));
        assert_eq!(parse_size(" 62X46 ").unwrap(), (62, 46));
        for bad in ["640", "0x480", "x", "-1x2", "640x480x3", ""] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.to_string().contains("WIDTHxHEIGHT"), "{bad}: {e}");
        }
    }
}
