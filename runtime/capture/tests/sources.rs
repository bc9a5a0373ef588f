//! Image-file replay and the newest-frame hand-off between threads.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use edgeclip_capture::{
    mailbox, mailbox_with_spares, pump, CaptureError, Frame, FrameSource, ImageFiles, PixelFormat,
    PumpEnd, Recovery,
};

fn write_png(path: &Path, w: u32, h: u32, value: u8) {
    image::RgbImage::from_pixel(w, h, image::Rgb([value, 255 - value, 7]))
        .save(path)
        .unwrap();
}

#[test]
fn a_directory_replays_in_name_order_and_loops() {
    let dir = tempfile::tempdir().unwrap();
    for (name, v) in [("b.png", 2u8), ("a.png", 1), ("c.PNG", 3)] {
        write_png(&dir.path().join(name), 5, 3, v);
    }
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    image::GrayImage::from_pixel(5, 3, image::Luma([9]))
        .save(dir.path().join("d.jpg"))
        .unwrap();
    let mut src = ImageFiles::open(dir.path()).unwrap().looped(true);
    assert_eq!(src.paths().len(), 4);
    let mut seen = Vec::new();
    for i in 0..9u64 {
        let f = src.next_frame().unwrap().unwrap();
        assert_eq!(
            (f.width, f.height, f.format, f.sequence),
            (5, 3, PixelFormat::Rgb24, i)
        );
        assert_eq!(f.bytes.len(), 5 * 3 * 3);
        seen.push(f.bytes[0]);
    }
    // a, b, c (PNG), then the grey JPEG (≈9 in every channel), looped.
    assert_eq!(&seen[..3], &[1, 2, 3]);
    assert!(seen[3].abs_diff(9) <= 2, "{seen:?}");
    assert_eq!(&seen[4..7], &[1, 2, 3]);
    assert_eq!(src.stats().delivered, 9);
}

#[test]
fn a_glob_or_a_file_without_loop_ends() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3u8 {
        write_png(&dir.path().join(format!("f{i}.png")), 2, 2, i);
    }
    let mut src = ImageFiles::open(dir.path().join("f[12].png")).unwrap();
    assert_eq!(src.next_frame().unwrap().unwrap().bytes[0], 1);
    assert_eq!(src.next_frame().unwrap().unwrap().bytes[0], 2);
    assert!(src.next_frame().unwrap().is_none());
    let mut one = ImageFiles::open(dir.path().join("f0.png")).unwrap();
    assert!(one.next_frame().unwrap().is_some());
    assert!(one.next_frame().unwrap().is_none());
}

#[test]
fn missing_and_bad_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = ImageFiles::open(dir.path().join("nope.png")).unwrap_err();
    assert!(matches!(e, CaptureError::NotFound { .. }), "{e}");
    let e = ImageFiles::open(dir.path()).unwrap_err();
    assert!(e.to_string().contains("no image files"), "{e}");
    std::fs::write(dir.path().join("a.png"), b"not a png").unwrap();
    write_png(&dir.path().join("b.png"), 2, 2, 5);
    let mut src = ImageFiles::open(dir.path()).unwrap();
    let e = src.next_frame().unwrap_err();
    assert!(
        matches!(e, CaptureError::BadImage { .. }) && e.to_string().contains("a.png"),
        "{e}"
    );
    assert_eq!(e.recovery(), Recovery::Skip);
    // The loop goes on with the next file.
    assert_eq!(src.next_frame().unwrap().unwrap().bytes[0], 5);
    assert_eq!((src.stats().delivered, src.stats().bad), (1, 1));
}

#[test]
fn fps_paces_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    write_png(&dir.path().join("a.png"), 2, 2, 1);
    let mut src = ImageFiles::open(dir.path())
        .unwrap()
        .looped(true)
        .with_fps(Some(50.0));
    let start = Instant::now();
    for _ in 0..6 {
        src.next_frame().unwrap().unwrap();
    }
    // Frames 0..5 are due at 0, 20, …, 100 ms.
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(95), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// A source that counts up as fast as it is asked, with a 1-byte payload.
struct Counter {
    next: u64,
    end: u64,
    buf: [u8; 8],
}

impl FrameSource for Counter {
    fn next_frame(&mut self) -> Result<Option<edgeclip_capture::FrameRef<'_>>, CaptureError> {
        if self.next == self.end {
            return Ok(None);
        }
        self.buf = self.next.to_le_bytes();
        let f = edgeclip_capture::FrameRef {
            width: 1,
            height: 1,
            stride: 0,
            format: PixelFormat::Rgb24,
            color: Default::default(),
            bytes: &self.buf[..3],
            sequence: self.next,
            timestamp: Duration::ZERO,
        };
        self.next += 1;
        Ok(Some(f))
    }
    fn stats(&self) -> edgeclip_capture::SourceStats {
        Default::default()
    }
}

#[test]
fn fast_producer_slow_consumer_gets_the_newest_frame_and_exact_drop_counts() {
    const N: u64 = 200_000;
    // Three spares: room for every buffer the run ever makes (one in the slot, one
    // being read, one being filled), so none is freed and allocated again, and the
    // count of distinct buffers below is the count of allocations, whatever the
    // allocator does with freed memory while other tests run.
    let (tx, rx) = mailbox_with_spares::<Frame>(3);
    let done = Arc::new(AtomicBool::new(false));
    let producer = {
        let done = done.clone();
        thread::spawn(move || {
            let mut src = Counter {
                next: 0,
                end: N,
                buf: [0; 8],
            };
            let end = pump(&mut src, &tx).unwrap();
            done.store(true, Ordering::SeqCst);
            (end, tx.stats())
        })
    };
    let mut received = Vec::new();
    let mut buffers = std::collections::HashSet::new();
    while let Some(frame) = rx.recv() {
        // Each frame received is newer than the last, and no older than anything the
        // producer had published when we took it (the slot holds only the newest).
        if let Some(&last) = received.last() {
            assert!(frame.sequence > last);
        }
        received.push(frame.sequence);
        buffers.insert(frame.bytes.as_ptr() as usize);
        thread::sleep(Duration::from_micros(200));
        rx.recycle(frame);
    }
    let (end, at_end) = producer.join().unwrap();
    assert_eq!(end, PumpEnd::SourceEnded);
    assert!(done.load(Ordering::SeqCst));
    // The consumer may take the last frame after the producer's snapshot.
    let stats = rx.stats();
    assert_eq!(
        (at_end.published, at_end.dropped),
        (stats.published, stats.dropped)
    );
    assert_eq!(stats.published, N);
    assert_eq!(stats.received, received.len() as u64);
    assert_eq!(stats.received + stats.dropped, N, "{stats:?}");
    // The last frame published is always delivered: nothing newer replaced it.
    assert_eq!(*received.last().unwrap(), N - 1);
    assert!(
        stats.dropped > 0 && received.len() < N as usize / 2,
        "{stats:?}"
    );
    // Buffers are recycled: a new one is made only when no spare is free, that is
    // while the others are in the slot and being read, so three in all, however
    // many frames went through.
    assert!(buffers.len() <= 3, "{} distinct buffers", buffers.len());
    println!(
        "mailbox: {N} published, {} received, {} dropped, {} buffers",
        stats.received,
        stats.dropped,
        buffers.len()
    );
}

#[test]
fn slow_producer_fast_consumer_drops_nothing() {
    // "Slow" without timing: the producer publishes the next frame only once the
    // consumer has taken the last one (a sleep would depend on the scheduler).
    let (tx, rx) = mailbox::<Frame>();
    let (taken_tx, taken_rx) = std::sync::mpsc::channel::<()>();
    let producer = thread::spawn(move || {
        for i in 0..50u64 {
            let mut f = tx.take_spare().unwrap_or_default();
            f.sequence = i;
            tx.publish(f).unwrap();
            taken_rx.recv().unwrap();
        }
    });
    let mut got = Vec::new();
    while let Some(f) = rx.recv() {
        got.push(f.sequence);
        rx.recycle(f);
        if taken_tx.send(()).is_err() {
            break;
        }
    }
    producer.join().unwrap();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    assert_eq!(rx.stats().dropped, 0);
}
