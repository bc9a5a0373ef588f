//! `POST /v1/query`: texts scored against the newest frame or a posted image, with
//! probabilities, the label store's best matches and, asked for, where-answers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use edgeclip::encoder::{ImageFeatures, PatchGrid};
use edgeclip::preprocess::{decode_rgb, source_window, DecodeError};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::error::ApiError;
use crate::inference::{Picture, TextEmbedding};
use crate::labels::ActiveLabels;
use crate::locate::where_in_image;
use crate::scoring::{score_query, Against, LabelScore, QueryScores};
use crate::state::AppState;

/// Most texts in one query (one text-encoder batch).
pub const MAX_TEXTS: usize = crate::inference::MAX_TEXT_BATCH;
/// Longest text, in bytes (the tokenizer keeps 77 tokens of it anyway).
pub const MAX_TEXT_BYTES: usize = 1000;
/// Most store labels one query may ask for.
pub const MAX_TOP_K: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryRequest {
    texts: Vec<String>,
    image: Option<String>,
    top_k: Option<usize>,
    #[serde(rename = "where", default)]
    where_: bool,
    against: Option<Against>,
}

#[derive(Serialize)]
pub(crate) struct QueryResponse {
    image: ImageInfo,
    against: Against,
    results: Vec<TextResult>,
    labels: Vec<LabelScore>,
    timing_ms: Timing,
    text_cache_hits: usize,
}

#[derive(Serialize)]
struct ImageInfo {
    source: &'static str,
    width: u32,
    height: u32,
    frame_seq: Option<u64>,
    frame_age_ms: Option<f64>,
}

#[derive(Serialize)]
struct TextResult {
    text: String,
    score: f32,
    probability: f32,
    #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
    where_: Option<WhereAnswer>,
}

/// Where a text's best region is, in image pixels.
#[derive(Serialize)]
pub(crate) struct WhereAnswer {
    #[serde(rename = "box")]
    pub(crate) bbox: [u32; 4],
    point: [u32; 2],
    score: f32,
    grid: GridValues,
}

#[derive(Serialize)]
struct GridValues {
    rows: usize,
    cols: usize,
    values: Vec<f32>,
}

#[derive(Serialize, Default)]
struct Timing {
    decode: f64,
    image: f64,
    text: f64,
    total: f64,
}

pub(crate) async fn query(
    State(state): State<Arc<AppState>>,
    ApiJson(mut request): ApiJson<QueryRequest>,
) -> Result<Json<QueryResponse>, ApiError> {
    let started = Instant::now();
    check_texts(&request.texts)?;
    let top_k = check_top_k(request.top_k)?;
    let labels = state.labels();
    let against = against(request.against, request.texts.len(), &labels)?;
    // Moved out, not copied: a posted image is megabytes of base64 per request.
    let image = request.image.take();
    let encoded = encode(&state, &request, image).await?;
    let scores = score_query(
        &labels,
        encoded.features.embedding(),
        encoded.texts(),
        against,
        top_k,
    );
    let results = text_results(&state, &request, &encoded, &scores)?;
    state.metrics.query();
    let mut timing = encoded.timing;
    timing.total = started.elapsed().as_secs_f64() * 1e3;
    Ok(Json(QueryResponse {
        image: encoded.info,
        against,
        results,
        labels: scores.labels,
        timing_ms: timing,
        text_cache_hits: encoded.cache_hits,
    }))
}

/// `top_k`, 5 by default, or why it is refused.
fn check_top_k(top_k: Option<usize>) -> Result<usize, ApiError> {
    let top_k = top_k.unwrap_or(5);
    if !(1..=MAX_TOP_K).contains(&top_k) {
        return Err(ApiError::invalid_request(format!(
            "`top_k` must be 1 to {MAX_TOP_K}, not {top_k}"
        )));
    }
    Ok(top_k)
}

/// What the texts' probabilities are against: as asked, or the labels for a single
/// text when there is a store (one text against itself would always be certain).
fn against(
    asked: Option<Against>,
    texts: usize,
    labels: &ActiveLabels,
) -> Result<Against, ApiError> {
    match asked {
        Some(Against::Labels) if labels.is_empty() => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_store",
            "`against: labels` needs a label store, and this server has none \
             (start it with --store FILE)",
        )),
        Some(a) => Ok(a),
        None if texts == 1 && !labels.is_empty() => Ok(Against::Labels),
        None => Ok(Against::Texts),
    }
}

/// A query's encodings: the image and its features, the texts' embeddings (the
/// where-background's last, when asked for) and what they cost.
struct Encoded {
    picture: Picture,
    features: Arc<ImageFeatures>,
    info: ImageInfo,
    text_rows: Vec<TextEmbedding>,
    /// Texts of the request (the rows after them are the where-background's).
    texts: usize,
    cache_hits: usize,
    timing: Timing,
}

impl Encoded {
    /// The request's texts' embeddings.
    fn texts(&self) -> &[TextEmbedding] {
        &self.text_rows[..self.texts]
    }

    /// The where-background's embedding, if it was asked for.
    fn background(&self) -> Option<&[f32]> {
        self.text_rows.get(self.texts).map(|row| &row[..])
    }
}

/// Encodes the texts and the image: each on its own encoder thread, at the same
/// time. Where-answers also need the background text (cached after the first query).
async fn encode(
    state: &AppState,
    request: &QueryRequest,
    image: Option<String>,
) -> Result<Encoded, ApiError> {
    let mut wanted = request.texts.clone();
    if request.where_ {
        wanted.push(state.where_background.clone());
    }
    let texts = async {
        let t = Instant::now();
        (state.inference.embed_texts(&wanted).await, t.elapsed())
    };
    let image = async {
        let t = Instant::now();
        let result = picture(state, image).await;
        (result, t.elapsed())
    };
    let ((text_result, text_time), (image_result, image_time)) = tokio::join!(texts, image);
    let (text_rows, text_stats) = text_result?;
    let (picture, features, info, decode_ms) = image_result?;
    Ok(Encoded {
        picture,
        features,
        info,
        text_rows,
        texts: request.texts.len(),
        cache_hits: text_stats.cache_hits,
        timing: Timing {
            decode: decode_ms,
            image: image_time.as_secs_f64() * 1e3 - decode_ms,
            text: text_time.as_secs_f64() * 1e3,
            total: 0.0,
        },
    })
}

/// Each text's answer: its scores and, asked for, where it is.
fn text_results(
    state: &AppState,
    request: &QueryRequest,
    encoded: &Encoded,
    scores: &QueryScores,
) -> Result<Vec<TextResult>, ApiError> {
    let mut results = Vec::with_capacity(request.texts.len());
    for ((text, row), score) in request.texts.iter().zip(encoded.texts()).zip(&scores.texts) {
        let where_ = match encoded.background() {
            Some(bg) => Some(where_answer(
                state,
                row,
                bg,
                &encoded.features,
                encoded.picture.image(),
            )?),
            None => None,
        };
        results.push(TextResult {
            text: text.clone(),
            score: score.score,
            probability: score.probability,
            where_,
        });
    }
    Ok(results)
}

/// Checks the texts before anything runs.
pub(crate) fn check_texts(texts: &[String]) -> Result<(), ApiError> {
    if texts.is_empty() || texts.len() > MAX_TEXTS {
        return Err(ApiError::invalid_request(format!(
            "`texts` must hold 1 to {MAX_TEXTS} texts, not {}",
            texts.len()
        )));
    }
    for (i, t) in texts.iter().enumerate() {
        if t.trim().is_empty() {
            return Err(ApiError::invalid_request(format!(
                "text {} is empty",
                i + 1
            )));
        }
        if t.len() > MAX_TEXT_BYTES {
            return Err(ApiError::invalid_request(format!(
                "text {} has {} bytes; at most {MAX_TEXT_BYTES}",
                i + 1,
                t.len()
            )));
        }
    }
    Ok(())
}

/// The image a query is about, its features, what to report of it and the decode
/// time in ms.
async fn picture(
    state: &AppState,
    image: Option<String>,
) -> Result<(Picture, Arc<ImageFeatures>, ImageInfo, f64), ApiError> {
    match image.filter(|data| data != "latest") {
        None => {
            let (frame, features) = state.latest_features().await?;
            let info = ImageInfo {
                source: "latest",
                width: frame.image.width(),
                height: frame.image.height(),
                frame_seq: Some(frame.seq),
                frame_age_ms: Some(frame.age_ms()),
            };
            Ok((Picture::Frame(frame), features, info, 0.0))
        }
        Some(data) => {
            let t = Instant::now();
            let max_pixels = state.max_image_pixels;
            // Held until the image is encoded, so that at most `max_decodes` posted
            // images are in memory at once; waiting is bounded by the request timeout.
            let permit = state
                .decodes
                .acquire()
                .await
                .map_err(|e| ApiError::internal(format!("image decoder: {e}")))?;
            let image = tokio::task::spawn_blocking(move || decode_image(&data, max_pixels))
                .await
                .map_err(|e| ApiError::internal(format!("image decoder: {e}")))??;
            let decode_ms = t.elapsed().as_secs_f64() * 1e3;
            let image = Arc::new(image);
            let features = state
                .inference
                .encode_image(Picture::Posted(image.clone()))
                .await?;
            drop(permit);
            let info = ImageInfo {
                source: "posted",
                width: image.width(),
                height: image.height(),
                frame_seq: None,
                frame_age_ms: None,
            };
            Ok((Picture::Posted(image), Arc::new(features), info, decode_ms))
        }
    }
}

/// Base64 → JPEG or PNG → RGB8 ([`decode_rgb`]), refusing anything else and
/// anything over `max_pixels` before its pixels are allocated.
pub(crate) fn decode_image(data: &str, max_pixels: u64) -> Result<RgbImage, ApiError> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(data.trim()).map_err(|e| {
        ApiError::invalid_image(format!("`image` is not base64 or \"latest\": {e}"))
    })?;
    decode_rgb(&bytes, max_pixels).map_err(|e| {
        ApiError::invalid_image(match e {
            DecodeError::Format(None) => "the data is not a JPEG or PNG image".to_owned(),
            DecodeError::Format(Some(other)) => format!("the image is {other:?}; send JPEG or PNG"),
            DecodeError::TooLarge {
                width,
                height,
                max_pixels,
            } => format!(
                "the image is {width}x{height}; this server takes at most {max_pixels} pixels"
            ),
            DecodeError::Decode(message) => format!("decoding the image: {message}"),
            truncated @ DecodeError::Truncated(_) => truncated.to_string(),
        })
    })
}

/// The dense grid of `features`, or an internal error.
pub(crate) fn dense_grid(features: &ImageFeatures) -> Result<&PatchGrid, ApiError> {
    crate::locate::dense_grid(features)
        .ok_or_else(|| ApiError::internal("the image encoder gave no dense features"))
}

/// The where-answer of one text embedding over an image's dense features,
/// contrasted with the `background` text's embedding.
pub(crate) fn where_answer(
    state: &AppState,
    text: &[f32],
    background: &[f32],
    features: &ImageFeatures,
    image: &RgbImage,
) -> Result<WhereAnswer, ApiError> {
    let grid = dense_grid(features)?;
    let window = source_window(&state.preprocess, image.width(), image.height());
    let found = where_in_image(
        grid,
        text,
        background,
        window,
        image.dimensions(),
        &state.locate,
    )
    .ok_or_else(|| ApiError::internal("the similarity grid has no usable values"))?;
    Ok(WhereAnswer {
        bbox: found.bbox,
        point: found.point,
        score: found.score,
        grid: GridValues {
            rows: found.shape.0,
            cols: found.shape.1,
            values: found.values,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_checked_before_anything_runs() {
        assert!(check_texts(&[]).is_err());
        assert!(check_texts(&["  ".into()]).is_err());
        assert!(check_texts(&["x".repeat(MAX_TEXT_BYTES + 1)]).is_err());
        assert!(check_texts(&vec!["a".to_owned(); MAX_TEXTS + 1]).is_err());
        assert!(check_texts(&["a red mug".into()]).is_ok());
    }

    #[test]
    fn images_that_are_not_jpeg_or_png_are_refused() {
        let e = decode_image("not base64!", 100).unwrap_err();
        assert_eq!(e.code, "invalid_image");
        let e = decode_image("aGVsbG8gd29ybGQ", 100).unwrap_err(); // "hello world", unpadded
        assert!(e.message.contains("not a JPEG or PNG"), "{}", e.message);
        let mut png = Vec::new();
        RgbImage::new(20, 10)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        assert_eq!(decode_image(&b64, 200).unwrap().dimensions(), (20, 10));
        let e = decode_image(&b64, 199).unwrap_err();
        assert!(e.message.contains("at most 199 pixels"), "{}", e.message);
    }
}
