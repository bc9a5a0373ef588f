//! The HTTP API called in-process through its router, on the shipped default model:
//! every endpoint's answers, authentication, the limits and bad input. Every
//! response any test receives is checked against `openapi.json` (its status, its
//! content type, its body's schema and its documented headers), so the contract
//! clients are written from cannot drift from what the server answers.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use edgeclip::model::{ModelPackage, Precision};
use edgeclip_serve::{AppState, FrameSlot, ServeConfig, SourceKind};
use serde_json::{json, Value};
use tempfile::TempDir;
use tower::ServiceExt;

const TOKEN: &str = "0123456789abcdef-test-token";
const RED: &str = "a photo of a red circle.";
const STAR: &str = "a photo of a yellow star.";

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny")
}

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(model_dir().join("samples").join(name)).expect("the sample image exists")
}

fn sample_b64(name: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(sample(name))
}

/// A server's state, and the directory its copy of the label store lives in: edits
/// rewrite that copy, never the shipped file.
struct Server {
    state: Arc<AppState>,
    store: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl Server {
    fn open(source: SourceKind, frame: Option<&str>, with_store: bool) -> Self {
        let package = ModelPackage::open(model_dir()).expect("the default model opens");
        let slot = Arc::new(FrameSlot::new(source));
        if let Some(name) = frame {
            let image = image::load_from_memory(&sample(name)).expect("the sample decodes");
            slot.publish(image.to_rgb8());
        }
        let (dir, store) = if with_store {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let path = dir.path().join("procedural.emb");
            std::fs::copy(model_dir().join("stores/procedural.emb"), &path)
                .expect("the shipped store copies");
            (Some(dir), Some(path))
        } else {
            (None, None)
        };
        let state = AppState::new(
            package,
            &edgeclip_backend_tract::engine(1),
            Precision::Int8,
            slot,
            store.as_deref(),
            &ServeConfig::default(),
        )
        .expect("the server state opens");
        Self {
            state: Arc::new(state),
            store,
            _dir: dir,
        }
    }

    /// The router with `config`'s limits. Built per test: it spawns its rate-limit
    /// pruner on the test's own runtime, while the state (whose encoders run on
    /// threads of their own) is shared.
    fn app(&self, config: &ServeConfig) -> Router {
        edgeclip_serve::app(self.state.clone(), config)
    }

    fn default_app(&self) -> Router {
        self.app(&ServeConfig::default())
    }
}

/// A file source showing red_circle.png as frame 1, and a copy of the procedural
/// label store. Shared by every test that does not change it (opening the model
/// takes a second).
fn camera() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::open(SourceKind::Files, Some("red_circle.png"), true))
}

/// No frame source and no label store: posted images only.
fn bare() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::open(SourceKind::None, None, false))
}

// ---------------------------------------------------------------------------
// Requests, and the conformance check every answer passes
// ---------------------------------------------------------------------------

/// A request, with the path template `openapi.json` documents it under.
struct Call {
    request: Request<Body>,
    template: String,
}

fn call(method: Method, uri: &str, template: &str, body: Body) -> Call {
    Call {
        request: Request::builder()
            .method(method)
            .uri(uri)
            .body(body)
            .expect("a valid request"),
        template: template.to_owned(),
    }
}

fn get(uri: &str, template: &str) -> Call {
    call(Method::GET, uri, template, Body::empty())
}

fn delete(uri: &str, template: &str) -> Call {
    call(Method::DELETE, uri, template, Body::empty())
}

fn post(uri: &str, template: &str, body: &Value) -> Call {
    post_raw(uri, template, "application/json", body.to_string())
}

fn post_raw(uri: &str, template: &str, content_type: &str, body: impl Into<Body>) -> Call {
    call(Method::POST, uri, template, body.into()).header(header::CONTENT_TYPE, content_type)
}

fn query(body: Value) -> Call {
    post("/v1/query", "/v1/query", &body)
}

impl Call {
    fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        self.request.headers_mut().insert(
            name,
            HeaderValue::from_str(value).expect("a valid header value"),
        );
        self
    }

    fn bearer(self, token: &str) -> Self {
        self.header(header::AUTHORIZATION, &format!("Bearer {token}"))
    }
}

/// What came back.
struct Answer {
    what: String,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    json: Option<Value>,
}

impl Answer {
    fn json(&self) -> &Value {
        self.json
            .as_ref()
            .unwrap_or_else(|| panic!("{}: the body is not JSON", self.what))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("{}: no {name} header", self.what))
            .to_str()
            .expect("an ASCII header")
    }

    /// Asserts a success status and returns the JSON body.
    fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}: {}", self.what, self.text());
        self.json()
    }

    /// Asserts an error's status and code, and that it says something; returns the
    /// message.
    fn error(&self, status: StatusCode, code: &str) -> &str {
        assert_eq!(self.status, status, "{}: {}", self.what, self.text());
        let error = &self.json()["error"];
        assert_eq!(error["code"], code, "{}: {}", self.what, self.text());
        let message = error["message"].as_str().expect("the message is a string");
        assert!(
            message.len() >= 10,
            "{}: the message {message:?} does not say what went wrong",
            self.what
        );
        message
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `call` to `app`, reads the whole answer and checks it against the
/// document: every request a test makes goes through here.
async fn send(app: &Router, call: Call) -> Answer {
    let method = call.request.method().as_str().to_ascii_lowercase();
    let what = format!("{} {}", call.request.method(), call.request.uri());
    let response = app
        .clone()
        .oneshot(call.request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body reads")
        .to_vec();
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let json = is_json.then(|| {
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{what}: the JSON body does not parse: {e}"))
    });
    if let Err(why) = conforms(
        openapi(),
        &method,
        &call.template,
        status.as_u16(),
        &headers,
        json.as_ref(),
    ) {
        panic!(
            "{what} answered {status}, which openapi.json does not allow: {why}\nbody: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Answer {
        what,
        status,
        headers,
        body,
        json,
    }
}

fn openapi() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let text = std::fs::read_to_string(path).expect("openapi.json is readable");
        serde_json::from_str(&text).expect("openapi.json is JSON")
    })
}

/// Follows local `$ref`s (`#/components/...`) until a value without one.
fn resolve<'d>(doc: &'d Value, mut value: &'d Value) -> Result<&'d Value, String> {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("`{reference}` is not a local reference"))?;
        value = doc
            .pointer(pointer)
            .ok_or_else(|| format!("`{reference}` points at nothing"))?;
    }
    Ok(value)
}

/// The response object the document gives for `status` of `method path`. A path or
/// method it does not list answers with the document's shared 404 and 405
/// responses, as its description says of every route.
fn documented_response<'d>(
    doc: &'d Value,
    method: &str,
    path: &str,
    status: u16,
) -> Result<&'d Value, String> {
    let item = doc["paths"].get(path);
    let response = match item.and_then(|item| item.get(method)) {
        // `default` is deliberately not accepted: every status the server answers
        // should be listed, so that a client knows what to branch on.
        Some(operation) => operation["responses"]
            .get(status.to_string())
            .ok_or_else(|| format!("it lists no {status} for {method} {path}"))?,
        None => {
            let shared = match (status, item.is_some()) {
                (404, false) => "NotFound",
                (405, true) => "MethodNotAllowed",
                _ => {
                    return Err(format!(
                        "{method} {path} is not documented, and {status} is not its 404 or 405"
                    ))
                }
            };
            doc.pointer(&format!("/components/responses/{shared}"))
                .ok_or_else(|| format!("it has no shared `{shared}` response"))?
        }
    };
    resolve(doc, response)
}

/// Validates `instance` against `schema`, a schema in the document (its `$ref`s
/// point into `components`).
fn validate(doc: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    let wrapper = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::draft202012::new(&wrapper)
        .map_err(|e| format!("the schema {schema} does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} (at `{}`)", e.instance_path))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Whether an answer is one `openapi.json` allows for `method path_template`: the
/// status is listed, the content type is one listed for it, a JSON body matches
/// its schema (a non-JSON body's schema must be a string) and the documented
/// headers are present when required and match their schemas.
fn conforms(
    doc: &Value,
    method: &str,
    path_template: &str,
    status: u16,
    headers: &HeaderMap,
    body: Option<&Value>,
) -> Result<(), String> {
    let response = documented_response(doc, method, path_template, status)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .ok_or("the answer has no content type")?
        .to_str()
        .map_err(|e| format!("the content type is not text: {e}"))?;
    let content = response["content"]
        .as_object()
        .ok_or_else(|| format!("{status} documents no content"))?;
    let (_, media) = content
        .iter()
        .find(|(listed, _)| listed.eq_ignore_ascii_case(content_type))
        .ok_or_else(|| {
            let listed: Vec<&String> = content.keys().collect();
            format!("the content type `{content_type}` is not among {listed:?}")
        })?;
    let schema = media
        .get("schema")
        .ok_or_else(|| format!("`{content_type}` has no schema"))?;
    match body {
        Some(body) => validate(doc, schema, body)?,
        None if resolve(doc, schema)?["type"] == "string" => {}
        None => return Err(format!("the body is not JSON but the schema is {schema}")),
    }
    if let Some(documented) = response.get("headers").and_then(Value::as_object) {
        for (name, spec) in documented {
            let spec = resolve(doc, spec)?;
            let Some(value) = headers.get(name.as_str()) else {
                if spec["required"] == true {
                    return Err(format!("the required header {name} is missing"));
                }
                continue;
            };
            let value = value
                .to_str()
                .map_err(|e| format!("the header {name} is not text: {e}"))?;
            let schema = resolve(doc, &spec["schema"])?;
            let value = match schema["type"].as_str() {
                Some("integer") => json!(value
                    .parse::<i64>()
                    .map_err(|e| format!("the header {name}: {value:?} is not an integer: {e}"))?),
                _ => json!(value),
            };
            validate(doc, schema, &value).map_err(|e| format!("the header {name}: {e}"))?;
        }
    }
    Ok(())
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers
}

fn error_body(code: &str) -> Value {
    json!({"error": {"code": code, "message": "something went wrong"}})
}

/// The texts' results, in request order.
fn results(body: &Value) -> &Vec<Value> {
    body["results"].as_array().expect("`results` is an array")
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

fn label_names(body: &Value) -> Vec<String> {
    body["labels"]
        .as_array()
        .expect("`labels` is an array")
        .iter()
        .map(|l| l["label"].as_str().expect("a label is a string").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// Every endpoint's success
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_image_scores_the_text_that_names_it_highest() {
    let app = camera().default_app();
    let answer = send(
        &app,
        query(json!({"texts": [RED, STAR], "image": sample_b64("red_circle.png")})),
    )
    .await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(body["image"]["source"], "posted");
    assert_eq!(body["image"]["width"], 320);
    assert_eq!(body["image"]["height"], 240);
    assert_eq!(body["image"]["frame_seq"], Value::Null);
    let results = results(body);
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["text"], RED);
    assert_eq!(results[1]["text"], STAR);
    let (red, star) = (&results[0], &results[1]);
    assert!(
        number(&red["score"]) > number(&star["score"]),
        "the red circle's text should score higher: {body}"
    );
    assert!(number(&red["probability"]) > number(&star["probability"]));
    let sum = number(&red["probability"]) + number(&star["probability"]);
    assert!(
        (sum - 1.0).abs() < 1e-4,
        "probabilities over the texts sum to {sum}"
    );
    assert!(red.get("where").is_none(), "`where` was not asked for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_answers_on_the_newest_frame_and_reports_its_number() {
    let app = camera().default_app();
    for request in [
        json!({"texts": [RED, STAR], "image": "latest"}),
        // `image` defaults to the newest frame.
        json!({"texts": [RED, STAR]}),
    ] {
        let answer = send(&app, query(request)).await;
        let body = answer.ok(StatusCode::OK);
        assert_eq!(body["image"]["source"], "latest");
        assert_eq!(body["image"]["frame_seq"], 1);
        assert_eq!(body["image"]["width"], 320);
        assert!(number(&body["image"]["frame_age_ms"]) >= 0.0);
        let results = results(body);
        assert!(number(&results[0]["score"]) > number(&results[1]["score"]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_answers_lie_inside_the_image() {
    let app = camera().default_app();
    let answer = send(
        &app,
        query(json!({"texts": [RED, STAR], "image": sample_b64("red_circle.png"), "where": true})),
    )
    .await;
    let body = answer.ok(StatusCode::OK);
    let (width, height) = (320, 240);
    for result in results(body) {
        let found = &result["where"];
        let bbox: Vec<u64> = found["box"]
            .as_array()
            .expect("`box` is an array")
            .iter()
            .map(|v| v.as_u64().expect("box values are integers"))
            .collect();
        let [x0, y0, x1, y1] = bbox[..] else {
            panic!("`box` has four values: {found}")
        };
        assert!(
            x0 < x1 && x1 <= width,
            "box {bbox:?} in a {width}x{height} image"
        );
        assert!(
            y0 < y1 && y1 <= height,
            "box {bbox:?} in a {width}x{height} image"
        );
        let (px, py) = (
            found["point"][0].as_u64().expect("an integer"),
            found["point"][1].as_u64().expect("an integer"),
        );
        assert!(
            px < width && py < height,
            "point ({px}, {py}) is outside the image"
        );
        // The point is the box's centre.
        assert!(
            (x0..x1).contains(&px) && (y0..y1).contains(&py),
            "point ({px}, {py}) outside {bbox:?}"
        );
        assert_eq!(found["grid"]["rows"], 8);
        assert_eq!(found["grid"]["cols"], 8);
        let values = found["grid"]["values"].as_array().expect("an array");
        assert_eq!(values.len(), 64);
        assert!(values.iter().all(|v| number(v).is_finite()));
        assert!(number(&found["score"]).is_finite());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_text_with_a_store_is_compared_with_the_labels_and_two_texts_with_each_other() {
    let image = sample_b64("red_circle.png");
    let app = camera().default_app();
    let one = send(&app, query(json!({"texts": [RED], "image": image}))).await;
    let one = one.ok(StatusCode::OK);
    assert_eq!(one["against"], "labels");
    let p = number(&results(one)[0]["probability"]);
    assert!(
        p > 0.0 && p < 1.0,
        "against the labels, one text's probability is {p}"
    );

    let two = send(&app, query(json!({"texts": [RED, STAR], "image": image}))).await;
    assert_eq!(two.ok(StatusCode::OK)["against"], "texts");

    // Asked for, one text against itself is certain.
    let alone = send(
        &app,
        query(json!({"texts": [RED], "image": image, "against": "texts"})),
    )
    .await;
    let alone = alone.ok(StatusCode::OK);
    assert_eq!(alone["against"], "texts");
    assert!((number(&results(alone)[0]["probability"]) - 1.0).abs() < 1e-6);

    // Without a store, one text is compared with the texts, and no labels come back.
    let app = bare().default_app();
    let bare = send(&app, query(json!({"texts": [RED], "image": image}))).await;
    let bare = bare.ok(StatusCode::OK);
    assert_eq!(bare["against"], "texts");
    assert_eq!(bare["labels"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stores_labels_come_best_first_up_to_top_k() {
    let app = camera().default_app();
    let image = sample_b64("red_circle.png");
    let answer = send(
        &app,
        query(json!({"texts": [RED], "image": image, "top_k": 3})),
    )
    .await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(label_names(body).len(), 3);
    assert_eq!(label_names(body)[0], "red circle", "{body}");
    let scores: Vec<f64> = body["labels"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|l| number(&l["score"]))
        .collect();
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "not best first: {scores:?}"
    );

    // The default is 5; 100 gives the whole store when it is smaller.
    let default = send(&app, query(json!({"texts": [RED], "image": image}))).await;
    assert_eq!(label_names(default.ok(StatusCode::OK)).len(), 5);
    let all = send(
        &app,
        query(json!({"texts": [RED], "image": image, "top_k": 100})),
    )
    .await;
    let stored = edgeclip::labels::Store::open(camera().store.as_ref().expect("a store"))
        .expect("the store opens")
        .len();
    assert_eq!(label_names(all.ok(StatusCode::OK)).len(), stored.min(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_label_list_names_the_store_its_templates_and_labels() {
    let answer = send(&camera().default_app(), get("/v1/labels", "/v1/labels")).await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(body["store"], "procedural.emb");
    assert_eq!(body["model"], "edgeclip-tiny");
    let templates = body["templates"].as_array().expect("an array");
    assert!(!templates.is_empty());
    assert!(templates
        .iter()
        .all(|t| t.as_str().is_some_and(|t| t.contains("{}"))));
    assert!(label_names(body).iter().any(|l| l == "red circle"));

    let answer = send(&bare().default_app(), get("/v1/labels", "/v1/labels")).await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(body["store"], Value::Null);
    assert_eq!(body["labels"], json!([]));
    assert_eq!(body["templates"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_added_over_http_are_written_to_the_store_file_and_can_be_removed() {
    // A server of its own: this test changes its store.
    let server = Server::open(SourceKind::None, None, true);
    let path = server.store.clone().expect("a store");
    let shipped = std::fs::read(model_dir().join("stores/procedural.emb")).expect("readable");
    let app = server.default_app();
    let before = label_names(
        send(&app, get("/v1/labels", "/v1/labels"))
            .await
            .ok(StatusCode::OK),
    )
    .len();

    let label = "striped teal kite";
    let added = send(
        &app,
        post("/v1/labels", "/v1/labels", &json!({"labels": [label]})),
    )
    .await;
    let body = added.ok(StatusCode::CREATED);
    assert_eq!(body["added"], 1);
    assert_eq!(body["labels"], before + 1);
    let listed = send(&app, get("/v1/labels", "/v1/labels")).await;
    assert!(label_names(listed.ok(StatusCode::OK))
        .iter()
        .any(|l| l == label));
    let on_disk = edgeclip::labels::Store::open(&path).expect("the rewritten store opens");
    assert_eq!(on_disk.len(), before + 1);
    assert!(on_disk.labels().any(|l| l == label));

    // The new label takes part in queries at once.
    let answer = send(
        &app,
        query(json!({"texts": [RED], "image": sample_b64("red_circle.png"), "top_k": 100})),
    )
    .await;
    assert!(label_names(answer.ok(StatusCode::OK))
        .iter()
        .any(|l| l == label));

    let removed = send(
        &app,
        delete("/v1/labels/striped%20teal%20kite", "/v1/labels/{label}"),
    )
    .await;
    let body = removed.ok(StatusCode::OK);
    assert_eq!(body["removed"], label);
    assert_eq!(body["labels"], before);
    let on_disk = edgeclip::labels::Store::open(&path).expect("the rewritten store opens");
    assert_eq!(on_disk.len(), before);
    assert!(!on_disk.labels().any(|l| l == label));

    let shipped_after = std::fs::read(model_dir().join("stores/procedural.emb")).expect("readable");
    assert!(shipped == shipped_after, "the shipped store changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_model_and_the_frame_source() {
    let answer = send(&camera().default_app(), get("/v1/health", "/v1/health")).await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["model"], "edgeclip-tiny");
    assert_eq!(body["precision"], "int8");
    assert_eq!(body["source"]["kind"], "files");
    assert_eq!(body["source"]["frames"], 1);
    assert!(number(&body["source"]["last_frame_age_ms"]) >= 0.0);

    let answer = send(&bare().default_app(), get("/v1/health", "/v1/health")).await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(body["source"]["kind"], "none");
    assert_eq!(body["source"]["frames"], 0);
    assert_eq!(body["source"]["last_frame_age_ms"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_openmetrics_text_with_the_query_counter() {
    let app = camera().default_app();
    let answer = send(&app, query(json!({"texts": [RED, STAR]}))).await;
    answer.ok(StatusCode::OK);
    let answer = send(&app, get("/v1/metrics", "/v1/metrics")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer
        .header("content-type")
        .starts_with("application/openmetrics-text"));
    let text = answer.text();
    assert!(text.contains("edgeclip_queries_total"), "{text}");
    assert!(text.contains("edgeclip_http_requests_total"), "{text}");
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_frame_comes_back_as_a_jpeg_with_its_number() {
    let answer = send(
        &camera().default_app(),
        get("/v1/frame/latest", "/v1/frame/latest"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "image/jpeg");
    assert_eq!(answer.header("x-frame-seq"), "1");
    let frame = image::load_from_memory(&answer.body).expect("the frame decodes");
    assert_eq!((frame.width(), frame.height()), (320, 240));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heatmap_is_a_png_of_the_frames_size() {
    let answer = send(
        &camera().default_app(),
        get("/v1/heatmap?text=a%20red%20circle", "/v1/heatmap"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.header("content-type"), "image/png");
    let png = image::load_from_memory_with_format(&answer.body, image::ImageFormat::Png)
        .expect("the heatmap is a PNG");
    assert_eq!((png.width(), png.height()), (320, 240));
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_a_token_answers_only_requests_that_carry_it() {
    let config = ServeConfig {
        token: Some(TOKEN.to_owned()),
        ..ServeConfig::default()
    };
    let app = bare().app(&config);

    let missing = send(&app, get("/v1/health", "/v1/health")).await;
    missing.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(missing.header("www-authenticate"), "Bearer");

    let wrong = send(
        &app,
        get("/v1/health", "/v1/health").bearer("0123456789abcdef-wrong"),
    )
    .await;
    wrong.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(wrong.header("www-authenticate"), "Bearer");

    let basic = send(
        &app,
        get("/v1/health", "/v1/health").header(header::AUTHORIZATION, &format!("Basic {TOKEN}")),
    )
    .await;
    basic.error(StatusCode::UNAUTHORIZED, "unauthorized");

    // A token is needed before a body is even looked at.
    let posted = send(&app, query(json!({"texts": [RED]}))).await;
    posted.error(StatusCode::UNAUTHORIZED, "unauthorized");

    let right = send(&app, get("/v1/health", "/v1/health").bearer(TOKEN)).await;
    right.ok(StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_server_without_a_token_needs_no_header() {
    let config = ServeConfig::default();
    assert!(config.token.is_none() && config.bind.ip().is_loopback());
    let answer = send(&bare().app(&config), get("/v1/health", "/v1/health")).await;
    answer.ok(StatusCode::OK);
    assert!(answer.headers.get(header::WWW_AUTHENTICATE).is_none());
}

// ---------------------------------------------------------------------------
// Limits and bad input
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_with_413() {
    let config = ServeConfig {
        body_limit: 1024,
        ..ServeConfig::default()
    };
    let app = bare().app(&config);
    let request = json!({"texts": [RED], "image": sample_b64("red_circle.png")});
    assert!(request.to_string().len() > 1024);
    let answer = send(&app, query(request)).await;
    answer.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // A small one still passes.
    let answer = send(
        &app,
        post("/v1/labels", "/v1/labels", &json!({"labels": ["x"]})),
    )
    .await;
    answer.error(StatusCode::CONFLICT, "no_store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_targets_and_large_heads_are_refused_in_the_error_json() {
    let app = bare().default_app();
    let long = format!("/v1/health?pad={}", "a".repeat(9000));
    send(&app, get(&long, "/v1/health"))
        .await
        .error(StatusCode::URI_TOO_LONG, "uri_too_long");

    let mut many = get("/v1/health", "/v1/health");
    for i in 0..65 {
        many.request.headers_mut().insert(
            header::HeaderName::try_from(format!("x-pad-{i}")).expect("a header name"),
            HeaderValue::from_static("1"),
        );
    }
    send(&app, many).await.error(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );

    let mut large = get("/v1/health", "/v1/health");
    large.request.headers_mut().insert(
        "x-pad",
        HeaderValue::try_from("b".repeat(17 << 10)).expect("a header value"),
    );
    send(&app, large).await.error(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );

    // Just under the limits still passes.
    let mut fine = get("/v1/health", "/v1/health");
    fine.request.headers_mut().insert(
        "x-pad",
        HeaderValue::try_from("b".repeat(15 << 10)).expect("a header value"),
    );
    assert_eq!(send(&app, fine).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_burst_is_told_when_to_retry() {
    let config = ServeConfig {
        rate_per_second: NonZeroU32::new(1).expect("non-zero"),
        burst: NonZeroU32::new(2).expect("non-zero"),
        ..ServeConfig::default()
    };
    let app = bare().app(&config);
    for _ in 0..2 {
        send(&app, get("/v1/health", "/v1/health"))
            .await
            .ok(StatusCode::OK);
    }
    let third = send(&app, get("/v1/health", "/v1/health")).await;
    third.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let wait: u64 = third.header("retry-after").parse().expect("whole seconds");
    assert!(
        (1..=2).contains(&wait),
        "retry after {wait} s at 1 request per second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_bad_request() {
    let app = bare().default_app();
    let answer = send(
        &app,
        post_raw(
            "/v1/query",
            "/v1/query",
            "application/json",
            r#"{"texts": ["#,
        ),
    )
    .await;
    answer.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_and_wrong_types_are_bad_requests() {
    let app = bare().default_app();
    let answer = send(&app, query(json!({"texts": [RED], "colour": "red"}))).await;
    let message = answer.error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("colour"),
        "the message should name the field: {message}"
    );

    let answer = send(&app, query(json!({"texts": RED}))).await;
    answer.error(StatusCode::BAD_REQUEST, "bad_request");

    let answer = send(&app, query(json!({"image": "latest"}))).await;
    let message = answer.error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        message.contains("texts"),
        "the message should name the field: {message}"
    );

    let answer = send(
        &app,
        post("/v1/labels", "/v1/labels", &json!({"label": "x"})),
    )
    .await;
    answer.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_declared_json_is_refused_with_415() {
    let app = bare().default_app();
    let body = json!({"texts": [RED]}).to_string();
    let answer = send(
        &app,
        post_raw("/v1/query", "/v1/query", "text/plain", body.clone()),
    )
    .await;
    let message = answer.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    assert!(message.contains("application/json"), "{message}");

    let answer = send(
        &app,
        call(Method::POST, "/v1/query", "/v1/query", body.into()),
    )
    .await;
    answer.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_blank_long_or_too_many_texts_are_invalid_requests() {
    let app = bare().default_app();
    let image = sample_b64("red_circle.png");
    let too_many: Vec<String> = (0..65).map(|i| format!("text {i}")).collect();
    for (texts, says) in [
        (json!([]), "`texts`"),
        (json!(["   "]), "empty"),
        (json!([RED, ""]), "text 2"),
        (json!(["x".repeat(1001)]), "1001 bytes"),
        (json!(too_many), "65"),
    ] {
        let answer = send(&app, query(json!({"texts": texts, "image": image}))).await;
        let message = answer.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.contains(says), "{message:?} should say {says:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_k_outside_1_to_100_is_an_invalid_request() {
    let app = camera().default_app();
    for top_k in [0, 101] {
        let answer = send(&app, query(json!({"texts": [RED], "top_k": top_k}))).await;
        let message = answer.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.contains("top_k"), "{message}");
    }
    let answer = send(&app, query(json!({"texts": [RED], "top_k": -1}))).await;
    answer.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_that_are_not_base64_jpeg_or_png_are_refused_with_422() {
    let app = bare().default_app();
    let gif =
        base64::engine::general_purpose::STANDARD.encode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;");
    for (image, says) in [
        // "hello world": base64, but not an image.
        ("aGVsbG8gd29ybGQ=".to_owned(), "not a JPEG or PNG"),
        ("not base64 at all!".to_owned(), "base64"),
        (gif, "send JPEG or PNG"),
        // A PNG cut short after its header.
        (
            base64::engine::general_purpose::STANDARD.encode(&sample("red_circle.png")[..100]),
            "decoding",
        ),
    ] {
        let answer = send(&app, query(json!({"texts": [RED], "image": image}))).await;
        let message = answer.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_image");
        assert!(message.contains(says), "{message:?} should say {says:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_without_a_frame_source_is_503_no_frame() {
    let app = bare().default_app();
    let answer = send(&app, query(json!({"texts": [RED], "image": "latest"}))).await;
    let message = answer.error(StatusCode::SERVICE_UNAVAILABLE, "no_frame");
    assert!(message.contains("post an image"), "{message}");
    send(&app, get("/v1/frame/latest", "/v1/frame/latest"))
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "no_frame");
    send(
        &app,
        get("/v1/heatmap?text=a%20red%20circle", "/v1/heatmap"),
    )
    .await
    .error(StatusCode::SERVICE_UNAVAILABLE, "no_frame");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_before_its_first_frame_is_503_no_frame() {
    let server = Server::open(SourceKind::Files, None, false);
    let app = server.default_app();
    let answer = send(&app, query(json!({"texts": [RED]}))).await;
    let message = answer.error(StatusCode::SERVICE_UNAVAILABLE, "no_frame");
    assert!(message.contains("no frame captured yet"), "{message}");
    // Once a frame arrives, the same server answers on it.
    let image = image::load_from_memory(&sample("yellow_star.jpg")).expect("decodes");
    server.state.frames().publish(image.to_rgb8());
    let answer = send(&app, query(json!({"texts": [RED, STAR]}))).await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(body["image"]["frame_seq"], 1);
    let results = results(body);
    assert!(
        number(&results[1]["score"]) > number(&results[0]["score"]),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = bare().default_app();
    let answer = send(&app, get("/v1/nothing", "/v1/nothing")).await;
    let message = answer.error(StatusCode::NOT_FOUND, "not_found");
    assert!(message.contains("/v1/nothing"), "{message}");
    let answer = send(&app, get("/v1/query", "/v1/query")).await;
    let message = answer.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(message.contains("GET"), "{message}");
    let answer = send(&app, delete("/v1/health", "/v1/health")).await;
    answer.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_label_that_is_not_there_is_404_label_not_found() {
    let app = camera().default_app();
    let answer = send(
        &app,
        delete("/v1/labels/no%20such%20label", "/v1/labels/{label}"),
    )
    .await;
    let message = answer.error(StatusCode::NOT_FOUND, "label_not_found");
    assert!(
        message.contains("no such label"),
        "the message names the label: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_label_already_there_or_with_other_templates_is_a_conflict() {
    let app = camera().default_app();
    let answer = send(
        &app,
        post(
            "/v1/labels",
            "/v1/labels",
            &json!({"labels": ["red circle"]}),
        ),
    )
    .await;
    let message = answer.error(StatusCode::CONFLICT, "conflict");
    assert!(message.contains("red circle"), "{message}");
    let answer = send(
        &app,
        post(
            "/v1/labels",
            "/v1/labels",
            &json!({"labels": ["kite", "kite"]}),
        ),
    )
    .await;
    answer.error(StatusCode::CONFLICT, "conflict");
    let answer = send(
        &app,
        post(
            "/v1/labels",
            "/v1/labels",
            &json!({"labels": ["kite"], "templates": ["a drawing of a {}."]}),
        ),
    )
    .await;
    let message = answer.error(StatusCode::CONFLICT, "conflict");
    assert!(message.contains("templates"), "{message}");
    // Nothing of it reached the store.
    let listed = send(&app, get("/v1/labels", "/v1/labels")).await;
    assert!(!label_names(listed.ok(StatusCode::OK))
        .iter()
        .any(|l| l == "kite"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_without_a_store_are_409_no_store() {
    let app = bare().default_app();
    let answer = send(
        &app,
        post("/v1/labels", "/v1/labels", &json!({"labels": ["kite"]})),
    )
    .await;
    let message = answer.error(StatusCode::CONFLICT, "no_store");
    assert!(message.contains("--store"), "{message}");
    send(&app, delete("/v1/labels/kite", "/v1/labels/{label}"))
        .await
        .error(StatusCode::CONFLICT, "no_store");
    let answer = send(
        &app,
        query(json!({"texts": [RED], "image": sample_b64("red_circle.png"), "against": "labels"})),
    )
    .await;
    let message = answer.error(StatusCode::CONFLICT, "no_store");
    assert!(message.contains("against"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heatmap_needs_its_text() {
    let app = camera().default_app();
    let answer = send(&app, get("/v1/heatmap", "/v1/heatmap")).await;
    let message = answer.error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(message.contains("text"), "{message}");
    send(&app, get("/v1/heatmap?text=%20", "/v1/heatmap"))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_paths_and_query_strings_answer_json_errors() {
    let app = camera().default_app();
    // %FF is not UTF-8.
    send(&app, delete("/v1/labels/%FF", "/v1/labels/{label}"))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    send(&app, get("/v1/heatmap?text=a&text=b", "/v1/heatmap"))
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_time_limit_is_408_timeout() {
    let config = ServeConfig {
        request_timeout: Duration::from_millis(1),
        ..ServeConfig::default()
    };
    let app = bare().app(&config);
    // Heavy enough never to finish in a millisecond: 64 texts never seen before,
    // each located in a posted image.
    let texts: Vec<String> = (0..64)
        .map(|i| format!("a photo of timeout shape number {i}."))
        .collect();
    let answer = send(
        &app,
        query(json!({"texts": texts, "image": sample_b64("yellow_star.jpg"), "where": true})),
    )
    .await;
    let message = answer.error(StatusCode::REQUEST_TIMEOUT, "timeout");
    assert!(message.contains("longer than"), "{message}");
}

// ---------------------------------------------------------------------------
// The document itself
// ---------------------------------------------------------------------------

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[test]
fn openapi_documents_exactly_the_served_routes() {
    let documented: BTreeSet<(String, String)> = openapi()["paths"]
        .as_object()
        .expect("`paths` is an object")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item is an object")
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = edgeclip_serve::api::ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_operation_documents_the_statuses_its_layers_can_answer() {
    let doc = openapi();
    for (method, path) in edgeclip_serve::api::ROUTES {
        let operation = &doc["paths"][path][method];
        let mut wanted = vec!["200", "401", "408", "429", "500"];
        if method == "post" {
            wanted = vec!["201", "400", "401", "408", "413", "415", "429", "500"];
            if path == "/v1/query" {
                wanted[0] = "200";
            }
        }
        for status in wanted {
            let response = operation["responses"]
                .get(status)
                .unwrap_or_else(|| panic!("{method} {path} documents no {status}"));
            let response = resolve(doc, response).expect("its references resolve");
            let content = response["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} {status} documents no content"));
            for (media, entry) in content {
                assert!(
                    entry.get("schema").is_some(),
                    "{method} {path} {status} {media} has no schema"
                );
            }
        }
    }
    for shared in ["NotFound", "MethodNotAllowed"] {
        assert!(
            doc["components"]["responses"].get(shared).is_some(),
            "no {shared}"
        );
    }
}

#[test]
fn every_schema_in_the_document_compiles() {
    let doc = openapi();
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in schemas.keys() {
        let reference = json!({"$ref": format!("#/components/schemas/{name}")});
        let wrapper = json!({"components": doc["components"], "allOf": [reference]});
        jsonschema::draft202012::new(&wrapper)
            .unwrap_or_else(|e| panic!("the schema {name} does not compile: {e}"));
    }
}

#[test]
fn the_conformance_check_refuses_what_the_document_does_not_allow() {
    let doc = openapi();
    let json = json_headers();
    let valid =
        |method, path, status, body: &Value| conforms(doc, method, path, status, &json, Some(body));

    // What the document allows passes.
    valid("post", "/v1/query", 400, &error_body("invalid_request")).expect("a documented 400");
    valid("get", "/v1/nowhere", 404, &error_body("not_found")).expect("the shared 404");
    valid("get", "/v1/query", 405, &error_body("method_not_allowed")).expect("the shared 405");

    // A status the operation does not list.
    let e = valid("post", "/v1/query", 418, &error_body("internal")).unwrap_err();
    assert!(e.contains("lists no 418"), "{e}");
    // 404 on a documented path, 405 on an undocumented one.
    assert!(valid("get", "/v1/nowhere", 405, &error_body("method_not_allowed")).is_err());
    assert!(valid("get", "/v1/query", 404, &error_body("not_found")).is_err());
    // A code the status does not allow, an unknown code, a body of another shape.
    assert!(valid("get", "/v1/health", 401, &error_body("bad_request")).is_err());
    assert!(valid("post", "/v1/query", 400, &error_body("no_such_code")).is_err());
    assert!(valid("get", "/v1/health", 200, &json!({"status": "ok"})).is_err());
    assert!(valid(
        "post",
        "/v1/labels",
        201,
        &json!({"added": 1, "labels": 2, "x": 3})
    )
    .is_err());

    // A content type the status does not list.
    let mut text = HeaderMap::new();
    text.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    let e = conforms(doc, "get", "/v1/metrics", 200, &text, None).unwrap_err();
    assert!(e.contains("text/plain"), "{e}");
    // A JSON body where the document has an image.
    let mut png = HeaderMap::new();
    png.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    conforms(doc, "get", "/v1/heatmap", 200, &png, None).expect("a PNG heatmap");
    assert!(conforms(doc, "get", "/v1/heatmap", 200, &json, Some(&json!({}))).is_err());

    // A required header missing, or with a value its schema refuses.
    let mut jpeg = HeaderMap::new();
    jpeg.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    let e = conforms(doc, "get", "/v1/frame/latest", 200, &jpeg, None).unwrap_err();
    assert!(e.to_ascii_lowercase().contains("x-frame-seq"), "{e}");
    jpeg.insert("x-frame-seq", HeaderValue::from_static("-1"));
    assert!(conforms(doc, "get", "/v1/frame/latest", 200, &jpeg, None).is_err());
    jpeg.insert("x-frame-seq", HeaderValue::from_static("7"));
    conforms(doc, "get", "/v1/frame/latest", 200, &jpeg, None).expect("a numbered frame");
}
