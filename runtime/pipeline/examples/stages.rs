//! Where a watch frame's time goes: the per-stage split of the loop on a 640×480
//! MJPEG frame and a 640×360 YUYV frame, and the frame path's overhead (decode +
//! preprocess + match) as a fraction of the image tower's time, on the default
//! model and, when `firmware-tools/test-env.sh` has built it, on the ViT-B/32-width
//! slice (224 px input), and on the real ViT-B/32 image tower where
//! `firmware-tools/bench/int8.sh` has exported it (matching 1,000 labels).
//!
//! ```sh
//! cargo run --release -p edgeclip-pipeline --example stages [FRAMES]
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use edgeclip::backend::{DType, Input, ModelSpec, Outputs};
use edgeclip::embedding::Embeddings;
use edgeclip::encoder::{ImageEncoder, TextEncoder};
use edgeclip::labels::read_label_list;
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::preprocess::{PreprocessConfig, Preprocessor};
use edgeclip::zero_shot::LabelSet;
use edgeclip_capture::{ColorSpace, Converter, FrameRef, PixelFormat};
use edgeclip_events::{Event, Sink, SinkError, StageMs};
use edgeclip_pipeline::{Watch, WatchConfig};

/// Keeps the last status's stage split.
#[derive(Default)]
struct LastStatus(Option<StageMs>);

impl Sink for LastStatus {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        if let Event::Status(s) = event {
            self.0 = Some(s.stage_ms);
        }
        Ok(())
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A colourful test picture, RGB8.
fn picture(w: u32, h: u32) -> Vec<u8> {
    (0..h)
        .flat_map(|y| {
            (0..w).flat_map(move |x| {
                [
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    ((x + y) % 256) as u8,
                ]
            })
        })
        .collect()
}

/// The same picture as packed YUYV (BT.601 limited range).
fn yuyv(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((w * h * 2) as usize);
    for px in rgb.chunks_exact(6) {
        let yuv = |p: &[u8]| {
            let (r, g, b) = (p[0] as f32, p[1] as f32, p[2] as f32);
            let y = 16.0 + 0.257 * r + 0.504 * g + 0.098 * b;
            let u = 128.0 - 0.148 * r - 0.291 * g + 0.439 * b;
            let v = 128.0 + 0.439 * r - 0.368 * g - 0.071 * b;
            (y as u8, u as u8, v as u8)
        };
        let (y0, u, v) = yuv(&px[..3]);
        let (y1, _, _) = yuv(&px[3..]);
        out.extend([y0, u, y1, v]);
    }
    let _ = h;
    out
}

fn mjpeg(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode(rgb, w, h, image::ExtendedColorType::Rgb8)
        .expect("JPEG encoding");
    out
}

fn frame(format: PixelFormat, w: u32, h: u32, bytes: &[u8], seq: u64) -> FrameRef<'_> {
    FrameRef {
        width: w,
        height: h,
        stride: 0,
        format,
        color: ColorSpace::default(),
        bytes,
        sequence: seq,
        timestamp: Duration::from_millis(seq * 33),
    }
}

fn main() {
    let frames: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let package = ModelPackage::open(root().join("models/edgeclip-tiny")).unwrap();
    let engine = edgeclip_backend_tract::engine(1);
    let entries = read_label_list(&root().join("models/edgeclip-tiny/labels.txt")).unwrap();
    let names: Vec<String> = entries.into_iter().map(|e| e.label).collect();
    let (w4, h4) = (640, 480);
    let (w3, h3) = (640, 360);
    let jpeg = mjpeg(&picture(w4, h4), w4, h4);
    let packed = yuyv(&picture(w3, h3), w3, h3);
    println!(
        "| model | precision | frame | decode | preprocess | encode | match | overhead / encode |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for precision in [Precision::Fp32, Precision::Int8] {
        let rows = TextEncoder::open(&package, &engine, precision)
            .unwrap()
            .embed_labels(&names, &["a photo of a {}.".to_owned()])
            .unwrap();
        for (name, format, w, h, bytes) in [
            ("640x480 MJPEG", PixelFormat::Mjpeg, w4, h4, &jpeg),
            ("640x360 YUYV", PixelFormat::Yuyv, w3, h3, &packed),
        ] {
            let labels =
                LabelSet::new(names.clone(), rows.clone(), package.manifest().logit_scale).unwrap();
            let encoder = ImageEncoder::open(&package, &engine, precision).unwrap();
            let config = WatchConfig {
                status_every_s: 0.0,
                ..WatchConfig::default()
            };
            let mut watch = Watch::new(
                encoder,
                package.manifest().preprocess.clone(),
                labels,
                config,
            )
            .unwrap();
            let mut sink = LastStatus::default();
            for seq in 0..10 {
                watch
                    .process(&frame(format, w, h, bytes, seq), seq * 33, &mut sink)
                    .unwrap();
            }
            watch.status(0, &mut sink);
            for seq in 0..frames {
                watch
                    .process(&frame(format, w, h, bytes, seq), seq * 33, &mut sink)
                    .unwrap();
            }
            watch.status(frames, &mut sink);
            let s = sink.0.expect("a status");
            let overhead = s.decode + s.preprocess + s.matching;
            println!(
                "| edgeclip-tiny (64 px) | {precision} | {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.1}% |",
                s.decode, s.preprocess, s.encode, s.matching, 100.0 * overhead / s.encode
            );
        }
    }
    vit_b32_slice(frames, &jpeg, &packed);
}

/// The ViT-B/32-width slice (CI's) and, where `firmware-tools/bench/int8.sh` has
/// exported it, the real ViT-B/32 image tower: encode time against the frame
/// path at 224 px, matching against 1,000 labels of 512 dimensions.
fn vit_b32_slice(frames: u64, jpeg: &[u8], packed: &[u8]) {
    let slice = root().join("target/scale-slice");
    let real = root().join("target/bench/models/ViT-B-32");
    let mut any = false;
    for (title, dir, file) in [
        ("ViT-B/32-width slice (224 px, 2 layers)", &slice, "slice"),
        ("ViT-B/32 (224 px, random weights)", &real, "image"),
    ] {
        if dir.join(format!("{file}.fp32.onnx")).is_file() {
            vit_rows(title, &dir.join(file), frames, jpeg, packed);
            any = true;
        }
    }
    if !any {
        println!("(ViT-B/32 slice not built: run firmware-tools/test-env.sh)");
    }
}

fn vit_rows(title: &str, stem: &std::path::Path, frames: u64, jpeg: &[u8], packed: &[u8]) {
    let spec = ModelSpec::batched("image", DType::F32, &[3, 224, 224], &["embedding"]);
    let converter = Converter::default();
    let mut pre = Preprocessor::new(PreprocessConfig::openai(224));
    let mut rgb = Vec::new();
    let mut chw = vec![0f32; 3 * 224 * 224];
    let runs = frames.clamp(10, 50);
    let names: Vec<String> = (0..1000).map(|i| format!("label {i}")).collect();
    let rows: Vec<f32> = (0..1000 * 512)
        .map(|i| ((i as f32) * 0.618).sin())
        .collect();
    let rows = Embeddings::from_raw(512, rows).unwrap();
    let mut labels = LabelSet::new(names, rows, 100.0).unwrap();
    for precision in ["fp32", "int8"] {
        let path = stem.with_extension(format!("{precision}.onnx"));
        let mut session = edgeclip_backend_tract::engine(1)
            .load(&path, &spec)
            .unwrap();
        let mut out = Outputs::new();
        session.run(Input::F32(&chw), 1, &mut out).unwrap();
        let t = Instant::now();
        for _ in 0..runs {
            session.run(Input::F32(&chw), 1, &mut out).unwrap();
        }
        let encode = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
        let embedding = out.get(0).unwrap().data.clone();
        let t = Instant::now();
        for _ in 0..runs {
            labels.top_k(&embedding, 5).unwrap();
        }
        let matching = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
        for (name, format, w, h, bytes) in [
            ("640x480 MJPEG", PixelFormat::Mjpeg, 640, 480, jpeg),
            ("640x360 YUYV", PixelFormat::Yuyv, 640, 360, packed),
        ] {
            let f = frame(format, w, h, bytes, 0);
            let t = Instant::now();
            for _ in 0..runs {
                converter.to_rgb8(&f, &mut rgb).unwrap();
            }
            let decode = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
            let t = Instant::now();
            for _ in 0..runs {
                pre.run_into(&rgb, w, h, &mut chw).unwrap();
            }
            let preprocess = t.elapsed().as_secs_f64() * 1e3 / runs as f64;
            println!(
                "| {title} | {precision} | {name} | {decode:.3} | {preprocess:.3} | {encode:.3} | {matching:.3} | {:.1}% |",
                100.0 * (decode + preprocess + matching) / encode
            );
        }
    }
}
