//! A file or stdin source that fails for the machine's sake (EIO, out of
//! descriptors) is read again after a back-off, as a camera is reopened, with a
//! `lost` camera event per fault and `back` with the next frame; a stop during the
//! back-off ends the run at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use edgeclip::embedding::Embeddings;
use edgeclip::encoder::ImageEncoder;
use edgeclip::model::{ModelPackage, Precision};
use edgeclip::zero_shot::LabelSet;
use edgeclip_capture::{CaptureError, ColorSpace, FrameRef, FrameSource, PixelFormat, SourceStats};
use edgeclip_events::{Event, Sink, SinkError};
use edgeclip_pipeline::{Ended, Limits, Watch, WatchConfig};

/// Six grey frames; pulls listed in `faults` fail with EIO instead.
struct Flaky {
    pixels: Vec<u8>,
    pulls: u64,
    delivered: u64,
    faults: Vec<u64>,
    frames: u64,
}

impl FrameSource for Flaky {
    fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, CaptureError> {
        self.pulls += 1;
        if self.faults.contains(&self.pulls) {
            return Err(CaptureError::Io {
                context: "frames/003.png: reading".into(),
                source: std::io::Error::from_raw_os_error(5),
            });
        }
        if self.delivered == self.frames {
            return Ok(None);
        }
        self.delivered += 1;
        Ok(Some(FrameRef {
            width: 32,
            height: 32,
            stride: 0,
            format: PixelFormat::Rgb24,
            color: ColorSpace::default(),
            bytes: &self.pixels,
            sequence: self.delivered,
            timestamp: Duration::from_millis(self.delivered * 100),
        }))
    }

    fn stats(&self) -> SourceStats {
        SourceStats::default()
    }
}

#[derive(Default)]
struct Collect(Vec<Event>);

impl Sink for Collect {
    fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        self.0.push(event.clone());
        Ok(())
    }
}

fn watch() -> Watch {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/edgeclip-tiny");
    let package = ModelPackage::open(dir).unwrap();
    let engine = edgeclip_backend_tract::engine(1);
    let dim = package.manifest().embed_dim;
    let rows: Vec<f32> = (0..2 * dim).map(|i| (i % 7) as f32 - 3.0).collect();
    let labels = LabelSet::new(
        vec!["a".into(), "b".into()],
        Embeddings::from_raw(dim, rows).unwrap(),
        package.manifest().logit_scale,
    )
    .unwrap();
    let encoder = ImageEncoder::open(&package, &engine, Precision::Int8).unwrap();
    let preprocess = package.manifest().preprocess.clone();
    let config = WatchConfig {
        status_every_s: 0.0,
        ..WatchConfig::default()
    };
    let mut watch = Watch::new(encoder, preprocess, labels, config).unwrap();
    watch.set_camera_state("file");
    watch
}

fn camera_states(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Camera(c) => Some(c.state.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_source_fault_is_waited_out_and_reported_lost_then_back() {
    let mut watch = watch();
    let mut source = Flaky {
        pixels: vec![128; 32 * 32 * 3],
        pulls: 0,
        delivered: 0,
        faults: vec![4, 5],
        frames: 6,
    };
    let stop = AtomicBool::new(false);
    let mut sink = Collect::default();
    let ended = watch
        .run_inline(&mut source, Some(10.0), Limits::default(), &stop, &mut sink)
        .unwrap();
    assert_eq!(ended, Ended::SourceEnded);
    assert_eq!(
        watch.totals().frames,
        6,
        "every frame, none lost to the faults"
    );
    assert_eq!(camera_states(&sink.0), ["lost", "lost", "back"]);
}

#[test]
fn a_stop_during_the_back_off_ends_the_run_at_once() {
    let mut watch = watch();
    let mut source = Flaky {
        pixels: vec![128; 32 * 32 * 3],
        pulls: 0,
        delivered: 0,
        faults: (1..1000).collect(),
        frames: 6,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let raise = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let started = Instant::now();
    let mut sink = Collect::default();
    let ended = watch
        .run_inline(&mut source, None, Limits::default(), &stop, &mut sink)
        .unwrap();
    raise.join().unwrap();
    assert_eq!(ended, Ended::Stopped);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(camera_states(&sink.0).iter().all(|s| s == "lost"));
}
