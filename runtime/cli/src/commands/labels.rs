//! `edgeclip labels`: building, editing and describing embedding stores.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use edgeclip::encoder::TextEncoder;
use edgeclip::labels::{self, DType, LabelEntry, LabelMeta, Store, StoreBuilder};
use edgeclip::model::ModelPackage;
use edgeclip::prompts;
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{
    DTypeArg, LabelsAddArgs, LabelsBuildArgs, LabelsCommand, LabelsRemoveArgs, StoreArgs,
};
use crate::context::{Ctx, Outcome};
use crate::output::{Record, StoreAction, StoreInfo, StoreWritten};

/// Runs one `labels` subcommand.
pub fn run(ctx: &mut Ctx, command: LabelsCommand) -> Result<Outcome> {
    match command {
        LabelsCommand::Build(args) => build(ctx, args),
        LabelsCommand::Add(args) => add(ctx, args),
        LabelsCommand::Remove(args) => remove(ctx, args),
        LabelsCommand::List(args) => list(ctx, args),
        LabelsCommand::Info(args) => info(ctx, args),
    }
}

/// Opens a store without a model check. Store errors become library errors so
/// that `error` records carry their kind (`store_file`, `io`, ...).
fn open(path: &Path) -> edgeclip::Result<Store> {
    Ok(Store::open(path)?)
}

/// Writes `builder` to `path` atomically (see [`open`] for why the conversion).
fn write(builder: &StoreBuilder, path: &Path) -> edgeclip::Result<()> {
    Ok(builder.write_atomic(path)?)
}

/// The record of a store just written at `path`.
fn written(
    action: StoreAction,
    path: &Path,
    builder: &StoreBuilder,
    (added, removed): (usize, usize),
    templates: usize,
    encode_seconds: Option<f64>,
) -> StoreWritten {
    StoreWritten {
        action,
        path: path.display().to_string(),
        labels: builder.len(),
        added,
        removed,
        templates,
        dtype: builder.dtype().name(),
        dim: builder.dim(),
        // The file was just written; a failing stat is not worth failing the run.
        bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        encode_seconds,
    }
}

fn build(ctx: &mut Ctx, args: LabelsBuildArgs) -> Result<Outcome> {
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
    let builder = StoreBuilder::new(dtype, package.manifest().embed_dim, fingerprint)
        .map_err(edgeclip::Error::from)?;
    let mut encoder = TextEncoder::open(&package, ctx.engine()?, ctx.precision)?;
    let job = Encoding {
        action: StoreAction::Build,
        path: &args.output,
        entries: &entries,
        templates: &templates,
    };
    job.run(ctx, builder, &mut encoder)
}

/// Labels to encode into a store and write back: `labels build` and `add`.
struct Encoding<'a> {
    action: StoreAction,
    path: &'a Path,
    entries: &'a [LabelEntry],
    templates: &'a [String],
}

impl Encoding<'_> {
    /// Encodes into `builder`, writes it atomically and prints what was written.
    fn run(
        &self,
        ctx: &mut Ctx,
        mut builder: StoreBuilder,
        encoder: &mut TextEncoder,
    ) -> Result<Outcome> {
        let started = Instant::now();
        encode(&mut builder, encoder, self.entries, self.templates)
            .with_context(|| format!("encoding labels for {}", self.path.display()))?;
        let secs = started.elapsed().as_secs_f64();
        write(&builder, self.path)?;
        let record = written(
            self.action,
            self.path,
            &builder,
            (self.entries.len(), 0),
            self.templates.len(),
            Some(secs),
        );
        ctx.out.print(&Record::StoreWritten(record))?;
        Ok(Outcome::Success)
    }
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

fn add(ctx: &mut Ctx, args: LabelsAddArgs) -> Result<Outcome> {
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
    let builder = StoreBuilder::from_store(&store);
    drop(store);
    let mut encoder = TextEncoder::open(&package, ctx.engine()?, precision)?;
    let job = Encoding {
        action: StoreAction::Add,
        path: &args.store,
        entries: &entries,
        templates: &templates,
    };
    job.run(ctx, builder, &mut encoder)
}

fn remove(ctx: &mut Ctx, args: LabelsRemoveArgs) -> Result<Outcome> {
    let store = open(&args.store)?;
    let templates = store.fingerprint().templates.len();
    let mut builder = StoreBuilder::from_store(&store);
    drop(store);
    for label in &args.labels {
        builder
            .remove(label)
            .map_err(edgeclip::Error::from)
            .with_context(|| format!("{}: nothing written", args.store.display()))?;
    }
    if builder.is_empty() {
        bail!(
            "{}: removing every label would leave an empty store; nothing written",
            args.store.display()
        );
    }
    write(&builder, &args.store)?;
    let record = written(
        StoreAction::Remove,
        &args.store,
        &builder,
        (0, args.labels.len()),
        templates,
        None,
    );
    ctx.out.print(&Record::StoreWritten(record))?;
    Ok(Outcome::Success)
}

fn list(ctx: &mut Ctx, args: StoreArgs) -> Result<Outcome> {
    let store = open(&args.store)?;
    for (i, label) in store.labels().enumerate() {
        let meta = store.meta(i);
        ctx.out.print(&Record::Label {
            index: i,
            label,
            group: meta.group,
            threshold: meta.threshold,
        })?;
    }
    Ok(Outcome::Success)
}

fn info(ctx: &mut Ctx, args: StoreArgs) -> Result<Outcome> {
    let store = open(&args.store)?;
    let fp = store.fingerprint();
    // Whether the selected model can use the store; informative, not an error here.
    let model_status = match ctx.package() {
        Ok(package) => model_status(&store, &package),
        Err(e) => format!("no model to compare with ({e:#})"),
    };
    let labels_with_group = (0..store.len())
        .filter(|&i| store.meta(i).group.is_some())
        .count();
    let labels_with_threshold = (0..store.len())
        .filter(|&i| store.meta(i).threshold.is_some())
        .count();
    ctx.out.print(&Record::StoreInfo(StoreInfo {
        path: args.store.display().to_string(),
        labels: store.len(),
        dim: store.dim(),
        dtype: store.dtype().name(),
        bytes: store.file_len(),
        model: fp.model.clone(),
        text_sha256: hex::encode(fp.text_sha256),
        tokenizer: fp.tokenizer.clone(),
        templates: fp.templates.clone(),
        labels_with_group,
        labels_with_threshold,
        model_status,
    }))?;
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
