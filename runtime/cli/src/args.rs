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
    /// Inference threads (default: the board profile's).
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
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
    /// Board profile: a shipped name (`edgeclip doctor` lists them and shows the
    /// detected one) or a profile file. It gives `--backend auto` its order, and the
    /// default threads and device.
    #[arg(long, global = true, default_value = "auto", value_name = "NAME|FILE")]
    pub board: String,
    /// Device for the backend, in its own words (OpenVINO: CPU, GPU, NPU, AUTO);
    /// default: the board profile's, else the backend's own.
    #[arg(long, global = true, value_name = "NAME")]
    pub device: Option<String>,
    /// Let the backend trade exactness for speed where its device offers it (bf16 on
    /// CPUs with it, fp16 on GPUs); without it, fp32 models compute in fp32.
    #[arg(long, global = true)]
    pub fast_math: bool,
    /// Where backends keep compiled models between runs (default:
    /// $XDG_CACHE_HOME/edgeclip, else ~/.cache/edgeclip).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// A backend's setting, over the board profile's `[backends.NAME]` table
    /// (repeatable): `openvino.device=GPU`, `rknn.library=/opt/rknn/lib`. Each
    /// backend documents its keys; a wrong key or value is an error naming it.
    #[arg(long = "backend-option", global = true, value_name = "NAME.KEY=VALUE")]
    pub backend_option: Vec<String>,
    /// OpenVINO's C library, or its directory (default: $OPENVINO_LIB, then
    /// OpenVINO's own search). Same as `--backend-option openvino.library=PATH`.
    #[arg(long, global = true, value_name = "PATH")]
    pub openvino_lib: Option<PathBuf>,
    /// Rockchip's `librknnrt.so`, or its directory (default: $RKNN_LIB, then the
    /// system's library directories). Same as `--backend-option rknn.library=PATH`.
    #[arg(long, global = true, value_name = "PATH")]
    pub rknn_lib: Option<PathBuf>,
    /// Log more (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The backend settings of the flags, in the generic form: each library
    /// flag is the `library` key of its backend (quoted, so any path stays
    /// text), then `--backend-option` in the order given.
    pub fn backend_options(&self) -> Vec<String> {
        let aliases = [("openvino", &self.openvino_lib), ("rknn", &self.rknn_lib)];
        let libraries = aliases.into_iter().filter_map(|(backend, path)| {
            let path = toml::Value::String(path.as_ref()?.display().to_string());
            Some(format!("{backend}.library={path}"))
        });
        libraries
            .chain(self.backend_option.iter().cloned())
            .collect()
    }
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
    /// The device's main job: tag frames from a camera, files or stdin and report
    /// labels that appear and leave (JSON Lines events with --json).
    Watch(Box<WatchArgs>),
    /// Read the event journal a `watch` run keeps (`--journal`): list, follow or
    /// export its events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Zero-shot classify point clouds (PLY, PCD, XYZ, NPY) with PointCLIP: depth-map
    /// views of each cloud through the image tower, fused over the views.
    Points(PointsArgs),
    /// Estimate depth from single images with DepthCLIP: a depth map in metres from
    /// the image tower's patch features and distance-word prompts.
    Depth(DepthArgs),
    /// Answer text queries over HTTP ("is there a red mug, and where?") against the
    /// newest frame of a camera, files or stdin, or against posted images.
    Serve(Box<ServeArgs>),
    /// Say what this machine is and what edgeclip can use on it: the board profile
    /// and why, CPU features, each backend (or why not), cameras; with --self-test,
    /// run the model on each available backend against its reference outputs.
    Doctor(DoctorArgs),
}

/// `edgeclip doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Also run the model package on every available backend, fp32 and int8,
    /// compare with the package's onnxruntime reference (as `edgeclip check`) and
    /// time one image and one text (exit 1 when a check fails).
    #[arg(long)]
    pub self_test: bool,
}

/// `edgeclip serve`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("serve_source").required(false).multiple(false)))]
pub struct ServeArgs {
    /// Address and port to listen on. Any address but loopback needs a token.
    #[arg(long, value_name = "ADDR:PORT", default_value = edgeclip_serve::config::DEFAULT_BIND)]
    pub bind: std::net::SocketAddr,
    /// File holding the bearer token clients must send (first line; at least 16
    /// characters). `EDGECLIP_TOKEN` is read when this is not given.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Frames from a V4L2 camera; "latest" in queries is its newest frame.
    #[arg(long, value_name = "DEVICE", group = "serve_source")]
    pub camera: Option<PathBuf>,
    /// Frames from image files: a file, a directory (sorted by name) or a glob.
    #[arg(long, value_name = "PATH|GLOB", group = "serve_source")]
    pub files: Option<String>,
    /// Raw frames of this size on stdin (with --pix).
    #[arg(long, value_name = "WxH", group = "serve_source", requires = "pix")]
    pub raw: Option<String>,
    /// Layout of the raw frames on stdin.
    #[arg(long, value_enum, requires = "raw")]
    pub pix: Option<PixArg>,
    /// Camera: the frame size to ask for.
    #[arg(long, value_name = "WxH", requires = "camera")]
    pub size: Option<String>,
    /// Camera: the pixel format to ask for.
    #[arg(long, value_enum, requires = "camera")]
    pub pixel_format: Option<CameraFormatArg>,
    /// Camera: the frame rate to ask for. Files: the rate to play them at
    /// (looping files without it play at 30).
    #[arg(long, value_name = "FPS", value_parser = crate::numbers::fps)]
    pub fps: Option<f64>,
    /// Files: start again after the last one.
    #[arg(long = "loop", requires = "files")]
    pub looped: bool,
    /// Decode JPEG files and MJPEG camera frames that end without their end-of-image
    /// marker (the missing part comes out grey) instead of counting them as bad
    /// frames: for cameras that send every frame that way.
    #[arg(long)]
    pub accept_truncated_jpegs: bool,
    /// The label store queries may be compared against, and that `/v1/labels` edits.
    #[arg(long, value_name = "FILE.emb")]
    pub store: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub max_body: usize,
    /// Sustained requests per second per client address.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub rate: u32,
    /// Requests a client may send at once above the rate.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub burst: u32,
    /// Longest a request may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = crate::numbers::seconds)]
    pub timeout: f64,
    /// Text embeddings kept in the cache.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub text_cache: usize,
    /// Largest posted image in pixels, refused before it is decoded (default: what
    /// keeps two decodes within a quarter of the board profile's memory budget, at
    /// most 64 million).
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_image_pixels: Option<u64>,
    /// The neutral text where-answers are contrasted with.
    #[arg(long, value_name = "TEXT", default_value = edgeclip_serve::config::DEFAULT_WHERE_BACKGROUND)]
    pub where_background: String,
    /// Connections open at once, all clients together (held below the process's
    /// descriptor limit).
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Connections open at once from one client address.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_client: u32,
    /// Seconds a connection has to send a whole request head, from its opening or
    /// its previous response; idle keep-alive connections close after it too.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = crate::numbers::seconds)]
    pub head_timeout: f64,
    /// Seconds without a new frame after which `/v1/health` says `degraded`
    /// (at least three frame periods of --fps).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = crate::numbers::seconds)]
    pub stale_after: f64,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key). SIGHUP
    /// reloads both files.
    #[arg(long, value_name = "FILE.pem", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE.pem", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// `--projection` values of `points`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProjectionArg {
    /// PointCLIP: six perspective depth views.
    V1,
    /// PointCLIP V2's realistic projection: ten smoothed, inverted views.
    V2,
}

/// Where the labels of `points` come from: at most one of a list, a file or a
/// store; none takes the model's own point-cloud classes (`[pointclip] labels`).
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("point_label_source").multiple(false)))]
pub struct PointLabelArgs {
    /// Comma-separated labels.
    #[arg(long, value_name = "A,B,C", group = "point_label_source")]
    pub labels: Option<String>,
    /// File with one label per line (blank lines and `#` comments skipped).
    #[arg(long, value_name = "FILE", group = "point_label_source")]
    pub labels_file: Option<PathBuf>,
    /// Embedding store made by `edgeclip labels build` (its prompts were chosen when it
    /// was built; PointCLIP's are `point cloud depth map of a {}.`).
    #[arg(long, value_name = "FILE.emb", group = "point_label_source")]
    pub store: Option<PathBuf>,
    /// Prompt template with `{}` for the label; repeat to ensemble (default: the
    /// model's `[pointclip] template`, else `point cloud depth map of a {}.`).
    #[arg(long = "template", value_name = "TEMPLATE", conflicts_with = "store")]
    pub templates: Vec<String>,
}

/// `edgeclip points`.
#[derive(Debug, Args)]
pub struct PointsArgs {
    /// Point-cloud files: `.ply`, `.pcd`, `.xyz`/`.txt`/`.pts`, `.npy` (N×3).
    #[arg(required = true, value_name = "CLOUD")]
    pub clouds: Vec<PathBuf>,
    /// Projection to depth views (default: the model's `[pointclip] projection`, else v1).
    #[arg(long, value_enum)]
    pub projection: Option<ProjectionArg>,
    /// V1: project the coordinates as given instead of first centring the cloud and
    /// scaling it into the unit sphere.
    #[arg(long)]
    pub no_normalize: bool,
    /// Downsample larger clouds evenly to this many points before projecting
    /// (default: the model's `[pointclip] points`, else 1024; 0 keeps every point).
    #[arg(long, value_name = "N")]
    pub max_points: Option<usize>,
    /// The labels.
    #[command(flatten)]
    pub labels: PointLabelArgs,
    /// How many labels to print per cloud.
    #[arg(short = 'k', long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub top_k: u8,
    /// Write each cloud's views here (`view_NN.png` and the raw float32 `views.npy`,
    /// `[views, H, W]`); with several clouds, in a folder per cloud named after its file.
    #[arg(long, value_name = "DIR")]
    pub save_views: Option<PathBuf>,
}

/// `edgeclip depth`.
#[derive(Debug, Args)]
pub struct DepthArgs {
    /// Image files (JPEG, PNG).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// Write `<stem>.depth.png` (16-bit, millimetres) and `<stem>.preview.png`
    /// (colourised) for each image into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Average with the prediction for the mirrored image (the official test-time
    /// augmentation; encodes each image twice).
    #[arg(long)]
    pub flip: bool,
    /// Factor on the cosine scores before the softmax over depth bins (default: the
    /// model's `[depthclip] scale`, else DepthCLIP's 1000).
    #[arg(long, value_name = "S", value_parser = crate::numbers::score)]
    pub scale: Option<f32>,
}

/// `edgeclip events ...`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print the journal's events that match the filters.
    List(EventsFilterArgs),
    /// Print the last events, then (with --follow) new ones as they are written.
    Tail(EventsTailArgs),
    /// Write the matching events as JSON Lines, one journaled envelope per line.
    Export(EventsExportArgs),
}

/// Which journal and which of its events.
#[derive(Debug, Args)]
pub struct EventsFilterArgs {
    /// The journal folder (`[journal] dir` of the watch settings).
    #[arg(long, value_name = "DIR")]
    pub journal: PathBuf,
    /// Only events at or after this time: RFC 3339 (`2026-12-01T08:00:00Z`) or an
    /// age (`90s`, `15m`, `2h`, `7d`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only events with a sequence number above this.
    #[arg(long, value_name = "SEQ")]
    pub after_seq: Option<u64>,
    /// Only `appeared`/`left` events of this label (repeatable).
    #[arg(long, value_name = "LABEL")]
    pub label: Vec<String>,
    /// Only events of this type (repeatable).
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: Vec<EventKindArg>,
    /// Stop with an error at the first damaged record instead of skipping the
    /// damaged stretch (with a warning that says how many bytes it held).
    #[arg(long)]
    pub strict: bool,
}

/// `--type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventKindArg {
    /// A label appeared.
    Appeared,
    /// A label left.
    Left,
    /// Periodic status.
    Status,
    /// Camera state changes.
    Camera,
}

/// `edgeclip events tail`.
#[derive(Debug, Args)]
pub struct EventsTailArgs {
    /// The journal and filters.
    #[command(flatten)]
    pub filter: EventsFilterArgs,
    /// How many of the last matching events to print first.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub lines: usize,
    /// Keep printing new events until interrupted.
    #[arg(short, long)]
    pub follow: bool,
}

/// `edgeclip events export`.
#[derive(Debug, Args)]
pub struct EventsExportArgs {
    /// The journal and filters.
    #[command(flatten)]
    pub filter: EventsFilterArgs,
    /// Write here instead of stdout (replaced atomically when complete).
    #[arg(short, long, value_name = "FILE.jsonl")]
    pub output: Option<PathBuf>,
}

/// `--pix` values: raw frame layouts on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PixArg {
    /// Packed 4:2:2 Y'CbCr, 2 bytes per pixel.
    Yuyv,
    /// 4:2:0 Y plane then interleaved CbCr.
    Nv12,
    /// Packed RGB, 3 bytes per pixel.
    Rgb24,
    /// 4:2:0 Y plane, then Cb plane, then Cr plane (ffmpeg yuv420p).
    #[value(alias = "yu12")]
    I420,
    /// 4:2:0 Y plane, then Cr plane, then Cb plane.
    Yv12,
    /// 4:2:0 Y plane then interleaved CrCb.
    Nv21,
    /// Packed 4:2:2 Y'CbCr in U Y V Y order, 2 bytes per pixel.
    Uyvy,
    /// Packed BGR, 3 bytes per pixel.
    Bgr24,
    /// 8-bit luma only (ffmpeg gray).
    #[value(alias = "gray")]
    Grey,
    /// I420 as `rpicam-vid --codec yuv420 -o -` writes it on a Raspberry Pi 0-4:
    /// rows padded to 64 bytes (chroma rows to 32), BT.601 full range.
    RpicamI420,
    /// I420 as `rpicam-vid --codec yuv420 -o -` writes it on a Raspberry Pi 5:
    /// chroma rows padded to 64 bytes, luma rows to 128, BT.601 full range.
    RpicamI420Pi5,
}

/// `--pixel-format` values a camera may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CameraFormatArg {
    /// YUYV 4:2:2.
    Yuyv,
    /// NV12 4:2:0.
    Nv12,
    /// RGB24.
    Rgb24,
    /// Motion JPEG.
    Mjpeg,
    /// YU12 (I420) 4:2:0 planar.
    #[value(alias = "i420")]
    Yu12,
    /// YV12 4:2:0 planar, Cr before Cb.
    Yv12,
    /// NV21 4:2:0, interleaved CrCb.
    Nv21,
    /// UYVY 4:2:2.
    Uyvy,
    /// BGR24.
    Bgr24,
    /// 8-bit greyscale.
    #[value(alias = "gray")]
    Grey,
}

/// `--mode` values of `watch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// Labels compete (softmax); only the top k of a frame count.
    TopK,
    /// Scene tags: each label on its own (sigmoid), thresholds from the store.
    Tags,
}

/// `edgeclip watch`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("frame_source").required(true).multiple(false)))]
pub struct WatchArgs {
    /// Frames from a V4L2 camera (`/dev/video0`, `/dev/v4l/by-id/...`); waits for it
    /// to be plugged in and reopens it after a fault.
    #[arg(long, value_name = "DEVICE", group = "frame_source")]
    pub camera: Option<PathBuf>,
    /// Frames from image files: a file, a directory (sorted by name) or a glob.
    #[arg(long, value_name = "PATH|GLOB", group = "frame_source")]
    pub files: Option<String>,
    /// Raw frames of this size on stdin (with --pix), e.g. from ffmpeg or GStreamer.
    #[arg(long, value_name = "WxH", group = "frame_source", requires = "pix")]
    pub raw: Option<String>,
    /// Layout of the raw frames on stdin.
    #[arg(long, value_enum, requires = "raw")]
    pub pix: Option<PixArg>,
    /// Camera: the frame size to ask for (the driver may choose another).
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// Camera: the pixel format to ask for (default: the first the device offers
    /// of YUYV, NV12, MJPEG, RGB24, then of YU12, YV12, NV21, UYVY, BGR24, GREY).
    #[arg(long, value_enum)]
    pub pixel_format: Option<CameraFormatArg>,
    /// Camera: the frame rate to ask for. Files and stdin: the frames' own rate,
    /// which times dwell and hold (default: the time they arrive).
    #[arg(long, value_name = "FPS", value_parser = crate::numbers::fps)]
    pub fps: Option<f64>,
    /// Camera: milliseconds before the first reopening after a fault; each failed
    /// attempt doubles it, up to 5 s.
    #[arg(long, value_name = "MS", default_value_t = 100, value_parser = crate::numbers::millis)]
    pub reconnect_ms: u64,
    /// Files: start again after the last one.
    #[arg(long = "loop", requires = "files")]
    pub looped: bool,
    /// Decode JPEG files and MJPEG camera frames that end without their end-of-image
    /// marker (the missing part comes out grey) instead of counting them as bad
    /// frames: for cameras that send every frame that way.
    #[arg(long)]
    pub accept_truncated_jpegs: bool,
    /// The labels.
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Settings file (`[watch]`, `[track]`, `[journal]`, `[mqtt]`, `[gpio]` tables);
    /// flags win over it.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Keep every event in a crash-safe journal in this folder (read it with
    /// `edgeclip events`); numbering continues from its last event.
    #[arg(long, value_name = "DIR")]
    pub journal: Option<PathBuf>,
    /// When the journal syncs to disk: `every-record`, `interval:100ms`,
    /// `interval:50` (records), `interval:100ms,50` or `os`.
    #[arg(long, value_name = "POLICY")]
    pub durability: Option<String>,
    /// Publish events to this MQTT broker (`HOST` or `HOST:PORT`) through the
    /// journal's outbox; the rest of `[mqtt]` comes from --config.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub mqtt: Option<String>,
    /// Scoring: `top-k` (labels compete) or `tags` (each on its own).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Top-k mode: labels that keep their score per frame.
    #[arg(short = 'k', long)]
    pub top_k: Option<usize>,
    /// Tags mode: bias added to logits before the sigmoid.
    #[arg(long, allow_negative_numbers = true, value_parser = crate::numbers::score)]
    pub bias: Option<f32>,
    /// Weight of the newest frame's score in the moving average, (0, 1].
    #[arg(long, value_parser = crate::numbers::score)]
    pub alpha: Option<f32>,
    /// Smoothed score a label must reach to appear.
    #[arg(long, value_parser = crate::numbers::score)]
    pub enter: Option<f32>,
    /// Smoothed score a present label must fall below to leave.
    #[arg(long, value_parser = crate::numbers::score)]
    pub exit: Option<f32>,
    /// Milliseconds above `enter` before `appeared`.
    #[arg(long, value_name = "MS", value_parser = crate::numbers::millis)]
    pub dwell_ms: Option<u64>,
    /// Milliseconds below `exit` before `left`.
    #[arg(long, value_name = "MS", value_parser = crate::numbers::millis)]
    pub hold_ms: Option<u64>,
    /// Seconds between status events (0: none).
    #[arg(long, value_name = "SECONDS", value_parser = crate::numbers::seconds_or_zero)]
    pub status_every: Option<f64>,
    /// Stop after this many encoded frames.
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = crate::numbers::seconds)]
    pub duration: Option<f64>,
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

/// Where the labels come from (`classify`, `watch`): exactly one of a list, a
/// file or a store.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("label_source").required(true).multiple(false)))]
pub struct LabelArgs {
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
}

/// `edgeclip classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Image files (JPEG, PNG).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// The labels.
    #[command(flatten)]
    pub labels: LabelArgs,
    /// How many labels to print per image.
    #[arg(short = 'k', long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=32))]
    pub top_k: u8,
    /// Multi-label tagging: print every label whose sigmoid score reaches its threshold
    /// (the store's per-label threshold, else --threshold) instead of the top k.
    #[arg(long)]
    pub tags: bool,
    /// Default tag threshold on sigmoid(logit + bias).
    #[arg(long, default_value_t = 0.5, requires = "tags", value_parser = crate::numbers::score)]
    pub threshold: f32,
    /// Bias added to logits before the tag sigmoid (calibrate it per model).
    #[arg(
        long,
        default_value_t = 0.0,
        requires = "tags",
        allow_negative_numbers = true,
        value_parser = crate::numbers::score
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
        assert_eq!(c.labels.labels.as_deref(), Some("a,b"));
        assert_eq!(c.labels.templates, ["x {}"]);
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
        assert_eq!(c.labels.store, Some(PathBuf::from("s.emb")));
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
        assert_eq!(cli.threads, Some(2));
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

    #[test]
    fn points_flags() {
        let cli = parse(&["points", "a.ply"]).unwrap();
        let Command::Points(p) = cli.command else {
            panic!("not points")
        };
        assert_eq!(p.clouds, [PathBuf::from("a.ply")]);
        assert_eq!((p.projection, p.no_normalize, p.top_k), (None, false, 3));
        assert!(p.labels.labels.is_none() && p.labels.store.is_none());
        let cli = parse(&[
            "points",
            "a.ply",
            "b.npy",
            "--projection",
            "v2",
            "--labels",
            "cube,cone",
            "--template",
            "a {}.",
            "-k",
            "2",
            "--save-views",
            "v",
            "--precision",
            "int8",
        ])
        .unwrap();
        let Command::Points(p) = cli.command else {
            panic!("not points")
        };
        assert_eq!(p.projection, Some(ProjectionArg::V2));
        assert_eq!(p.labels.templates, ["a {}."]);
        assert_eq!((p.top_k, p.save_views), (2, Some(PathBuf::from("v"))));
        assert!(parse(&["points"]).is_err(), "needs a cloud");
        assert!(parse(&["points", "a.ply", "--projection", "v3"]).is_err());
        assert!(parse(&["points", "a.ply", "--labels", "a", "--store", "s.emb"]).is_err());
        assert!(parse(&["points", "a.ply", "--store", "s.emb", "--template", "{}"]).is_err());
        assert!(parse(&["points", "a.ply", "-k", "0"]).is_err());
        assert!(parse(&["points", "a.ply", "--no-normalize"]).is_ok());
    }

    #[test]
    fn depth_flags() {
        let cli = parse(&["depth", "a.png"]).unwrap();
        let Command::Depth(d) = cli.command else {
            panic!("not depth")
        };
        assert_eq!((d.out, d.flip, d.scale), (None, false, None));
        let cli = parse(&[
            "depth", "a.png", "b.jpg", "--out", "o", "--flip", "--scale", "30",
        ])
        .unwrap();
        let Command::Depth(d) = cli.command else {
            panic!("not depth")
        };
        assert_eq!(d.images.len(), 2);
        assert_eq!(
            (d.out, d.flip, d.scale),
            (Some(PathBuf::from("o")), true, Some(30.0))
        );
        assert!(parse(&["depth"]).is_err(), "needs an image");
        assert!(parse(&["depth", "a.png", "--scale", "x"]).is_err());
    }

    #[test]
    fn watch_needs_one_source_and_labels() {
        let ok = parse(&[
            "watch",
            "--files",
            "d",
            "--labels",
            "a,b",
            "--dwell-ms",
            "50",
        ])
        .unwrap();
        let Command::Watch(w) = ok.command else {
            panic!("not watch")
        };
        assert_eq!((w.files.as_deref(), w.dwell_ms), (Some("d"), Some(50)));
        assert!(parse(&["watch", "--labels", "a"]).is_err(), "no source");
        assert!(parse(&["watch", "--files", "d"]).is_err(), "no labels");
        assert!(parse(&[
            "watch",
            "--files",
            "d",
            "--camera",
            "/dev/video0",
            "--labels",
            "a"
        ])
        .is_err());
        assert!(
            parse(&["watch", "--raw", "64x48", "--labels", "a"]).is_err(),
            "needs --pix"
        );
        assert!(parse(&["watch", "--raw", "64x48", "--pix", "nv12", "--labels", "a"]).is_ok());
        assert!(parse(&[
            "watch",
            "--camera",
            "c",
            "--pixel-format",
            "mjpeg",
            "--labels",
            "a"
        ])
        .is_ok());
        assert!(parse(&[
            "watch", "--files", "d", "--labels", "a", "--bias", "-3", "--mode", "tags"
        ])
        .is_ok());
    }
}
