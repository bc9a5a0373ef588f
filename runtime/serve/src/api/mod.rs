//! The HTTP surface: routes, the JSON body extractor with the API's errors, and the
//! layers every request passes (metrics, head limits, timeout, rate limit, token).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;

use crate::auth::{self, Token};
use crate::config::ServeConfig;
use crate::error::{ApiError, ErrorCode};
use crate::limit::{self, ClientLimiter};
use crate::state::AppState;

mod labels;
mod query;
mod status;

/// Every route, as `(method, path)`: the OpenAPI conformance test checks
/// `openapi.json` documents exactly these.
pub const ROUTES: [(&str, &str); 8] = [
    ("post", "/v1/query"),
    ("get", "/v1/labels"),
    ("post", "/v1/labels"),
    ("delete", "/v1/labels/{label}"),
    ("get", "/v1/health"),
    ("get", "/v1/metrics"),
    ("get", "/v1/frame/latest"),
    ("get", "/v1/heatmap"),
];

/// The API's router over `state`, with the limits of `config`.
pub fn app(state: Arc<AppState>, config: &ServeConfig) -> Router {
    let mut router = Router::new()
        .route("/v1/query", post(query::query))
        .route("/v1/labels", get(labels::list).post(labels::add))
        .route("/v1/labels/{label}", delete(labels::remove))
        .route("/v1/health", get(status::health))
        .route("/v1/metrics", get(status::metrics))
        .route("/v1/frame/latest", get(status::frame_latest))
        .route("/v1/heatmap", get(status::heatmap))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(config.body_limit));
    if let Some(token) = &config.token {
        router = router.layer(middleware::from_fn_with_state(
            Token::new(token),
            auth::require_token,
        ));
    }
    let limiter = ClientLimiter::new(config.rate_per_second, config.burst);
    spawn_pruner(limiter.clone());
    router
        .layer(middleware::from_fn_with_state(limiter, limit::limit_rate))
        .layer(middleware::from_fn_with_state(
            config.request_timeout,
            time_limit,
        ))
        .layer(middleware::from_fn(head_limits))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// Forgets idle clients' rate buckets every minute (when a runtime is there to run it).
fn spawn_pruner(limiter: ClientLimiter) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limiter.prune();
            }
        });
    }
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route {} {}",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Longest request target (path and query) answered: every route's is short.
pub const MAX_URI_BYTES: usize = 8 << 10;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 64;
/// Largest request head (header names and values), in bytes. The HTTP parser reads
/// up to [`crate::listener::HEAD_BUFFER`] bytes of head; what is larger than that
/// it refuses itself, with a bare 431, before any route.
pub const MAX_HEAD_BYTES: usize = 16 << 10;

/// Refuses a request target or head over the limits with 414 or 431, in the API's
/// error JSON, before the rate limit, the token or any handler sees it.
async fn head_limits(request: Request, next: Next) -> Response {
    let uri = request.uri().to_string().len();
    if uri > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request target is {uri} bytes, more than {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let headers = request.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEAD_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request has {} header fields in {bytes} bytes; at most {MAX_HEADERS} in {MAX_HEAD_BYTES} are read",
                headers.len()
            ),
        )
        .into_response();
    }
    next.run(request).await
}

/// Ends a request that takes longer than the limit (a slow upload included) with 408.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

/// Counts every request by route and status, and errors by code.
async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    state.activity.request();
    let code = response.extensions().get::<ErrorCode>().map(|c| c.0);
    state
        .metrics
        .request(&route, response.status().as_u16(), code);
    response
}

/// A JSON body, rejected with the API's errors: 413 when over the size limit, 415
/// without a JSON content type, 400 for anything else wrong with it.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than the server's limit",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        ),
        _ => ApiError::bad_request(rejection.body_text()),
    }
}
