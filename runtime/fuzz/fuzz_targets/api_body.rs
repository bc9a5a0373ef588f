//! Fuzzes the query API's request bodies through its real router, in process, on
//! the shipped default model: `POST /v1/query`, `POST /v1/labels` and
//! `DELETE /v1/labels/{label}`. The first byte picks the route; the rest is the body
//! (or, for the delete, the label). Every answer must be a documented status, and
//! every refusal the API's error JSON (`{"error": {"code", "message"}}`); a panic in
//! a handler reaches the fuzzer.
#![no_main]

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use edgeclip::model::{ModelPackage, Precision};
use edgeclip_serve::{AppState, FrameSlot, ServeConfig, SourceKind};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

struct Server {
    runtime: tokio::runtime::Runtime,
    app: Router,
    _store_dir: tempfile::TempDir,
}

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny")
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let package = ModelPackage::open(model_dir()).expect("the default model opens");
        let slot = Arc::new(FrameSlot::new(SourceKind::Files));
        let sample =
            image::open(model_dir().join("samples/red_circle.png")).expect("the sample decodes");
        slot.publish(sample.to_rgb8());
        let store_dir = tempfile::tempdir().expect("a temporary folder");
        let store = store_dir.path().join("procedural.emb");
        std::fs::copy(model_dir().join("stores/procedural.emb"), &store)
            .expect("the shipped store copies");
        let config = ServeConfig {
            // One in-process client sends every input: no rate limit in the way.
            rate_per_second: NonZeroU32::MAX,
            burst: NonZeroU32::MAX,
            ..ServeConfig::default()
        };
        let state = AppState::new(
            package,
            &edgeclip_backend_tract::engine(1),
            Precision::Int8,
            slot,
            Some(&store),
            &config,
        )
        .expect("the server state opens");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let app = {
            let _entered = runtime.enter();
            edgeclip_serve::app(Arc::new(state), &config)
        };
        Server {
            runtime,
            app,
            _store_dir: store_dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let request = match which % 3 {
        0 => post("/v1/query", rest),
        1 => post("/v1/labels", rest),
        _ => {
            let label: String = rest.iter().take(256).map(|b| format!("%{b:02X}")).collect();
            Request::builder()
                .method(Method::DELETE)
                .uri(format!("/v1/labels/{label}"))
                .body(Body::empty())
                .expect("a percent-encoded path is a valid URI")
        }
    };
    let server = server();
    let (status, body) = server.runtime.block_on(async {
        let response = server
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, body)
    });
    assert!(
        [
            StatusCode::OK,
            StatusCode::CREATED,
            StatusCode::BAD_REQUEST,
            StatusCode::NOT_FOUND,
            StatusCode::CONFLICT,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::SERVICE_UNAVAILABLE,
        ]
        .contains(&status),
        "undocumented status {status}"
    );
    let json: serde_json::Value = serde_json::from_slice(&body).expect("every answer is JSON");
    if !status.is_success() {
        let error = &json["error"];
        assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{json}"
        );
    }
});

fn post(uri: &str, body: &[u8]) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_vec()))
        .expect("a valid request")
}
