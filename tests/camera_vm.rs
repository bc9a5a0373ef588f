//! Capture from a real V4L2 driver: the `vivid` virtual camera in a qemu VM.
//!
//! Every test here is `#[ignore]`d: it needs `/dev/video0` from vivid, root (for
//! `rmmod`/`modprobe`) and `v4l2-ctl`, which only the VM has. `firmware-tools/vm/test-camera.sh`
//! builds this binary on the host and runs it inside the VM with `--ignored`; its `println!`
//! lines are the results that go to the CI log. The tests run one at a time
//! (`--test-threads=1`) and each leaves vivid loaded with its defaults, apart from the OSD.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgeclip_capture::{
    describe, Backoff, CameraConfig, CameraEvent, CaptureError, Converter, FrameRef, FrameSource,
    PixelFormat, Reconnecting, Recovery, Request, V4lCamera,
};

const DEVICE: &str = "/dev/video0";
const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
/// Frames per format: vivid makes about 5 per second under qemu's software emulation.
const FRAMES: usize = 30;
/// vivid's module parameters for one webcam-like capture node (as firmware-tools/vm/run.sh).
const VIVID_ARGS: [&str; 4] = [
    "n_devs=1",
    "node_types=0x1",
    "num_inputs=1",
    "input_types=0x0",
];

fn config(format: PixelFormat) -> CameraConfig {
    CameraConfig {
        request: Request {
            format: Some(format),
            width: WIDTH,
            height: HEIGHT,
            fps: None,
        },
        buffers: 4,
        timeout: Duration::from_secs(3),
    }
}

/// Runs a command in the guest, returning whether it succeeded and its output.
fn sh(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text.trim().to_string())
}

fn v4l2_ctl(args: &[&str]) -> String {
    let mut all = vec!["-d", DEVICE];
    all.extend_from_slice(args);
    let (ok, text) = sh("v4l2-ctl", &all);
    assert!(ok, "v4l2-ctl {}: {text}", all.join(" "));
    text
}

/// Waits for vivid's node and checks it is vivid: these tests mean nothing elsewhere.
fn vivid() {
    let end = Instant::now() + Duration::from_secs(10);
    while !Path::new(DEVICE).exists() {
        assert!(
            Instant::now() < end,
            "{DEVICE} does not exist: run these tests inside the VM (firmware-tools/vm/test-camera.sh)"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = describe(DEVICE).unwrap_or_else(|e| panic!("{DEVICE}: {e}"));
    assert_eq!(info.driver, "vivid", "{DEVICE} is not vivid: {info:?}");
}

/// vivid draws text with counters and a clock over its pattern by default; mode 2
/// ("None") turns it off so that two frames of the same pattern are identical.
fn osd_off() {
    v4l2_ctl(&["-c", "osd_text_mode=2"]);
}

/// Converts a frame to RGB8, panicking with the error (a vivid frame must convert).
fn rgb(frame: &FrameRef<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    let (w, h) = Converter::default()
        .to_rgb8(frame, &mut out)
        .unwrap_or_else(|e| panic!("converting {} frame {}: {e}", frame.format, frame.sequence));
    assert_eq!((w, h), (frame.width, frame.height));
    out
}

/// The colour at the centre of each of the 8 vertical bars, on the middle row.
fn bars(rgb: &[u8], width: u32, height: u32) -> Vec<[u8; 3]> {
    let (w, h) = (width as usize, height as usize);
    (0..8)
        .map(|i| {
            let x = (2 * i + 1) * w / 16;
            let p = ((h / 2) * w + x) * 3;
            [rgb[p], rgb[p + 1], rgb[p + 2]]
        })
        .collect()
}

/// vivid's default pattern, "75% Colorbar": white, yellow, cyan, green, magenta, red,
/// blue, black at 75% intensity (191 of 255), as RGB.
fn expected_bars() -> Vec<[u8; 3]> {
    const H: u8 = 191;
    vec![
        [H, H, H],
        [H, H, 0],
        [0, H, H],
        [0, H, 0],
        [H, 0, H],
        [H, 0, 0],
        [0, 0, H],
        [0, 0, 0],
    ]
}

fn assert_colour_bars(format: PixelFormat, rgb: &[u8]) {
    let got = bars(rgb, WIDTH, HEIGHT);
    for (i, (g, e)) in got.iter().zip(expected_bars()).enumerate() {
        let off = g
            .iter()
            .zip(e)
            .map(|(&a, b)| (i16::from(a) - i16::from(b)).abs())
            .max()
            .unwrap();
        assert!(
            off <= 8,
            "{format}: bar {i} is {g:?}, expected about {e:?} (all bars: {got:?})"
        );
    }
}

/// Per-channel differences between two RGB8 images: (largest, mean).
fn difference(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let mut max = 0u8;
    let mut sum = 0u64;
    for (&x, &y) in a.iter().zip(b) {
        let d = x.abs_diff(y);
        max = max.max(d);
        sum += u64::from(d);
    }
    (max, sum as f64 / a.len() as f64)
}

fn expected_len(format: PixelFormat, stride: usize) -> usize {
    match format {
        PixelFormat::Nv12 => stride * HEIGHT as usize * 3 / 2,
        _ => stride * HEIGHT as usize,
    }
}

#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn captures_each_format_with_the_right_sizes_and_the_test_pattern() {
    vivid();
    osd_off();
    let info = describe(DEVICE).unwrap();
    let offered: Vec<PixelFormat> = info.formats.iter().filter_map(|f| f.format).collect();
    println!("vivid offers, of the formats edgeclip converts: {offered:?}");
    let mut formats = vec![PixelFormat::Yuyv, PixelFormat::Nv12];
    if offered.contains(&PixelFormat::Rgb24) {
        formats.push(PixelFormat::Rgb24);
    }
    for format in formats {
        let start = Instant::now();
        let mut camera = V4lCamera::open(DEVICE, config(format))
            .unwrap_or_else(|e| panic!("opening {DEVICE} for {format}: {e}"));
        let n = *camera.negotiated();
        assert_eq!(
            (n.format, n.width, n.height),
            (format, WIDTH, HEIGHT),
            "{n}"
        );
        let opened = start.elapsed();
        let mut sequences = Vec::new();
        let mut sizes = std::collections::BTreeSet::new();
        let mut last_rgb = Vec::new();
        while sequences.len() < FRAMES {
            let frame = camera
                .next_frame()
                .unwrap_or_else(|e| panic!("{format} frame {}: {e}", sequences.len()))
                .expect("a camera does not end");
            assert_eq!((frame.width, frame.height), (WIDTH, HEIGHT));
            assert_eq!(frame.bytes.len(), expected_len(format, n.stride), "{n}");
            sizes.insert(frame.bytes.len());
            sequences.push(frame.sequence);
            last_rgb = rgb(&frame);
        }
        let took = start.elapsed() - opened;
        let stats = camera.stats();
        assert_eq!(stats.delivered, FRAMES as u64);
        assert_eq!(stats.bad, 0);
        assert!(sequences.windows(2).all(|w| w[1] > w[0]), "{sequences:?}");
        assert_colour_bars(format, &last_rgb);
        println!(
            "vivid {format} {WIDTH}x{HEIGHT}: {FRAMES} frames in {:.2} s ({:.1} fps), {} bytes each, \
             sequence {}..={}, dropped {}, bad {}; negotiated {n}, size_image {}; opened in {} ms; \
             colour bars at the centre row {:?}",
            took.as_secs_f64(),
            FRAMES as f64 / took.as_secs_f64(),
            sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("/"),
            sequences[0],
            sequences[FRAMES - 1],
            stats.dropped,
            stats.bad,
            n.size_image,
            opened.as_millis(),
            bars(&last_rgb, WIDTH, HEIGHT),
        );
    }
}

#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn the_picture_matches_a_v4l2_ctl_reference_frame() {
    vivid();
    osd_off();
    let start = Instant::now();
    // The reference first, while nothing else streams (one streaming handle at a time).
    let reference_path: PathBuf = std::env::temp_dir().join("edgeclip-vivid-reference.yuyv");
    v4l2_ctl(&[
        &format!("--set-fmt-video=width={WIDTH},height={HEIGHT},pixelformat=YUYV"),
        "--stream-mmap",
        "--stream-count=1",
        &format!("--stream-to={}", reference_path.display()),
    ]);
    let reference = std::fs::read(&reference_path).unwrap();
    let _ = std::fs::remove_file(&reference_path);

    let mut camera = V4lCamera::open(DEVICE, config(PixelFormat::Yuyv)).unwrap();
    let n = *camera.negotiated();
    assert_eq!(
        reference.len(),
        n.stride * HEIGHT as usize,
        "v4l2-ctl wrote one {n} frame"
    );
    // Not the first frame: anything settling at stream start is not the test pattern.
    let mut ours = Vec::new();
    for _ in 0..3 {
        let frame = camera.next_frame().unwrap().unwrap();
        ours = rgb(&frame);
    }
    // Converted the same way (the driver's colour encoding, as negotiated), so any
    // difference is in the pictures.
    let theirs = rgb(&FrameRef {
        width: WIDTH,
        height: HEIGHT,
        stride: n.stride,
        format: PixelFormat::Yuyv,
        color: n.color,
        bytes: &reference,
        sequence: 0,
        timestamp: Duration::ZERO,
    });
    let (max, mean) = difference(&ours, &theirs);
    println!(
        "vivid YUYV {WIDTH}x{HEIGHT} vs v4l2-ctl --stream-to reference (OSD off, osd_text_mode=2): \
         max difference {max}, mean {mean:.4} per channel over {} bytes; reference bars {:?}; {:.2} s",
        ours.len(),
        bars(&theirs, WIDTH, HEIGHT),
        start.elapsed().as_secs_f64()
    );
    assert!(max <= 2 && mean < 0.1, "max {max}, mean {mean}");
    assert_colour_bars(PixelFormat::Yuyv, &theirs);
}

/// An event as the consumer thread received it, with when (ms since the unplug command;
/// negative before it).
type Seen = (i128, CameraEvent);

fn ms_since(t0: Instant, at: Instant) -> i128 {
    if at >= t0 {
        (at - t0).as_millis() as i128
    } else {
        -((t0 - at).as_millis() as i128)
    }
}

fn print_events(what: &str, log: &[Seen]) {
    for (at, e) in log {
        println!("  {what} {at:>+7} ms  {e:?}");
    }
}

/// Streams through a [`Reconnecting`] camera, runs `unplug` on another thread after a
/// few frames, and pulls frames until the camera is back and has delivered 5 more. The
/// events are read by a third thread as they are sent, as a consumer would, so their
/// times show that `Lost` reaches it while the capture thread is still waiting. Returns
/// the events and the time from the unplug command to the first frame after `Back`.
fn unplug_and_recover(
    what: &str,
    backoff: Backoff,
    unplug: impl FnOnce() + Send + 'static,
) -> (Vec<Seen>, Duration) {
    vivid();
    let (tx, rx) = channel();
    let consumer = std::thread::spawn(move || {
        rx.iter()
            .map(|e| (Instant::now(), e))
            .collect::<Vec<(Instant, CameraEvent)>>()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let mut camera = Reconnecting::camera(
        DEVICE,
        config(PixelFormat::Yuyv),
        backoff,
        Arc::clone(&stop),
        tx,
    );
    // A way out if the device never comes back: the test then fails instead of hanging.
    let watchdog = Arc::clone(&stop);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(45));
        watchdog.store(true, Ordering::Relaxed);
    });
    for _ in 0..3 {
        camera
            .next_frame()
            .unwrap()
            .expect("frames before the unplug");
    }
    let t0 = Instant::now();
    let unplugger = std::thread::spawn(unplug);
    let mut frames_before_back = 0;
    let mut after_back = 0;
    let mut first_after_back = None;
    let mut failure = None;
    while after_back < 5 {
        match camera.next_frame() {
            Ok(Some(_)) => {}
            Ok(None) => {
                failure = Some(format!("{what}: the camera did not come back within 45 s"));
                break;
            }
            Err(e) if e.recovery() == Recovery::Skip => continue,
            Err(e) => {
                failure = Some(format!("{what}: gave up: {e}"));
                break;
            }
        }
        if camera.reconnects() > 0 {
            first_after_back.get_or_insert_with(|| t0.elapsed());
            after_back += 1;
        } else {
            frames_before_back += 1;
        }
    }
    let reconnects = camera.reconnects();
    let stats = camera.stats();
    drop(camera); // closes the channel: the consumer's list is complete
    let log: Vec<Seen> = consumer
        .join()
        .expect("the consumer thread")
        .into_iter()
        .map(|(at, e)| (ms_since(t0, at), e))
        .collect();
    if let Some(failure) = failure {
        print_events(what, &log);
        panic!("{failure}");
    }
    unplugger.join().expect("the unplugging thread");
    println!(
        "{what}: {frames_before_back} frames between the unplug command and Back, 5 after; \
         reconnects {reconnects}; stats {stats:?}"
    );
    (log, first_after_back.expect("frames after Back"))
}

/// Checks `Lost` (with `error_has` in its message), then only retries, then `Back`;
/// returns `Back.after` and how long before `Back` the consumer already had `Lost`.
fn check_lost_then_back(what: &str, log: &[Seen], error_has: &str) -> (Duration, i128) {
    print_events(what, log);
    let lost = log
        .iter()
        .position(|(_, e)| matches!(e, CameraEvent::Lost { .. }))
        .unwrap_or_else(|| panic!("{what}: no Lost event"));
    let back = log
        .iter()
        .position(|(_, e)| matches!(e, CameraEvent::Back { .. }))
        .unwrap_or_else(|| panic!("{what}: no Back event"));
    assert!(lost < back, "{what}: Back before Lost");
    assert!(
        log[lost + 1..back]
            .iter()
            .all(|(_, e)| matches!(e, CameraEvent::Retrying { .. })),
        "{what}: only retries between Lost and Back"
    );
    match &log[lost].1 {
        CameraEvent::Lost { error, .. } => assert!(error.contains(error_has), "{error}"),
        _ => unreachable!(),
    }
    let after = match &log[back].1 {
        CameraEvent::Back { after, .. } => *after,
        _ => unreachable!(),
    };
    (after, log[back].0 - log[lost].0)
}

#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn unplug_with_the_disconnect_control_then_back() {
    let start = Instant::now();
    let (log, recovered) = unplug_and_recover(
        "disconnect",
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        },
        || {
            v4l2_ctl(&["-c", "disconnect=1"]);
        },
    );
    let (after, lead) = check_lost_then_back("disconnect", &log, "ENODEV");
    println!(
        "vivid disconnect=1 mid-stream: Lost then Back after {} ms (Back.after; the consumer had \
         Lost {lead} ms before Back); first frame {} ms after the disconnect command; test {:.2} s",
        after.as_millis(),
        recovered.as_millis(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn unplug_with_rmmod_and_modprobe_then_back() {
    let start = Instant::now();
    // The kernel refuses `rmmod vivid` while a handle is open ("Module vivid is in use"),
    // so the driver cannot be unloaded under a streaming camera. The full unplug is:
    // disconnect (the stream fails, Reconnecting closes its handle), rmmod as soon as it
    // can, the node is gone (opening fails: not found), modprobe, the node is back. The
    // first retry waits 1 s so that rmmod wins the race against the reopening.
    let (log, recovered) = unplug_and_recover(
        "rmmod",
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(2),
        },
        || {
            let t0 = Instant::now();
            let (ok, text) = sh("rmmod", &["vivid"]);
            println!(
                "  rmmod +{:>6} ms  rmmod vivid while streaming: ok={ok} {text:?}",
                t0.elapsed().as_millis()
            );
            if !ok {
                v4l2_ctl(&["-c", "disconnect=1"]);
                let end = Instant::now() + Duration::from_secs(10);
                loop {
                    let (ok, text) = sh("rmmod", &["vivid"]);
                    if ok {
                        break;
                    }
                    assert!(Instant::now() < end, "rmmod vivid kept failing: {text}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            println!(
                "  rmmod +{:>6} ms  vivid unloaded; {DEVICE} exists: {}",
                t0.elapsed().as_millis(),
                Path::new(DEVICE).exists()
            );
            std::thread::sleep(Duration::from_millis(1500));
            let mut args = vec!["vivid"];
            args.extend_from_slice(&VIVID_ARGS);
            let (ok, text) = sh("modprobe", &args);
            assert!(ok, "modprobe vivid: {text}");
            println!(
                "  rmmod +{:>6} ms  modprobe vivid done",
                t0.elapsed().as_millis()
            );
        },
    );
    let (after, lead) = check_lost_then_back("rmmod", &log, "ENODEV");
    let not_found = log.iter().any(|(_, e)| {
        matches!(e, CameraEvent::Retrying { error, .. } if error.contains("no such device"))
    });
    println!(
        "vivid rmmod/modprobe mid-stream: Lost then Back after {} ms (Back.after; the consumer had \
         Lost {lead} ms before Back); first frame {} ms after the unplug began; a retry saw the \
         node gone: {not_found}; test {:.2} s",
        after.as_millis(),
        recovered.as_millis(),
        start.elapsed().as_secs_f64()
    );
    assert!(
        not_found,
        "no retry found the node gone while vivid was unloaded"
    );
    // The reloaded driver has its defaults again (OSD on): later tests turn it off.
}

#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn a_fatal_streaming_error_eio_then_back() {
    let start = Instant::now();
    // vivid's "Inject Fatal Streaming Error" button: the queue goes into its error state
    // and dequeuing fails with EIO until the stream is stopped; a reopen clears it.
    let (log, recovered) = unplug_and_recover(
        "eio",
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        },
        || {
            v4l2_ctl(&["-c", "inject_fatal_streaming_error=1"]);
        },
    );
    let (after, lead) = check_lost_then_back("eio", &log, "EIO");
    println!(
        "vivid inject_fatal_streaming_error=1 mid-stream: Lost (EIO) then Back after {} ms \
         (Back.after; the consumer had Lost {lead} ms before Back); first frame {} ms after the \
         command; test {:.2} s",
        after.as_millis(),
        recovered.as_millis(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn bad_input_gives_clear_errors_not_panics() {
    vivid();
    let start = Instant::now();
    // A device path that does not exist.
    let e = V4lCamera::open("/dev/video-nonexistent", config(PixelFormat::Yuyv)).unwrap_err();
    assert!(matches!(e, CaptureError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("/dev/video-nonexistent"), "{e}");
    assert_eq!(e.recovery(), Recovery::Reopen);
    println!(
        "bad input: missing device -> {e} (recovery {:?})",
        e.recovery()
    );

    // A node that is not a capture device.
    let e = V4lCamera::open("/dev/null", config(PixelFormat::Yuyv)).unwrap_err();
    assert!(matches!(e, CaptureError::NotACamera { .. }), "{e}");
    assert_eq!(e.recovery(), Recovery::Fatal);
    println!("bad input: /dev/null -> {e} (recovery {:?})", e.recovery());

    // A format vivid does not offer.
    let e = V4lCamera::open(DEVICE, config(PixelFormat::Mjpeg)).unwrap_err();
    assert!(matches!(e, CaptureError::UnsupportedFormat { .. }), "{e}");
    assert!(e.to_string().contains("MJPEG"), "{e}");
    assert_eq!(e.recovery(), Recovery::Fatal);
    println!(
        "bad input: MJPEG from vivid -> {e} (recovery {:?})",
        e.recovery()
    );

    // A size vivid does not offer: adjusted, not refused, and reported.
    let mut odd = config(PixelFormat::Yuyv);
    odd.request.width = 641;
    odd.request.height = 479;
    let camera = V4lCamera::open(DEVICE, odd).unwrap();
    let n = *camera.negotiated();
    println!(
        "bad input: 641x479 YUYV -> the driver chose {n}; adjustments {:?}",
        n.adjustments()
    );
    assert!(!n.adjustments().is_empty());
    drop(camera);

    // Through Reconnecting: a fatal error is returned at once, with GaveUp.
    let (tx, rx) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut camera = Reconnecting::camera(
        DEVICE,
        config(PixelFormat::Mjpeg),
        Backoff::default(),
        Arc::clone(&stop),
        tx,
    );
    let e = camera.next_frame().unwrap_err();
    assert!(matches!(e, CaptureError::UnsupportedFormat { .. }), "{e}");
    let events: Vec<CameraEvent> = rx.try_iter().collect();
    assert!(
        matches!(events.as_slice(), [CameraEvent::GaveUp { .. }]),
        "{events:?}"
    );
    println!("bad input: Reconnecting MJPEG -> {events:?}");

    // Through Reconnecting: a camera not plugged in is waited for until stopped.
    let (tx, rx) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut camera = Reconnecting::camera(
        "/dev/video-nonexistent",
        config(PixelFormat::Yuyv),
        Backoff::default(),
        Arc::clone(&stop),
        tx,
    );
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        flag.store(true, Ordering::Relaxed);
    });
    let waited = Instant::now();
    assert!(camera.next_frame().unwrap().is_none());
    let waited = waited.elapsed();
    let events: Vec<CameraEvent> = rx.try_iter().collect();
    assert!(
        matches!(events.first(), Some(CameraEvent::Waiting { .. })),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(CameraEvent::Stopped { .. })),
        "{events:?}"
    );
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    println!(
        "bad input: Reconnecting on a missing device waited {} ms until stopped: {} events, \
         first {:?}, last {:?}",
        waited.as_millis(),
        events.len(),
        events.first().unwrap(),
        events.last().unwrap()
    );
    println!("bad input: test {:.2} s", start.elapsed().as_secs_f64());
}

/// `edgeclip watch` on vivid as a device runs it: the camera opens, frames are
/// tagged and statused, an unplug (the disconnect control) and a full one (rmmod,
/// modprobe) are each reported as `lost` then `back` while the process keeps
/// running, frames flow again, and SIGTERM ends it cleanly (exit 0, a last status).
#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn watch_tags_vivid_through_an_unplug_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    vivid();
    let start = Instant::now();
    let mut child = edgeclip_e2e::edgeclip()
        .args(["--json", "watch", "--camera", DEVICE, "--size", "640x360"])
        // Reopen after 1.5 s, not 100 ms: rmmod must get in while no handle is open
        // (the kernel refuses to unload a driver in use).
        .args(["--reconnect-ms", "1500"])
        .args([
            "--pixel-format",
            "yuyv",
            "--status-every",
            "1",
            "--dwell-ms",
            "0",
        ])
        // A store: no text encoding at start-up, which under the VM's software
        // emulation would take most of a minute.
        .arg("--store")
        .arg(edgeclip_e2e::default_model().join("stores/procedural.emb"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the edgeclip binary (cargo build -p edgeclip-cli)");
    let (tx, rx) = channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<serde_json::Value> = Vec::new();
    // Waits until an event matching `want` arrives, keeping everything seen.
    let mut wait_for = |what: &str, want: &dyn Fn(&serde_json::Value) -> bool| {
        // Generous: the VM emulates the CPU in software, tens of times slower.
        let end = Instant::now() + Duration::from_secs(180);
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let v = rx.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no {what} within 180 s (at +{} ms); saw {seen:?}",
                    start.elapsed().as_millis()
                )
            });
            let hit = want(&v);
            seen.push(v.clone());
            if hit {
                println!(
                    "  watch +{:>6} ms  {what}: {}",
                    start.elapsed().as_millis(),
                    v["data"]
                );
                return v;
            }
        }
    };
    let camera = |state: &'static str| {
        move |v: &serde_json::Value| v["type"] == "camera" && v["data"]["state"] == state
    };
    let frames_over = |n: u64| {
        move |v: &serde_json::Value| {
            v["type"] == "status" && v["data"]["frames"].as_u64().unwrap_or(0) > n
        }
    };
    wait_for("camera opened", &camera("opened"));
    let before = wait_for("frames tagged", &frames_over(2));
    let before = before["data"]["frames"].as_u64().unwrap();
    v4l2_ctl(&["-c", "disconnect=1"]);
    wait_for("camera lost", &camera("lost"));
    wait_for("camera back", &camera("back"));
    let after = wait_for("frames again after the replug", &frames_over(before + 2));
    let after_frames = after["data"]["frames"].as_u64().unwrap();
    // The full unplug: the driver unloaded and loaded again. The kernel refuses
    // rmmod while a handle is open, so: disconnect (the capture thread closes its
    // handle on the next dequeue and waits 1.5 s before reopening) and rmmod in
    // that window. The loop's own events lag behind under the VM's emulation (a
    // frame takes seconds to encode), so this does not wait for them first.
    let end = Instant::now() + Duration::from_secs(60);
    'unloaded: loop {
        v4l2_ctl(&["-c", "disconnect=1"]);
        let window = Instant::now() + Duration::from_secs(3);
        while Instant::now() < window {
            if sh("rmmod", &["vivid"]).0 {
                break 'unloaded;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(Instant::now() < end, "rmmod vivid kept failing for 60 s");
    }
    println!(
        "  watch +{:>6} ms  vivid unloaded",
        start.elapsed().as_millis()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let mut args = vec!["vivid"];
    args.extend_from_slice(&VIVID_ARGS);
    let (ok, text) = sh("modprobe", &args);
    assert!(ok, "modprobe vivid: {text}");
    wait_for("camera back after modprobe", &camera("back"));
    let after = wait_for("frames after modprobe", &frames_over(after_frames + 1));
    let (ok, text) = sh("kill", &["-TERM", &child.id().to_string()]);
    assert!(ok, "kill: {text}");
    let status = child.wait().unwrap();
    reader.join().unwrap();
    while let Ok(v) = rx.try_recv() {
        seen.push(v);
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "watch exit {status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = seen.last().unwrap();
    assert_eq!(
        last["type"], "status",
        "a last status before exiting: {last}"
    );
    let states: Vec<&str> = seen
        .iter()
        .filter(|v| v["type"] == "camera")
        .map(|v| v["data"]["state"].as_str().unwrap())
        .collect();
    let count = |s: &str| states.iter().filter(|&&x| x == s).count();
    assert!(
        count("lost") >= 2 && count("back") >= 2,
        "two unplugs: {states:?}"
    );
    let seqs: Vec<u64> = seen
        .iter()
        .map(|v| v["data"]["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    println!(
        "vivid watch: opened, {before} frames tagged, disconnect: lost, back; rmmod/modprobe: lost, \
         back; {} frames in all, SIGTERM -> exit 0 \
         with a last status ({} events, {:.1} s); last status: fps_out {:.1}, stage ms {}",
        last["data"]["frames"],
        seen.len(),
        start.elapsed().as_secs_f64(),
        after["data"]["fps_out"].as_f64().unwrap_or(0.0),
        last["data"]["stage_ms"]
    );
    osd_off();
}

/// `edgeclip doctor` lists vivid with the formats it offers, and marks those
/// edgeclip converts.
#[test]
#[ignore = "needs vivid: run inside the VM with firmware-tools/vm/test-camera.sh"]
fn doctor_lists_the_camera_and_its_formats() {
    vivid();
    let out = edgeclip_e2e::edgeclip()
        .args(["--json", "doctor"])
        .output()
        .expect("the edgeclip binary (cargo build -p edgeclip-cli)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cameras = report["data"]["cameras"].as_array().unwrap();
    let vivid = cameras
        .iter()
        .find(|c| c["device"] == DEVICE)
        .unwrap_or_else(|| panic!("{DEVICE} not listed: {cameras:?}"));
    assert_eq!(vivid["driver"], "vivid", "{vivid}");
    assert!(vivid["error"].is_null(), "{vivid}");
    let usable: Vec<&str> = vivid["usable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for format in ["YUYV", "NV12"] {
        assert!(usable.contains(&format), "{format} not usable: {vivid}");
    }
    println!(
        "  doctor: {DEVICE} {} formats {}",
        vivid["card"], vivid["formats"]
    );
}
