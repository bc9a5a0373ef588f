//! What every request handler shares: the model's description, the encoder
//! threads, the frame slot, the active labels and the metrics.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use edgeclip::backend::Engine;
use edgeclip::encoder::{ImageEncoder, ImageFeatures, TextEncoder};
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::preprocess::PreprocessConfig;

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::frames::{Frame, FrameSlot};
use crate::inference::{Inference, Picture};
use crate::labels::ActiveLabels;
use crate::locate::LocateParams;
use crate::metrics::Metrics;

/// Smoothing of where-grids, in patches, and how far below the peak a box reaches
/// (chosen on held-out two-object scenes: `firmware-tools/fixtures/where_dense_eval.py`).
const SIGMA_PATCHES: f32 = 0.5;
const BOX_DROP: f32 = 0.3;

/// The server's shared state.
pub struct AppState {
    pub(crate) package: ModelPackage,
    pub(crate) backend: &'static str,
    pub(crate) precision: Precision,
    pub(crate) preprocess: PreprocessConfig,
    pub(crate) locate: LocateParams,
    pub(crate) inference: Inference,
    pub(crate) frames: Arc<FrameSlot>,
    pub(crate) labels: RwLock<Arc<ActiveLabels>>,
    /// Label edits run one at a time: each reads the file the last one wrote.
    pub(crate) label_edits: tokio::sync::Mutex<()>,
    /// Features of the newest frame a query encoded, by frame number. Held across
    /// the encoder run, so that queries arriving together on a new frame wait for
    /// one run instead of each starting its own.
    latest: tokio::sync::Mutex<Option<(u64, Arc<ImageFeatures>)>>,
    pub(crate) metrics: Arc<Metrics>,
    /// Requests handled, for giving memory back once they stop.
    pub(crate) activity: Arc<crate::memory::Activity>,
    pub(crate) max_image_pixels: u64,
    /// One permit per posted image being decoded (see [`ServeConfig::max_decodes`]).
    pub(crate) decodes: tokio::sync::Semaphore,
    /// The text where-grids are contrasted with (see [`ServeConfig::where_background`]).
    pub(crate) where_background: String,
    pub(crate) started: Instant,
    /// Frames older than this make `/v1/health` say `degraded`.
    pub(crate) stale_after: std::time::Duration,
}

impl AppState {
    /// Opens the encoders of `package` on `engine` (the image tower with its dense
    /// output, for where-answers) and the label store at `store`, if given. Query
    /// texts are encoded with the text file that built the store, so that their
    /// scores compare with the labels'; without a store, at `precision`.
    pub fn new(
        package: ModelPackage,
        engine: &Engine,
        precision: Precision,
        frames: Arc<FrameSlot>,
        store: Option<&Path>,
        config: &ServeConfig,
    ) -> edgeclip::Result<Self> {
        let labels = match store {
            Some(path) => ActiveLabels::open(path, &package)?,
            None => ActiveLabels::none(package.manifest().logit_scale),
        };
        let text_precision = match store {
            Some(path) => {
                let store = edgeclip::labels::open_store(path, &package)?;
                edgeclip::labels::text_precision(&store, &package)?
            }
            None => precision,
        };
        if text_precision != precision {
            log::info!("query texts use the {text_precision} text file, which built the store");
        }
        let image = ImageEncoder::open_dense(&package, engine, precision)?;
        let text = TextEncoder::open(&package, engine, text_precision)?;
        let metrics = Arc::new(Metrics::new());
        let inference = Inference::start(image, text, config.text_cache, metrics.clone())
            .map_err(|e| edgeclip::Error::InvalidInput(format!("starting encoder threads: {e}")))?;
        let preprocess = package.manifest().preprocess.clone();
        Ok(Self {
            backend: engine.name(),
            precision,
            locate: LocateParams {
                size: preprocess.image_size as usize,
                sigma_patches: SIGMA_PATCHES,
                box_drop: BOX_DROP,
            },
            preprocess,
            package,
            inference,
            frames,
            labels: RwLock::new(Arc::new(labels)),
            label_edits: tokio::sync::Mutex::new(()),
            latest: tokio::sync::Mutex::new(None),
            metrics,
            activity: Arc::default(),
            max_image_pixels: config.max_image_pixels,
            decodes: tokio::sync::Semaphore::new(config.max_decodes),
            where_background: config.where_background.clone(),
            started: Instant::now(),
            stale_after: config.stale_after,
        })
    }

    /// The frame slot queries read "latest" from.
    pub fn frames(&self) -> &Arc<FrameSlot> {
        &self.frames
    }

    /// The active labels (a snapshot: an edit swaps in a new one).
    pub fn labels(&self) -> Arc<ActiveLabels> {
        self.labels
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_labels(&self, labels: ActiveLabels) {
        *self.labels.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(labels);
    }

    /// Whether the frame source should be giving frames now: it has not ended
    /// (files without `--loop`), been stopped, or yet to start (a slot no capture
    /// thread feeds yet), and there is one.
    pub(crate) fn source_should_stream(&self) -> bool {
        !matches!(
            self.frames.state().as_str(),
            "ended" | "stopped" | "starting" | "none"
        )
    }

    /// The newest frame and its features, encoding it unless a query already did.
    /// A frame older than the stale-frame age from a source that should be
    /// streaming is refused (503 `no_frame`), saying how old it is.
    pub(crate) async fn latest_features(
        &self,
    ) -> Result<(Arc<Frame>, Arc<ImageFeatures>), ApiError> {
        // The frame is read once the lock is held: the newest at that moment, never
        // one older than what the previous holder encoded.
        let mut latest = self.latest.lock().await;
        let frame = self.frames.latest().ok_or_else(|| {
            ApiError::no_frame(match self.frames.kind() {
                crate::frames::SourceKind::None => {
                    "this server has no frame source (start it with --camera, --files or \
                     --raw); post an image instead"
                        .to_owned()
                }
                _ => format!("no frame captured yet (source: {})", self.frames.state()),
            })
        })?;
        let age = frame.captured.elapsed();
        if self.source_should_stream() && age > self.stale_after {
            return Err(ApiError::no_frame(format!(
                "the newest frame is {:.1} s old, over the {:.1} s this server answers \
                 on (the source is {}); see /v1/health",
                age.as_secs_f64(),
                self.stale_after.as_secs_f64(),
                self.frames.state()
            )));
        }
        if let Some((seq, features)) = latest.as_ref() {
            if *seq == frame.seq {
                return Ok((frame, features.clone()));
            }
        }
        let features = Arc::new(
            self.inference
                .encode_image(Picture::Frame(frame.clone()))
                .await?,
        );
        *latest = Some((frame.seq, features.clone()));
        Ok((frame, features))
    }
}
