//! The encoders, each on a thread of its own, behind async calls.
//!
//! tract sessions are not shared between threads, and an encoder run is
//! CPU-bound work that must not sit on the async runtime's threads. So the image
//! tower and the text tower each get one worker thread that owns its encoder and
//! takes jobs from a channel. The text worker can drain every job waiting when it
//! wakes and run their texts as one batch, so that concurrent queries share one
//! text-encoder run; whether that is faster depends on the engine, the precision
//! and the threads (on tract, int8 gains nothing from batching at 1 or 2 threads,
//! fp32 at 2 threads gains 1.3-1.4x: `examples/text_batching.rs`), so the worker
//! measures it once at start-up and batches only when it pays. An LRU cache in front
//! of it answers repeated texts (a robot asks the same few questions) without
//! running the encoder at all.

use std::num::NonZeroUsize;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use edgeclip::embedding::Embeddings;
use edgeclip::encoder::{ImageEncoder, ImageFeatures, TextEncoder};
use image::RgbImage;
use lru::LruCache;
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::frames::Frame;
use crate::metrics::Metrics;

/// Most texts encoded in one text-tower run.
pub const MAX_TEXT_BATCH: usize = 64;

/// A text embedding, shared between the cache and the answers that use it.
pub type TextEmbedding = Arc<[f32]>;

enum TextJob {
    /// Free texts, encoded as given.
    Texts {
        texts: Vec<String>,
        reply: oneshot::Sender<edgeclip::Result<Vec<Vec<f32>>>>,
    },
    /// Labels for the store: each label in every template, averaged.
    Labels {
        labels: Vec<String>,
        templates: Vec<String>,
        reply: oneshot::Sender<edgeclip::Result<Embeddings>>,
    },
}

/// An image to encode: posted by a client, or a captured frame (shared, not copied).
pub enum Picture {
    /// A decoded upload.
    Posted(Arc<RgbImage>),
    /// A frame from the capture thread.
    Frame(Arc<Frame>),
}

impl Picture {
    /// The pixels.
    pub fn image(&self) -> &RgbImage {
        match self {
            Picture::Posted(image) => image,
            Picture::Frame(frame) => &frame.image,
        }
    }
}

struct ImageJob {
    image: Picture,
    reply: oneshot::Sender<edgeclip::Result<ImageFeatures>>,
}

/// What texts cost: how many came from the cache.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStats {
    /// Texts answered by the cache.
    pub cache_hits: usize,
    /// Texts the encoder ran for.
    pub encoded: usize,
}

/// Handles to the two encoder threads and the text cache.
pub struct Inference {
    image_tx: Mutex<mpsc::Sender<ImageJob>>,
    text_tx: Mutex<mpsc::Sender<TextJob>>,
    cache: Mutex<LruCache<String, TextEmbedding>>,
    metrics: Arc<Metrics>,
}

impl Inference {
    /// Starts the worker threads; the encoders move onto them.
    pub fn start(
        image: ImageEncoder,
        text: TextEncoder,
        cache_size: usize,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Self> {
        let (image_tx, image_rx) = mpsc::channel();
        let (text_tx, text_rx) = mpsc::channel();
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("edgeclip-serve-image".into())
            .spawn(move || image_worker(image, image_rx, &m))?;
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("edgeclip-serve-text".into())
            .spawn(move || text_worker(text, text_rx, &m))?;
        let cache_size = NonZeroUsize::new(cache_size).unwrap_or(NonZeroUsize::MIN);
        Ok(Self {
            image_tx: Mutex::new(image_tx),
            text_tx: Mutex::new(text_tx),
            cache: Mutex::new(LruCache::new(cache_size)),
            metrics,
        })
    }

    /// The image tower's features (embedding and patch grid) for `image`.
    pub async fn encode_image(&self, image: Picture) -> Result<ImageFeatures, ApiError> {
        let (reply, answer) = oneshot::channel();
        send(&self.image_tx, ImageJob { image, reply })?;
        Ok(answer.await.map_err(|_| gone())??)
    }

    /// Embeddings of `texts` (L2-normalised, in order), from the cache where it has
    /// them; the rest are encoded in one run, shared with concurrent queries.
    pub async fn embed_texts(
        &self,
        texts: &[String],
    ) -> Result<(Vec<TextEmbedding>, TextStats), ApiError> {
        let mut found: Vec<Option<TextEmbedding>> = {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            texts.iter().map(|t| cache.get(t).cloned()).collect()
        };
        let missing: Vec<String> = texts
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(t, _)| t.clone())
            .collect();
        let stats = TextStats {
            cache_hits: texts.len() - missing.len(),
            encoded: missing.len(),
        };
        self.metrics.text_cache(stats.cache_hits, stats.encoded);
        if !missing.is_empty() {
            let (reply, answer) = oneshot::channel();
            send(
                &self.text_tx,
                TextJob::Texts {
                    texts: missing.clone(),
                    reply,
                },
            )?;
            let rows = answer.await.map_err(|_| gone())??;
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            let mut rows = missing.into_iter().zip(rows);
            for slot in found.iter_mut().filter(|f| f.is_none()) {
                let (text, row) = rows.next().ok_or_else(gone)?;
                let row: TextEmbedding = row.into();
                cache.put(text, row.clone());
                *slot = Some(row);
            }
        }
        let rows = found
            .into_iter()
            .map(|f| f.ok_or_else(gone))
            .collect::<Result<_, _>>()?;
        Ok((rows, stats))
    }

    /// Store rows for `labels`: each label in every template, averaged.
    pub async fn embed_labels(
        &self,
        labels: Vec<String>,
        templates: Vec<String>,
    ) -> Result<Embeddings, ApiError> {
        let (reply, answer) = oneshot::channel();
        send(
            &self.text_tx,
            TextJob::Labels {
                labels,
                templates,
                reply,
            },
        )?;
        Ok(answer.await.map_err(|_| gone())??)
    }
}

fn send<T>(tx: &Mutex<mpsc::Sender<T>>, job: T) -> Result<(), ApiError> {
    tx.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(job)
        .map_err(|_| gone())
}

fn gone() -> ApiError {
    ApiError::internal("an encoder thread has stopped")
}

fn image_worker(mut encoder: ImageEncoder, jobs: mpsc::Receiver<ImageJob>, metrics: &Metrics) {
    for job in jobs {
        let started = Instant::now();
        let mut features = ImageFeatures::new();
        let image = job.image.image();
        let result = encoder
            .encode_frame(image.as_raw(), image.width(), image.height(), &mut features)
            .map(|()| features);
        metrics.encoder_seconds("image", started.elapsed().as_secs_f64());
        // The asking request may have timed out and gone; nothing to do then.
        let _ = job.reply.send(result);
    }
}

/// Texts the start-up measurement encodes one by one and as one batch.
const PROBE: [&str; 8] = [
    "a red mug",
    "a blue car",
    "a person at the door",
    "a photo of a dog.",
    "an empty room",
    "a parcel on the floor",
    "a green bottle",
    "a photo of a cat.",
];

/// Whether one run of a batch of texts beats running them one at a time by at
/// least 10% on this encoder (best of three, after a warm-up run that also pays
/// the first-run costs before the first query does).
fn batching_pays(encoder: &mut TextEncoder) -> bool {
    let time = |encoder: &mut TextEncoder, batched: bool| -> f64 {
        let started = Instant::now();
        let ok = if batched {
            encoder.embed(&PROBE).is_ok()
        } else {
            PROBE.iter().all(|t| encoder.embed(&[t]).is_ok())
        };
        if ok {
            started.elapsed().as_secs_f64()
        } else {
            f64::INFINITY
        }
    };
    time(encoder, true);
    time(encoder, false);
    let (mut one, mut many) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        one = one.min(time(encoder, false));
        many = many.min(time(encoder, true));
    }
    let pays = many < 0.9 * one;
    log::info!(
        "text encoder: {} texts one by one {:.1} ms, as one batch {:.1} ms: {}",
        PROBE.len(),
        one * 1e3,
        many * 1e3,
        if pays {
            "batching concurrent queries"
        } else {
            "one run per query"
        }
    );
    pays
}

fn text_worker(mut encoder: TextEncoder, jobs: mpsc::Receiver<TextJob>, metrics: &Metrics) {
    let batching = batching_pays(&mut encoder);
    while let Ok(first) = jobs.recv() {
        // Everything queued while the last batch ran goes into this one, when
        // batching pays; otherwise each query runs alone, finishing sooner.
        let mut batch = vec![first];
        let mut texts = batch_len(&batch[0]);
        while batching && texts < MAX_TEXT_BATCH {
            match jobs.try_recv() {
                Ok(job) => {
                    texts += batch_len(&job);
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let mut free = Vec::new();
        for job in batch {
            match job {
                TextJob::Texts { texts, reply } => free.push((texts, reply)),
                TextJob::Labels {
                    labels,
                    templates,
                    reply,
                } => {
                    let started = Instant::now();
                    let result = encoder.embed_labels(&labels, &templates);
                    metrics.encoder_seconds("text", started.elapsed().as_secs_f64());
                    let _ = reply.send(result);
                }
            }
        }
        if free.is_empty() {
            continue;
        }
        let all: Vec<&str> = free
            .iter()
            .flat_map(|(t, _)| t.iter().map(String::as_str))
            .collect();
        let started = Instant::now();
        let result = encoder.embed(&all);
        metrics.encoder_seconds("text", started.elapsed().as_secs_f64());
        match result {
            Ok(rows) => {
                let mut next = 0;
                for (texts, reply) in free {
                    let mine = (next..next + texts.len())
                        .map(|i| rows.row(i).to_vec())
                        .collect();
                    next += texts.len();
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(e) => {
                // One error for every query of the batch; errors are not `Clone`,
                // so each gets one of the same kind and message.
                let message = format!("{e:#}");
                for (_, reply) in free {
                    let error = match e.kind() {
                        edgeclip::ErrorKind::InvalidInput => {
                            edgeclip::Error::InvalidInput(message.clone())
                        }
                        _ => edgeclip::Error::Backend(edgeclip::backend::Error::failed(
                            "text encoder",
                            message.clone(),
                        )),
                    };
                    let _ = reply.send(Err(error));
                }
            }
        }
    }
}

fn batch_len(job: &TextJob) -> usize {
    match job {
        TextJob::Texts { texts, .. } => texts.len(),
        TextJob::Labels { .. } => MAX_TEXT_BATCH,
    }
}
