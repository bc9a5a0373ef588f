//! A depth map in metres and what is made of it: summary statistics, a 16-bit PNG in
//! millimetres and a colourised preview.

use std::fmt;
use std::path::Path;

use image::{ImageBuffer, ImageFormat, Luma, Rgb};
use serde::Serialize;

use crate::DepthError;

/// The PNG value for "no depth", which a valid depth never takes (the convention of the
/// KITTI and NYU depth PNGs).
pub const PNG_NO_DEPTH: u16 = 0;

/// A dense depth map: `height` rows of `width` depths in metres, row-major, every one
/// finite and positive.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap {
    width: usize,
    height: usize,
    metres: Vec<f32>,
}

/// Summary statistics of a depth map, in metres. `median` is the mean of the two middle
/// values when the pixel count is even.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DepthStats {
    /// The nearest depth.
    pub min: f32,
    /// The median depth.
    pub median: f32,
    /// The farthest depth.
    pub max: f32,
    /// The mean depth.
    pub mean: f32,
}

impl fmt::Display for DepthStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "min {:.3} m, median {:.3} m, max {:.3} m, mean {:.3} m",
            self.min, self.median, self.max, self.mean
        )
    }
}

impl DepthMap {
    /// A map of `width × height` depths (row-major). Refuses a length that does not
    /// match, an empty map, a side over `u32::MAX` (no image file could hold it) and
    /// any value that is not a finite positive depth.
    pub fn new(width: usize, height: usize, metres: Vec<f32>) -> Result<Self, DepthError> {
        if metres.len() != width * height {
            return Err(DepthError::Shape {
                what: "depth map (width × height)",
                expected: width * height,
                got: metres.len(),
            });
        }
        if width == 0 || height == 0 {
            return Err(DepthError::EmptyGrid {
                what: "depth map",
                rows: height,
                cols: width,
            });
        }
        if u32::try_from(width).is_err() || u32::try_from(height).is_err() {
            return Err(DepthError::TooLarge { width, height });
        }
        if let Some((index, &value)) = metres
            .iter()
            .enumerate()
            .find(|(_, d)| !(d.is_finite() && **d > 0.0))
        {
            return Err(DepthError::BadDepth { index, value });
        }
        Ok(DepthMap {
            width,
            height,
            metres,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The depths in metres, row-major.
    pub fn metres(&self) -> &[f32] {
        &self.metres
    }

    /// The depth at column `x`, row `y`, or `None` outside the map.
    pub fn get(&self, x: usize, y: usize) -> Option<f32> {
        (x < self.width && y < self.height).then(|| self.metres[y * self.width + x])
    }

    /// Minimum, median, maximum and mean over every pixel.
    pub fn stats(&self) -> DepthStats {
        let mut sorted = self.metres.clone();
        sorted.sort_by(f32::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            ((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0) as f32
        };
        let mean = sorted.iter().map(|&d| d as f64).sum::<f64>() / n as f64;
        DepthStats {
            min: sorted[0],
            median,
            max: sorted[n - 1],
            mean: mean as f32,
        }
    }

    /// The depths in whole millimetres as a 16-bit PNG stores them: rounded to the
    /// nearest millimetre and clamped to 1..=65535 (65.535 m), so that
    /// [`PNG_NO_DEPTH`] (0) keeps meaning "no depth" to readers of the file.
    pub fn millimetres(&self) -> Vec<u16> {
        self.metres
            .iter()
            .map(|&m| (m as f64 * 1000.0).round().clamp(1.0, u16::MAX as f64) as u16)
            .collect()
    }

    /// Writes [`DepthMap::millimetres`] as a 16-bit greyscale PNG.
    pub fn write_png_mm(&self, path: impl AsRef<Path>) -> Result<(), DepthError> {
        let path = path.as_ref();
        let img: ImageBuffer<Luma<u16>, Vec<u16>> =
            ImageBuffer::from_raw(self.width as u32, self.height as u32, self.millimetres())
                .expect("the buffer length is width × height");
        img.save_with_format(path, ImageFormat::Png)
            .map_err(|source| DepthError::Write {
                path: path.to_owned(),
                source,
            })
    }

    /// The preview's pixels (8-bit RGB, row-major) with depths from `near_m` to `far_m`
    /// spread over ColorBrewer's Spectral colour map (as d3-scale-chromatic has it):
    /// near is dark red, through orange, yellow and green, to far in blue-violet; depths
    /// outside the range take the end colours. An empty range (`near_m >= far_m`)
    /// colours every pixel with the map's middle (pale yellow).
    pub fn preview_rgb(&self, near_m: f32, far_m: f32) -> Vec<u8> {
        let span = far_m as f64 - near_m as f64;
        let mut rgb = Vec::with_capacity(self.metres.len() * 3);
        for &d in &self.metres {
            let t = if span > 0.0 {
                ((d as f64 - near_m as f64) / span).clamp(0.0, 1.0)
            } else {
                0.5
            };
            let c = colorous::SPECTRAL.eval_continuous(t);
            rgb.extend([c.r, c.g, c.b]);
        }
        rgb
    }

    /// Writes a colourised preview PNG over the map's own depth range (see
    /// [`DepthMap::preview_rgb`]): the nearest pixel is dark red, the farthest
    /// blue-violet.
    pub fn write_preview(&self, path: impl AsRef<Path>) -> Result<(), DepthError> {
        let s = self.stats();
        self.write_preview_in(path, s.min, s.max)
    }

    /// Writes a colourised preview PNG over a fixed depth range, so that frames or
    /// images share one colour scale (the config's [`crate::DepthConfig::depth_range`]
    /// is a natural choice).
    pub fn write_preview_in(
        &self,
        path: impl AsRef<Path>,
        near_m: f32,
        far_m: f32,
    ) -> Result<(), DepthError> {
        let path = path.as_ref();
        let img: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_raw(
            self.width as u32,
            self.height as u32,
            self.preview_rgb(near_m, far_m),
        )
        .expect("the buffer length is 3 × width × height");
        img.save_with_format(path, ImageFormat::Png)
            .map_err(|source| DepthError::Write {
                path: path.to_owned(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> DepthMap {
        DepthMap::new(3, 2, vec![1.0, 2.5, 3.0, 1.2, 0.0001, 70.0]).unwrap()
    }

    #[test]
    fn new_refuses_bad_maps() {
        assert!(matches!(
            DepthMap::new(2, 2, vec![1.0; 3]),
            Err(DepthError::Shape { .. })
        ));
        assert!(matches!(
            DepthMap::new(0, 5, vec![]),
            Err(DepthError::EmptyGrid { .. })
        ));
        let err = DepthMap::new(2, 1, vec![1.0, f32::NAN]).unwrap_err();
        assert!(
            matches!(err, DepthError::BadDepth { index: 1, .. }),
            "{err}"
        );
        assert!(DepthMap::new(1, 1, vec![0.0]).is_err());
        assert!(DepthMap::new(1, 1, vec![-2.0]).is_err());
    }

    #[test]
    fn stats_take_the_middle_pair_for_an_even_count() {
        let s = map().stats();
        assert_eq!((s.min, s.max), (0.0001, 70.0));
        assert_eq!(s.median, (1.2 + 2.5) / 2.0);
        assert!((s.mean as f64 - (77.7001 / 6.0)).abs() < 1e-5);
        let odd = DepthMap::new(3, 1, vec![3.0, 1.0, 2.0]).unwrap().stats();
        assert_eq!(odd.median, 2.0);
        assert_eq!(
            odd.to_string(),
            "min 1.000 m, median 2.000 m, max 3.000 m, mean 2.000 m"
        );
    }

    #[test]
    fn millimetres_round_and_keep_zero_free() {
        assert_eq!(map().millimetres(), [1000, 2500, 3000, 1200, 1, 65535]);
        let m = DepthMap::new(2, 1, vec![1.0004, 1.0006]).unwrap();
        assert_eq!(m.millimetres(), [1000, 1001]);
    }

    #[test]
    fn preview_puts_warm_colours_near() {
        let m = DepthMap::new(2, 1, vec![1.0, 3.0]).unwrap();
        let rgb = m.preview_rgb(1.0, 3.0);
        let (near, far) = (&rgb[..3], &rgb[3..]);
        assert!(near[0] > near[2], "near should be red: {near:?}");
        assert!(far[2] > far[0], "far should be blue: {far:?}");
        assert_eq!(m.preview_rgb(2.0, 2.0)[..3], m.preview_rgb(2.0, 2.0)[3..]);
    }

    #[test]
    fn png_files_hold_millimetres_and_the_preview() {
        let dir = tempfile::tempdir().unwrap();
        let m = map();
        let depth = dir.path().join("depth.png");
        m.write_png_mm(&depth).unwrap();
        let back = image::open(&depth).unwrap();
        assert_eq!((back.width(), back.height()), (3, 2));
        let back = back
            .as_luma16()
            .expect("16-bit greyscale")
            .clone()
            .into_raw();
        assert_eq!(back, m.millimetres());

        let preview = dir.path().join("preview.png");
        m.write_preview(&preview).unwrap();
        let back = image::open(&preview).unwrap();
        let back = back.as_rgb8().expect("8-bit RGB").clone().into_raw();
        assert_eq!(back, m.preview_rgb(0.0001, 70.0));
    }

    #[test]
    fn write_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("depth.png");
        let err = map().write_png_mm(&path).unwrap_err();
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
        let err = map().write_preview_in(&path, 1.0, 3.0).unwrap_err();
        assert!(matches!(err, DepthError::Write { path: p, .. } if p == path));
    }

    #[test]
    fn get_is_row_major_and_bounded() {
        let m = map();
        assert_eq!(m.get(2, 0), Some(3.0));
        assert_eq!(m.get(0, 1), Some(1.2));
        assert_eq!(m.get(3, 0), None);
        assert_eq!(m.get(0, 2), None);
    }
}
