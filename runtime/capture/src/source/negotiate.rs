//! Format negotiation with a V4L2 driver, as pure functions over what the driver
//! offers, so they are tested without a device. Drivers adjust what they are asked for;
//! [`Negotiated`] records what was asked and what the driver chose.

use std::fmt;

use crate::frame::{ColorSpace, Matrix, PixelFormat, Range};

/// Formats tried, in order, when the caller asks for none: uncompressed first (cheapest
/// to convert, exact colours), MJPEG before RGB24 (which few cameras offer natively).
/// The other formats come after those four, so a camera that offers one of them is
/// negotiated as before: the other 4:2:0 and 4:2:2 YUV layouts (YU12, YV12, NV21,
/// UYVY), then BGR24, and GREY last (it has no colour).
pub const PREFERENCE: [PixelFormat; 10] = [
    PixelFormat::Yuyv,
    PixelFormat::Nv12,
    PixelFormat::Mjpeg,
    PixelFormat::Rgb24,
    PixelFormat::Yu12,
    PixelFormat::Yv12,
    PixelFormat::Nv21,
    PixelFormat::Uyvy,
    PixelFormat::Bgr24,
    PixelFormat::Grey,
];

/// A frame size a driver offers for one format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeOffer {
    /// Exactly this size.
    Discrete {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// Any size in a range, in steps (a continuous range has steps of 1).
    Stepwise {
        /// Smallest width.
        min_width: u32,
        /// Largest width.
        max_width: u32,
        /// Width step.
        step_width: u32,
        /// Smallest height.
        min_height: u32,
        /// Largest height.
        max_height: u32,
        /// Height step.
        step_height: u32,
    },
}

/// A frame interval (seconds per frame, as a fraction) a driver offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalOffer {
    /// Exactly `numerator / denominator` seconds.
    Discrete {
        /// Numerator.
        numerator: u32,
        /// Denominator.
        denominator: u32,
    },
    /// Any interval from `min` to `max` seconds (each `(numerator, denominator)`).
    Stepwise {
        /// Shortest interval.
        min: (u32, u32),
        /// Longest interval.
        max: (u32, u32),
    },
}

/// What a caller asks a camera for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// A format, or `None` for the first of [`PREFERENCE`] that the device offers.
    pub format: Option<PixelFormat>,
    /// Width wanted.
    pub width: u32,
    /// Height wanted.
    pub height: u32,
    /// Frame rate wanted, or `None` for the driver's default.
    pub fps: Option<f64>,
}

impl Default for Request {
    /// Any supported format at 640x480, the driver's default rate.
    fn default() -> Self {
        Self {
            format: None,
            width: 640,
            height: 480,
            fps: None,
        }
    }
}

/// What the driver actually chose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Negotiated {
    /// What was asked.
    pub requested: Request,
    /// The format chosen.
    pub format: PixelFormat,
    /// Width chosen by the driver.
    pub width: u32,
    /// Height chosen by the driver.
    pub height: u32,
    /// Row stride (bytesperline) chosen by the driver.
    pub stride: usize,
    /// Largest frame in bytes (sizeimage).
    pub size_image: usize,
    /// Frame rate the driver reports, if it reports one.
    pub fps: Option<f64>,
    /// Colour encoding derived from what the driver reports.
    pub color: ColorSpace,
}

impl Negotiated {
    /// One line per way the driver's choice differs from the request.
    pub fn adjustments(&self) -> Vec<String> {
        let r = &self.requested;
        let mut out = Vec::new();
        if let Some(f) = r.format {
            if f != self.format {
                out.push(format!("format {f} became {}", self.format));
            }
        }
        if (r.width, r.height) != (self.width, self.height) {
            out.push(format!(
                "size {}x{} became {}x{}",
                r.width, r.height, self.width, self.height
            ));
        }
        if let Some(want) = r.fps {
            match self.fps {
                Some(got) if (got - want).abs() > 0.01 => {
                    out.push(format!("{want} fps became {got:.3} fps"))
                }
                None => out.push(format!("{want} fps: the driver reports no frame rate")),
                _ => {}
            }
        }
        out
    }
}

impl fmt::Display for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}x{} stride {}",
            self.format, self.width, self.height, self.stride
        )?;
        if let Some(fps) = self.fps {
            write!(f, " {fps:.3} fps")?;
        }
        write!(f, " {:?} {:?}", self.color.matrix, self.color.range)
    }
}

/// A fourcc as text, non-printable bytes escaped.
pub fn fourcc_str(code: [u8; 4]) -> String {
    code.iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

/// Picks the format: the requested one if the device offers it (an error naming what it
/// offers otherwise), or the first of [`PREFERENCE`] it offers.
pub fn choose_format(
    offered: &[[u8; 4]],
    want: Option<PixelFormat>,
) -> Result<PixelFormat, String> {
    let offers = |f: PixelFormat| {
        offered
            .iter()
            .any(|&c| PixelFormat::from_fourcc(c) == Some(f))
    };
    let list = || {
        let names: Vec<String> = offered.iter().map(|&c| fourcc_str(c)).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    match want {
        Some(f) if offers(f) => Ok(f),
        Some(f) => Err(format!("{f} requested; the device offers {}", list())),
        None => PREFERENCE.into_iter().find(|&f| offers(f)).ok_or_else(|| {
            let known: Vec<String> = PREFERENCE.iter().map(|f| f.to_string()).collect();
            format!("the device offers {}, none of {}", list(), known.join(", "))
        }),
    }
}

fn snap(want: u32, min: u32, max: u32, step: u32) -> u32 {
    let (min, max) = (min.min(max), max.max(min));
    let v = want.clamp(min, max);
    let step = step.max(1);
    let snapped = min + ((v - min) + step / 2) / step * step;
    if snapped > max {
        snapped - step
    } else {
        snapped
    }
}

/// Picks a frame size: the requested one if offered; else the smallest offered size
/// at least as large on both sides; else the largest. `None` if nothing is offered.
pub fn choose_size(offers: &[SizeOffer], want: (u32, u32)) -> Option<(u32, u32)> {
    let candidates = offers.iter().map(|o| match *o {
        SizeOffer::Discrete { width, height } => (width, height),
        SizeOffer::Stepwise {
            min_width,
            max_width,
            step_width,
            min_height,
            max_height,
            step_height,
        } => (
            snap(want.0, min_width, max_width, step_width),
            snap(want.1, min_height, max_height, step_height),
        ),
    });
    let area = |s: &(u32, u32)| u64::from(s.0) * u64::from(s.1);
    let all: Vec<(u32, u32)> = candidates.filter(|&(w, h)| w > 0 && h > 0).collect();
    if all.contains(&want) {
        return Some(want);
    }
    all.iter()
        .filter(|s| s.0 >= want.0 && s.1 >= want.1)
        .min_by_key(|s| area(s))
        .or_else(|| all.iter().max_by_key(|s| area(s)))
        .copied()
}

/// Frames per second of an interval fraction, `None` for a zero part.
pub fn interval_fps(numerator: u32, denominator: u32) -> Option<f64> {
    (numerator > 0 && denominator > 0).then(|| f64::from(denominator) / f64::from(numerator))
}

/// Picks the offered interval (`(numerator, denominator)` seconds per frame) whose rate
/// is closest to `fps`; a stepwise range yields the rate clamped into it.
pub fn choose_interval(offers: &[IntervalOffer], fps: f64) -> Option<(u32, u32)> {
    if !(fps.is_finite() && fps > 0.0) {
        return None;
    }
    let candidates = offers.iter().filter_map(|o| match *o {
        IntervalOffer::Discrete {
            numerator,
            denominator,
        } => interval_fps(numerator, denominator).map(|_| (numerator, denominator)),
        IntervalOffer::Stepwise { min, max } => {
            let fast = interval_fps(min.0, min.1)?;
            let slow = interval_fps(max.0, max.1)?;
            let f = fps.clamp(slow.min(fast), slow.max(fast));
            Some((1000, (f * 1000.0).round().max(1.0) as u32))
        }
    });
    candidates.min_by(|a, b| {
        let da = (interval_fps(a.0, a.1).unwrap_or(0.0) - fps).abs();
        let db = (interval_fps(b.0, b.1).unwrap_or(0.0) - fps).abs();
        da.total_cmp(&db)
    })
}

/// V4L2 colorspace codes (`enum v4l2_colorspace`) this mapping reads.
pub mod v4l2_codes {
    /// `V4L2_COLORSPACE_SMPTE240M`.
    pub const COLORSPACE_SMPTE240M: u32 = 2;
    /// `V4L2_COLORSPACE_REC709`.
    pub const COLORSPACE_REC709: u32 = 3;
    /// `V4L2_COLORSPACE_JPEG`.
    pub const COLORSPACE_JPEG: u32 = 7;
    /// `V4L2_COLORSPACE_SRGB`.
    pub const COLORSPACE_SRGB: u32 = 8;
    /// `V4L2_COLORSPACE_BT2020`.
    pub const COLORSPACE_BT2020: u32 = 10;
    /// `V4L2_COLORSPACE_DCI_P3`.
    pub const COLORSPACE_DCI_P3: u32 = 12;
    /// `V4L2_YCBCR_ENC_601`.
    pub const YCBCR_ENC_601: u32 = 1;
    /// `V4L2_YCBCR_ENC_709`.
    pub const YCBCR_ENC_709: u32 = 2;
    /// `V4L2_YCBCR_ENC_XV601`.
    pub const YCBCR_ENC_XV601: u32 = 3;
    /// `V4L2_YCBCR_ENC_XV709`.
    pub const YCBCR_ENC_XV709: u32 = 4;
    /// `V4L2_YCBCR_ENC_SYCC`.
    pub const YCBCR_ENC_SYCC: u32 = 5;
    /// `V4L2_YCBCR_ENC_BT2020`.
    pub const YCBCR_ENC_BT2020: u32 = 6;
    /// `V4L2_YCBCR_ENC_BT2020_CONST_LUM`.
    pub const YCBCR_ENC_BT2020_CONST_LUM: u32 = 7;
    /// `V4L2_YCBCR_ENC_SMPTE240M`.
    pub const YCBCR_ENC_SMPTE240M: u32 = 8;
    /// `V4L2_QUANTIZATION_FULL_RANGE`.
    pub const QUANTIZATION_FULL_RANGE: u32 = 1;
    /// `V4L2_QUANTIZATION_LIM_RANGE`.
    pub const QUANTIZATION_LIM_RANGE: u32 = 2;
}

/// The colour encoding of a format from a driver's `colorspace`, `ycbcr_enc` (0 when
/// unknown: the `v4l` crate does not expose it) and `quantization` fields, with the
/// kernel's defaults (`V4L2_MAP_YCBCR_ENC_DEFAULT`, `V4L2_MAP_QUANTIZATION_DEFAULT`).
/// BT.2020 and SMPTE 240M matrices are approximated by BT.709 (with a warning).
pub fn color_from_v4l(
    format: PixelFormat,
    colorspace: u32,
    ycbcr_enc: u32,
    quantization: u32,
) -> ColorSpace {
    use v4l2_codes::*;
    let enc = if ycbcr_enc != 0 {
        ycbcr_enc
    } else {
        match colorspace {
            COLORSPACE_REC709 | COLORSPACE_DCI_P3 => YCBCR_ENC_709,
            COLORSPACE_BT2020 => YCBCR_ENC_BT2020,
            COLORSPACE_SMPTE240M => YCBCR_ENC_SMPTE240M,
            _ => YCBCR_ENC_601,
        }
    };
    let matrix = match enc {
        YCBCR_ENC_709 | YCBCR_ENC_XV709 => Matrix::Bt709,
        YCBCR_ENC_BT2020 | YCBCR_ENC_BT2020_CONST_LUM | YCBCR_ENC_SMPTE240M => {
            log::warn!("Y'CbCr encoding {enc} approximated by BT.709");
            Matrix::Bt709
        }
        _ => Matrix::Bt601,
    };
    // GREY is luma-only Y'CbCr to V4L2, limited range unless the driver says otherwise.
    let is_rgb = format.is_rgb();
    let range = match quantization {
        QUANTIZATION_FULL_RANGE => Range::Full,
        QUANTIZATION_LIM_RANGE => Range::Limited,
        _ if is_rgb || colorspace == COLORSPACE_JPEG => Range::Full,
        _ => Range::Limited,
    };
    // xvYCC encodings are limited range whatever the field says.
    let range = if matches!(enc, YCBCR_ENC_XV601 | YCBCR_ENC_XV709) {
        Range::Limited
    } else {
        range
    };
    ColorSpace { matrix, range }
}

#[cfg(test)]
mod tests {
    use super::v4l2_codes::*;
    use super::*;

    const YUYV: [u8; 4] = *b"YUYV";
    const MJPG: [u8; 4] = *b"MJPG";

    #[test]
    fn format_choice() {
        assert_eq!(choose_format(&[MJPG, YUYV], None), Ok(PixelFormat::Yuyv));
        assert_eq!(
            choose_format(&[MJPG, *b"H264"], None),
            Ok(PixelFormat::Mjpeg)
        );
        assert_eq!(
            choose_format(&[MJPG, YUYV], Some(PixelFormat::Mjpeg)),
            Ok(PixelFormat::Mjpeg)
        );
        assert_eq!(
            choose_format(&[*b"JPEG"], Some(PixelFormat::Mjpeg)),
            Ok(PixelFormat::Mjpeg)
        );
        let e = choose_format(&[YUYV, *b"UYVY"], Some(PixelFormat::Mjpeg)).unwrap_err();
        assert_eq!(e, "MJPEG requested; the device offers YUYV, UYVY");
        let e = choose_format(&[*b"H264"], None).unwrap_err();
        assert!(
            e.contains("offers H264, none of YUYV, NV12, MJPEG, RGB24, YU12"),
            "{e}"
        );
        // The new formats are usable, after the first four.
        assert_eq!(
            choose_format(&[*b"GREY", *b"UYVY", *b"RGB3"], None),
            Ok(PixelFormat::Rgb24)
        );
        assert_eq!(
            choose_format(&[*b"GREY", *b"BGR3", *b"UYVY"], None),
            Ok(PixelFormat::Uyvy)
        );
        assert_eq!(
            choose_format(&[*b"GREY", *b"NV21", *b"YU12"], None),
            Ok(PixelFormat::Yu12)
        );
        assert_eq!(choose_format(&[*b"GREY"], None), Ok(PixelFormat::Grey));
        assert_eq!(
            choose_format(&[YUYV, *b"YV12"], Some(PixelFormat::Yv12)),
            Ok(PixelFormat::Yv12)
        );
        for f in PixelFormat::ALL {
            if !matches!(f, PixelFormat::RpicamI420 | PixelFormat::RpicamI420Pi5) {
                assert_eq!(PixelFormat::from_fourcc(f.fourcc()), Some(f), "{f}");
            }
        }
        assert!(choose_format(&[], None)
            .unwrap_err()
            .contains("offers none"));
        assert_eq!(fourcc_str([b'Y', 0, 1, b'V']), "Y\\x00\\x01V");
    }

    #[test]
    fn size_choice() {
        // vivid's webcam input: 640x480 is not offered and 640x360 is too short, so the
        // smallest size covering it is 1280x720.
        let vivid = [(320, 180), (640, 360), (1280, 720)]
            .map(|(width, height)| SizeOffer::Discrete { width, height });
        assert_eq!(choose_size(&vivid, (640, 360)), Some((640, 360)));
        assert_eq!(choose_size(&vivid, (640, 480)), Some((1280, 720)));
        assert_eq!(choose_size(&vivid, (100, 100)), Some((320, 180)));
        assert_eq!(choose_size(&vivid, (4000, 3000)), Some((1280, 720)));
        let step = SizeOffer::Stepwise {
            min_width: 16,
            max_width: 1920,
            step_width: 16,
            min_height: 16,
            max_height: 1080,
            step_height: 8,
        };
        assert_eq!(choose_size(&[step], (640, 480)), Some((640, 480)));
        assert_eq!(choose_size(&[step], (641, 483)), Some((640, 480)));
        assert_eq!(choose_size(&[step], (5000, 5000)), Some((1920, 1080)));
        assert_eq!(choose_size(&[step], (1, 1)), Some((16, 16)));
        assert_eq!(choose_size(&[], (640, 480)), None);
        // A range whose max is not on a step never yields a size beyond max.
        let odd = SizeOffer::Stepwise {
            min_width: 10,
            max_width: 25,
            step_width: 10,
            min_height: 10,
            max_height: 25,
            step_height: 10,
        };
        assert_eq!(choose_size(&[odd], (25, 25)), Some((20, 20)));
    }

    #[test]
    fn interval_choice() {
        let d = |numerator, denominator| IntervalOffer::Discrete {
            numerator,
            denominator,
        };
        let offers = [d(1, 30), d(1, 15), d(1, 5), d(1001, 30000)];
        assert_eq!(choose_interval(&offers, 30.0), Some((1, 30)));
        assert_eq!(choose_interval(&offers, 29.97), Some((1001, 30000)));
        assert_eq!(choose_interval(&offers, 12.0), Some((1, 15)));
        assert_eq!(choose_interval(&offers, 6.0), Some((1, 5)));
        assert_eq!(choose_interval(&offers, 100.0), Some((1, 30)));
        assert_eq!(choose_interval(&offers, f64::NAN), None);
        let range = IntervalOffer::Stepwise {
            min: (1, 60),
            max: (1, 1),
        };
        assert_eq!(choose_interval(&[range], 25.0), Some((1000, 25000)));
        assert_eq!(choose_interval(&[range], 240.0), Some((1000, 60000)));
        assert_eq!(choose_interval(&[d(0, 30)], 30.0), None);
        assert_eq!(interval_fps(1, 30), Some(30.0));
    }

    #[test]
    fn colour_mapping_follows_the_kernel_defaults() {
        let yuv = PixelFormat::Yuyv;
        assert_eq!(color_from_v4l(yuv, 0, 0, 0), ColorSpace::BT601_LIMITED);
        assert_eq!(
            color_from_v4l(yuv, COLORSPACE_SRGB, 0, 0),
            ColorSpace::BT601_LIMITED
        );
        assert_eq!(
            color_from_v4l(yuv, COLORSPACE_REC709, 0, 0),
            ColorSpace::BT709_LIMITED
        );
        assert_eq!(
            color_from_v4l(yuv, COLORSPACE_JPEG, 0, 0),
            ColorSpace::BT601_FULL
        );
        assert_eq!(
            color_from_v4l(yuv, COLORSPACE_REC709, 0, QUANTIZATION_FULL_RANGE),
            ColorSpace::BT709_FULL
        );
        assert_eq!(
            color_from_v4l(yuv, COLORSPACE_SRGB, YCBCR_ENC_709, 0),
            ColorSpace::BT709_LIMITED
        );
        assert_eq!(
            color_from_v4l(
                yuv,
                COLORSPACE_JPEG,
                YCBCR_ENC_XV601,
                QUANTIZATION_FULL_RANGE
            ),
            ColorSpace::BT601_LIMITED
        );
        assert_eq!(
            color_from_v4l(yuv, COLORSPACE_BT2020, 0, 0).matrix,
            Matrix::Bt709
        );
        assert_eq!(
            color_from_v4l(PixelFormat::Rgb24, COLORSPACE_SRGB, 0, 0).range,
            Range::Full
        );
        assert_eq!(
            color_from_v4l(PixelFormat::Bgr24, COLORSPACE_SRGB, 0, 0).range,
            Range::Full
        );
        assert_eq!(
            color_from_v4l(PixelFormat::Grey, COLORSPACE_SRGB, 0, 0).range,
            Range::Limited
        );
        assert_eq!(
            color_from_v4l(
                PixelFormat::Grey,
                COLORSPACE_SRGB,
                0,
                QUANTIZATION_FULL_RANGE
            )
            .range,
            Range::Full
        );
    }

    #[test]
    fn adjustments_are_reported() {
        let requested = Request {
            format: Some(PixelFormat::Yuyv),
            width: 640,
            height: 480,
            fps: Some(30.0),
        };
        let mut n = Negotiated {
            requested,
            format: PixelFormat::Yuyv,
            width: 640,
            height: 480,
            stride: 1280,
            size_image: 614_400,
            fps: Some(30.0),
            color: ColorSpace::BT601_LIMITED,
        };
        assert!(n.adjustments().is_empty());
        n.height = 360;
        n.fps = Some(5.0);
        assert_eq!(
            n.adjustments(),
            ["size 640x480 became 640x360", "30 fps became 5.000 fps"]
        );
        assert_eq!(
            n.to_string(),
            "YUYV 640x360 stride 1280 5.000 fps Bt601 Limited"
        );
    }
}
