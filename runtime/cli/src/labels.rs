//! `edgeclip labels`: building, editing and describing embedding stores.

use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use edgeclip::encoder::TextEncoder;
use edgeclip::labels::{self, DType, LabelEntry, LabelMeta, Store, StoreBuilder};
use edgeclip::model::ModelPackage;
use edgeclip::prompts;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::StoreArgs;
use crate::args::{DTypeArg, LabelsAddArgs, LabelsBuildArgs, LabelsCommand, LabelsRemoveArgs};
use crate::commands::{Ctx, Outcome};
use crate::output::{json_line, Record};

/// Runs one `labels` subcommand.
pub fn run(ctx: &Ctx, command: LabelsCommand) -> Result<Outcome> {
    match command {
        LabelsCommand::Build(args) => build(ctx, args),
        LabelsCommand::Add(args) => add(ctx, args),
        LabelsCommand::Remove(args) => remove(args),
        LabelsCommand::List(args) => list(args),
        LabelsCommand::Info(args) => info(ctx, args),
    }
}

fn build(ctx: &Ctx, args: LabelsBuildArgs) -> Result<Outcome> {
    if args.output.exists() && !args.force {
        bail!(
            "{} exists (use --force to replace it, or `labels add`)",
            args.output.display()
        );
    }
    let entries = labels::read_label_list(&args.labels)?;
    if entries.is_empty() {
        bail!("{}: no label in the file", args.labels.display());
    }
    let templates = prompts::resolve(&args.templates)?;
    let package = ctx.package()?;
    let fingerprint = labels::fingerprint(&package, ctx.precision, &templates)?;
    let dtype = match args.dtype {
        DTypeArg::F32 => DType::F32,
        DTypeArg::F16 => DType::F16,
        DTypeArg::Int8 => DType::Int8,
    };
    let mut builder = StoreBuilder::new(dtype, package.manifest().embed_dim, fingerprint)?;
    let mut encoder = TextEncoder::open(&package, &ctx.backend(), ctx.precision)?;
    let started = Instant::now();
    encode(&mut builder, &mut encoder, &entries, &templates)?;
    builder.write_atomic(&args.output)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {} labels × {} template(s), {} rows of {}, {} bytes; encoded in {secs:.1} s ({:.0} labels/s)",
        args.output.display(),
        entries.len(),
        templates.len(),
        dtype.name(),
        package.manifest().embed_dim,
        std::fs::metadata(&args.output).map(|m| m.len()).unwrap_or(0),
        entries.len() as f64 / secs.max(1e-9)
    );
    Ok(Outcome::Success)
}

/// Encodes with a progress bar on stderr (drawn only on a terminal).
fn encode(
    builder: &mut StoreBuilder,
    encoder: &mut TextEncoder,
    entries: &[LabelEntry],
    templates: &[String],
) -> Result<()> {
    let bar = ProgressBar::new(entries.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} labels  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let result = labels::encode_into(builder, encoder, entries, templates, |done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    Ok(result?)
}

fn add(ctx: &Ctx, args: LabelsAddArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let store = labels::open_store(&args.store, &package)?;
    // New rows must come from the text file and templates that built the others.
    let precision = labels::text_precision(&store, &package)?;
    if precision != ctx.precision {
        log::info!(
            "{}: built with the {precision} text file; using it",
            args.store.display()
        );
    }
    let templates = store.fingerprint().templates.clone();
    let mut entries: Vec<LabelEntry> = args
        .labels
        .iter()
        .map(|l| LabelEntry {
            label: l.trim().to_owned(),
            meta: LabelMeta::default(),
        })
        .collect();
    if let Some(path) = &args.labels_file {
        entries.extend(labels::read_label_list(path)?);
    }
    if let Some(e) = entries.iter().find(|e| e.label.is_empty()) {
        bail!("empty label {:?}", e.label);
    }
    let mut builder = StoreBuilder::from_store(&store);
    drop(store);
    let mut encoder = TextEncoder::open(&package, &ctx.backend(), precision)?;
    encode(&mut builder, &mut encoder, &entries, &templates)
        .with_context(|| format!("adding to {}", args.store.display()))?;
    builder.write_atomic(&args.store)?;
    println!(
        "{}: added {}, {} labels now",
        args.store.display(),
        entries.len(),
        builder.len()
    );
    Ok(Outcome::Success)
}

fn remove(args: LabelsRemoveArgs) -> Result<Outcome> {
    let store = Store::open(&args.store)?;
    let mut builder = StoreBuilder::from_store(&store);
    drop(store);
    for label in &args.labels {
        builder
            .remove(label)
            .with_context(|| format!("{}: nothing written", args.store.display()))?;
    }
    if builder.is_empty() {
        bail!(
            "{}: removing every label would leave an empty store; nothing written",
            args.store.display()
        );
    }
    builder.write_atomic(&args.store)?;
    println!(
        "{}: removed {}, {} labels left",
        args.store.display(),
        args.labels.len(),
        builder.len()
    );
    Ok(Outcome::Success)
}

fn list(args: StoreArgs) -> Result<Outcome> {
    let store = Store::open(&args.store)?;
    for (i, label) in store.labels().enumerate() {
        let meta = store.meta(i);
        if args.json {
            json_line(&Record::Label {
                index: i,
                label,
                group: meta.group,
                threshold: meta.threshold,
            });
        } else {
            let mut line = label.to_owned();
            if meta.group.is_some() || meta.threshold.is_some() {
                line.push('\t');
                line.push_str(meta.group.unwrap_or(""));
                if let Some(t) = meta.threshold {
                    line.push_str(&format!("\t{t}"));
                }
            }
            println!("{line}");
        }
    }
    Ok(Outcome::Success)
}

fn info(ctx: &Ctx, args: StoreArgs) -> Result<Outcome> {
    let store = Store::open(&args.store)?;
    let fp = store.fingerprint();
    // Whether the selected model can use the store; informative, not an error here.
    let model = match ctx.package() {
        Ok(package) => model_status(&store, &package),
        Err(e) => format!("no model to compare with ({e:#})"),
    };
    let groups = (0..store.len())
        .filter(|&i| store.meta(i).group.is_some())
        .count();
    let thresholds = (0..store.len())
        .filter(|&i| store.meta(i).threshold.is_some())
        .count();
    if args.json {
        let v = serde_json::json!({
            "path": args.store.display().to_string(), "labels": store.len(), "dim": store.dim(),
            "dtype": store.dtype().name(), "bytes": store.file_len(),
            "model": fp.model, "text_sha256": hex::encode(fp.text_sha256),
            "tokenizer": fp.tokenizer, "templates": fp.templates,
            "labels_with_group": groups, "labels_with_threshold": thresholds, "model_status": model,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", args.store.display());
        println!(
            "  labels       {} ({groups} with a group, {thresholds} with a threshold)",
            store.len()
        );
        println!("  rows         {} × {}", store.dtype().name(), store.dim());
        println!("  size         {} bytes", store.file_len());
        println!(
            "  model        {} (text file sha256 {})",
            fp.model,
            hex::encode(fp.text_sha256)
        );
        println!("  tokenizer    {}", fp.tokenizer);
        println!(
            "  templates    {}: {}",
            fp.templates.len(),
            summary(&fp.templates)
        );
        println!("  this model   {model}");
    }
    Ok(Outcome::Success)
}

fn model_status(store: &Store, package: &ModelPackage) -> String {
    match labels::text_precision(store, package) {
        Ok(p) => format!(
            "{}: usable (built by its {p} text file)",
            package.manifest().name
        ),
        Err(e) => format!("not usable: {e}"),
    }
}

fn summary(templates: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = templates
        .iter()
        .take(SHOWN)
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if templates.len() > SHOWN {
        s.push_str(", ...");
    }
    s
}
