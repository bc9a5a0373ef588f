//! Frame capture for edgeclip: frame sources (V4L2 cameras, image files, raw frames on
//! a reader), conversion of their pixel formats to packed RGB8, and the newest-frame
//! hand-off between a capture thread and the consumer that runs the encoder.
//!
//! ```text
//!  V4lCamera (YUYV/NV12/RGB24/MJPEG,   ImageFiles   RawFrames<stdin>
//!   YU12/YV12/NV21/UYVY/BGR24/GREY)                  (also rpicam-vid's I420)
//!               \                          |             /
//!                `--- FrameSource::next_frame() -> FrameRef (borrowed bytes)
//!                                 |
//!            capture thread: Pump / pump() copies into a recycled Frame
//!                                 |
//!              mailbox (one slot, the newest frame wins, drops counted)
//!                                 |
//!            consumer: Converter::to_rgb8(frame, &mut rgb) -> encoder
//! ```
//!
//! # Example
//!
//! ```
//! use edgeclip_capture::{mailbox, pump, Converter, FrameSource, PixelFormat, RawFrames};
//! use std::io::Cursor;
//!
//! // Three 4x2 YUYV frames of mid grey, as another program would pipe them in.
//! let stdin = Cursor::new(vec![128u8; 4 * 2 * 2 * 3]);
//! let mut source = RawFrames::new(stdin, 4, 2, PixelFormat::Yuyv).unwrap();
//! let (tx, rx) = edgeclip_capture::mailbox();
//! let capture = std::thread::spawn(move || pump(&mut source, &tx));
//!
//! let converter = Converter::default();
//! let mut rgb = Vec::new();
//! while let Some(frame) = rx.recv() {
//!     let (w, h) = converter.to_rgb8(&frame.as_ref(), &mut rgb).unwrap();
//!     assert_eq!(rgb.len(), (w * h * 3) as usize);
//!     rx.recycle(frame); // its buffer goes back to the capture side
//! }
//! capture.join().unwrap().unwrap();
//! let stats = rx.stats();
//! assert_eq!(stats.published, 3);
//! assert_eq!(stats.received + stats.dropped, 3);
//! ```
//!
//! # Design choices
//!
//! - **A mailbox, not a queue.** A camera produces frames at its own rate; inference on
//!   an edge CPU is often slower. A queue between them either grows without bound or,
//!   when bounded, fills up and delivers frames that are seconds old — every result then
//!   describes the past. A one-slot mailbox where the producer overwrites an unread
//!   frame keeps latency at one frame, keeps memory constant, and counts exactly how
//!   many frames were skipped (reported to the user as dropped frames). Buffers travel
//!   back to the producer ([`Receiver::recycle`]), so steady state allocates nothing.
//! - **Pull, borrowed frames.** [`FrameSource::next_frame`] lends the source's own
//!   buffer (for V4L2 the mmap'ed driver buffer, cut to `bytesused`); the one copy is
//!   into a recycled [`Frame`] for the hand-off.
//! - **Conversion checks before it writes.** Sizes, strides and byte counts are
//!   checked against the frame's own bytes before the output buffer is touched, and
//!   JPEG headers against [`Limits`]; a bad frame is a [`ConvertError`], never a panic
//!   and never an allocation sized by an untrusted claim.
//! - **Colour as ffmpeg does it.** YUV → RGB uses the exact BT.601/BT.709 matrices for
//!   limited and full range with sample-and-hold chroma; the tests compare with frames
//!   that ffmpeg converted (`tests/fixtures/capture/`) to ±2 per channel (RGB24, BGR24
//!   and GREY exactly).
//! - **Raspberry Pi cameras through rpicam-vid.** `rpicam-vid --codec yuv420 -o -`
//!   writes whole ISP buffers, rows padded; [`PixelFormat::RpicamI420`] (Pi 0-4) and
//!   [`PixelFormat::RpicamI420Pi5`] read them as written (see [`source::raw`]).
//! - **Errors say what to do.** [`CaptureError::recovery`] tells a caller to skip a
//!   frame, retry, reopen the device after a back-off (ENODEV, EIO, not plugged in) or
//!   give up (not a camera, a format it refuses).
//! - **One capture loop.** [`Pump`] is the loop every consumer runs, with one policy
//!   for those errors (a broken frame is counted and skipped, a timeout is retried on
//!   the same handle, the rest go back to the caller), a stop flag, an optional pace
//!   and counters other threads can read; what happens to a frame is the
//!   [`FrameSink`]'s business (the mailbox, or a server's converting slot).
//! - **V4L2 is a feature.** The `v4l` feature (on by default) needs libclang at build
//!   time (the `v4l` crate runs bindgen); without it everything else still builds.
//!   Format negotiation is pure functions in [`source::negotiate`], tested without a
//!   device.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod convert;
pub mod error;
pub mod frame;
pub mod mailbox;
pub mod source;

pub use convert::{to_rgb8, Converter, Limits};
pub use error::{CaptureError, CaptureErrorKind, ConvertError, Recovery};
pub use frame::{ColorSpace, Frame, FrameRef, Matrix, PixelFormat, Range};
pub use mailbox::{
    mailbox, mailbox_with_spares, pump, wait_unless_stopped, Delivery, FrameSink, MailboxStats,
    Pump, PumpCounters, PumpEnd, PumpStats, Receiver, RecvError, Sender,
};
pub use source::files::ImageFiles;
pub use source::negotiate::{Negotiated, Request};
pub use source::raw::RawFrames;
pub use source::reconnect::{Backoff, CameraEvent, Reconnecting};
#[cfg(feature = "v4l")]
pub use source::v4l_camera::{describe, CameraConfig, V4lCamera};
pub use source::{parse_size, FrameSource, SourceStats};
