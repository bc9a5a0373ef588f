//! `--save-views`: the raw views as PNGs a person can look at and as one `.npy` for tools.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Projection, Views};

/// Why saving views failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// The buffer was never projected into.
    #[error("no views to save: nothing has been projected into this buffer")]
    NoViews,
    /// Creating the folder or writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Encoding or writing a PNG failed.
    #[error("cannot write {path}: {source}")]
    Image {
        /// The PNG file.
        path: PathBuf,
        /// The underlying error.
        source: image::ImageError,
    },
}

/// Writes each view as `dir/view_00.png`, `view_01.png`, … (official view order) and
/// all of them as `dir/views.npy` (float32 `[views, H, W]`, the raw values before
/// resizing), creating `dir` if needed. Returns the paths written, PNGs first.
///
/// The PNGs are 8-bit grey, scaled per view so the shape is visible:
/// * V1 (depths, 0 where no point landed): empty pixels black; lit pixels from white
///   (the view's nearest depth) to dark grey (64, its farthest), linearly.
/// * V2 (already in [0, 1], background 1): `round(255 · value)`, the image as the
///   encoder sees it — a dark object on white.
pub fn save_views(dir: &Path, views: &Views) -> Result<Vec<PathBuf>, SaveError> {
    let projection = views.projection().ok_or(SaveError::NoViews)?;
    fs::create_dir_all(dir).map_err(|source| SaveError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let side = views.size() as u32;
    let mut written = Vec::with_capacity(views.count() + 1);
    for v in 0..views.count() {
        let path = dir.join(format!("view_{v:02}.png"));
        let pixels = to_grey(projection, views.view(v));
        let image =
            image::GrayImage::from_raw(side, side, pixels).expect("a view has size × size pixels");
        image.save(&path).map_err(|source| SaveError::Image {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    let npy = dir.join("views.npy");
    write_npy(&npy, views)?;
    written.push(npy);
    Ok(written)
}

fn to_grey(projection: Projection, view: &[f32]) -> Vec<u8> {
    match projection {
        Projection::V1 { .. } => {
            let lit = view.iter().copied().filter(|&d| d > 0.0);
            let (near, far) = lit.fold((f32::INFINITY, 0.0f32), |(lo, hi), d| {
                (lo.min(d), hi.max(d))
            });
            let span = far - near;
            view.iter()
                .map(|&d| {
                    if d <= 0.0 {
                        0
                    } else if span > 0.0 {
                        (255.0 - 191.0 * (d - near) / span).round() as u8
                    } else {
                        255
                    }
                })
                .collect()
        }
        Projection::V2 => view
            .iter()
            .map(|&x| (x.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect(),
    }
}

/// Writes the views as a NPY v1.0 file: little-endian float32 (`<f4`), C order, shape
/// `(views, H, W)`, the header padded to 64 bytes as numpy writes it.
pub fn write_npy(path: &Path, views: &Views) -> Result<(), SaveError> {
    if views.count() == 0 {
        return Err(SaveError::NoViews);
    }
    let io_err = |source| SaveError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io_err)?;
    let mut w = BufWriter::new(file);
    w.write_all(&npy_header(&[views.count(), views.size(), views.size()]))
        .map_err(io_err)?;
    for x in views.as_slice() {
        w.write_all(&x.to_le_bytes()).map_err(io_err)?;
    }
    w.flush().map_err(io_err)
}

/// Magic, version 1.0, header length, then the header dict padded with spaces and a
/// final newline so the data starts on a 64-byte boundary.
fn npy_header(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PointCloud;

    #[test]
    fn the_npy_header_is_aligned_and_readable() {
        let h = npy_header(&[6, 128, 128]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
        let len = u16::from_le_bytes([h[8], h[9]]) as usize;
        assert_eq!(len + 10, h.len());
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(
            text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (6, 128, 128), }")
        );
        assert!(text.ends_with('\n'));
        assert!(std::str::from_utf8(&npy_header(&[5])[10..])
            .unwrap()
            .contains("(5,)"));
    }

    #[test]
    fn v1_grey_levels_put_near_points_in_white() {
        let grey = to_grey(Projection::V1 { normalize: true }, &[0.0, 1.0, 2.0, 1.5]);
        assert_eq!(grey, vec![0, 255, 64, 160]);
        assert_eq!(to_grey(Projection::V2, &[1.0, 0.0, 0.5]), vec![255, 0, 128]);
    }

    #[test]
    fn saving_writes_pngs_and_the_npy() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            save_views(dir.path(), &Views::new()),
            Err(SaveError::NoViews)
        ));
        let cloud =
            PointCloud::new(vec![[0.1, 0.2, 0.3], [-0.4, 0.1, 0.2], [0.3, -0.3, -0.1]]).unwrap();
        let mut views = Views::new();
        Projection::V2.project(&cloud, &mut views);
        let out = dir.path().join("views");
        let written = save_views(&out, &views).unwrap();
        assert_eq!(written.len(), 11);
        let png = image::open(out.join("view_09.png")).unwrap().to_luma8();
        assert_eq!(png.dimensions(), (110, 110));
        let bytes = std::fs::read(out.join("views.npy")).unwrap();
        let data = &bytes[npy_header(&[10, 110, 110]).len()..];
        assert_eq!(data.len(), 10 * 110 * 110 * 4);
        assert_eq!(
            f32::from_le_bytes(data[..4].try_into().unwrap()),
            views.as_slice()[0]
        );
    }
}
