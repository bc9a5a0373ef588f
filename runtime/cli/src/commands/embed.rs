//! `edgeclip embed`: L2-normalized embeddings of images or texts.

use std::path::Path;

use anyhow::Result;
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::preprocess::load_rgb_within;

use super::is_input_error;
use crate::args::{EmbedArgs, EmbedKind};
use crate::context::{Ctx, Outcome};
use crate::output::Record;

/// Runs `embed`.
pub fn run(ctx: &mut Ctx, args: EmbedArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let mut failed = false;
    match args.kind {
        EmbedKind::Text => {
            let mut enc = TextEncoder::open(&package, ctx.engine()?, ctx.precision)?;
            let emb = enc.embed(&args.inputs)?;
            for (input, row) in args.inputs.iter().zip(emb.rows()) {
                ctx.out.print(&Record::Embedding {
                    input,
                    embedding: row,
                })?;
            }
        }
        EmbedKind::Image => {
            let mut enc = ImageEncoder::open(&package, ctx.engine()?, ctx.precision)?;
            let max_pixels = ctx.image_pixel_limit();
            for input in &args.inputs {
                let image = load_rgb_within(Path::new(input), max_pixels);
                match image.and_then(|img| enc.embed_images(&[img])) {
                    Ok(emb) => ctx.out.print(&Record::Embedding {
                        input,
                        embedding: emb.row(0),
                    })?,
                    Err(err) if !is_input_error(&err) => return Err(err.into()),
                    Err(err) => {
                        failed = true;
                        ctx.out.report_error(Some(input), &err.into())?;
                    }
                }
            }
        }
    }
    Ok(Outcome::failed_if(failed))
}
