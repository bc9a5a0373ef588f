//! [`PointsErrorKind`]: the class of every error of the crate, so that a caller
//! (the CLI's JSON error records) acts on it without parsing messages.

use std::fmt;

use crate::project::{ProjectError, SaveError};
use crate::read::{ParseError, ReadError};
use crate::CloudError;

/// The class of an error of this crate.
///
/// A point-cloud file is the caller's input, as an image is: a file that is not a
/// valid cloud (malformed, truncated, empty, with non-finite coordinates, of an
/// unknown extension) is [`PointsErrorKind::InvalidInput`], as are requests the
/// projection cannot serve.
///
/// Non-exhaustive: new kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PointsErrorKind {
    /// A cloud, a projection name or an encoder-input request is unusable, or a
    /// view the image encoder refuses to write.
    InvalidInput,
    /// The operating system refused to read a cloud or to write a view.
    Io,
    /// A `[pointclip]` table is unusable.
    Config,
}

impl PointsErrorKind {
    /// The kind as written in JSON records: `invalid_input`, `io`, `config`.
    pub fn as_str(self) -> &'static str {
        match self {
            PointsErrorKind::InvalidInput => "invalid_input",
            PointsErrorKind::Io => "io",
            PointsErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for PointsErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ReadError {
    /// What class of failure this is.
    pub fn kind(&self) -> PointsErrorKind {
        match self {
            ReadError::Io { .. } => PointsErrorKind::Io,
            ReadError::UnknownFormat { .. } => PointsErrorKind::InvalidInput,
            ReadError::Parse { error, .. } => error.error_kind(),
        }
    }
}

impl ParseError {
    /// What class of failure this is among the crate's ([`PointsErrorKind`]): the
    /// bytes are not a valid cloud, always the input's fault. Not `kind`, which
    /// already names the problem ([`ParseError::kind`]).
    pub fn error_kind(&self) -> PointsErrorKind {
        PointsErrorKind::InvalidInput
    }
}

impl CloudError {
    /// What class of failure this is.
    pub fn kind(&self) -> PointsErrorKind {
        match self {
            CloudError::Empty | CloudError::NonFinite { .. } => PointsErrorKind::InvalidInput,
        }
    }
}

impl ProjectError {
    /// What class of failure this is.
    pub fn kind(&self) -> PointsErrorKind {
        match self {
            ProjectError::UnknownProjection(_)
            | ProjectError::NoViews
            | ProjectError::ZeroSize
            | ProjectError::OutputLength { .. } => PointsErrorKind::InvalidInput,
        }
    }
}

impl SaveError {
    /// What class of failure this is.
    pub fn kind(&self) -> PointsErrorKind {
        match self {
            SaveError::NoViews => PointsErrorKind::InvalidInput,
            SaveError::Io { .. } => PointsErrorKind::Io,
            SaveError::Image { source, .. } => match source {
                image::ImageError::IoError(_) => PointsErrorKind::Io,
                // The encoder refused the view itself (its size or layout); nothing
                // is decoded here, but `Decoding` is matched rather than hidden
                // behind a wildcard.
                image::ImageError::Encoding(_)
                | image::ImageError::Parameter(_)
                | image::ImageError::Limits(_)
                | image::ImageError::Unsupported(_)
                | image::ImageError::Decoding(_) => PointsErrorKind::InvalidInput,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::read::{read_bytes, read_path, Format};

    #[test]
    fn a_bad_cloud_is_invalid_input_and_an_unreadable_one_io() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_path(&dir.path().join("missing.ply")).unwrap_err();
        assert_eq!(missing.kind(), PointsErrorKind::Io, "{missing}");
        let garbage = dir.path().join("garbage.pcd");
        std::fs::write(&garbage, b"hello\n").unwrap();
        let malformed = read_path(&garbage).unwrap_err();
        assert!(matches!(malformed, ReadError::Parse { .. }), "{malformed}");
        assert_eq!(malformed.kind().as_str(), "invalid_input");
        let unknown = read_path(Path::new("cloud.obj")).unwrap_err();
        assert_eq!(unknown.kind(), PointsErrorKind::InvalidInput, "{unknown}");
        let parse = read_bytes(b"0 0 nan\n", Format::Xyz).unwrap_err();
        assert_eq!(parse.error_kind(), PointsErrorKind::InvalidInput);
    }

    #[test]
    fn clouds_and_projections_refuse_the_callers_values() {
        assert_eq!(CloudError::Empty.kind(), PointsErrorKind::InvalidInput);
        let nan = CloudError::NonFinite {
            index: 0,
            x: f32::NAN,
            y: 0.0,
            z: 0.0,
        };
        assert_eq!(nan.kind(), PointsErrorKind::InvalidInput);
        let name = "v3".parse::<crate::project::Projection>().unwrap_err();
        assert_eq!(name.kind(), PointsErrorKind::InvalidInput);
        for e in [
            ProjectError::NoViews,
            ProjectError::ZeroSize,
            ProjectError::OutputLength {
                expected: 4,
                actual: 3,
            },
        ] {
            assert_eq!(e.kind(), PointsErrorKind::InvalidInput, "{e}");
        }
    }

    #[test]
    fn saving_views_tells_the_os_from_an_empty_buffer() {
        let views = crate::project::Views::new();
        let dir = tempfile::tempdir().unwrap();
        let empty = crate::project::save_views(dir.path(), &views).unwrap_err();
        assert_eq!(empty.kind(), PointsErrorKind::InvalidInput, "{empty}");
        let io = SaveError::Io {
            path: dir.path().join("views"),
            source: std::io::ErrorKind::PermissionDenied.into(),
        };
        assert_eq!(io.kind().as_str(), "io");
        let png = SaveError::Image {
            path: dir.path().join("view_00.png"),
            source: image::ImageError::IoError(std::io::ErrorKind::StorageFull.into()),
        };
        assert_eq!(png.kind(), PointsErrorKind::Io);
    }
}
