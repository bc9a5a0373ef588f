//! A picture of a where-answer for people: the frame with the similarity grid
//! blended over the part the model sees, and the answer's box outlined.

use edgeclip::preprocess::SourceWindow;
use image::{ImageBuffer, Luma, Rgb, RgbImage};

/// Draws `grid` (`rows` × `cols` cosines) over `frame` inside `window`, outlines
/// `bbox` (image pixels, right/bottom exclusive) and returns the PNG bytes.
pub fn render_png(
    frame: &RgbImage,
    window: SourceWindow,
    grid: &[f32],
    (rows, cols): (usize, usize),
    bbox: Option<[u32; 4]>,
) -> Result<Vec<u8>, image::ImageError> {
    let mut out = frame.clone();
    let (lo, hi) = grid
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let span = (hi - lo).max(1e-6);
    let heat: ImageBuffer<Luma<f32>, Vec<f32>> =
        ImageBuffer::from_fn(cols as u32, rows as u32, |x, y| {
            Luma([(grid[y as usize * cols + x as usize] - lo) / span])
        });
    let (left, top) = (window.left.round() as u32, window.top.round() as u32);
    let w = (window.width.round() as u32).clamp(1, frame.width().saturating_sub(left).max(1));
    let h = (window.height.round() as u32).clamp(1, frame.height().saturating_sub(top).max(1));
    let heat = image::imageops::resize(&heat, w, h, image::imageops::FilterType::Triangle);
    for (x, y, v) in heat.enumerate_pixels() {
        let (fx, fy) = (left + x, top + y);
        if fx >= out.width() || fy >= out.height() {
            continue;
        }
        let c = colorous::TURBO.eval_continuous(f64::from(v.0[0].clamp(0.0, 1.0)));
        let p = out.get_pixel_mut(fx, fy);
        for (channel, colour) in p.0.iter_mut().zip([c.r, c.g, c.b]) {
            *channel = ((u16::from(*channel) + u16::from(colour)) / 2) as u8;
        }
    }
    if let Some(b) = bbox {
        outline(&mut out, b, Rgb([255, 255, 255]));
    }
    let mut png = Vec::new();
    out.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(png)
}

/// A 2-pixel rectangle outline, clipped to the image.
fn outline(img: &mut RgbImage, [x0, y0, x1, y1]: [u32; 4], colour: Rgb<u8>) {
    let (w, h) = img.dimensions();
    let (x1, y1) = (x1.min(w), y1.min(h));
    for y in y0..y1 {
        for x in x0..x1 {
            let edge = x < x0 + 2 || x + 2 >= x1 || y < y0 + 2 || y + 2 >= y1;
            if edge {
                img.put_pixel(x, y, colour);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_png_of_the_frame_size() {
        let frame = RgbImage::from_pixel(80, 60, Rgb([10, 20, 30]));
        let window = SourceWindow {
            left: 10.0,
            top: 0.0,
            width: 60.0,
            height: 60.0,
        };
        let png = render_png(
            &frame,
            window,
            &[0.0, 1.0, 0.5, 0.2],
            (2, 2),
            Some([40, 0, 70, 30]),
        )
        .unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(back.dimensions(), (80, 60));
        // Outside the window the frame is untouched; the box edge is white.
        assert_eq!(back.get_pixel(2, 30), &Rgb([10, 20, 30]));
        assert_eq!(back.get_pixel(40, 10), &Rgb([255, 255, 255]));
    }
}
