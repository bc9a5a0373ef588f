//! `edgeclip serve` as a robot's program meets it: a separate process on loopback,
//! queried over HTTP, stopped by SIGTERM; and the settings it must refuse.

use base64::Engine as _;
use edgeclip_e2e::{edgeclip, samples, Server};
use serde_json::{json, Value};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// POSTs `body` to `url` with an optional token; the status and the JSON answer.
fn post(url: &str, body: &Value, token: Option<&str>) -> (u16, Value) {
    let mut req = agent().post(url);
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send_json(body).expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().expect("a JSON body"))
}

fn get(url: &str) -> (u16, Value) {
    let mut resp = agent().get(url).call().expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_json().expect("a JSON body"))
}

#[test]
fn answers_where_a_named_object_is_in_the_newest_frame_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let red = samples()
        .into_iter()
        .find(|p| p.ends_with("red_circle.png"))
        .unwrap();
    std::fs::copy(&red, dir.path().join("frame.png")).unwrap();
    let frames = dir.path().join("frame.png");
    let server = Server::start(
        &["--files", frames.to_str().unwrap(), "--loop", "--fps", "20"],
        &[],
    );
    assert_eq!(server.record["data"]["source"], "files");
    assert_eq!(server.record["data"]["token"], false);
    // The capture thread needs a moment for the first frame.
    let mut health = Value::Null;
    for _ in 0..100 {
        health = get(&format!("{}/v1/health", server.url)).1;
        if health["source"]["frames"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(health["source"]["kind"], "files");
    let (status, answer) = post(
        &format!("{}/v1/query", server.url),
        &json!({"texts": ["a photo of a red circle.", "a photo of a blue star."], "where": true}),
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["image"]["source"], "latest");
    let results = answer["results"].as_array().unwrap();
    assert!(
        results[0]["probability"].as_f64().unwrap() > 0.9,
        "{answer}"
    );
    let b: Vec<u64> = results[0]["where"]["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let (w, h) = (
        answer["image"]["width"].as_u64().unwrap(),
        answer["image"]["height"].as_u64().unwrap(),
    );
    assert!(
        b[0] < b[2] && b[2] <= w && b[1] < b[3] && b[3] <= h,
        "{b:?}"
    );
    let status = server.terminate();
    assert!(status.success(), "serve exited with {status}");
}

/// Looping files without `--fps` play at a camera's rate (30 fps), not as fast
/// as they decode: the server serves the newest frame only.
#[test]
fn looping_files_without_fps_are_paced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&samples()[0], dir.path().join("frame.png")).unwrap();
    let frames = dir.path().join("frame.png");
    let server = Server::start(&["--files", frames.to_str().unwrap(), "--loop"], &[]);
    let frames_now = || {
        get(&format!("{}/v1/health", server.url)).1["source"]["frames"]
            .as_u64()
            .unwrap_or(0)
    };
    let mut first = 0;
    for _ in 0..100 {
        first = frames_now();
        if first > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let played = frames_now() - first;
    let fps = played as f64 / started.elapsed().as_secs_f64();
    println!("looping files without --fps: {played} frames in 2 s ({fps:.1} fps)");
    // Unpaced, this 64x64 PNG decoded at thousands per second.
    assert!(played > 10 && fps <= 33.0, "{played} frames, {fps:.1} fps");
    assert!(server.terminate().success());
}

#[test]
fn posted_images_are_answered_without_a_frame_source() {
    let server = Server::start(&[], &[]);
    assert_eq!(server.record["data"]["source"], "none");
    let star = samples()
        .into_iter()
        .find(|p| p.ends_with("yellow_star.jpg"))
        .unwrap();
    let image = base64::engine::general_purpose::STANDARD.encode(std::fs::read(star).unwrap());
    let url = format!("{}/v1/query", server.url);
    let (status, answer) = post(
        &url,
        &json!({"texts": ["a photo of a yellow star.", "a photo of a red circle."], "image": image}),
        None,
    );
    assert_eq!(status, 200, "{answer}");
    assert!(answer["results"][0]["score"].as_f64() > answer["results"][1]["score"].as_f64());
    let (status, error) = post(&url, &json!({"texts": ["a red mug"]}), None);
    assert_eq!(status, 503);
    assert_eq!(error["error"]["code"], "no_frame");
}

#[test]
fn a_token_is_required_when_one_is_set() {
    let token = "test-token-0123456789";
    let server = Server::start(&[], &[("EDGECLIP_TOKEN", token)]);
    assert_eq!(server.record["data"]["token"], true);
    let url = format!("{}/v1/query", server.url);
    let body = json!({"texts": ["a red mug"], "image": "latest"});
    let (status, error) = post(&url, &body, None);
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = post(&url, &body, Some("wrong-token-0123456789"));
    assert_eq!(status, 401);
    // Past the token: no frame source, so 503.
    let (status, _) = post(&url, &body, Some(token));
    assert_eq!(status, 503);
}

#[test]
fn an_unplugged_camera_is_waited_for_and_reported() {
    let server = Server::start(&["--camera", "/dev/no-such-camera"], &[]);
    let (status, health) = get(&format!("{}/v1/health", server.url));
    assert_eq!(status, 200);
    assert_eq!(health["source"]["kind"], "camera");
    let (status, error) = post(
        &format!("{}/v1/query", server.url),
        &json!({"texts": ["a red mug"]}),
        None,
    );
    assert_eq!(status, 503, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no frame"),
        "{error}"
    );
}

#[test]
fn binding_beyond_loopback_without_a_token_is_refused() {
    let out = edgeclip()
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("EDGECLIP_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("give a token"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("token");
    std::fs::write(&short, "short\n").unwrap();
    let out = edgeclip()
        .args(["serve", "--bind", "0.0.0.0:0", "--token-file"])
        .arg(&short)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16"));
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    use std::io::{Read, Write};
    let server = Server::start(&[], &[]);
    let star = samples()
        .into_iter()
        .find(|p| p.ends_with("yellow_star.jpg"))
        .unwrap();
    let image = base64::engine::general_purpose::STANDARD.encode(std::fs::read(star).unwrap());
    let body = json!({"texts": ["a photo of a yellow star."], "image": image}).to_string();
    let address = server.url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /v1/query HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    // Half the body, then SIGTERM while the server waits for the rest.
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    stream.write_all(rest).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}
