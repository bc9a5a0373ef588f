//! Command-line flags, parsed only (no file is touched here).

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// CLIP vision-language inference on edge devices.
#[derive(Debug, Parser)]
#[command(name = "edgeclip", version, about)]
pub struct Cli {
    /// Model package directory (default: $EDGECLIP_MODEL, then models/edgeclip-tiny
    /// under the current directory or beside the executable).
    #[arg(long, global = true, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Precision of the model files to run.
    #[arg(long, global = true, value_enum, default_value_t = PrecisionArg::Fp32)]
    pub precision: PrecisionArg,
    /// Inference threads.
    #[arg(long, global = true, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Output format: human text, or JSON Lines records (runtime/cli/WIRE.md).
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Same as `--format json`.
    #[arg(long, global = true, conflicts_with = "format")]
    pub json: bool,
    /// Inference backend by name (`edgeclip backends` lists them); `auto` takes the
    /// first that can run on this machine.
    #[arg(long, global = true, default_value = "auto", value_name = "NAME")]
    pub backend: String,
    /// Log more (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Human-readable text.
    Text,
    /// JSON Lines: one `{"type", "data"}` record per line.
    Json,
}

/// `--precision` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// 32-bit float files.
    Fp32,
    /// int8-quantized files.
    Int8,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Zero-shot classify images against labels.
    Classify(ClassifyArgs),
    /// Print L2-normalized embeddings of images or texts.
    Embed(EmbedArgs),
    /// Print the token ids of a text (the model's context length of them).
    Tokenize(TokenizeArgs),
    /// Describe a model package and verify its files.
    Info(InfoArgs),
    /// Check this machine's outputs against the reference outputs shipped with the
    /// model (exit 1 when one is below its floor).
    Check(CheckArgs),
    /// Build and edit label embedding stores (`.emb`).
    #[command(subcommand)]
    Labels(LabelsCommand),
    /// List the inference backends of this build and whether each can run here.
    Backends,
}

/// `edgeclip labels ...`.
#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// Encode a label list into a store.
    Build(LabelsBuildArgs),
    /// Encode more labels into an existing store (rewritten atomically).
    Add(LabelsAddArgs),
    /// Remove labels from a store (rewritten atomically).
    Remove(LabelsRemoveArgs),
    /// Print a store's labels.
    List(StoreArgs),
    /// Describe a store: model fingerprint, counts, element type, size.
    Info(StoreArgs),
}

/// `--dtype` values of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    /// 4 bytes per value.
    F32,
    /// 2 bytes per value.
    F16,
    /// 1 byte per value and a scale per row.
    Int8,
}

/// `edgeclip labels build`.
#[derive(Debug, Args)]
pub struct LabelsBuildArgs {
    /// Label list: one label per line, optional tab-separated group and threshold.
    #[arg(value_name = "LABELS.txt")]
    pub labels: PathBuf,
    /// The store to write.
    #[arg(short, long, value_name = "FILE.emb")]
    pub output: PathBuf,
    /// Prompt templates: `default`, `imagenet` (CLIP's 80) or a file, one per line.
    #[arg(long, default_value = "default", value_name = "default|imagenet|FILE")]
    pub templates: String,
    /// Element type of the stored rows.
    #[arg(long, value_enum, default_value_t = DTypeArg::F16)]
    pub dtype: DTypeArg,
    /// Replace the output if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `edgeclip labels add`.
#[derive(Debug, Args)]
pub struct LabelsAddArgs {
    /// The store to extend.
    #[arg(value_name = "FILE.emb")]
    pub store: PathBuf,
    /// Labels to add.
    #[arg(value_name = "LABEL", required_unless_present = "labels_file")]
    pub labels: Vec<String>,
    /// A label list to add (same format as `labels build`).
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
}

/// `edgeclip labels remove`.
#[derive(Debug, Args)]
pub struct LabelsRemoveArgs {
    /// The store to edit.
    #[arg(value_name = "FILE.emb")]
    pub store: PathBuf,
    /// Labels to remove.
    #[arg(value_name = "LABEL", required = true)]
    pub labels: Vec<String>,
}

/// A store to read.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The store.
    #[arg(value_name = "FILE.emb")]
    pub store: PathBuf,
}

/// `edgeclip classify`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("label_source").required(true).multiple(false)))]
pub struct ClassifyArgs {
    /// Image files (JPEG, PNG).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Comma-separated labels.
    #[arg(long, value_name = "A,B,C", group = "label_source")]
    pub labels: Option<String>,
    /// File with one label per line (blank lines and `#` comments skipped).
    #[arg(long, value_name = "FILE", group = "label_source")]
    pub labels_file: Option<PathBuf>,
    /// Embedding store made by `edgeclip labels build` (no text encoding at start-up).
    #[arg(long, value_name = "FILE.emb", group = "label_source")]
    pub store: Option<PathBuf>,
    /// Prompt template with `{}` for the label; repeat to ensemble (not with --store:
    /// a store keeps the templates it was built with).
    #[arg(long = "template", value_name = "TEMPLATE", conflicts_with = "store")]
    pub templates: Vec<String>,
    /// How many labels to print per image.
    #[arg(short = 'k', long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub top_k: u8,
    /// Multi-label tagging: print every label whose sigmoid score reaches its threshold
    /// (the store's per-label threshold, else --threshold) instead of the top k.
    #[arg(long)]
    pub tags: bool,
    /// Default tag threshold on sigmoid(logit + bias).
    #[arg(long, default_value_t = 0.5, requires = "tags")]
    pub threshold: f32,
    /// Bias added to logits before the tag sigmoid (calibrate it per model).
    #[arg(
        long,
        default_value_t = 0.0,
        requires = "tags",
        allow_negative_numbers = true
    )]
    pub bias: f32,
}

/// `edgeclip embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// What the inputs are.
    #[arg(value_enum)]
    pub kind: EmbedKind,
    /// Image files, or texts.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<String>,
}

/// `edgeclip embed` input kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbedKind {
    /// Image files.
    Image,
    /// Texts.
    Text,
}

/// `edgeclip tokenize`.
#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// Texts to tokenize.
    #[arg(required = true, value_name = "TEXT")]
    pub texts: Vec<String>,
}

/// `edgeclip info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Model package directory (overrides --model).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `edgeclip check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Reference folder (default: the package's `reference/`).
    #[arg(long, value_name = "DIR")]
    pub reference: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("edgeclip").chain(args.iter().copied()))
    }

    #[test]
    fn classify_needs_labels_and_images() {
        assert!(parse(&["classify", "a.png"]).is_err());
        assert!(parse(&["classify", "--labels", "a,b"]).is_err());
        let cli = parse(&["classify", "a.png", "--labels", "a,b", "--template", "x {}"]).unwrap();
        let Command::Classify(c) = cli.command else {
            panic!("not classify")
        };
        assert_eq!(c.labels.as_deref(), Some("a,b"));
        assert_eq!(c.templates, ["x {}"]);
        assert_eq!(c.top_k, 3);
    }

    #[test]
    fn one_label_source_only() {
        assert!(parse(&["classify", "a.png", "--labels", "a", "--labels-file", "f"]).is_err());
        assert!(parse(&["classify", "a.png", "--store", "s.emb", "--labels", "a"]).is_err());
        assert!(parse(&["classify", "a.png", "--store", "s.emb", "--template", "{}"]).is_err());
        let cli = parse(&["classify", "a.png", "--store", "s.emb", "-k", "5"]).unwrap();
        let Command::Classify(c) = cli.command else {
            panic!("not classify")
        };
        assert_eq!(c.store, Some(PathBuf::from("s.emb")));
        assert_eq!(c.top_k, 5);
        assert!(parse(&["classify", "a.png", "--store", "s.emb", "-k", "33"]).is_err());
        assert!(parse(&["classify", "a.png", "--store", "s.emb", "-k", "0"]).is_err());
    }

    #[test]
    fn tag_flags_need_tags() {
        assert!(parse(&["classify", "a.png", "--labels", "a", "--threshold", "0.3"]).is_err());
        let cli = parse(&[
            "classify",
            "a.png",
            "--labels",
            "a",
            "--tags",
            "--threshold",
            "0.3",
            "--bias",
            "-5",
        ])
        .unwrap();
        let Command::Classify(c) = cli.command else {
            panic!("not classify")
        };
        assert!(c.tags);
        assert_eq!((c.threshold, c.bias), (0.3, -5.0));
    }

    #[test]
    fn labels_subcommands() {
        let cli = parse(&["labels", "build", "l.txt", "-o", "s.emb"]).unwrap();
        let Command::Labels(LabelsCommand::Build(b)) = cli.command else {
            panic!("not labels build")
        };
        assert_eq!((b.templates.as_str(), b.dtype), ("default", DTypeArg::F16));
        assert!(parse(&["labels", "build", "l.txt"]).is_err(), "needs -o");
        let cli = parse(&[
            "labels",
            "build",
            "l.txt",
            "-o",
            "s",
            "--dtype",
            "int8",
            "--templates",
            "imagenet",
        ])
        .unwrap();
        let Command::Labels(LabelsCommand::Build(b)) = cli.command else {
            panic!("not labels build")
        };
        assert_eq!(
            (b.templates.as_str(), b.dtype),
            ("imagenet", DTypeArg::Int8)
        );
        assert!(
            parse(&["labels", "add", "s.emb"]).is_err(),
            "nothing to add"
        );
        assert!(parse(&["labels", "add", "s.emb", "red mug"]).is_ok());
        assert!(parse(&["labels", "add", "s.emb", "--labels-file", "l.txt"]).is_ok());
        assert!(parse(&["labels", "remove", "s.emb"]).is_err());
        assert!(parse(&["labels", "list", "s.emb", "--json"]).is_ok());
        assert!(parse(&["labels", "info", "s.emb"]).is_ok());
    }

    #[test]
    fn global_flags_anywhere() {
        let cli = parse(&[
            "tokenize",
            "hi",
            "--precision",
            "int8",
            "--threads",
            "2",
            "--model",
            "m",
        ])
        .unwrap();
        assert_eq!(cli.precision, PrecisionArg::Int8);
        assert_eq!(cli.threads, 2);
        assert_eq!(cli.model, Some(PathBuf::from("m")));
        assert!(parse(&["tokenize", "hi", "--threads", "0"]).is_err());
        assert!(parse(&["tokenize", "hi", "--precision", "fp16"]).is_err());
    }

    #[test]
    fn check_takes_a_reference_folder() {
        let cli = parse(&["check", "--reference", "r", "--precision", "int8"]).unwrap();
        assert!(!cli.json);
        assert_eq!(cli.format, FormatArg::Text);
        let Command::Check(c) = cli.command else {
            panic!("not check")
        };
        assert_eq!(c.reference, Some(PathBuf::from("r")));
        assert!(parse(&["check", "extra"]).is_err());
    }

    #[test]
    fn embed_kinds() {
        assert!(parse(&["embed", "image", "a.png", "--json"]).is_ok());
        assert!(parse(&["embed", "text", "a red circle"]).is_ok());
        assert!(parse(&["embed", "audio", "x"]).is_err());
    }

    #[test]
    fn format_is_global_and_json_is_its_alias() {
        let cli = parse(&["tokenize", "hi"]).unwrap();
        assert_eq!((cli.format, cli.json), (FormatArg::Text, false));
        let cli = parse(&["--format", "json", "tokenize", "hi"]).unwrap();
        assert_eq!(cli.format, FormatArg::Json);
        let cli = parse(&["labels", "info", "s.emb", "--format", "json"]).unwrap();
        assert_eq!(cli.format, FormatArg::Json);
        // The old per-command spelling still parses, anywhere on the line.
        let cli = parse(&["labels", "list", "s.emb", "--json"]).unwrap();
        assert!(cli.json);
        let cli = parse(&["--json", "info"]).unwrap();
        assert!(cli.json);
        assert!(parse(&["info", "--format", "yaml"]).is_err());
        assert!(parse(&["info", "--json", "--format", "text"]).is_err());
    }

    #[test]
    fn backend_is_global_and_defaults_to_auto() {
        assert_eq!(parse(&["info"]).unwrap().backend, "auto");
        let cli = parse(&["classify", "a.png", "--labels", "a", "--backend", "tract"]).unwrap();
        assert_eq!(cli.backend, "tract");
        let cli = parse(&["--backend", "openvino", "check"]).unwrap();
        assert_eq!(cli.backend, "openvino");
        assert!(parse(&["check", "--backend"]).is_err(), "needs a name");
    }

    #[test]
    fn backends_subcommand() {
        let cli = parse(&["backends", "--json"]).unwrap();
        assert!(matches!(cli.command, Command::Backends));
        assert!(cli.json);
        assert!(parse(&["backends", "extra"]).is_err());
    }
}
