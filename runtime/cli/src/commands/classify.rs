//! `edgeclip classify`: top-k labels or tags of each image.

use std::path::Path;

use anyhow::{bail, Result};
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::labels;
use edgeclip::matcher::LabelSet;
use edgeclip::model::ModelPackage;
use edgeclip::preprocess::load_rgb;
use edgeclip::prompts;

use super::is_input_error;
use crate::args::ClassifyArgs;
use crate::context::{Ctx, Outcome};
use crate::output::{LabelScore, Record, TagScore};

/// Runs `classify`.
pub fn run(ctx: &mut Ctx, args: ClassifyArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let mut set = label_set(ctx, &args, &package)?;
    let mut images = ImageEncoder::open(&package, ctx.engine()?, ctx.precision)?;
    let mut failed = false;
    for path in &args.images {
        let shown = path.display().to_string();
        let emb = match embed_one(&mut images, path) {
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
            let top = top
                .iter()
                .map(|m| LabelScore {
                    label: set.label(m.label),
                    probability: m.probability,
                    logit: m.logit,
                })
                .collect();
            ctx.out
                .print(&Record::Classification { path: &shown, top })?;
        }
    }
    Ok(Outcome::failed_if(failed))
}

fn embed_one(
    images: &mut ImageEncoder,
    path: &Path,
) -> edgeclip::Result<edgeclip::embedding::Embeddings> {
    let img = load_rgb(path)?;
    images.embed_images(std::slice::from_ref(&img))
}

fn read_labels(args: &ClassifyArgs) -> Result<Vec<String>> {
    let labels: Vec<String> = match (&args.labels, &args.labels_file) {
        (Some(list), _) => list
            .split(',')
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect(),
        (None, Some(path)) => labels::read_label_list(path)?
            .into_iter()
            .map(|e| e.label)
            .collect(),
        (None, None) => bail!("give --labels, --labels-file or --store"),
    };
    if labels.is_empty() {
        bail!("the label list is empty");
    }
    Ok(labels)
}

/// The label set of a run: a store, or labels encoded now.
fn label_set(ctx: &Ctx, args: &ClassifyArgs, package: &ModelPackage) -> Result<LabelSet> {
    let scale = package.manifest().logit_scale;
    let set = if let Some(path) = &args.store {
        LabelSet::from_store(labels::open_store(path, package)?, scale)?
    } else {
        let labels = read_labels(args)?;
        let templates = if args.templates.is_empty() {
            vec![prompts::DEFAULT_TEMPLATE.to_owned()]
        } else {
            args.templates.clone()
        };
        let mut text = TextEncoder::open(package, ctx.engine()?, ctx.precision)?;
        let rows = text.embed_labels(&labels, &templates)?;
        LabelSet::new(labels, rows, scale)?
    };
    Ok(set.with_bias(args.bias))
}
