//! `edgeclip classify`: top-k labels or tags of each image.

use std::path::Path;

use anyhow::Result;
use edgeclip::encoder::ImageEncoder;
use edgeclip::preprocess::load_rgb_within;

use super::{is_input_error, label_source};
use crate::args::ClassifyArgs;
use crate::context::{Ctx, Outcome};
use crate::output::{Record, TagScore};

/// Runs `classify`.
pub fn run(ctx: &mut Ctx, args: ClassifyArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let bias = if args.tags { args.bias } else { 0.0 };
    let mut set = label_source::open(ctx, &args.labels, &package)?.with_bias(bias);
    let mut images = ImageEncoder::open(&package, ctx.engine()?, ctx.precision)?;
    let max_pixels = ctx.image_pixel_limit();
    let mut failed = false;
    for path in &args.images {
        let shown = path.display().to_string();
        let emb = match embed_one(&mut images, path, max_pixels) {
            Ok(emb) => emb,
            Err(err) if !is_input_error(&err) => return Err(err.into()),
            Err(err) => {
                failed = true;
                ctx.out.report_error(Some(&shown), &err.into())?;
                continue;
            }
        };
        if args.tags {
            let tags = set.tags(emb.row(0), args.threshold)?;
            let list = tags
                .tags
                .iter()
                .map(|t| TagScore {
                    label: set.label(t.label),
                    score: t.score,
                    logit: t.logit,
                })
                .collect();
            ctx.out.print(&Record::Tags {
                path: &shown,
                tags: list,
                passed: tags.passed,
            })?;
        } else {
            let top = set.top_k(emb.row(0), args.top_k.into())?;
            let top = label_source::scores(&set, &top);
            ctx.out
                .print(&Record::Classification { path: &shown, top })?;
        }
    }
    Ok(Outcome::failed_if(failed))
}

fn embed_one(
    images: &mut ImageEncoder,
    path: &Path,
    max_pixels: u64,
) -> edgeclip::Result<edgeclip::embedding::Embeddings> {
    let img = load_rgb_within(path, max_pixels)?;
    images.embed_images(std::slice::from_ref(&img))
}
