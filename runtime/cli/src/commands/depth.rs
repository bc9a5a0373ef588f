//! `edgeclip depth`: DepthCLIP monocular depth from the image tower's patch features.
//!
//! The bin prompts (`[depthclip]` of the model, else DepthCLIP's own) are encoded
//! once; each image is encoded dense (pooled embedding and patch tokens in one
//! run); the head turns the pooled embedding into a scene depth and the patch grid
//! into a map, averaged with the mirrored image's with `--flip`, upsampled to the
//! image's size. The patch grid covers what the model's preprocessing keeps (the
//! centre square when the manifest crops), so on an image of another shape the map
//! is that square's, stretched to the image.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _, Result};
use edgeclip::encoder::{ImageEncoder, ImageFeatures, TextEncoder};
use edgeclip::preprocess::load_rgb_within;
use edgeclip_depth::{DepthConfig, DepthHead, DepthMap};

use super::{is_input_error, ms_since};
use crate::args::DepthArgs;
use crate::context::{Ctx, Outcome};
use crate::output::{DepthReport, Record};

/// Runs `depth`.
pub fn run(ctx: &mut Ctx, args: DepthArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let config = depth_config(package.manifest().depthclip.as_ref(), args.scale)?;
    let scale = config.scale;
    let prompts =
        TextEncoder::open(&package, ctx.engine()?, ctx.precision)?.embed(&config.prompts())?;
    let head = DepthHead::new(config, prompts.as_slice())?;
    let mut images = ImageEncoder::open_dense(&package, ctx.engine()?, ctx.precision)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the output folder {}", dir.display()))?;
    }
    let mut features = ImageFeatures::new();
    let mut mirrored = ImageFeatures::new();
    let mut mirrored_rgb = Vec::new();
    let max_pixels = ctx.image_pixel_limit();
    let mut failed = false;
    for path in &args.images {
        let shown = path.display().to_string();
        let started = Instant::now();
        let image = match load_rgb_within(path, max_pixels) {
            Ok(image) => image,
            Err(err) if !is_input_error(&err) => return Err(err.into()),
            Err(err) => {
                failed = true;
                ctx.out.report_error(Some(&shown), &err.into())?;
                continue;
            }
        };
        let decode_ms = ms_since(started);
        let (width, height) = (image.width(), image.height());
        let started = Instant::now();
        images.encode_frame(image.as_raw(), width, height, &mut features)?;
        if args.flip {
            mirror(image.as_raw(), width as usize, &mut mirrored_rgb);
            images.encode_frame(&mirrored_rgb, width, height, &mut mirrored)?;
        }
        let encode_ms = ms_since(started);
        let started = Instant::now();
        let mut scene_m = head.scene_depth(features.embedding())?;
        if args.flip {
            scene_m = 0.5 * (scene_m + head.scene_depth(mirrored.embedding())?);
        }
        let map = depth_map(
            &head,
            &features,
            args.flip.then_some(&mirrored),
            (height, width),
        )?;
        let stats = map.stats();
        let depth_ms = ms_since(started);
        let (depth_png, preview_png) = match &args.out {
            Some(dir) => write_pngs(&map, dir, path)?,
            None => (None, None),
        };
        ctx.out.print(&Record::Depth(DepthReport {
            path: &shown,
            width: width as usize,
            height: height as usize,
            scene_m,
            min_m: stats.min,
            median_m: stats.median,
            max_m: stats.max,
            mean_m: stats.mean,
            flip: args.flip,
            scale,
            depth_png,
            preview_png,
            decode_ms,
            encode_ms,
            depth_ms,
        }))?;
    }
    Ok(Outcome::failed_if(failed))
}

/// The model's `[depthclip]` table (DepthCLIP's official settings where it says
/// nothing), the scale overridden by `--scale`.
fn depth_config(model: Option<&DepthConfig>, scale: Option<f32>) -> Result<DepthConfig> {
    let mut config = model.cloned().unwrap_or_default();
    if let Some(scale) = scale {
        if !(scale.is_finite() && scale > 0.0) {
            bail!("--scale {scale}: must be a positive number");
        }
        config.scale = scale;
    }
    config.validate()?;
    Ok(config)
}

/// The depth map of one image at `size = (height, width)`, flip-averaged when the
/// mirrored image's features are given.
fn depth_map(
    head: &DepthHead,
    features: &ImageFeatures,
    mirrored: Option<&ImageFeatures>,
    size: (u32, u32),
) -> Result<DepthMap> {
    let no_patches = || anyhow!("the image tower returned no patch tokens");
    let grid = features.patches().ok_or_else(no_patches)?;
    let mirrored = match mirrored {
        Some(m) => Some(m.patches().ok_or_else(no_patches)?.as_slice()),
        None => None,
    };
    Ok(head.depth_map(
        grid.as_slice(),
        mirrored,
        (grid.rows(), grid.cols()),
        (size.0 as usize, size.1 as usize),
    )?)
}

/// Writes `map` as `image`'s depth PNG (millimetres) and preview in `dir`;
/// returns their paths for the report.
fn write_pngs(
    map: &DepthMap,
    dir: &Path,
    image: &Path,
) -> Result<(Option<String>, Option<String>)> {
    let (depth, preview) = output_paths(dir, image);
    map.write_png_mm(&depth)?;
    map.write_preview(&preview)?;
    Ok((
        Some(depth.display().to_string()),
        Some(preview.display().to_string()),
    ))
}

/// `DIR/<stem>.depth.png` and `DIR/<stem>.preview.png` for `image`.
fn output_paths(dir: &Path, image: &Path) -> (PathBuf, PathBuf) {
    let stem = image
        .file_stem()
        .map_or_else(|| "image".into(), |s| s.to_string_lossy());
    (
        dir.join(format!("{stem}.depth.png")),
        dir.join(format!("{stem}.preview.png")),
    )
}

/// Mirrors an RGB8 image (`width` pixels a row) left to right into `out`.
fn mirror(rgb: &[u8], width: usize, out: &mut Vec<u8>) {
    out.clear();
    if width == 0 {
        return;
    }
    for row in rgb.chunks_exact(width * 3) {
        for pixel in row.chunks_exact(3).rev() {
            out.extend_from_slice(pixel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_comes_from_the_flag_then_the_model_then_depthclip() {
        assert_eq!(depth_config(None, None).unwrap(), DepthConfig::default());
        let model = DepthConfig {
            scale: 20.0,
            template: "This object is {}.".into(),
            ..DepthConfig::default()
        };
        let c = depth_config(Some(&model), None).unwrap();
        assert_eq!((c.scale, c.template.as_str()), (20.0, "This object is {}."));
        assert_eq!(c.words, DepthConfig::default().words);
        assert_eq!(depth_config(Some(&model), Some(5.0)).unwrap().scale, 5.0);
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let err = depth_config(None, Some(bad)).unwrap_err().to_string();
            assert!(err.contains("--scale"), "{err}");
        }
        let words = DepthConfig {
            words: vec!["near".into(), "far".into()],
            bins_m: vec![1.0, 5.0],
            ..DepthConfig::default()
        };
        let c = depth_config(Some(&words), None).unwrap();
        assert_eq!(
            (c.bins_m, c.scale),
            (vec![1.0, 5.0], DepthConfig::default().scale)
        );
    }

    #[test]
    fn mirroring_reverses_each_row() {
        let rgb = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        let mut out = Vec::new();
        mirror(&rgb, 2, &mut out);
        assert_eq!(out, [4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9]);
        mirror(&rgb, 4, &mut out);
        assert_eq!(out, [10, 11, 12, 7, 8, 9, 4, 5, 6, 1, 2, 3]);
    }

    #[test]
    fn outputs_are_named_after_the_image() {
        let (d, p) = output_paths(Path::new("o"), Path::new("in/kitchen.jpg"));
        assert_eq!(d, Path::new("o/kitchen.depth.png"));
        assert_eq!(p, Path::new("o/kitchen.preview.png"));
    }
}
