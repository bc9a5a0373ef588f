//! What the commands print, and how.
//!
//! Commands build [`Record`]s and hand them to a [`Printer`]; they never write to
//! stdout themselves. [`Record`] *is* the wire format of `--format json` (documented
//! in `runtime/cli/WIRE.md`): renaming a field here changes what robots read. The
//! printers write to any [`io::Write`] and return its errors, so a closed pipe
//! reaches `main` as an error to end the run on instead of a panic inside `println!`.

mod json;
mod text;

use std::error::Error as StdError;
use std::io::{self, Write};
use std::sync::Arc;

use edgeclip::preprocess::{Interpolation, ResizeMode};
use edgeclip_events::Event;
use serde::Serialize;

pub use json::JsonPrinter;
pub use text::TextPrinter;

/// One record: a line of JSON Lines output, or a few lines of text.
///
/// Serialized as `{"type": "<variant in snake_case>", "data": {...}}`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Record<'a> {
    /// Top-k labels of one image.
    Classification {
        /// The image as given on the command line.
        path: &'a str,
        /// Best first.
        top: Vec<LabelScore<'a>>,
    },
    /// Labels of one image that passed their thresholds (`classify --tags`).
    Tags {
        /// The image as given on the command line.
        path: &'a str,
        /// Best first, at most `edgeclip::zero_shot::MAX_TAGS`.
        tags: Vec<TagScore<'a>>,
        /// How many passed; more than `tags` holds when truncated.
        passed: usize,
    },
    /// One label of a store (`labels list`).
    Label {
        /// Row of the label in the store.
        index: usize,
        /// The label.
        label: &'a str,
        /// Its group, if the list gave one.
        group: Option<&'a str>,
        /// Its tag threshold, if the list gave one.
        threshold: Option<f32>,
    },
    /// One input's embedding.
    Embedding {
        /// The image path or text as given.
        input: &'a str,
        /// L2-normalized, `embed_dim` values.
        embedding: &'a [f32],
    },
    /// One text's token ids.
    Tokens {
        /// The text as given.
        text: &'a str,
        /// `context_length` ids, zero-padded.
        ids: &'a [i64],
    },
    /// One output of `edgeclip check` against its reference.
    Check {
        /// Output name and precision (`image.fp32`).
        output: &'a str,
        /// Rows compared.
        rows: usize,
        /// Lowest row cosine.
        min_cosine: f64,
        /// Mean row cosine.
        mean_cosine: f64,
        /// The reference's floor for `min_cosine`.
        floor: f64,
        /// `min_cosine >= floor`.
        passed: bool,
    },
    /// A model package (`info`).
    ModelInfo(ModelInfo),
    /// A label store (`labels info`).
    StoreInfo(StoreInfo),
    /// A store that `labels build`, `add` or `remove` wrote.
    StoreWritten(StoreWritten),
    /// One backend of this build (`backends`).
    Backend(BackendInfo),
    /// PointCLIP's top-k labels of one point cloud (`points`).
    PointClassification(PointClassification<'a>),
    /// DepthCLIP's depth estimate of one image (`depth`).
    Depth(DepthReport<'a>),
    /// A failure: of one input (the run went on) or of the run (`input` null).
    Error {
        /// The input that failed; `None` when the whole run failed.
        input: Option<&'a str>,
        /// Machine-readable class of the failure ([`error_kind`]).
        kind: &'static str,
        /// The message with its causes, as on stderr.
        message: String,
    },
    /// What `doctor` found on this machine.
    Doctor(Box<DoctorReport>),
    /// `serve` is listening (printed once, after binding).
    Serving {
        /// The address and port bound (`--bind` with port 0 picks a free port).
        address: String,
        /// Whether requests need a bearer token.
        token: bool,
        /// The frame source: `camera`, `files`, `stdin` or `none`.
        source: &'static str,
    },
    /// An event of `watch` (`appeared`, `left`, `status`, `camera`): it carries
    /// its own `type` and `data`, so it is written as it is.
    #[serde(untagged)]
    Event(&'a Event),
}

/// One scored label.
#[derive(Debug, Serialize)]
pub struct LabelScore<'a> {
    /// The label.
    pub label: &'a str,
    /// Softmax probability over the label set.
    pub probability: f32,
    /// Scaled cosine (`cosine * logit_scale`).
    pub logit: f32,
}

/// One label that passed its threshold.
#[derive(Debug, Serialize)]
pub struct TagScore<'a> {
    /// The label.
    pub label: &'a str,
    /// `sigmoid(logit + bias)`.
    pub score: f32,
    /// Scaled cosine (`cosine * logit_scale`).
    pub logit: f32,
}

/// PointCLIP's result for one point cloud (`points`).
#[derive(Debug, Serialize)]
pub struct PointClassification<'a> {
    /// The cloud file as given on the command line.
    pub path: &'a str,
    /// Points read from the file.
    pub points: usize,
    /// Points projected: `points`, evenly downsampled to `--max-points`.
    pub projected_points: usize,
    /// `v1` or `v2`.
    pub projection: &'static str,
    /// Depth views the cloud was projected to and encoded as one batch.
    pub views: usize,
    /// Best first, `-k` entries at most; scores of the view-weighted mean embedding.
    pub top: Vec<LabelScore<'a>>,
    /// The folder its views were written to (`--save-views`), else `None`.
    pub views_dir: Option<String>,
    /// Milliseconds reading and parsing the file.
    pub read_ms: f64,
    /// Milliseconds projecting the cloud to views.
    pub project_ms: f64,
    /// Milliseconds resizing the views, encoding them and fusing the embeddings.
    pub encode_ms: f64,
}

/// DepthCLIP's result for one image (`depth`).
#[derive(Debug, Serialize)]
pub struct DepthReport<'a> {
    /// The image as given on the command line.
    pub path: &'a str,
    /// The image's (and the depth map's) width in pixels.
    pub width: usize,
    /// The image's (and the depth map's) height in pixels.
    pub height: usize,
    /// One depth for the whole image in metres, read off the pooled embedding.
    pub scene_m: f32,
    /// The depth map's nearest pixel, metres.
    pub min_m: f32,
    /// The depth map's median, metres.
    pub median_m: f32,
    /// The depth map's farthest pixel, metres.
    pub max_m: f32,
    /// The depth map's mean, metres.
    pub mean_m: f32,
    /// Whether the mirrored image's prediction was averaged in (`--flip`).
    pub flip: bool,
    /// The factor on the cosine scores before the softmax over the bins.
    pub scale: f32,
    /// The 16-bit millimetre PNG written (`--out`), else `None`.
    pub depth_png: Option<String>,
    /// The colourised preview PNG written (`--out`), else `None`.
    pub preview_png: Option<String>,
    /// Milliseconds decoding the image.
    pub decode_ms: f64,
    /// Milliseconds in the image tower (both runs with `--flip`).
    pub encode_ms: f64,
    /// Milliseconds turning features into the depth map and its statistics.
    pub depth_ms: f64,
}

/// What `edgeclip info` reports about a model package.
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    /// The package directory.
    pub dir: String,
    /// Package name.
    pub name: String,
    /// Model family.
    pub family: String,
    /// One line on the model; may be empty.
    pub description: String,
    /// Width of the joint embedding space.
    pub embed_dim: usize,
    /// CLIP's temperature.
    pub logit_scale: f32,
    /// Side of the square image input, in pixels.
    pub image_size: u32,
    /// Resize filter, as `model.toml` spells it.
    pub interpolation: Interpolation,
    /// How images reach the square, as `model.toml` spells it.
    pub resize_mode: ResizeMode,
    /// Tokens per text.
    pub context_length: usize,
    /// Every model file of both towers, with its verification status.
    pub files: Vec<ModelFile>,
}

/// One model file of a package and whether it verified.
#[derive(Debug, Serialize)]
pub struct ModelFile {
    /// `image` or `text`.
    pub tower: &'static str,
    /// `fp32` or `int8`.
    pub precision: String,
    /// The backend the file is made for; `None` for the generic file.
    pub backend: Option<String>,
    /// The SoC the file is compiled for, if any.
    pub soc: Option<String>,
    /// Path relative to the package directory.
    pub path: String,
    /// How the file encodes the model (`onnx`, `dynamic-matmul-weights`, ...).
    pub form: String,
    /// Expected SHA-256, lower-case hex.
    pub sha256: String,
    /// `ok`, or why the file does not verify.
    pub status: String,
}

/// What `edgeclip labels info` reports about a store.
#[derive(Debug, Serialize)]
pub struct StoreInfo {
    /// The store file.
    pub path: String,
    /// Number of labels.
    pub labels: usize,
    /// Values per row.
    pub dim: usize,
    /// Element type of the rows (`f32`, `f16`, `int8`).
    pub dtype: &'static str,
    /// File size.
    pub bytes: u64,
    /// Name of the model that built it.
    pub model: String,
    /// SHA-256 of the text file that built it, hex.
    pub text_sha256: String,
    /// Tokenizer id (`clip-bpe/77`).
    pub tokenizer: String,
    /// The prompt templates averaged per label.
    pub templates: Vec<String>,
    /// Labels that have a group.
    pub labels_with_group: usize,
    /// Labels that have their own tag threshold.
    pub labels_with_threshold: usize,
    /// Whether the selected model can use the store, in words.
    pub model_status: String,
}

/// Which edit wrote a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreAction {
    /// `labels build`.
    Build,
    /// `labels add`.
    Add,
    /// `labels remove`.
    Remove,
}

/// A store written by `labels build`, `add` or `remove`.
#[derive(Debug, Serialize)]
pub struct StoreWritten {
    /// The edit.
    pub action: StoreAction,
    /// The store file.
    pub path: String,
    /// Labels in the store now.
    pub labels: usize,
    /// Labels this edit added.
    pub added: usize,
    /// Labels this edit removed.
    pub removed: usize,
    /// Prompt templates averaged per label.
    pub templates: usize,
    /// Element type of the rows.
    pub dtype: &'static str,
    /// Values per row.
    pub dim: usize,
    /// File size after writing.
    pub bytes: u64,
    /// Seconds spent encoding labels; `None` when nothing was encoded (`remove`).
    pub encode_seconds: Option<f64>,
}

/// One backend of this build (`backends`).
#[derive(Debug, Serialize)]
pub struct BackendInfo {
    /// Its name, as `--backend` takes it.
    pub name: &'static str,
    /// Whether it can run on this machine.
    pub available: bool,
    /// Why not, when it cannot.
    pub reason: Option<String>,
    /// Whether `--backend` resolves to it.
    pub selected: bool,
}

/// What `doctor` found: the board, the CPU, backends, cameras, self-tests.
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    /// The board profile in use.
    pub board: DoctorBoard,
    /// The CPU.
    pub cpu: DoctorCpu,
    /// Every backend of this build.
    pub backends: Vec<DoctorBackend>,
    /// V4L2 capture devices (`/dev/video*`).
    pub cameras: Vec<DoctorCamera>,
    /// One entry per backend and precision with `--self-test`; empty without.
    pub self_test: Vec<SelfTest>,
}

/// The board profile in use.
#[derive(Debug, Serialize)]
pub struct DoctorBoard {
    /// Profile name (`rpi5`), or `none` when no profile fits.
    pub name: String,
    /// Human-readable name.
    pub title: String,
    /// Why this profile: the evidence detection matched, or `--board`.
    pub reason: String,
    /// The profile's backend order for `--backend auto`.
    pub backend_order: Vec<String>,
    /// Inference threads the profile gives (`--threads` overrides).
    pub threads: usize,
}

/// The CPU's SIMD features that matter to inference.
#[derive(Debug, Serialize)]
pub struct DoctorCpu {
    /// `x86_64`, `aarch64`.
    pub arch: &'static str,
    /// `/proc/cpuinfo`'s model name, where it gives one.
    pub model: Option<String>,
    /// Features present (`neon`, `dotprod`, `i8mm`, `avx2`, `avx512vnni`, ...).
    pub features: Vec<&'static str>,
    /// Features the board profile promises that this CPU lacks.
    pub missing: Vec<&'static str>,
}

/// One backend of this build.
#[derive(Debug, Serialize)]
pub struct DoctorBackend {
    /// Its name.
    pub name: &'static str,
    /// Whether it can run here.
    pub available: bool,
    /// Why not, when it cannot.
    pub reason: Option<String>,
    /// The shared library it loaded; `None` for tract (built in).
    pub library: Option<String>,
    /// Devices it sees.
    pub devices: Vec<String>,
    /// Whether `--backend` (with the board's order) picks it.
    pub selected: bool,
}

/// One V4L2 device.
#[derive(Debug, Serialize)]
pub struct DoctorCamera {
    /// `/dev/videoN`.
    pub device: String,
    /// The card name, when it could be opened.
    pub card: Option<String>,
    /// The driver.
    pub driver: Option<String>,
    /// Capture formats as fourccs (`YUYV`, `MJPG`); the ones edgeclip converts
    /// are marked with `*` in text output.
    pub formats: Vec<String>,
    /// Formats among `formats` that edgeclip converts.
    pub usable: Vec<String>,
    /// Why it could not be described (busy, not a capture device, no permission).
    pub error: Option<String>,
}

/// One backend and precision run against the package's reference outputs.
#[derive(Debug, Serialize)]
pub struct SelfTest {
    /// The backend.
    pub backend: &'static str,
    /// Model file precision (`fp32`, `int8`).
    pub precision: String,
    /// The device and arithmetic the backend reports, where it does (`CPU f32`).
    pub device: Option<String>,
    /// Every output within its floor.
    pub passed: bool,
    /// Per output: name, lowest cosine, floor.
    pub outputs: Vec<SelfTestOutput>,
    /// Median milliseconds of one image embedding (preprocessed input).
    pub image_ms: Option<f64>,
    /// Median milliseconds of one text embedding.
    pub text_ms: Option<f64>,
    /// What failed, when the run itself failed.
    pub error: Option<String>,
}

/// One output of a [`SelfTest`].
#[derive(Debug, Serialize)]
pub struct SelfTestOutput {
    /// `image.fp32`, `text.int8`, ...
    pub output: String,
    /// Lowest row cosine against onnxruntime.
    pub min_cosine: f64,
    /// The floor.
    pub floor: f64,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// JSON Lines.
    Json,
}

/// The printer of a run, chosen once from `--format`.
pub enum Printer<W: Write> {
    /// Text for people.
    Text(TextPrinter<W>),
    /// JSON Lines for programs.
    Json(JsonPrinter<W>),
}

impl<W: Write> Printer<W> {
    /// A printer of `format` writing to `out`.
    pub fn new(format: Format, out: W) -> Self {
        match format {
            Format::Text => Printer::Text(TextPrinter::new(out)),
            Format::Json => Printer::Json(JsonPrinter::new(out)),
        }
    }

    /// Writes one record and flushes it: a reader going line by line sees each
    /// record as soon as it exists, not when a buffer fills.
    pub fn print(&mut self, record: &Record<'_>) -> io::Result<()> {
        match self {
            Printer::Text(p) => p.print(record),
            Printer::Json(p) => p.print(record),
        }
    }

    /// Reports a failure: the message on stderr, and in JSON an `error` record on
    /// stdout too (stderr alone would leave a robot guessing which input failed).
    /// `input` is `None` for a failure of the whole run.
    pub fn report_error(&mut self, input: Option<&str>, err: &anyhow::Error) -> io::Result<()> {
        warn(format_args!("error: {err:#}"));
        self.print(&Record::Error {
            input,
            kind: error_kind(err),
            message: format!("{err:#}"),
        })
    }
}

/// Writes `edgeclip: <message>` to stderr. A failed write is ignored: there is
/// nowhere left to report it, and `eprintln!` would panic instead.
pub fn warn(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr(), "edgeclip: {message}");
}

/// The machine-readable class of `err` for `error` records (the words of
/// `runtime/cli/WIRE.md`).
///
/// The rule: the **outermost** error in the chain that has a kind gives it; a bare
/// `io::Error` counts only when no library error is in the chain; else `other`
/// (failures the CLI itself detects, such as an empty label list).
///
/// Outermost, because every library's `kind()` already accounts for the errors it
/// wraps, taking their kind where it is the more precise one (a watch error that
/// carries a camera error answers `camera_unavailable`, an MQTT error that carries
/// a journal error the journal's word), and because an outer error knows what the
/// failure meant to the operation (the runtime calls a matcher's size mismatch the
/// caller's input). Library errors keep the operating system's error as a source
/// (a lost camera's ENODEV): looking innermost first would let that plain `io`
/// hide the library's more precise kind, so `io::Error` is only the fallback.
pub fn error_kind(err: &anyhow::Error) -> &'static str {
    if let Some(kind) = err.chain().find_map(library_kind) {
        return kind;
    }
    if err.chain().any(|e| e.is::<io::Error>()) {
        return "io";
    }
    "other"
}

/// An error type of a library crate, with its kind as the JSON word.
trait Kinded: StdError + 'static {
    /// The kind's `as_str()`.
    fn kind_word(&self) -> &'static str;
}

/// Looks for one library error type in a link of a chain.
type Probe = fn(&(dyn StdError + 'static)) -> Option<&'static str>;

/// `e` as a `T`, also when it is shared as `Arc<T>`: an error resolved once and
/// raised again by every caller that needs the result (one board profile for the
/// whole run) cannot be cloned, so it travels in an `Arc`.
fn shared<'e, T: StdError + 'static>(e: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    e.downcast_ref::<T>()
        .or_else(|| e.downcast_ref::<Arc<T>>().map(|shared| &**shared))
}

/// The kind of `e` if it is a `T` (or an `Arc<T>`).
fn word<T: Kinded>(e: &(dyn StdError + 'static)) -> Option<&'static str> {
    shared::<T>(e).map(T::kind_word)
}

/// Implements [`Kinded`] through each type's kind method (`kind`, or `error_kind`
/// where `kind` already names something else) and lists them in `LIBRARY_ERRORS`.
macro_rules! library_errors {
    ($($method:ident => [$($ty:ty),* $(,)?]),* $(,)?) => {
        $($(
            impl Kinded for $ty {
                fn kind_word(&self) -> &'static str {
                    self.$method().as_str()
                }
            }
        )*)*

        /// Every library error type a command can meet. The GPIO indicator's
        /// errors are generic over the pin's error type; the CLI reports them as
        /// text.
        const LIBRARY_ERRORS: &[Probe] = &[$($(word::<$ty>,)*)*];
    };
}

library_errors! {
    kind => [
        edgeclip::Error,
        edgeclip_store::StoreError,
        edgeclip_match::Error,
        edgeclip_kernels::int8::Error,
        edgeclip_board::BoardError,
        edgeclip_capture::CaptureError,
        edgeclip_capture::ConvertError,
        edgeclip_capture::RecvError,
        edgeclip_journal::JournalError,
        edgeclip_journal::ParseDurabilityError,
        edgeclip_depth::DepthError,
        edgeclip_points::read::ReadError,
        edgeclip_points::CloudError,
        edgeclip_points::project::ProjectError,
        edgeclip_points::project::SaveError,
        edgeclip_points::settings::SettingsError,
        edgeclip_mqtt::MqttError,
        edgeclip_pipeline::WatchError,
        edgeclip_serve::ServeError,
        edgeclip_events::SinkError,
        edgeclip_events::gpio::GpioTableError,
    ],
    // `ParseError::kind` names the problem; `error_kind` its class.
    error_kind => [edgeclip_points::read::ParseError],
}

/// The kind of `e` if it is a library error.
fn library_kind(e: &(dyn StdError + 'static)) -> Option<&'static str> {
    LIBRARY_ERRORS.iter().find_map(|kind| kind(e))
}

/// Whether `err` is a write to a closed stdout. Only the printers produce bare
/// `io::Error`s (the library wraps its own in `edgeclip::Error`), so a broken
/// pipe anywhere in the chain is the reader having gone away.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<io::Error>().is_some_and(is_closed_pipe_io))
}

/// Whether a write failed because the reader went away.
pub fn is_closed_pipe_io(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeclip::backend::Error as BackendError;

    #[test]
    fn kinds_come_from_the_library_error_in_the_chain() {
        let lib = anyhow::Error::from(edgeclip::Error::InvalidInput("x".into()))
            .context("classifying a.png");
        assert_eq!(error_kind(&lib), "invalid_input");
        let io = anyhow::Error::from(io::Error::from(io::ErrorKind::NotFound)).context("reading");
        assert_eq!(error_kind(&io), "io");
        assert_eq!(
            error_kind(&anyhow::anyhow!("the label list is empty")),
            "other"
        );
    }

    /// One error of each kind of every library crate, wrapped in context as
    /// commands wrap them, with the word its record must carry.
    fn library_errors() -> Vec<(&'static str, anyhow::Error, &'static str)> {
        use std::path::PathBuf;
        use std::time::Duration;

        use edgeclip_board::BoardError;
        use edgeclip_capture::{CaptureError, ConvertError, PixelFormat, RecvError};
        use edgeclip_depth::DepthError;
        use edgeclip_events::SinkError;
        use edgeclip_journal::JournalError;
        use edgeclip_mqtt::MqttError;
        use edgeclip_pipeline::WatchError;
        use edgeclip_points::project::{ProjectError, SaveError};
        use edgeclip_points::read::ReadError;
        use edgeclip_points::CloudError;
        use edgeclip_serve::ServeError;
        use edgeclip_store::StoreError;

        fn wrap(e: impl StdError + Send + Sync + 'static) -> anyhow::Error {
            anyhow::Error::new(e).context("running the command")
        }
        let file = || PathBuf::from("f");
        let os = || io::Error::from(io::ErrorKind::PermissionDenied);
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pcd");
        std::fs::write(&garbage, "hello\n").unwrap();
        vec![
            (
                "edgeclip",
                wrap(edgeclip::Error::InvalidInput("x".into())),
                "invalid_input",
            ),
            ("edgeclip", wrap(edgeclip::Error::io("a.png", os())), "io"),
            (
                "edgeclip",
                wrap(edgeclip::Error::Model {
                    path: file(),
                    message: "SHA-256 differs".into(),
                }),
                "model_file",
            ),
            (
                "edgeclip",
                wrap(edgeclip::Error::from(StoreError::Checksum {
                    path: file(),
                    stored: 1,
                    computed: 2,
                })),
                "store_file",
            ),
            (
                "edgeclip",
                wrap(edgeclip::Error::ModelMismatch {
                    path: file(),
                    message: "another model".into(),
                }),
                "model_mismatch",
            ),
            (
                "edgeclip",
                wrap(edgeclip::Error::from(BackendError::Unavailable {
                    backend: "rknn",
                    reason: "no librknnrt".into(),
                })),
                "backend_unavailable",
            ),
            (
                "edgeclip",
                wrap(edgeclip::Error::from(BackendError::Failed {
                    backend: "tract",
                    context: "x".into(),
                    source: None,
                })),
                "backend",
            ),
            (
                "store",
                wrap(StoreError::Corrupt {
                    path: file(),
                    detail: "x".into(),
                }),
                "store_file",
            ),
            (
                "store",
                wrap(StoreError::ModelMismatch {
                    path: file(),
                    store: "a".into(),
                    model: "b".into(),
                }),
                "model_mismatch",
            ),
            (
                "store",
                wrap(StoreError::UnknownLabel { label: "x".into() }),
                "invalid_input",
            ),
            (
                "store",
                wrap(StoreError::Io {
                    path: file(),
                    action: "opening",
                    error: os(),
                }),
                "io",
            ),
            (
                "matcher",
                wrap(edgeclip_match::Error::QueryDim {
                    expected: 4,
                    got: 3,
                }),
                "invalid_input",
            ),
            (
                "kernels",
                wrap(edgeclip_kernels::int8::Error::Unsupported(
                    edgeclip_kernels::int8::Isa::Neon,
                )),
                "kernel_unavailable",
            ),
            (
                "kernels",
                wrap(edgeclip_kernels::int8::Isa::from_name("sse9").unwrap_err()),
                "invalid_input",
            ),
            (
                "board",
                wrap(BoardError::Parse {
                    file: "b.toml".into(),
                    message: "line 1".into(),
                }),
                "board_profile",
            ),
            (
                "board",
                wrap(edgeclip_board::find("rpi9").unwrap_err()),
                "invalid_input",
            ),
            (
                "board",
                wrap(BoardError::Io {
                    path: file(),
                    error: os(),
                }),
                "io",
            ),
            (
                "capture",
                wrap(CaptureError::NotACamera {
                    path: "/dev/null".into(),
                    reason: "ENOTTY".into(),
                }),
                "camera_unavailable",
            ),
            (
                "capture",
                wrap(CaptureError::Timeout {
                    path: "/dev/video0".into(),
                    after: Duration::from_secs(2),
                }),
                "camera",
            ),
            (
                "capture",
                wrap(CaptureError::BadFrame {
                    sequence: 1,
                    reason: "empty".into(),
                }),
                "frame",
            ),
            (
                "capture",
                wrap(edgeclip_capture::parse_size("big").unwrap_err()),
                "config",
            ),
            (
                "capture",
                wrap(CaptureError::BadImage {
                    path: file(),
                    message: "x".into(),
                }),
                "invalid_input",
            ),
            (
                "capture",
                wrap(CaptureError::NotFound { path: file() }),
                "io",
            ),
            (
                "capture",
                wrap(ConvertError::OddWidth {
                    format: PixelFormat::Yuyv,
                    width: 3,
                }),
                "frame",
            ),
            ("capture", wrap(RecvError::Closed), "camera_unavailable"),
            (
                "journal",
                wrap(JournalError::BadSegment {
                    file: file(),
                    reason: "x".into(),
                }),
                "journal_file",
            ),
            (
                "journal",
                wrap(JournalError::Locked(file())),
                "journal_locked",
            ),
            (
                "journal",
                wrap(JournalError::OutOfOrder { seq: 1, last: 2 }),
                "invalid_input",
            ),
            (
                "journal",
                wrap(JournalError::Io {
                    path: file(),
                    source: os(),
                }),
                "io",
            ),
            (
                "journal",
                wrap(
                    "sometimes"
                        .parse::<edgeclip_journal::Durability>()
                        .unwrap_err(),
                ),
                "config",
            ),
            (
                "journal",
                wrap(
                    edgeclip_journal::JournalTable {
                        segment_mib: Some(0),
                        ..Default::default()
                    }
                    .config(None)
                    .unwrap_err(),
                ),
                "config",
            ),
            ("depth", wrap(DepthError::Config("x".into())), "config"),
            (
                "points",
                wrap(
                    edgeclip_points::PointClipSettings {
                        projection: Some("v9".into()),
                        ..Default::default()
                    }
                    .projection()
                    .unwrap_err(),
                ),
                "config",
            ),
            (
                "depth",
                wrap(DepthError::TextEmbedding { index: 0 }),
                "invalid_input",
            ),
            (
                "depth",
                wrap(
                    edgeclip_depth::DepthMap::new(1, 1, vec![2.0])
                        .unwrap()
                        .write_png_mm(dir.path().join("no-such-folder/d.png"))
                        .unwrap_err(),
                ),
                "io",
            ),
            (
                "points",
                wrap(edgeclip_points::read::read_path(&garbage).unwrap_err()),
                "invalid_input",
            ),
            (
                "points",
                wrap(ReadError::Io {
                    path: file(),
                    error: os(),
                }),
                "io",
            ),
            (
                "points",
                wrap(
                    edgeclip_points::read::read_bytes(b"", edgeclip_points::read::Format::Xyz)
                        .unwrap_err(),
                ),
                "invalid_input",
            ),
            ("points", wrap(CloudError::Empty), "invalid_input"),
            ("points", wrap(ProjectError::NoViews), "invalid_input"),
            (
                "points",
                wrap(SaveError::Io {
                    path: file(),
                    source: os(),
                }),
                "io",
            ),
            ("mqtt", wrap(MqttError::Config("x".into())), "config"),
            ("mqtt", wrap(MqttError::Connect("refused".into())), "broker"),
            (
                "mqtt",
                wrap(MqttError::from(JournalError::Locked(file()))),
                "journal_locked",
            ),
            ("pipeline", wrap(WatchError::Config("x".into())), "config"),
            (
                "pipeline",
                wrap(WatchError::from(CaptureError::NotACamera {
                    path: "/dev/null".into(),
                    reason: "ENOTTY".into(),
                })),
                "camera_unavailable",
            ),
            (
                "pipeline",
                wrap(WatchError::from(edgeclip::Error::from(
                    BackendError::Unavailable {
                        backend: "openvino",
                        reason: "x".into(),
                    },
                ))),
                "backend_unavailable",
            ),
            ("serve", wrap(ServeError::Config("x".into())), "config"),
            (
                "serve",
                wrap(ServeError::Io {
                    what: "binding",
                    addr: "127.0.0.1:1".parse().unwrap(),
                    error: io::ErrorKind::AddrInUse.into(),
                }),
                "io",
            ),
            ("events", wrap(SinkError::Full("journal")), "sink_full"),
            ("events", wrap(SinkError::Closed), "io"),
            (
                "events",
                wrap(
                    edgeclip_events::gpio::GpioTable::default()
                        .resolve()
                        .unwrap_err(),
                ),
                "config",
            ),
        ]
    }

    #[test]
    fn every_crates_errors_give_their_own_kind() {
        for (krate, err, word) in library_errors() {
            assert_eq!(error_kind(&err), word, "{krate}: {err:#}");
        }
    }

    #[test]
    fn a_library_kind_beats_the_os_error_it_keeps_as_its_source() {
        // ENODEV is kept as the source, so a bare io::Error is in the chain too.
        let lost = edgeclip_capture::CaptureError::from_device_io(
            "/dev/video0",
            "VIDIOC_DQBUF",
            io::Error::from_raw_os_error(19),
            std::time::Duration::ZERO,
        );
        let err = anyhow::Error::new(lost).context("capturing from /dev/video0");
        assert!(err.chain().any(|e| e.is::<io::Error>()));
        assert_eq!(error_kind(&err), "camera_unavailable");
    }

    #[test]
    fn the_outermost_library_error_gives_the_kind() {
        // The runtime wraps the matcher's error as its source: the runtime's
        // reading of it (the caller's input) is the one reported.
        let e = edgeclip::Error::from(edgeclip_match::Error::RowsLen {
            labels: 2,
            dim: 4,
            got: 7,
        });
        let err = anyhow::Error::new(e).context("scoring");
        let kinds: Vec<&str> = err.chain().filter_map(library_kind).collect();
        assert_eq!(kinds, ["invalid_input", "invalid_input"]);
        assert_eq!(error_kind(&err), kinds[0]);
    }

    #[test]
    fn an_error_shared_in_an_arc_keeps_its_kind() {
        let broken = edgeclip_board::BoardError::Invalid {
            file: "b.toml".into(),
            message: "threads.count must be at least 1".into(),
        };
        let err = anyhow::Error::new(Arc::new(broken)).context("choosing the backend");
        assert_eq!(error_kind(&err), "board_profile");
    }

    #[test]
    fn every_kind_word_is_documented_in_wire_md() {
        let wire = include_str!("../../WIRE.md");
        let mut words: Vec<&str> = library_errors().into_iter().map(|(_, _, w)| w).collect();
        words.push("other");
        for word in words {
            assert!(
                wire.contains(&format!("| `{word}` |")),
                "WIRE.md's table of error kinds lacks `{word}`"
            );
        }
    }

    #[test]
    fn a_broken_pipe_is_recognised_through_context() {
        let e = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("x");
        assert!(is_closed_pipe(&e));
        let e = anyhow::Error::from(io::Error::from(io::ErrorKind::WriteZero));
        assert!(!is_closed_pipe(&e));
    }

    #[test]
    fn json_records_are_enveloped_one_per_line() {
        let mut p = Printer::new(Format::Json, Vec::new());
        p.print(&Record::Tokens {
            text: "hi",
            ids: &[1, 2],
        })
        .unwrap();
        p.report_error(None, &anyhow::anyhow!("boom")).unwrap();
        let Printer::Json(p) = p else { unreachable!() };
        let out = String::from_utf8(p.into_inner()).unwrap();
        assert_eq!(
            out,
            "{\"type\":\"tokens\",\"data\":{\"text\":\"hi\",\"ids\":[1,2]}}\n\
             {\"type\":\"error\",\"data\":{\"input\":null,\"kind\":\"other\",\"message\":\"boom\"}}\n"
        );
    }

    #[test]
    fn text_errors_go_to_stderr_only() {
        let mut p = Printer::new(Format::Text, Vec::new());
        p.report_error(Some("a.png"), &anyhow::anyhow!("boom"))
            .unwrap();
        let Printer::Text(p) = p else { unreachable!() };
        assert!(p.into_inner().is_empty());
    }

    /// A writer whose reader has gone away.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn printers_return_write_errors() {
        for format in [Format::Text, Format::Json] {
            let mut p = Printer::new(format, Closed);
            let err = p
                .print(&Record::Tokens {
                    text: "hi",
                    ids: &[1],
                })
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        }
    }
}
