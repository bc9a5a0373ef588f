//! Resolves parsed flags into library objects and runs one command.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use edgeclip::backend::tract::TractBackend;
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::labels;
use edgeclip::matcher::{LabelSet, Match, Tags, MAX_TAGS};
use edgeclip::model::{ModelPackage, Precision, TowerKind, MANIFEST_FILE};
use edgeclip::preprocess::load_rgb;
use edgeclip::prompts;
use edgeclip::tokenizer::Tokenizer;
use edgeclip::verify::Reference;

use crate::args::{
    CheckArgs, ClassifyArgs, Cli, Command, EmbedArgs, EmbedKind, InfoArgs, PrecisionArg,
    TokenizeArgs,
};
use crate::output::{json_line, LabelScore, Record, TagScore};

/// Name of the shipped default model package.
const DEFAULT_MODEL: &str = "edgeclip-tiny";

/// How a command ended when it did not fail outright.
pub enum Outcome {
    /// Every input was processed.
    Success,
    /// Some inputs or checks failed (each was reported); the rest were processed.
    PartialFailure,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    let precision = match cli.precision {
        PrecisionArg::Fp32 => Precision::Fp32,
        PrecisionArg::Int8 => Precision::Int8,
    };
    let ctx = Ctx {
        model: cli.model,
        precision,
        threads: cli.threads as usize,
    };
    match cli.command {
        Command::Classify(args) => classify(&ctx, args),
        Command::Embed(args) => embed(&ctx, args),
        Command::Tokenize(args) => tokenize(args),
        Command::Info(args) => info(&ctx, args),
        Command::Check(args) => check(&ctx, args),
        Command::Labels(command) => crate::labels::run(&ctx, command),
    }
}

/// What every command may need: the model, precision and threads chosen.
pub struct Ctx {
    model: Option<PathBuf>,
    /// The model files' precision.
    pub precision: Precision,
    threads: usize,
}

impl Ctx {
    /// Opens the selected model package.
    pub fn package(&self) -> Result<ModelPackage> {
        let dir = resolve_model_dir(self.model.as_deref())?;
        ModelPackage::open(&dir).with_context(|| format!("opening model package {}", dir.display()))
    }

    /// The inference backend.
    pub fn backend(&self) -> TractBackend {
        TractBackend::new(self.threads)
    }
}

/// `--model`, then `$EDGECLIP_MODEL`, then the default package in the current
/// directory, then beside the executable (a deployed bundle).
fn resolve_model_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.to_owned());
    }
    if let Some(dir) = std::env::var_os("EDGECLIP_MODEL") {
        return Ok(PathBuf::from(dir));
    }
    let mut tried = vec![Path::new("models").join(DEFAULT_MODEL)];
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned))
    {
        tried.push(exe_dir.join("models").join(DEFAULT_MODEL));
    }
    if let Some(found) = tried.iter().find(|d| d.join(MANIFEST_FILE).is_file()) {
        return Ok(found.clone());
    }
    let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    bail!(
        "no model package found (tried {}); pass --model DIR",
        list.join(", ")
    )
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

/// The label set of a `classify` run: a store, or labels encoded now.
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
        let mut text = TextEncoder::open(package, &ctx.backend(), ctx.precision)?;
        let rows = text.embed_labels(&labels, &templates)?;
        LabelSet::new(labels, rows, scale)?
    };
    Ok(set.with_bias(args.bias))
}

fn classify(ctx: &Ctx, args: ClassifyArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let mut set = label_set(ctx, &args, &package)?;
    let mut images = ImageEncoder::open(&package, &ctx.backend(), ctx.precision)?;
    let mut failed = false;
    for path in &args.images {
        let shown = path.display().to_string();
        let result = load_rgb(path).and_then(|img| images.embed_images(std::slice::from_ref(&img)));
        let emb = match result {
            Ok(emb) => emb,
            Err(err) => {
                failed = true;
                report_error(&shown, &err.into(), args.json);
                continue;
            }
        };
        if args.tags {
            let tags = set.tags(emb.row(0), args.threshold)?;
            print_tags(&shown, &set, &tags, args.json);
        } else {
            let top = set.top_k(emb.row(0), args.top_k.into())?;
            print_top(&shown, &set, &top, args.json);
        }
    }
    Ok(if failed {
        Outcome::PartialFailure
    } else {
        Outcome::Success
    })
}

fn print_top(shown: &str, set: &LabelSet, top: &[Match], json: bool) {
    if json {
        let top = top
            .iter()
            .map(|m| LabelScore {
                label: set.label(m.label),
                probability: m.probability,
                logit: m.logit,
            })
            .collect();
        json_line(&Record::Classification { path: shown, top });
    } else {
        println!("{shown}");
        for m in top {
            println!("  {:.3}  {}", m.probability, set.label(m.label));
        }
    }
}

fn print_tags(shown: &str, set: &LabelSet, tags: &Tags<MAX_TAGS>, json: bool) {
    if json {
        let list = tags
            .tags
            .iter()
            .map(|t| TagScore {
                label: set.label(t.label),
                score: t.score,
                logit: t.logit,
            })
            .collect();
        json_line(&Record::Tags {
            path: shown,
            tags: list,
            passed: tags.passed,
        });
    } else {
        println!("{shown}");
        for t in &tags.tags {
            println!("  {:.3}  {}", t.score, set.label(t.label));
        }
        if tags.truncated() {
            println!("  ... {} more passed", tags.passed - tags.tags.len());
        }
    }
}

fn report_error(input: &str, err: &anyhow::Error, json: bool) {
    if json {
        json_line(&Record::Error {
            input,
            message: format!("{err:#}"),
        });
    }
    eprintln!("edgeclip: error: {err:#}");
}

fn embed(ctx: &Ctx, args: EmbedArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let backend = ctx.backend();
    let mut failed = false;
    let print = |input: &str, emb: &[f32]| {
        if args.json {
            json_line(&Record::Embedding {
                input,
                embedding: emb,
            });
        } else {
            let values: Vec<String> = emb.iter().map(|v| format!("{v:.6}")).collect();
            println!("{input}\t{}", values.join(" "));
        }
    };
    match args.kind {
        EmbedKind::Text => {
            let mut enc = TextEncoder::open(&package, &backend, ctx.precision)?;
            let emb = enc.embed(&args.inputs)?;
            for (input, row) in args.inputs.iter().zip(emb.rows()) {
                print(input, row);
            }
        }
        EmbedKind::Image => {
            let mut enc = ImageEncoder::open(&package, &backend, ctx.precision)?;
            for input in &args.inputs {
                match load_rgb(Path::new(input)).and_then(|img| enc.embed_images(&[img])) {
                    Ok(emb) => print(input, emb.row(0)),
                    Err(err) => {
                        failed = true;
                        report_error(input, &err.into(), args.json);
                    }
                }
            }
        }
    }
    Ok(if failed {
        Outcome::PartialFailure
    } else {
        Outcome::Success
    })
}

fn tokenize(args: TokenizeArgs) -> Result<Outcome> {
    let tokenizer = Tokenizer::openai();
    for text in &args.texts {
        let ids = tokenizer.tokenize(text, 77)?;
        if args.json {
            json_line(&Record::Tokens { text, ids: &ids });
        } else {
            let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
            println!("{}", ids.join(" "));
        }
    }
    Ok(Outcome::Success)
}

fn info(ctx: &Ctx, args: InfoArgs) -> Result<Outcome> {
    let dir = resolve_model_dir(args.dir.as_deref().or(ctx.model.as_deref()))?;
    let package = ModelPackage::open(&dir)
        .with_context(|| format!("opening model package {}", dir.display()))?;
    let m = package.manifest();
    let mut files = Vec::new();
    let mut failed = false;
    for kind in [TowerKind::Image, TowerKind::Text] {
        for (precision, entry) in &package.tower(kind).files {
            let status = match package.verified_path(kind, *precision) {
                Ok(_) => "ok".to_owned(),
                Err(e) => {
                    failed = true;
                    e.to_string()
                }
            };
            files.push(serde_json::json!({
                "tower": kind.name(), "precision": precision.to_string(), "path": entry.path,
                "quantization": entry.quantization, "sha256": entry.sha256, "status": status,
            }));
        }
    }
    if args.json {
        let v = serde_json::json!({
            "dir": dir.display().to_string(), "name": m.name, "family": m.family,
            "description": m.description, "embed_dim": m.embed_dim, "logit_scale": m.logit_scale,
            "image_size": m.preprocess.image_size, "context_length": m.tokenizer.context_length,
            "files": files,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} ({}) at {}", m.name, m.family, dir.display());
        if !m.description.is_empty() {
            println!("  {}", m.description);
        }
        println!(
            "  embedding dim {}, logit scale {:.2}",
            m.embed_dim, m.logit_scale
        );
        println!(
            "  image {}x{} ({:?}, {:?}), text context {}",
            m.preprocess.image_size,
            m.preprocess.image_size,
            m.preprocess.interpolation,
            m.preprocess.resize_mode,
            m.tokenizer.context_length
        );
        for f in &files {
            println!(
                "  {:5} {:5} {:24} {}",
                f["tower"].as_str().unwrap_or(""),
                f["precision"].as_str().unwrap_or(""),
                f["path"].as_str().unwrap_or(""),
                f["status"].as_str().unwrap_or("")
            );
        }
    }
    Ok(if failed {
        Outcome::PartialFailure
    } else {
        Outcome::Success
    })
}

fn check(ctx: &Ctx, args: CheckArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let reference = match &args.reference {
        Some(dir) => Reference::open(dir),
        None => Reference::of_package(&package),
    }
    .context("opening the reference outputs")?;
    let agreements = reference.check(&package, &ctx.backend(), ctx.precision)?;
    if agreements.is_empty() {
        bail!(
            "{}: no reference output for precision {}",
            reference.dir().display(),
            ctx.precision
        );
    }
    for a in &agreements {
        if args.json {
            json_line(&Record::Check {
                output: &a.output,
                rows: a.rows,
                min_cosine: a.min_cosine,
                mean_cosine: a.mean_cosine,
                floor: a.floor,
                passed: a.passed(),
            });
        } else {
            println!(
                "{:<20} {:>5} rows  min cosine {:.8}  mean {:.8}  floor {}  {}",
                a.output,
                a.rows,
                a.min_cosine,
                a.mean_cosine,
                a.floor,
                if a.passed() { "ok" } else { "FAILED" }
            );
        }
    }
    Ok(if agreements.iter().all(|a| a.passed()) {
        Outcome::Success
    } else {
        Outcome::PartialFailure
    })
}
