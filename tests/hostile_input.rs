//! Hostile but fair use of the binaries: clients that hold connections open without
//! finishing a request, numbers no flag can mean, files that are devices or FIFOs
//! or never end, truncated JPEGs and images of one pixel. Each must get a clear
//! error or be cut off, never a panic, a hang or an answer outside the image.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use edgeclip_e2e::{default_model, edgeclip, json_lines, Server};
use serde_json::{json, Value};

const TOKEN: &str = "0123456789abcdef-hostile";

fn png_of(image: image::RgbImage) -> Vec<u8> {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

fn red_circle() -> std::path::PathBuf {
    default_model().join("samples/red_circle.png")
}

fn address(server: &Server) -> SocketAddr {
    server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("the server's address")
}

/// One request over a fresh connection from `from` (a loopback address of its
/// own, so the per-client cap of the flooding address does not apply): the status
/// line's code, the body and how long it took.
fn request_from(from: &str, to: SocketAddr, head: &str) -> (u16, String, Duration) {
    use socket2::{Domain, Socket, Type};
    let started = Instant::now();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&format!("{from}:0").parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.connect(&to.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let elapsed = started.elapsed();
    let code = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body, elapsed)
}

fn health_from(from: &str, to: SocketAddr) -> (u16, String, Duration) {
    request_from(
        from,
        to,
        &format!(
            "GET /v1/health HTTP/1.1\r\nHost: edgeclip\r\nAuthorization: Bearer {TOKEN}\r\n\
             Connection: close\r\n\r\n"
        ),
    )
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Whether the server has closed `stream` (end of stream or a reset), waiting at
/// most `within`.
fn closed_by_server(mut stream: &TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or an error page before the close is a close too.
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

#[test]
fn slow_and_idle_clients_are_cut_off_and_cannot_starve_health() {
    // 1,000 client sockets here, plus the ones the server closes.
    rlimit::increase_nofile_limit(8192).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let head_timeout = Duration::from_secs(2);
    let server = Server::start(
        &[
            "--files",
            red_circle().to_str().unwrap(),
            "--loop",
            "--fps",
            "10",
            "--token-file",
            token_file.to_str().unwrap(),
            "--head-timeout",
            "2",
            "--max-connections-per-client",
            "64",
        ],
        &[],
    );
    let to = address(&server);
    let pid = server.child.id();
    let baseline = open_descriptors(pid);

    // 1,000 connections from 127.0.0.1: even ones stay idle, odd ones send a
    // request head one byte at a time and never finish it.
    let mut clients: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(to).expect("connecting"))
        .collect();
    let flood_started = Instant::now();
    let slow_head = b"GET /v1/health HTTP/1.1\r\nHost: edgeclip\r\nX-Slow: ";
    let mut latencies = Vec::new();
    let mut peak_descriptors = 0;
    let mut step = 0;
    while flood_started.elapsed() < head_timeout + Duration::from_millis(500) {
        for (i, client) in clients.iter_mut().enumerate() {
            if i % 2 == 1 {
                let _ = client.write_all(&slow_head[step % slow_head.len()..][..1]);
            }
        }
        step += 1;
        peak_descriptors = peak_descriptors.max(open_descriptors(pid));
        let (code, _, took) = health_from("127.0.0.2", to);
        assert_eq!(code, 200, "health during the flood");
        latencies.push(took);
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every one of them is closed by the server: over the caps at once, the rest
    // at the head timeout (which does not restart with each byte).
    let still_open = clients
        .iter()
        .filter(|c| !closed_by_server(c, Duration::from_secs(5)))
        .count();
    assert_eq!(still_open, 0, "connections the server did not close");
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let worst = *latencies.last().unwrap();
    eprintln!(
        "health during 1,000 slow connections: {} answers, median {median:?}, worst {worst:?}; \
         server descriptors {baseline} before, {peak_descriptors} at most",
        latencies.len()
    );
    assert!(median < Duration::from_millis(100), "median {median:?}");
    assert!(worst < Duration::from_secs(2), "worst {worst:?}");
    // The caps, not the clients, bound the server's descriptors: 64 from the
    // flooding address, one health check, and what the server had before.
    assert!(
        peak_descriptors <= baseline + 64 + 8,
        "{peak_descriptors} descriptors (baseline {baseline})"
    );
    // Without the token nothing but a 401 is answered, and the frame source kept
    // streaming throughout.
    let (code, body, _) = request_from(
        "127.0.0.3",
        to,
        "GET /v1/health HTTP/1.1\r\nHost: edgeclip\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 401, "{body}");
    let (_, body, _) = health_from("127.0.0.2", to);
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["source"]["state"], "streaming", "{health}");
    assert!(
        health["source"]["frames"].as_u64().unwrap() > 10,
        "{health}"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn numbers_no_flag_can_mean_are_usage_errors_naming_the_flag() {
    for (flags, named) in [
        (&["serve", "--timeout", "1e30"][..], "--timeout"),
        (
            &["serve", "--files", "x.png", "--fps", "1e-30"][..],
            "--fps",
        ),
        (&["serve", "--head-timeout", "0"][..], "--head-timeout"),
        (
            &["serve", "--max-connections", "0"][..],
            "--max-connections",
        ),
        (
            &[
                "watch",
                "--files",
                "x.png",
                "--labels",
                "a",
                "--duration",
                "nan",
            ][..],
            "--duration",
        ),
        (
            &[
                "watch",
                "--files",
                "x.png",
                "--labels",
                "a",
                "--dwell-ms",
                "99999999999999",
            ][..],
            "--dwell-ms",
        ),
        (
            &[
                "watch", "--files", "x.png", "--labels", "a", "--alpha", "inf",
            ][..],
            "--alpha",
        ),
        (
            &["events", "tail", "-n", "18446744073709551616"][..],
            "--lines",
        ),
    ] {
        let out = edgeclip().args(flags).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(named),
            "{flags:?} should name {named}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{flags:?}: {stderr}");
    }
}

#[test]
fn serve_stops_on_sigterm_while_waiting_for_a_slow_frame() {
    let server = Server::start(
        &[
            "--files",
            red_circle().to_str().unwrap(),
            "--loop",
            "--fps",
            "0.001",
        ],
        &[],
    );
    // The first frame comes at once; the next in 1,000 s.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A copy of the red circle sample as a JPEG cut short by half.
fn truncated_jpeg(dir: &std::path::Path) -> std::path::PathBuf {
    let image = image::open(red_circle()).unwrap().to_rgb8();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image)
        .unwrap();
    let path = dir.join("cut.jpg");
    std::fs::write(&path, &jpeg[..jpeg.len() / 2]).unwrap();
    path
}

#[test]
fn a_truncated_jpeg_is_refused_by_the_cli_watch_and_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let cut = truncated_jpeg(dir.path());
    let out = edgeclip()
        .args(["classify", "--labels", "red circle,blue square"])
        .arg(&cut)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("cut.jpg") && stderr.contains("truncated"),
        "{stderr}"
    );

    // watch counts it as a bad frame, unless told to accept such files.
    let totals = |accept: bool| -> Value {
        let mut cmd = edgeclip();
        cmd.args(["--json", "watch", "--labels", "red circle,blue square"])
            .arg("--files")
            .arg(&cut);
        if accept {
            cmd.arg("--accept-truncated-jpegs");
        }
        json_lines(&cmd.output().unwrap())
            .into_iter()
            .rfind(|e| e["type"] == "status")
            .expect("a last status")["data"]
            .clone()
    };
    let strict = totals(false);
    assert_eq!(
        (&strict["frames"], &strict["bad"]),
        (&json!(0), &json!(1)),
        "{strict}"
    );
    let lenient = totals(true);
    assert_eq!(
        (&lenient["frames"], &lenient["bad"]),
        (&json!(1), &json!(0)),
        "{lenient}"
    );

    let server = Server::start(&[], &[]);
    let body = json!({
        "texts": ["a photo of a red circle."],
        "image": base64::engine::general_purpose::STANDARD.encode(std::fs::read(&cut).unwrap()),
    });
    let mut answer = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(&format!("{}/v1/query", server.url))
        .send_json(&body)
        .unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let error: Value = answer.body_mut().read_json().unwrap();
    assert_eq!(error["error"]["code"], "invalid_image", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("truncated"),
        "{error}"
    );
}

#[test]
fn oversized_heads_are_refused_with_431_and_the_server_keeps_answering() {
    let server = Server::start(&[], &[]);
    let to = address(&server);
    let head = |pad: usize| {
        format!(
            "GET /v1/health HTTP/1.1\r\nHost: edgeclip\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
            "p".repeat(pad)
        )
    };
    // Over the API's 16 KiB but within the parser's buffer: the API's error JSON.
    let (code, body, _) = request_from("127.0.0.1", to, &head(20 << 10));
    assert_eq!(code, 431, "{body}");
    let error: Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(error["error"]["code"], "headers_too_large", "{error}");
    // Over the parser's 64 KiB buffer: refused by the parser (a bare 431, or a reset
    // when the close overtakes the rest of the head), the connection closed.
    let mut stream = TcpStream::connect(to).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(head(80 << 10).as_bytes());
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    let long = format!(
        "GET /v1/health?{} HTTP/1.1\r\nHost: edgeclip\r\nConnection: close\r\n\r\n",
        "q".repeat(9 << 10)
    );
    let (code, body, _) = request_from("127.0.0.1", to, &long);
    assert_eq!(code, 414, "{body}");
    assert!(body.contains("uri_too_long"), "{body}");
    let (code, body, _) = request_from("127.0.0.1", to, &head(0));
    assert_eq!(code, 200, "{body}");
}

#[test]
fn where_answers_stay_inside_images_one_pixel_wide() {
    let server = Server::start(&[], &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for (w, h) in [(1u32, 1u32), (1, 4000), (4000, 1)] {
        let png = png_of(image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30])));
        let body = json!({
            "texts": ["a photo of a red circle."],
            "image": base64::engine::general_purpose::STANDARD.encode(&png),
            "where": true,
        });
        let mut answer = agent
            .post(&format!("{}/v1/query", server.url))
            .send_json(&body)
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        let answer: Value = answer.body_mut().read_json().unwrap();
        let bbox: Vec<u64> = answer["results"][0]["where"]["box"]
            .as_array()
            .unwrap_or_else(|| panic!("a box: {answer}"))
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let (w, h) = (u64::from(w), u64::from(h));
        assert!(
            bbox[0] < bbox[2] && bbox[2] <= w && bbox[1] < bbox[3] && bbox[3] <= h,
            "{w}x{h}: {bbox:?}"
        );
    }
}

/// Runs the binary with `args` (naming the model themselves), failing the test if it does not end within 20 s.
fn run_bounded(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(edgeclip_e2e::edgeclip_bin())
        .env_remove("EDGECLIP_MODEL")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.code(), stderr);
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("edgeclip {args:?} did not end within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn files_that_never_end_or_never_open_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let zero = std::ffi::OsStr::new("/dev/zero");
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    let default = default_model();
    let model = [os("--model"), default.as_os_str()];
    for args in [
        vec![
            os("classify"),
            os("--labels-file"),
            zero,
            red_circle().as_os_str(),
        ],
        vec![
            os("watch"),
            os("--config"),
            zero,
            os("--files"),
            red_circle().as_os_str(),
            os("--labels"),
            os("a"),
        ],
        vec![os("serve"), os("--token-file"), zero],
        vec![
            os("--board"),
            zero,
            os("classify"),
            os("--labels"),
            os("a,b"),
            red_circle().as_os_str(),
        ],
    ] {
        let args = [&model[..], &args[..]].concat();
        let (code, stderr) = run_bounded(&args);
        assert!(matches!(code, Some(1 | 2)), "{args:?}: {code:?} {stderr}");
        assert!(
            stderr.contains("/dev/zero") && stderr.contains("not a regular file"),
            "{args:?}: {stderr}"
        );
    }
    // A model package whose model file is a FIFO: refused, not waited on.
    let model = dir.path().join("model");
    std::fs::create_dir(&model).unwrap();
    for entry in std::fs::read_dir(default_model()).unwrap() {
        let entry = entry.unwrap();
        let to = model.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::os::unix::fs::symlink(entry.path(), &to).unwrap();
        } else if entry.path().extension().is_some_and(|e| e == "onnx") {
            assert!(std::process::Command::new("mkfifo")
                .arg(&to)
                .status()
                .unwrap()
                .success());
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    let (code, stderr) = run_bounded(&[
        os("--model"),
        model.as_os_str(),
        os("classify"),
        os("--labels"),
        os("a,b"),
        red_circle().as_os_str(),
    ]);
    assert!(matches!(code, Some(1 | 2)), "{code:?} {stderr}");
    assert!(stderr.contains("FIFO"), "{stderr}");
}

/// A self-signed certificate for `localhost`, written as PEM files into `dir`
/// under `name`; the certificate's DER for a client's trust store.
fn certificate(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    (cert, key, made.cert.der().to_vec())
}

/// `GET /v1/health` over TLS trusting only `ca`: the status line, or the
/// handshake's error.
fn health_over_tls(to: SocketAddr, ca: &[u8]) -> Result<String, std::io::Error> {
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca.to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connection =
        rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let socket = TcpStream::connect(to)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(b"GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer)?;
    Ok(answer.lines().next().unwrap_or_default().to_owned())
}

#[test]
fn the_api_speaks_tls_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, first) = certificate(dir.path(), "server");
    let server = Server::start(
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    let to = address(&server);
    assert_eq!(health_over_tls(to, &first).unwrap(), "HTTP/1.1 200 OK");
    // A client that trusts another certificate is refused at the handshake.
    let (_, _, other) = certificate(dir.path(), "other");
    let refused = health_over_tls(to, &other).unwrap_err();
    assert!(refused.to_string().contains("certificate"), "{refused}");
    // A renewed certificate is served after SIGHUP, without a restart.
    let (renewed_cert, renewed_key, renewed) = certificate(dir.path(), "renewed");
    std::fs::rename(&renewed_cert, &cert).unwrap();
    std::fs::rename(&renewed_key, &key).unwrap();
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while health_over_tls(to, &renewed).is_err() {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not served"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(health_over_tls(to, &first).is_err());
    assert!(server.terminate().success());
}

#[test]
fn stale_frames_make_health_degraded_and_latest_queries_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let frame = dir.path().join("frame.png");
    std::fs::copy(red_circle(), &frame).unwrap();
    let server = Server::start(
        &[
            "--files",
            frame.to_str().unwrap(),
            "--loop",
            "--stale-after",
            "1",
        ],
        &[],
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let health = || -> Value {
        agent
            .get(&format!("{}/v1/health", server.url))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    };
    let query = || {
        let mut answer = agent
            .post(&format!("{}/v1/query", server.url))
            .send_json(json!({"texts": ["a photo of a red circle."]}))
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.body_mut().read_json::<Value>().unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while health()["source"]["frames"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "no frame");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(health()["status"], "ok");
    assert_eq!(query().0, 200);
    // The only file is gone: every pull is a bad frame and the newest grows old.
    std::fs::remove_file(&frame).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let h = health();
    assert_eq!(h["status"], "degraded", "{h}");
    let (status, error) = query();
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["error"]["code"], "no_frame", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("s old"),
        "{error}"
    );
    // Back: fresh frames, and the answers with them.
    std::fs::copy(red_circle(), &frame).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while health()["status"] != "ok" {
        assert!(Instant::now() < deadline, "health did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(query().0, 200);
}

#[test]
fn numbers_too_large_in_settings_files_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("watch.toml");
    std::fs::write(
        &config,
        "[watch]\nstatus_every_s = 99999999999999999999999\n",
    )
    .unwrap();
    let out = edgeclip()
        .arg("watch")
        .arg("--config")
        .arg(&config)
        .arg("--files")
        .arg(red_circle())
        .args(["--labels", "a"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("watch.toml") && stderr.contains("line 2, key status_every_s"),
        "{stderr}"
    );
}

/// A PNG that says it is `width` × `height` pixels but holds no pixel data: its
/// size is read before anything is decoded, so this is what a decompression bomb
/// looks like to the size check.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for chunk in [&ihdr[..], b"IDAT", b"IEND"] {
        let mut crc = flate2::Crc::new();
        crc.update(chunk);
        png.extend((chunk.len() as u32 - 4).to_be_bytes());
        png.extend(chunk);
        png.extend(crc.sum().to_be_bytes());
    }
    png
}

#[test]
fn images_over_the_pixel_limit_are_refused_before_decoding_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.png");
    std::fs::write(&huge, png_header_only(12_000, 12_000)).unwrap();
    for command in [
        &["classify", "--labels", "a,b"][..],
        &["embed", "image"][..],
        &["depth"][..],
    ] {
        let out = edgeclip().args(command).arg(&huge).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_ne!(out.status.code(), Some(0), "{command:?}: {stderr}");
        let said = format!("{stdout}{stderr}");
        assert!(
            said.contains("huge.png") && said.contains("12000x12000") && said.contains("64000000"),
            "{command:?}: {said}"
        );
    }
}

#[test]
fn pixel_limits_follow_the_board_memory_budget() {
    let dir = tempfile::tempdir().unwrap();
    // rpi4's profile budgets 1024 MiB: a one-image command decodes at most half of
    // it at 12 bytes per pixel, 44,739,242 pixels; 7000x7000 is over that.
    let large = dir.path().join("large.png");
    std::fs::write(&large, png_header_only(7_000, 7_000)).unwrap();
    let out = edgeclip()
        .args(["--board", "rpi4", "classify", "--labels", "a,b"])
        .arg(&large)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("7000x7000") && said.contains("44739242"),
        "{said}"
    );

    // serve gives posted images a quarter, over two decodes: 11,184,810 pixels.
    let server = Server::start(&["--board", "rpi4"], &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = |png: &[u8]| -> Value {
        let body = json!({
            "texts": ["a photo of a red circle."],
            "image": base64::engine::general_purpose::STANDARD.encode(png),
        });
        let mut answer = agent
            .post(&format!("{}/v1/query", server.url))
            .send_json(&body)
            .unwrap();
        assert_eq!(answer.status().as_u16(), 422);
        answer.body_mut().read_json().unwrap()
    };
    let over = post(&png_header_only(4_000, 3_000));
    assert!(over.to_string().contains("11184810"), "{over}");
    // Within the limit, the header-only file gets as far as the decoder.
    let within = post(&png_header_only(3_000, 3_000));
    assert!(!within.to_string().contains("11184810"), "{within}");
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[test]
fn parallel_large_posts_are_decoded_two_at_a_time() {
    // 16 clients post an 11-Mpixel PNG at once (33 MB each once decoded). Decoded
    // all at once they would take 528 MB; two at a time, about 67 MB.
    let png = png_of(image::RgbImage::from_fn(3_800, 2_900, |x, y| {
        image::Rgb([(x / 200) as u8 * 12, (y / 200) as u8 * 16, 90])
    }));
    let body = json!({
        "texts": ["a photo of a red circle."],
        "image": base64::engine::general_purpose::STANDARD.encode(&png),
    })
    .to_string();
    let server = Server::start(
        &["--max-image-pixels", "12000000", "--max-body", "67108864"],
        &[],
    );
    let pid = server.child.id();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let send = || {
        agent
            .post(&format!("{}/v1/query", server.url))
            .header("content-type", "application/json")
            .send(&body)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(send(), 200, "one post alone");
    let before = peak_rss_kib(pid);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16).map(|_| scope.spawn(send)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let after = peak_rss_kib(pid);
    eprintln!(
        "peak RSS {} MiB after one post, {} MiB after 16 at once ({statuses:?})",
        before / 1024,
        after / 1024
    );
    // The request timeout (10 s) may refuse some of the waiting ones; none may fail
    // otherwise.
    assert!(
        statuses.iter().all(|s| [200, 408].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200));
    // Two decodes and their images (2 x 33 MB) plus bodies; decoded all at once they
    // grew it by 420 MiB.
    assert!(
        after.saturating_sub(before) < 200 * 1024,
        "peak RSS grew from {before} KiB to {after} KiB"
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

#[test]
fn memory_returns_after_a_burst_of_64_clients() {
    // A 1080p photo-like JPEG (1.4 MB): 64 clients posting it raise the server's
    // resident size by hundreds of MiB while they last.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    };
    let blocks: Vec<[u8; 3]> = (0..480 * 270)
        .map(|_| [noise(), noise(), noise()])
        .collect();
    let image = image::RgbImage::from_fn(1920, 1080, |x, y| {
        image::Rgb(blocks[(y / 4 * 480 + x / 4) as usize])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image)
        .unwrap();
    let body = json!({
        "texts": ["a photo of a red circle.", "a photo of a blue square."],
        "image": base64::engine::general_purpose::STANDARD.encode(&jpeg),
        "where": true,
    })
    .to_string();
    let server = Server::start(&["--rate", "100000", "--burst", "100000"], &[]);
    let pid = server.child.id();
    let url = format!("{}/v1/query", server.url);
    let post = |agent: &ureq::Agent| -> u16 {
        agent
            .post(&url)
            .header("content-type", "application/json")
            .send(&body)
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for _ in 0..4 {
        assert_eq!(post(&agent), 200, "warm-up");
    }
    std::thread::sleep(Duration::from_secs(3));
    let warm = rss_kib(pid);

    let until = Instant::now() + Duration::from_secs(6);
    let answered: usize = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..64)
            .map(|_| {
                scope.spawn(|| {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let mut ok = 0;
                    while Instant::now() < until {
                        ok += usize::from(post(&agent) == 200);
                    }
                    ok
                })
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).sum()
    });
    let loaded = peak_rss_kib(pid);
    assert!(answered >= 64, "{answered} answers");

    // Idle: the server gives its free memory back within a few seconds.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut idle = rss_kib(pid);
    while idle > warm + warm / 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        idle = rss_kib(pid);
    }
    eprintln!(
        "RSS {} MiB warmed up, peak {} MiB under 64 clients ({answered} answers), {} MiB idle",
        warm / 1024,
        loaded / 1024,
        idle / 1024
    );
    assert!(
        idle <= warm + warm / 10,
        "idle RSS {idle} KiB is more than 10% over the warmed-up {warm} KiB"
    );
}
