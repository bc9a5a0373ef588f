//! `GET /v1/health`, `/v1/metrics`, `/v1/frame/latest` and `/v1/heatmap`: what the
//! server is doing and what the camera sees.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use edgeclip::preprocess::source_window;
use serde::{Deserialize, Serialize};

use super::query::{check_texts, dense_grid, where_answer};
use crate::error::ApiError;
use crate::frames::SourceKind;
use crate::heatmap::render_png;
use crate::locate::similarity_grid;
use crate::metrics::CONTENT_TYPE as METRICS_TYPE;
use crate::state::AppState;

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    model: String,
    backend: &'static str,
    precision: String,
    source: SourceHealth,
    uptime_s: f64,
}

#[derive(Serialize)]
struct SourceHealth {
    kind: &'static str,
    state: String,
    frames: u64,
    last_frame_age_ms: Option<f64>,
}

/// `degraded` when a source should be giving frames and is not: lost or failed,
/// or its newest frame (or the start, before the first) older than the server's
/// stale-frame age. A source that ended (files without `--loop`) or no source at
/// all is `ok`.
fn status(state: &AppState) -> &'static str {
    let frames = &state.frames;
    if frames.kind() == SourceKind::None || !state.source_should_stream() {
        return "ok";
    }
    let age = frames
        .latest()
        .map_or(state.started.elapsed(), |f| f.captured.elapsed());
    if frames.state().starts_with("streaming") && age <= state.stale_after {
        "ok"
    } else {
        "degraded"
    }
}

pub(crate) async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let frames = &state.frames;
    Json(Health {
        status: status(&state),
        model: state.package.manifest().name.clone(),
        backend: state.backend,
        precision: state.precision.to_string(),
        source: SourceHealth {
            kind: frames.kind().as_str(),
            state: frames.state(),
            frames: frames.frames(),
            last_frame_age_ms: frames.latest().map(|f| f.age_ms()),
        },
        uptime_s: state.started.elapsed().as_secs_f64(),
    })
}

pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render(state.frames.frames());
    ([(CONTENT_TYPE, METRICS_TYPE)], text).into_response()
}

pub(crate) async fn frame_latest(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let frame = state.frames.latest().ok_or_else(|| {
        ApiError::no_frame(format!(
            "no frame to show (source: {}, {})",
            state.frames.kind().as_str(),
            state.frames.state()
        ))
    })?;
    let seq = frame.seq;
    let jpeg = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&frame.image)
            .map(|()| out)
    })
    .await
    .map_err(|e| ApiError::internal(format!("JPEG encoder: {e}")))?
    .map_err(|e| ApiError::internal(format!("encoding the frame: {e}")))?;
    Ok((
        [
            (CONTENT_TYPE, "image/jpeg".to_owned()),
            (
                axum::http::HeaderName::from_static("x-frame-seq"),
                seq.to_string(),
            ),
        ],
        jpeg,
    )
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct HeatmapQuery {
    text: Option<String>,
}

pub(crate) async fn heatmap(
    State(state): State<Arc<AppState>>,
    query: Result<Query<HeatmapQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    // axum's own rejection is plain text; every error of this API is JSON.
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let text = query
        .text
        .ok_or_else(|| ApiError::invalid_request("give the text to look for: ?text=..."))?;
    let texts = [text, state.where_background.clone()];
    check_texts(&texts[..1])?;
    let (frame, features) = state.latest_features().await?;
    let (rows, _) = state.inference.embed_texts(&texts).await?;
    let answer = where_answer(&state, &rows[0], &rows[1], &features, &frame.image)?;
    let grid = dense_grid(&features)?;
    let values = similarity_grid(grid, &rows[0], &rows[1]);
    let shape = (grid.rows(), grid.cols());
    let window = source_window(&state.preprocess, frame.image.width(), frame.image.height());
    let png = tokio::task::spawn_blocking(move || {
        render_png(&frame.image, window, &values, shape, Some(answer.bbox))
    })
    .await
    .map_err(|e| ApiError::internal(format!("heatmap renderer: {e}")))?
    .map_err(|e| ApiError::internal(format!("encoding the heatmap: {e}")))?;
    Ok(([(CONTENT_TYPE, "image/png")], png).into_response())
}
