//! The human text printer. Its lines are what `edgeclip` printed before records
//! existed: scripts and tests grep them, so a change here is a visible change.

use std::fmt::Display;
use std::io::{self, Write};

use edgeclip_events::Event;

use super::{
    BackendInfo, DepthReport, DoctorReport, ModelInfo, PointClassification, Record, StoreAction,
    StoreInfo, StoreWritten,
};

/// Writes records as plain text, a few lines each.
pub struct TextPrinter<W> {
    out: W,
}

impl<W: Write> TextPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W) -> Self {
        Self { out }
    }

    /// Writes `record`, then flushes.
    pub fn print(&mut self, record: &Record<'_>) -> io::Result<()> {
        let w = &mut self.out;
        match record {
            Record::Classification { path, top } => {
                writeln!(w, "{path}")?;
                for m in top {
                    writeln!(w, "  {:.3}  {}", m.probability, m.label)?;
                }
            }
            Record::Tags { path, tags, passed } => {
                writeln!(w, "{path}")?;
                for t in tags {
                    writeln!(w, "  {:.3}  {}", t.score, t.label)?;
                }
                if *passed > tags.len() {
                    writeln!(w, "  ... {} more passed", passed - tags.len())?;
                }
            }
            Record::Label {
                label,
                group,
                threshold,
                ..
            } => label_line(w, label, *group, *threshold)?,
            Record::Embedding { input, embedding } => {
                write!(w, "{input}\t")?;
                spaced(w, embedding.iter().map(|v| format!("{v:.6}")))?;
            }
            Record::Tokens { ids, .. } => spaced(w, ids.iter())?,
            Record::Check {
                output,
                rows,
                min_cosine,
                mean_cosine,
                floor,
                passed,
            } => writeln!(
                w,
                "{output:<20} {rows:>5} rows  min cosine {min_cosine:.8}  mean {mean_cosine:.8}  floor {floor}  {}",
                if *passed { "ok" } else { "FAILED" }
            )?,
            Record::PointClassification(p) => point_classification(w, p)?,
            Record::Depth(d) => depth(w, d)?,
            Record::ModelInfo(info) => model_info(w, info)?,
            Record::StoreInfo(info) => store_info(w, info)?,
            Record::StoreWritten(s) => store_written(w, s)?,
            Record::Backend(b) => backend(w, b)?,
            // People read errors on stderr, where `Printer::report_error` put them;
            // repeating them on stdout would mix them into the results.
            Record::Doctor(report) => doctor(w, report)?,
            Record::Serving {
                address,
                token,
                source,
            } => writeln!(
                w,
                "serving on http://{address} ({}; frames: {source})",
                if *token { "bearer token required" } else { "no token" }
            )?,
            Record::Error { .. } => return Ok(()),
            Record::Event(e) => event(w, e)?,
        }
        self.out.flush()
    }

    /// The writer back (tests read what was printed).
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// One line per watch event.
fn event(w: &mut impl Write, e: &Event) -> io::Result<()> {
    match e {
        Event::Appeared(p) => writeln!(
            w,
            "appeared  {}  {:.3}  frame {} ({:.2} s)",
            p.label,
            p.score,
            p.first_frame,
            p.first_seen_ms as f64 / 1e3
        ),
        Event::Left(p) => writeln!(
            w,
            "left      {}  {:.3}  seen frames {}-{} ({:.2}-{:.2} s)",
            p.label,
            p.score,
            p.first_frame,
            p.last_frame,
            p.first_seen_ms as f64 / 1e3,
            p.last_seen_ms as f64 / 1e3
        ),
        Event::Status(s) => {
            let m = &s.stage_ms;
            writeln!(
                w,
                "status    {:.1} fps in, {:.1} fps out, {} frames, {} dropped, {} bad; \
                 ms: wait {:.2} decode {:.2} preprocess {:.2} encode {:.2} match {:.2}; \
                 camera {}; present: {}",
                s.fps_in,
                s.fps_out,
                s.frames,
                s.dropped,
                s.bad,
                m.capture_wait,
                m.decode,
                m.preprocess,
                m.encode,
                m.matching,
                s.camera,
                if s.present.is_empty() {
                    "none".to_owned()
                } else {
                    s.present.join(", ")
                }
            )
        }
        Event::Camera(c) => writeln!(w, "camera    {} {}: {}", c.device, c.state, c.detail),
    }
}

/// One label as a label-list line: tab-separated, so the output reads back as one.
fn label_line(
    w: &mut impl Write,
    label: &str,
    group: Option<&str>,
    threshold: Option<f32>,
) -> io::Result<()> {
    write!(w, "{label}")?;
    if group.is_some() || threshold.is_some() {
        write!(w, "\t{}", group.unwrap_or(""))?;
        if let Some(t) = threshold {
            write!(w, "\t{t}")?;
        }
    }
    writeln!(w)
}

/// The values on one line, separated by single spaces.
fn spaced(w: &mut impl Write, values: impl Iterator<Item = impl Display>) -> io::Result<()> {
    for (i, v) in values.enumerate() {
        let sep = if i == 0 { "" } else { " " };
        write!(w, "{sep}{v}")?;
    }
    writeln!(w)
}

/// One backend: available or why not, and whether it is the one selected.
fn backend(w: &mut impl Write, b: &BackendInfo) -> io::Result<()> {
    if b.available {
        write!(w, "{}  available", b.name)?;
    } else {
        let reason = b.reason.as_deref().unwrap_or("unknown reason");
        write!(w, "{}  unavailable: {reason}", b.name)?;
    }
    if b.selected {
        write!(w, "  (selected)")?;
    }
    writeln!(w)
}

fn point_classification(w: &mut impl Write, p: &PointClassification<'_>) -> io::Result<()> {
    writeln!(
        w,
        "{}  ({} points{}, {}, {} views; ms: read {:.1} project {:.1} encode {:.1})",
        p.path,
        p.points,
        if p.projected_points < p.points {
            format!(", {} projected", p.projected_points)
        } else {
            String::new()
        },
        p.projection,
        p.views,
        p.read_ms,
        p.project_ms,
        p.encode_ms
    )?;
    for m in &p.top {
        writeln!(w, "  {:.3}  {}", m.probability, m.label)?;
    }
    if let Some(dir) = &p.views_dir {
        writeln!(w, "  views in {dir}")?;
    }
    Ok(())
}

fn depth(w: &mut impl Write, d: &DepthReport<'_>) -> io::Result<()> {
    writeln!(
        w,
        "{}  ({}x{}{}; ms: decode {:.1} encode {:.1} depth {:.1})",
        d.path,
        d.width,
        d.height,
        if d.flip { ", flip-averaged" } else { "" },
        d.decode_ms,
        d.encode_ms,
        d.depth_ms
    )?;
    writeln!(w, "  scene  {:.3} m", d.scene_m)?;
    writeln!(
        w,
        "  map    min {:.3} m, median {:.3} m, max {:.3} m, mean {:.3} m",
        d.min_m, d.median_m, d.max_m, d.mean_m
    )?;
    for file in [&d.depth_png, &d.preview_png].into_iter().flatten() {
        writeln!(w, "  wrote  {file}")?;
    }
    Ok(())
}

fn model_info(w: &mut impl Write, m: &ModelInfo) -> io::Result<()> {
    writeln!(w, "{} ({}) at {}", m.name, m.family, m.dir)?;
    if !m.description.is_empty() {
        writeln!(w, "  {}", m.description)?;
    }
    writeln!(
        w,
        "  embedding dim {}, logit scale {:.2}",
        m.embed_dim, m.logit_scale
    )?;
    writeln!(
        w,
        "  image {}x{} ({:?}, {:?}), text context {}",
        m.image_size, m.image_size, m.interpolation, m.resize_mode, m.context_length
    )?;
    for f in &m.files {
        // Files made for one backend name it, like `FileEntry::describe`.
        let precision = match (&f.backend, &f.soc) {
            (None, _) => f.precision.clone(),
            (Some(b), None) => format!("{} for {b}", f.precision),
            (Some(b), Some(soc)) => format!("{} for {b} on {soc}", f.precision),
        };
        writeln!(
            w,
            "  {:5} {:5} {:24} {}",
            f.tower, precision, f.path, f.status
        )?;
    }
    Ok(())
}

fn store_info(w: &mut impl Write, s: &StoreInfo) -> io::Result<()> {
    writeln!(w, "{}", s.path)?;
    writeln!(
        w,
        "  labels       {} ({} with a group, {} with a threshold)",
        s.labels, s.labels_with_group, s.labels_with_threshold
    )?;
    writeln!(w, "  rows         {} × {}", s.dtype, s.dim)?;
    writeln!(w, "  size         {} bytes", s.bytes)?;
    writeln!(
        w,
        "  model        {} (text file sha256 {})",
        s.model, s.text_sha256
    )?;
    writeln!(w, "  tokenizer    {}", s.tokenizer)?;
    writeln!(
        w,
        "  templates    {}: {}",
        s.templates.len(),
        template_summary(&s.templates)
    )?;
    writeln!(w, "  this model   {}", s.model_status)
}

fn store_written(w: &mut impl Write, s: &StoreWritten) -> io::Result<()> {
    match s.action {
        StoreAction::Build => {
            let secs = s.encode_seconds.unwrap_or(0.0);
            writeln!(
                w,
                "{}: {} labels × {} template(s), {} rows of {}, {} bytes; encoded in {secs:.1} s ({:.0} labels/s)",
                s.path,
                s.added,
                s.templates,
                s.dtype,
                s.dim,
                s.bytes,
                s.added as f64 / secs.max(1e-9)
            )
        }
        StoreAction::Add => writeln!(w, "{}: added {}, {} labels now", s.path, s.added, s.labels),
        StoreAction::Remove => writeln!(
            w,
            "{}: removed {}, {} labels left",
            s.path, s.removed, s.labels
        ),
    }
}

/// The first few templates, quoted: the imagenet set has 80.
fn template_summary(templates: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = templates
        .iter()
        .take(SHOWN)
        .map(|t| format!("{t:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if templates.len() > SHOWN {
        s.push_str(", ...");
    }
    s
}

/// `doctor`'s report as a few aligned sections.
fn doctor(w: &mut impl Write, r: &DoctorReport) -> io::Result<()> {
    writeln!(w, "board     {} ({})", r.board.name, r.board.title)?;
    writeln!(w, "          why: {}", r.board.reason)?;
    writeln!(
        w,
        "          backend order: {}; threads: {}",
        r.board.backend_order.join(", "),
        r.board.threads
    )?;
    let model = r.cpu.model.as_deref().unwrap_or("");
    writeln!(w, "cpu       {} {model}", r.cpu.arch)?;
    writeln!(w, "          features: {}", r.cpu.features.join(" "))?;
    if !r.cpu.missing.is_empty() {
        writeln!(
            w,
            "          missing what the profile expects: {}",
            r.cpu.missing.join(" ")
        )?;
    }
    for b in &r.backends {
        let state = if b.available {
            format!("available on {}", b.devices.join(", "))
        } else {
            format!(
                "not available: {}",
                b.reason.as_deref().unwrap_or("unknown reason")
            )
        };
        let selected = if b.selected { "  (selected)" } else { "" };
        writeln!(w, "backend   {:<9} {state}{selected}", b.name)?;
        if let Some(library) = &b.library {
            writeln!(w, "          library: {library}")?;
        }
    }
    if r.cameras.is_empty() {
        writeln!(w, "camera    none (no /dev/video*)")?;
    }
    for c in &r.cameras {
        match &c.error {
            Some(e) => writeln!(w, "camera    {}  {e}", c.device)?,
            None => {
                let formats: Vec<String> = c
                    .formats
                    .iter()
                    .map(|f| {
                        if c.usable.contains(f) {
                            format!("{f}*")
                        } else {
                            f.clone()
                        }
                    })
                    .collect();
                writeln!(
                    w,
                    "camera    {}  {} ({})  formats: {}",
                    c.device,
                    c.card.as_deref().unwrap_or("?"),
                    c.driver.as_deref().unwrap_or("?"),
                    formats.join(" ")
                )?;
            }
        }
    }
    for t in &r.self_test {
        let device = t.device.as_deref().unwrap_or("");
        match &t.error {
            Some(e) => writeln!(w, "self-test {:<9} {} failed: {e}", t.backend, t.precision)?,
            None => {
                let worst = t
                    .outputs
                    .iter()
                    .map(|o| o.min_cosine)
                    .fold(f64::INFINITY, f64::min);
                let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2} ms"));
                writeln!(
                    w,
                    "self-test {:<9} {} {device}  {}  min cosine {worst:.6} over {} outputs; image {}, text {}",
                    t.backend,
                    t.precision,
                    if t.passed { "ok" } else { "FAILED" },
                    t.outputs.len(),
                    ms(t.image_ms),
                    ms(t.text_ms)
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{LabelScore, TagScore};
    use super::*;

    fn text(record: &Record<'_>) -> String {
        let mut p = TextPrinter::new(Vec::new());
        p.print(record).unwrap();
        String::from_utf8(p.into_inner()).unwrap()
    }

    #[test]
    fn lines_are_the_historic_ones() {
        let top = vec![LabelScore {
            label: "red circle",
            probability: 0.98765,
            logit: 20.0,
        }];
        assert_eq!(
            text(&Record::Classification { path: "a.png", top }),
            "a.png\n  0.988  red circle\n"
        );
        let tags = vec![TagScore {
            label: "red",
            score: 0.5,
            logit: 1.0,
        }];
        assert_eq!(
            text(&Record::Tags {
                path: "a.png",
                tags,
                passed: 3
            }),
            "a.png\n  0.500  red\n  ... 2 more passed\n"
        );
        let label = |group, threshold| {
            text(&Record::Label {
                index: 0,
                label: "mug",
                group,
                threshold,
            })
        };
        assert_eq!(label(None, None), "mug\n");
        assert_eq!(label(Some("kitchen"), None), "mug\tkitchen\n");
        assert_eq!(label(None, Some(0.6)), "mug\t\t0.6\n");
        assert_eq!(
            text(&Record::Embedding {
                input: "x",
                embedding: &[0.5, -0.25]
            }),
            "x\t0.500000 -0.250000\n"
        );
        assert_eq!(
            text(&Record::Tokens {
                text: "x",
                ids: &[49406, 49407, 0]
            }),
            "49406 49407 0\n"
        );
    }

    #[test]
    fn point_and_depth_records_read_as_documented() {
        let top = vec![LabelScore {
            label: "cube",
            probability: 0.9,
            logit: 20.0,
        }];
        assert_eq!(
            text(&Record::PointClassification(PointClassification {
                path: "a.ply",
                points: 2048,
                projected_points: 1024,
                projection: "v1",
                views: 6,
                top,
                views_dir: Some("v".into()),
                read_ms: 1.0,
                project_ms: 0.5,
                encode_ms: 9.26,
            })),
            "a.ply  (2048 points, 1024 projected, v1, 6 views; ms: read 1.0 project 0.5 encode 9.3)\n  \
             0.900  cube\n  views in v\n"
        );
        let report = DepthReport {
            path: "a.png",
            width: 64,
            height: 48,
            scene_m: 2.25,
            min_m: 1.0,
            median_m: 2.5,
            max_m: 3.0,
            mean_m: 2.0,
            flip: true,
            scale: 20.0,
            depth_png: Some("o/a.depth.png".into()),
            preview_png: Some("o/a.preview.png".into()),
            decode_ms: 0.26,
            encode_ms: 4.0,
            depth_ms: 1.0,
        };
        assert_eq!(
            text(&Record::Depth(report)),
            "a.png  (64x48, flip-averaged; ms: decode 0.3 encode 4.0 depth 1.0)\n  \
             scene  2.250 m\n  \
             map    min 1.000 m, median 2.500 m, max 3.000 m, mean 2.000 m\n  \
             wrote  o/a.depth.png\n  wrote  o/a.preview.png\n"
        );
    }

    #[test]
    fn store_edits_read_as_before() {
        let written = |action, added, removed| StoreWritten {
            action,
            path: "s.emb".into(),
            labels: 5,
            added,
            removed,
            templates: 1,
            dtype: "f16",
            dim: 128,
            bytes: 2048,
            encode_seconds: (action == StoreAction::Build).then_some(2.0),
        };
        assert_eq!(
            text(&Record::StoreWritten(written(StoreAction::Build, 5, 0))),
            "s.emb: 5 labels × 1 template(s), f16 rows of 128, 2048 bytes; encoded in 2.0 s (2 labels/s)\n"
        );
        assert_eq!(
            text(&Record::StoreWritten(written(StoreAction::Add, 2, 0))),
            "s.emb: added 2, 5 labels now\n"
        );
        assert_eq!(
            text(&Record::StoreWritten(written(StoreAction::Remove, 0, 1))),
            "s.emb: removed 1, 5 labels left\n"
        );
    }

    #[test]
    fn summary_shows_three_templates() {
        let t: Vec<String> = (0..5).map(|i| format!("t{i} {{}}")).collect();
        assert_eq!(template_summary(&t), "\"t0 {}\", \"t1 {}\", \"t2 {}\", ...");
    }
}
