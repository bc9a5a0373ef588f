//! The label set of `classify` and `watch`: a store, or labels encoded now.

use anyhow::{bail, Result};
use edgeclip::encoder::TextEncoder;
use edgeclip::labels;
use edgeclip::model::ModelPackage;
use edgeclip::prompts;
use edgeclip::zero_shot::{LabelSet, Match};

use crate::args::LabelArgs;
use crate::context::Ctx;
use crate::output::LabelScore;

/// Opens `--store` (checked against the model) or encodes `--labels` /
/// `--labels-file` in every `--template`.
pub fn open(ctx: &Ctx, args: &LabelArgs, package: &ModelPackage) -> Result<LabelSet> {
    let scale = package.manifest().logit_scale;
    if let Some(path) = &args.store {
        return Ok(LabelSet::from_store(
            labels::open_store(path, package)?,
            scale,
        )?);
    }
    let labels = read_labels(args)?;
    let templates = if args.templates.is_empty() {
        vec![prompts::DEFAULT_TEMPLATE.to_owned()]
    } else {
        args.templates.clone()
    };
    encode(ctx, labels, &templates, package)
}

/// Encodes `labels` in every one of `templates` (averaged per label).
pub fn encode(
    ctx: &Ctx,
    labels: Vec<String>,
    templates: &[String],
    package: &ModelPackage,
) -> Result<LabelSet> {
    if labels.is_empty() {
        bail!("the label list is empty");
    }
    let mut text = TextEncoder::open(package, ctx.engine()?, ctx.precision)?;
    let rows = text.embed_labels(&labels, templates)?;
    Ok(LabelSet::new(labels, rows, package.manifest().logit_scale)?)
}

/// The labels of `--labels` or `--labels-file`.
pub fn read_labels(args: &LabelArgs) -> Result<Vec<String>> {
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

/// The best labels of a query as output records, best first.
pub fn scores<'a>(set: &'a LabelSet, top: &[Match]) -> Vec<LabelScore<'a>> {
    top.iter()
        .map(|m| LabelScore {
            label: set.label(m.label),
            probability: m.probability,
            logit: m.logit,
        })
        .collect()
}
