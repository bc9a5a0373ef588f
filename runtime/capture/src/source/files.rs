//! Image files replayed as frames: one file, a directory (sorted by name) or a glob.

use std::io::{Cursor, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use image::{ColorType, ImageDecoder, ImageReader};

use super::{FrameSource, SourceStats};
use crate::convert::Limits;
use crate::error::CaptureError;
use crate::frame::{ColorSpace, FrameRef, PixelFormat};

/// File extensions a directory listing picks up (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// The largest image file read: a 16-Mpixel PNG of noise is about 48 MiB.
const IMAGE_FILE_LIMIT: edgeclip_io::Limit = edgeclip_io::Limit::new("an image file", 64 << 20);

/// Replays image files as RGB24 frames, in order, at a given rate or as fast as they
/// decode, optionally looping. A file that fails to decode, is a truncated JPEG, or
/// is gone is an error for that frame ([`crate::Recovery::Skip`]); the next call
/// moves on to the next file. A read that fails for the machine's sake (out of
/// descriptors, EIO) is a [`CaptureError::Io`] and the next call reads the same
/// file again.
#[derive(Debug)]
pub struct ImageFiles {
    paths: Vec<PathBuf>,
    next: usize,
    interval: Option<Duration>,
    looped: bool,
    limits: Limits,
    file: Vec<u8>,
    decoded: Vec<u8>,
    rgb: Vec<u8>,
    size: (u32, u32),
    sequence: u64,
    started: Option<Instant>,
    stats: SourceStats,
    accept_truncated: bool,
}

impl ImageFiles {
    /// Resolves `spec`: an existing file, an existing directory (its image files,
    /// sorted by name), or a glob pattern (its matches, sorted). Nothing found is an error.
    pub fn open(spec: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let spec = spec.as_ref();
        let paths = if spec.is_dir() {
            list_dir(spec)?
        } else if spec.is_file() {
            vec![spec.to_path_buf()]
        } else {
            let text = spec.to_string_lossy();
            if !text.contains(['*', '?', '[']) {
                return Err(CaptureError::NotFound {
                    path: spec.to_path_buf(),
                });
            }
            let pattern = glob::glob(&text)
                .map_err(|e| CaptureError::Config(format!("bad glob {text:?}: {e}")))?;
            let mut paths = Vec::new();
            for entry in pattern {
                match entry {
                    Ok(p) if p.is_file() => paths.push(p),
                    Ok(_) => {}
                    Err(e) => log::warn!("glob {text:?}: {e}"),
                }
            }
            paths.sort();
            paths
        };
        if paths.is_empty() {
            return Err(CaptureError::Config(format!(
                "no image files in {}",
                spec.display()
            )));
        }
        Ok(Self::from_paths(paths))
    }

    /// Replays exactly these files, in this order.
    pub fn from_paths(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            next: 0,
            interval: None,
            looped: false,
            limits: Limits::default(),
            file: Vec::new(),
            decoded: Vec::new(),
            rgb: Vec::new(),
            size: (0, 0),
            sequence: 0,
            started: None,
            stats: SourceStats::default(),
            accept_truncated: false,
        }
    }

    /// Decodes JPEGs that end without their end-of-image marker (the decoder fills
    /// what is missing with grey) instead of refusing them as bad frames.
    pub fn accept_truncated_jpegs(mut self, accept: bool) -> Self {
        self.accept_truncated = accept;
        self
    }

    /// Paces frames at `fps` (frame `n` is delivered no earlier than `n / fps` seconds
    /// after the first); `None`, a non-positive rate, or one too small or too large to
    /// give a period delivers as fast as possible.
    /// A consumer slower than the rate gets every file anyway, late: replays drop nothing.
    pub fn with_fps(mut self, fps: Option<f64>) -> Self {
        self.interval = fps
            .and_then(|f| Duration::try_from_secs_f64(1.0 / f).ok())
            .filter(|interval| !interval.is_zero());
        self
    }

    /// Starts again from the first file after the last one, forever.
    pub fn looped(mut self, looped: bool) -> Self {
        self.looped = looped;
        self
    }

    /// Sets the largest image accepted.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The files, in replay order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Reads and decodes one file into `self.rgb`.
    fn decode(&mut self, path: &Path) -> Result<(), CaptureError> {
        let bad = |message: String| CaptureError::BadImage {
            path: path.to_path_buf(),
            message,
        };
        self.file.clear();
        let read = edgeclip_io::open_regular(path).and_then(|f| {
            f.take(IMAGE_FILE_LIMIT.bytes + 1)
                .read_to_end(&mut self.file)
        });
        match read {
            Ok(_) if self.file.len() as u64 > IMAGE_FILE_LIMIT.bytes => {
                return Err(bad(format!(
                    "larger than {} bytes, the limit for {}",
                    IMAGE_FILE_LIMIT.bytes, IMAGE_FILE_LIMIT.what
                )))
            }
            Ok(_) => {}
            // Gone since it was listed, or not a file: this frame is bad, the replay
            // goes on.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput) => {
                return Err(bad(e.to_string()))
            }
            Err(e) => {
                return Err(CaptureError::Io {
                    context: format!("{}: reading", path.display()),
                    source: e,
                })
            }
        }
        if edgeclip_io::jpeg::is_jpeg(&self.file) && !self.accept_truncated {
            edgeclip_io::jpeg::check_complete(&self.file).map_err(|e| bad(e.to_string()))?;
        }
        let mut reader = ImageReader::new(Cursor::new(&self.file[..]))
            .with_guessed_format()
            .map_err(|e| bad(e.to_string()))?;
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.limits.max_width);
        limits.max_image_height = Some(self.limits.max_height);
        reader.limits(limits);
        let decoder = reader.into_decoder().map_err(|e| bad(e.to_string()))?;
        let (w, h) = decoder.dimensions();
        if w == 0 || h == 0 || u64::from(w) * u64::from(h) > self.limits.max_pixels {
            return Err(bad(format!(
                "image size {w}x{h} is empty or exceeds the limit of {} pixels",
                self.limits.max_pixels
            )));
        }
        let pixels = w as usize * h as usize;
        let color = decoder.color_type();
        match color {
            ColorType::Rgb8 => {
                self.rgb.resize(pixels * 3, 0);
                decoder
                    .read_image(&mut self.rgb)
                    .map_err(|e| bad(e.to_string()))?;
            }
            ColorType::L8 | ColorType::La8 | ColorType::Rgba8 => {
                let channels = usize::from(color.channel_count());
                self.decoded.resize(pixels * channels, 0);
                decoder
                    .read_image(&mut self.decoded)
                    .map_err(|e| bad(e.to_string()))?;
                self.rgb.resize(pixels * 3, 0);
                for (src, dst) in self
                    .decoded
                    .chunks_exact(channels)
                    .zip(self.rgb.chunks_exact_mut(3))
                {
                    if channels <= 2 {
                        dst.fill(src[0]);
                    } else {
                        dst.copy_from_slice(&src[..3]);
                    }
                }
            }
            _ => {
                // 16-bit and float images: rare in replays, converted through `image`.
                let img =
                    image::DynamicImage::from_decoder(decoder).map_err(|e| bad(e.to_string()))?;
                let rgb = img.to_rgb8();
                self.rgb.clear();
                self.rgb.extend_from_slice(rgb.as_raw());
            }
        }
        self.size = (w, h);
        Ok(())
    }
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, CaptureError> {
    let io = |e| CaptureError::Io {
        context: format!("{}: listing", dir.display()),
        source: e,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_image = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
        if is_image && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

impl FrameSource for ImageFiles {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        if self.next >= self.paths.len() {
            if !self.looped || self.paths.is_empty() {
                return Ok(None);
            }
            self.next = 0;
        }
        let started = *self.started.get_or_insert_with(Instant::now);
        if let Some(interval) = self.interval {
            let due = interval.saturating_mul(self.sequence.min(u64::from(u32::MAX)) as u32);
            let now = started.elapsed();
            if due > now {
                thread::sleep(due - now);
            }
        }
        let path = std::mem::take(&mut self.paths[self.next]);
        let result = self.decode(&path);
        self.paths[self.next] = path;
        if let Err(e @ CaptureError::Io { .. }) = result {
            // Reading failed for a reason of the machine's (out of descriptors or
            // memory, an I/O error): the same file is read again when the caller
            // retries, after its back-off.
            log::warn!("{e}");
            return Err(e);
        }
        self.next += 1;
        let sequence = self.sequence;
        self.sequence += 1;
        if let Err(e) = result {
            self.stats.bad += 1;
            log::warn!("frame {sequence}: {e}");
            return Err(e);
        }
        self.stats.delivered += 1;
        Ok(Some(FrameRef {
            width: self.size.0,
            height: self.size.1,
            stride: 0,
            format: PixelFormat::Rgb24,
            color: ColorSpace::default(),
            bytes: &self.rgb,
            sequence,
            timestamp: started.elapsed(),
        }))
    }

    fn stats(&self) -> SourceStats {
        self.stats
    }
}
