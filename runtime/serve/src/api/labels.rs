//! `GET/POST /v1/labels`, `DELETE /v1/labels/{label}`: the active label store.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use edgeclip::labels::{LabelMeta, Store, StoreBuilder};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::error::ApiError;
use crate::labels::{ActiveLabels, LabelInfo};
use crate::state::AppState;

/// Most labels one request may add.
const MAX_ADD: usize = 256;

#[derive(Serialize)]
pub(crate) struct LabelsResponse<'a> {
    store: Option<String>,
    model: &'a str,
    templates: &'a [String],
    labels: &'a [LabelInfo],
}

pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let labels = state.labels();
    let body = LabelsResponse {
        store: labels
            .path()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
        model: &state.package.manifest().name,
        templates: labels.templates(),
        labels: labels.entries(),
    };
    Json(serde_json::to_value(body).unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddRequest {
    labels: Vec<String>,
    templates: Option<Vec<String>>,
}

#[derive(Serialize)]
pub(crate) struct AddResponse {
    added: usize,
    labels: usize,
}

pub(crate) async fn add(
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<AddRequest>,
) -> Result<(StatusCode, Json<AddResponse>), ApiError> {
    if request.labels.is_empty() || request.labels.len() > MAX_ADD {
        return Err(ApiError::invalid_request(format!(
            "`labels` must hold 1 to {MAX_ADD} labels, not {}",
            request.labels.len()
        )));
    }
    let labels: Vec<String> = request.labels.iter().map(|l| l.trim().to_owned()).collect();
    if let Some(i) = labels.iter().position(|l| l.is_empty() || l.len() > 1000) {
        return Err(ApiError::invalid_request(format!(
            "label {} is empty or longer than 1000 bytes",
            i + 1
        )));
    }
    let _edit = state.label_edits.lock().await;
    let active = state.labels();
    let path = active.path().ok_or_else(no_store)?.to_owned();
    if let Some(t) = &request.templates {
        if t.as_slice() != active.templates() {
            return Err(ApiError::conflict(format!(
                "the store was built with templates {:?}; new labels must use the same",
                active.templates()
            )));
        }
    }
    let mut builder = read_builder(&path)?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = labels
        .iter()
        .find(|l| builder.contains(l) || !seen.insert(*l))
    {
        return Err(ApiError::conflict(format!(
            "label `{dup}` is already in the store"
        )));
    }
    let rows = state
        .inference
        .embed_labels(labels.clone(), active.templates().to_vec())
        .await?;
    for (label, row) in labels.iter().zip(rows.rows()) {
        builder
            .add_with_meta(label, row, LabelMeta::default())
            .map_err(|e| ApiError::internal(format!("adding `{label}`: {e}")))?;
    }
    let total = commit(&state, &path, builder).await?;
    Ok((
        StatusCode::CREATED,
        Json(AddResponse {
            added: labels.len(),
            labels: total,
        }),
    ))
}

#[derive(Serialize)]
pub(crate) struct RemoveResponse {
    removed: String,
    labels: usize,
}

pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    label: Result<Path<String>, PathRejection>,
) -> Result<Json<RemoveResponse>, ApiError> {
    // axum's own rejection is plain text; every error of this API is JSON.
    let Path(label) = label.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let _edit = state.label_edits.lock().await;
    let active = state.labels();
    let path = active.path().ok_or_else(no_store)?.to_owned();
    let mut builder = read_builder(&path)?;
    if !builder.contains(&label) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "label_not_found",
            format!("no label `{label}` in the store"),
        ));
    }
    if builder.len() == 1 {
        return Err(ApiError::conflict(
            "removing the last label would leave an empty store",
        ));
    }
    builder
        .remove(&label)
        .map_err(|e| ApiError::internal(format!("removing `{label}`: {e}")))?;
    let total = commit(&state, &path, builder).await?;
    Ok(Json(RemoveResponse {
        removed: label,
        labels: total,
    }))
}

fn no_store() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_store",
        "this server has no label store (start it with --store FILE)",
    )
}

/// A builder holding the store file as it is now.
fn read_builder(path: &std::path::Path) -> Result<StoreBuilder, ApiError> {
    let store = Store::open(path)
        .map_err(|e| ApiError::internal(format!("reading {}: {e}", path.display())))?;
    Ok(StoreBuilder::from_store(&store))
}

/// Writes `builder` atomically to `path`, re-reads it and makes it the active set;
/// returns its label count.
async fn commit(
    state: &Arc<AppState>,
    path: &std::path::Path,
    builder: StoreBuilder,
) -> Result<usize, ApiError> {
    let state2 = state.clone();
    let path = path.to_owned();
    let fresh = tokio::task::spawn_blocking(move || -> Result<ActiveLabels, ApiError> {
        builder
            .write_atomic(&path)
            .map_err(|e| ApiError::internal(format!("writing {}: {e}", path.display())))?;
        ActiveLabels::open(&path, &state2.package)
            .map_err(|e| ApiError::internal(format!("re-reading {}: {e:#}", path.display())))
    })
    .await
    .map_err(|e| ApiError::internal(format!("store writer: {e}")))??;
    let total = fresh.entries().len();
    state.set_labels(fresh);
    Ok(total)
}
