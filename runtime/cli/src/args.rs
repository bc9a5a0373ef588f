//! Command-line flags, parsed only (no file is touched here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Log more (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
    /// Print the 77 token ids of a text.
    Tokenize(TokenizeArgs),
    /// Describe a model package and verify its files.
    Info(InfoArgs),
    /// Check this machine's outputs against the reference outputs shipped with the
    /// model (exit 1 when one is below its floor).
    Check(CheckArgs),
}

/// `edgeclip classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Image files (JPEG, PNG).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Comma-separated labels.
    #[arg(
        long,
        value_name = "A,B,C",
        conflicts_with = "labels_file",
        required_unless_present = "labels_file"
    )]
    pub labels: Option<String>,
    /// File with one label per line (blank lines and `#` comments skipped).
    #[arg(long, value_name = "FILE")]
    pub labels_file: Option<PathBuf>,
    /// Prompt template with `{}` for the label; repeat to ensemble.
    #[arg(long = "template", value_name = "TEMPLATE")]
    pub templates: Vec<String>,
    /// How many labels to print per image.
    #[arg(short = 'k', long, default_value_t = 3)]
    pub top_k: usize,
    /// JSON Lines output.
    #[arg(long)]
    pub json: bool,
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
    /// JSON Lines output.
    #[arg(long)]
    pub json: bool,
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
    /// JSON Lines output.
    #[arg(long)]
    pub json: bool,
}

/// `edgeclip info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Model package directory (overrides --model).
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `edgeclip check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Reference folder (default: the package's `reference/`).
    #[arg(long, value_name = "DIR")]
    pub reference: Option<PathBuf>,
    /// JSON Lines output.
    #[arg(long)]
    pub json: bool,
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
    fn labels_and_labels_file_conflict() {
        assert!(parse(&["classify", "a.png", "--labels", "a", "--labels-file", "f"]).is_err());
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
        let Command::Check(c) = cli.command else {
            panic!("not check")
        };
        assert_eq!(c.reference, Some(PathBuf::from("r")));
        assert!(!c.json);
        assert!(parse(&["check", "extra"]).is_err());
    }

    #[test]
    fn embed_kinds() {
        assert!(parse(&["embed", "image", "a.png", "--json"]).is_ok());
        assert!(parse(&["embed", "text", "a red circle"]).is_ok());
        assert!(parse(&["embed", "audio", "x"]).is_err());
    }
}
