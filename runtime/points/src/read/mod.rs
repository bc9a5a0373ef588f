//! Point-cloud file readers: PLY, PCD, XYZ text and `.npy`.
//!
//! ```no_run
//! use std::path::Path;
//! use edgeclip_points::read;
//!
//! let cloud = read::read_path(Path::new("scan.pcd"))?;
//! println!("{} points", cloud.len());
//! # Ok::<(), read::ReadError>(())
//! ```
//!
//! | format | variants |
//! |---|---|
//! | PLY | ascii, binary little and big endian; `x y z` of the `vertex` element of any numeric type; other properties (list ones too) and elements skipped |
//! | PCD | `DATA ascii`, `binary`, `binary_compressed` (LZF); x, y, z among any other fields |
//! | XYZ | `.xyz`, `.txt`, `.pts`: three numbers a line, whitespace- or comma-separated, extra columns ignored, `#` comments; a `.pts` count line is skipped |
//! | NPY | versions 1.0, 2.0, 3.0; `<f4`, `<f8`, `>f4`, `>f8`; shape (N, 3); C or Fortran order |
//!
//! Design choices:
//!
//! - A file is read whole and parsed from a byte slice: headers are small, and PCD's
//!   binary_compressed layout needs random access to the decompressed columns. The memory
//!   is the size of the file the caller chose to read, never the size a header claims.
//! - Counts a file declares are untrusted. Before anything is reserved, a count is
//!   checked against the bytes that follow (every record has a minimum size) and against
//!   [`Limits::max_points`]; reservations are bounded by what the remaining bytes can hold.
//! - Non-finite coordinates are refused, with one exception: a PCD point whose x, y and z
//!   are all NaN is skipped (and the skipped count logged at `info`). Depth cameras write
//!   organized clouds whose holes are such points; refusing them would refuse every such
//!   scan. A point with only some coordinates NaN, or any infinite one, is refused in
//!   every format, as is a file whose points are all NaN.
//! - Own small parsers rather than the format crates: the errors must name the problem
//!   precisely, and the crates we looked at allocate by declared sizes (a PCD crate
//!   allocates the compressed size the header states, an NPY crate the header length the
//!   file states) or materialize every element of a PLY file. LZF decompression uses the
//!   `lzf-rust` crate (no `unsafe`, decompresses into a buffer the caller sized).

mod npy;
mod pcd;
mod ply;
mod scalar;
mod text;
mod xyz;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{CloudError, PointCloud};

/// A point-cloud file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Stanford PLY (`.ply`).
    Ply,
    /// Point Cloud Library's PCD (`.pcd`).
    Pcd,
    /// Text, one point a line (`.xyz`, `.txt`, `.pts`).
    Xyz,
    /// A numpy array of shape (N, 3) (`.npy`).
    Npy,
}

impl Format {
    /// Every format, in the order of the variants.
    pub const ALL: [Format; 4] = [Format::Ply, Format::Pcd, Format::Xyz, Format::Npy];

    /// The format a file name's extension names, ignoring case; `None` when none does.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "ply" => Some(Format::Ply),
            "pcd" => Some(Format::Pcd),
            "npy" => Some(Format::Npy),
            "xyz" | "txt" | "pts" => Some(Format::Xyz),
            _ => None,
        }
    }

    /// The format's short name, as error messages use it: `PLY`, `PCD`, `XYZ`, `NPY`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Ply => "PLY",
            Format::Pcd => "PCD",
            Format::Xyz => "XYZ",
            Format::Npy => "NPY",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bounds on what a reader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most points a file may hold (or declare); more is an error.
    pub max_points: usize,
}

impl Limits {
    /// The default [`Limits::max_points`]: 50 million points, 600 MB of `f32` coordinates.
    pub const DEFAULT_MAX_POINTS: usize = 50_000_000;

    /// Limits with the given maximum number of points.
    pub fn new(max_points: usize) -> Limits {
        Limits { max_points }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(Limits::DEFAULT_MAX_POINTS)
    }
}

/// Why a file could not be read as a point cloud; the message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read.
    #[error("{}: cannot read the file: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file name's extension names no format this crate reads.
    #[error(
        "{}: unknown point-cloud file extension (expected .ply, .pcd, .npy, .xyz, .txt or .pts)",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file's content is not a valid cloud in its format.
    #[error("{}: {error}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: ParseError,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::UnknownFormat { path }
            | ReadError::Parse { path, .. } => path,
        }
    }
}

/// Why some bytes are not a valid cloud: the format, the line for text, and the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{format}: {}{kind}", .line.map(|n| format!("line {n}: ")).unwrap_or_default())]
pub struct ParseError {
    format: Format,
    line: Option<usize>,
    kind: ParseErrorKind,
}

impl ParseError {
    pub(crate) fn new(format: Format, line: Option<usize>, kind: ParseErrorKind) -> ParseError {
        ParseError { format, line, kind }
    }

    /// The format the bytes were read as.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The 1-based line of a text header or body the problem is on, if it is on one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The problem.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }
}

/// The problem a [`ParseError`] reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A malformed header.
    #[error("{0}")]
    Header(String),
    /// Something valid in the format that this reader does not read.
    #[error("{0}")]
    Unsupported(String),
    /// A malformed value or record in the body.
    #[error("{0}")]
    Syntax(String),
    /// The header declares more records than the body can hold.
    #[error(
        "header declares {declared} {unit} but the body holds {available} bytes \
         (at least {needed} needed)"
    )]
    Truncated {
        /// The count the header declares.
        declared: u64,
        /// What is counted (`vertices`, `points`, `rows`, ``` `face` elements ```).
        unit: String,
        /// The fewest bytes those records take (saturating).
        needed: u64,
        /// The bytes after the header.
        available: u64,
    },
    /// The body ends before the last declared record.
    #[error("the file ends after {read} of the {declared} {unit} the header declares")]
    EndsEarly {
        /// Records read in full.
        read: u64,
        /// The count the header declares.
        declared: u64,
        /// What is counted.
        unit: &'static str,
    },
    /// The header declares more points than [`Limits::max_points`].
    #[error("header declares {declared} points, more than the limit of {limit}")]
    TooManyPoints {
        /// The count the header declares.
        declared: u64,
        /// The limit.
        limit: usize,
    },
    /// A header-less file holds more points than [`Limits::max_points`].
    #[error("the file holds more than the limit of {limit} points")]
    OverLimit {
        /// The limit.
        limit: usize,
    },
    /// No x, y or z coordinate is declared.
    #[error("no `{axis}` coordinate: the {place} has none")]
    MissingCoordinate {
        /// `x`, `y` or `z`.
        axis: &'static str,
        /// Where it was looked for (`vertex element`, `FIELDS line`).
        place: &'static str,
    },
    /// A PCD binary_compressed body that is inconsistent or does not decompress.
    #[error("binary_compressed data: {0}")]
    Compressed(String),
    /// Every point is a NaN hole (PCD), so nothing is left.
    #[error("all {nan} points are NaN: the cloud has no valid points")]
    AllNan {
        /// How many points there were.
        nan: u64,
    },
    /// The points do not make a cloud: none at all, or a non-finite coordinate (the index
    /// counts points in file order, NaN holes included).
    #[error(transparent)]
    Cloud(CloudError),
}

/// Reads the file at `path` in the format its extension names, with default [`Limits`].
pub fn read_path(path: &Path) -> Result<PointCloud, ReadError> {
    read_path_with(path, None, &Limits::default())
}

/// Reads the file at `path` as `format` (by default the one its extension names).
pub fn read_path_with(
    path: &Path,
    format: Option<Format>,
    limits: &Limits,
) -> Result<PointCloud, ReadError> {
    let Some(format) = format.or_else(|| Format::from_path(path)) else {
        return Err(ReadError::UnknownFormat { path: path.into() });
    };
    let bytes = std::fs::read(path).map_err(|error| ReadError::Io {
        path: path.into(),
        error,
    })?;
    let cloud = read_bytes_with(&bytes, format, limits).map_err(|error| ReadError::Parse {
        path: path.into(),
        error,
    })?;
    log::debug!("{}: {} points ({format})", path.display(), cloud.len());
    Ok(cloud)
}

/// Parses a whole file's bytes as `format`, with default [`Limits`].
pub fn read_bytes(bytes: &[u8], format: Format) -> Result<PointCloud, ParseError> {
    read_bytes_with(bytes, format, &Limits::default())
}

/// Parses a whole file's bytes as `format` within `limits`.
pub fn read_bytes_with(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
) -> Result<PointCloud, ParseError> {
    match format {
        Format::Ply => ply::parse(bytes, limits),
        Format::Pcd => pcd::parse(bytes, limits),
        Format::Xyz => xyz::parse(bytes, limits),
        Format::Npy => npy::parse(bytes, limits),
    }
}

/// Gathers a reader's points, applying the NaN policy and the finiteness check with
/// file-order indices (which [`PointCloud::new`] cannot know once holes are skipped).
struct Collector {
    points: Vec<[f32; 3]>,
    seen: usize,
    nan_holes: u64,
    skip_nan_holes: bool,
}

impl Collector {
    /// `capacity` must already be bounded by the limit and by the bytes left.
    fn new(capacity: usize, skip_nan_holes: bool) -> Collector {
        Collector {
            points: Vec::with_capacity(capacity),
            seen: 0,
            nan_holes: 0,
            skip_nan_holes,
        }
    }

    fn push(&mut self, p: [f64; 3]) -> Result<(), ParseErrorKind> {
        let index = self.seen;
        self.seen += 1;
        if self.skip_nan_holes && p.iter().all(|c| c.is_nan()) {
            self.nan_holes += 1;
            return Ok(());
        }
        // A double beyond f32's range becomes infinite here and is refused below.
        let [x, y, z] = p.map(|c| c as f32);
        if !(x.is_finite() && y.is_finite() && z.is_finite()) {
            return Err(ParseErrorKind::Cloud(CloudError::NonFinite {
                index,
                x,
                y,
                z,
            }));
        }
        self.points.push([x, y, z]);
        Ok(())
    }

    fn finish(self) -> Result<PointCloud, ParseErrorKind> {
        if self.points.is_empty() && self.nan_holes > 0 {
            return Err(ParseErrorKind::AllNan {
                nan: self.nan_holes,
            });
        }
        if self.nan_holes > 0 {
            log::info!(
                "skipped {} of {} points whose x, y and z are NaN (holes of an organized cloud)",
                self.nan_holes,
                self.seen
            );
        }
        PointCloud::new(self.points).map_err(ParseErrorKind::Cloud)
    }
}

/// How many records to reserve room for: the declared count, bounded by the limit and by
/// how many records of at least `min_record_bytes` the remaining bytes can hold.
fn bounded_capacity(
    declared: u64,
    limits: &Limits,
    available: usize,
    min_record_bytes: u64,
) -> usize {
    let fit = (available as u64) / min_record_bytes.max(1);
    declared.min(fit).min(limits.max_points as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_extensions_ignoring_case() {
        let f = |p: &str| Format::from_path(Path::new(p));
        assert_eq!(f("a/b.PLY"), Some(Format::Ply));
        assert_eq!(f("scan.Pcd"), Some(Format::Pcd));
        assert_eq!(f("x.npy"), Some(Format::Npy));
        for p in ["c.xyz", "c.TXT", "c.pts"] {
            assert_eq!(f(p), Some(Format::Xyz), "{p}");
        }
        assert_eq!(f("c.obj"), None);
        assert_eq!(f("noext"), None);
    }

    #[test]
    fn collector_skips_only_all_nan_points_when_asked() {
        let mut c = Collector::new(4, true);
        c.push([f64::NAN; 3]).unwrap();
        c.push([1.0, 2.0, 3.0]).unwrap();
        let err = c.push([f64::NAN, 0.0, 0.0]).unwrap_err();
        assert!(matches!(
            err,
            ParseErrorKind::Cloud(CloudError::NonFinite { index: 2, .. })
        ));
        let cloud = c.finish().unwrap();
        assert_eq!(cloud.points(), &[[1.0, 2.0, 3.0]]);

        let mut c = Collector::new(1, false);
        assert!(c.push([f64::NAN; 3]).is_err());
        let mut c = Collector::new(1, true);
        c.push([f64::NAN; 3]).unwrap();
        assert_eq!(c.finish().unwrap_err(), ParseErrorKind::AllNan { nan: 1 });
        let c = Collector::new(0, true);
        assert_eq!(
            c.finish().unwrap_err(),
            ParseErrorKind::Cloud(CloudError::Empty)
        );
    }

    #[test]
    fn doubles_beyond_f32_are_refused() {
        let mut c = Collector::new(1, false);
        let err = c.push([1e300, 0.0, 0.0]).unwrap_err();
        assert!(err.to_string().contains("point 0"), "{err}");
    }

    #[test]
    fn capacity_is_bounded_by_bytes_and_limit() {
        let l = Limits::new(1000);
        assert_eq!(bounded_capacity(u64::MAX, &l, 120, 12), 10);
        assert_eq!(bounded_capacity(u64::MAX, &l, usize::MAX, 1), 1000);
        assert_eq!(bounded_capacity(5, &l, 120, 0), 5);
    }

    #[test]
    fn errors_name_file_format_line_and_problem() {
        let e = ReadError::Parse {
            path: "scan.pcd".into(),
            error: ParseError::new(
                Format::Pcd,
                Some(14),
                ParseErrorKind::Syntax("expected 3 numbers".into()),
            ),
        };
        assert_eq!(e.to_string(), "scan.pcd: PCD: line 14: expected 3 numbers");
        assert_eq!(e.path(), Path::new("scan.pcd"));
    }
}
