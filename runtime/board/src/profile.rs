//! A board profile: what a board is (target, CPU features) and how to run on it
//! (backends, threads, camera, GPIO, memory). The schema is described in
//! `boards/README.md`; [`Profile::parse`] reads and checks one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::cpu::Feature;
use crate::BoardError;

/// Camera pixel formats a profile may ask for: the V4L2 fourccs edgeclip converts.
pub const PIXEL_FORMATS: [&str; 4] = ["YUYV", "NV12", "RGB3", "MJPG"];

/// One board profile, as in `boards/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, as `--board` takes it (`rpi5`); the file's stem for shipped profiles.
    pub name: String,
    /// Human-readable name (`Raspberry Pi 5 (BCM2712, 4x Cortex-A76)`).
    pub title: String,
    /// The Rust target triple to build for (`aarch64-unknown-linux-gnu`).
    pub target: String,
    /// Features every CPU of the board has, by rustc `target_feature` name.
    #[serde(default)]
    pub cpu_features: Vec<Feature>,
    /// How to recognize the board.
    pub detect: Detect,
    /// Which inference backends to try, in order, and their settings.
    pub backends: Backends,
    /// Inference threads and the cores they run on.
    #[serde(default)]
    pub threads: Threads,
    /// Camera defaults.
    pub camera: Camera,
    /// GPIO lines for status outputs; `None` where the board has no GPIO header.
    #[serde(default)]
    pub gpio: Option<Gpio>,
    /// Memory the runtime may use.
    pub memory: Memory,
}

/// How detection recognizes a board. A profile without `compatible`, `model` or
/// `cpu_model` entries is generic: it matches by architecture alone, as a fallback.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detect {
    /// The architecture, as `std::env::consts::ARCH` names it (`aarch64`, `x86_64`).
    pub arch: String,
    /// Exact entries of `/proc/device-tree/compatible` (`brcm,bcm2712`, `rockchip,rk3588`).
    #[serde(default)]
    pub compatible: Vec<String>,
    /// Words in `/proc/device-tree/model` (`Raspberry Pi 5`).
    #[serde(default)]
    pub model: Vec<String>,
    /// Words in `/proc/cpuinfo`'s `model name` (`N100` in `Intel(R) N100`).
    #[serde(default)]
    pub cpu_model: Vec<String>,
}

impl Detect {
    /// Whether this is a fallback by architecture, with no board evidence to match.
    pub fn is_generic(&self) -> bool {
        self.compatible.is_empty() && self.model.is_empty() && self.cpu_model.is_empty()
    }
}

/// Backend preference and per-backend settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Backends {
    /// Backend names, most preferred first; the runtime takes the first that
    /// can run here (names a build lacks are passed over).
    pub order: Vec<String>,
    /// Each backend's own table (`[backends.openvino]`), as written: the
    /// backend's crate reads and validates it, this crate only checks that the
    /// backend is in `order`.
    #[serde(flatten)]
    pub settings: BTreeMap<String, toml::Table>,
}

/// Inference threads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threads {
    /// Threads to run; `None`: as many as `cores` lists, or one per available core
    /// when `cores` is empty too.
    pub count: Option<usize>,
    /// CPU numbers to run the threads on, fastest first (big cores before little ones);
    /// empty: no pinning.
    #[serde(default)]
    pub cores: Vec<usize>,
}

impl Threads {
    /// The number of threads to run on a host with `available` cores free to this process.
    pub fn resolved_count(&self, available: usize) -> usize {
        match (self.count, self.cores.len()) {
            (Some(count), _) => count,
            (None, 0) => available.max(1),
            (None, listed) => listed,
        }
    }
}

/// Camera defaults (command-line flags override them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Camera {
    /// The V4L2 device (`/dev/video0`).
    pub device: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// A fourcc from [`PIXEL_FORMATS`]; `None`: the first the camera offers in
    /// edgeclip's order of preference.
    #[serde(default)]
    pub pixel_format: Option<String>,
}

/// GPIO outputs on the board's header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gpio {
    /// The GPIO character device (`/dev/gpiochip0`).
    pub chip: String,
    /// Line offsets on that chip.
    pub lines: GpioLines,
}

/// The lines of [`Gpio`], as offsets on its chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioLines {
    /// Active while the runtime is up and seeing frames (a green LED).
    pub ok: u32,
    /// Active while a watched label is present (a red LED, a relay, a buzzer).
    pub alert: u32,
}

/// Memory limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// The most the runtime should hold (models, label store, frame buffers), in MiB.
    pub budget_mb: u32,
}

impl Profile {
    /// Reads and checks a profile from TOML `text`; `file` names it in errors (a path,
    /// or the shipped file's name).
    pub fn parse(file: &str, text: &str) -> Result<Profile, BoardError> {
        let profile: Profile = toml::from_str(text).map_err(|e| BoardError::Parse {
            file: file.to_owned(),
            message: match e.span() {
                Some(span) => {
                    let (line, column) = line_column(text, span.start);
                    format!("line {line}, column {column}: {}", e.message().trim_end())
                }
                None => e.message().trim_end().to_owned(),
            },
        })?;
        let problems = profile.problems();
        if problems.is_empty() {
            Ok(profile)
        } else {
            Err(BoardError::Invalid {
                file: file.to_owned(),
                message: problems.join("; "),
            })
        }
    }

    /// Whether the profile is a fallback by architecture ([`Detect::is_generic`]).
    pub fn is_generic(&self) -> bool {
        self.detect.is_generic()
    }

    /// Every rule the profile breaks, each naming its key; empty when it is valid.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut problem = |message: String| problems.push(message);
        self.identity_problems(&mut problem);
        self.detect_problems(&mut problem);
        self.backend_problems(&mut problem);
        self.thread_problems(&mut problem);
        self.camera_problems(&mut problem);
        if let Some(gpio) = &self.gpio {
            if gpio.chip.trim().is_empty() {
                problem("gpio.chip is empty".into());
            }
            if gpio.lines.ok == gpio.lines.alert {
                problem(format!(
                    "gpio.lines: ok and alert are both line {}",
                    gpio.lines.ok
                ));
            }
        }
        if self.memory.budget_mb == 0 {
            problem("memory.budget_mb must be at least 1".into());
        }
        problems
    }

    /// `name` and `title`.
    fn identity_problems(&self, problem: &mut impl FnMut(String)) {
        let name_ok = self
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if self.name.is_empty() || !name_ok {
            problem(format!(
                "name {:?} must be lowercase letters, digits, '-' and '_'",
                self.name
            ));
        }
        if self.title.trim().is_empty() {
            problem("title is empty".into());
        }
    }

    /// `[detect]`, the `target` triple and `cpu_features`, which must agree on
    /// the architecture.
    fn detect_problems(&self, problem: &mut impl FnMut(String)) {
        let arch = self.detect.arch.as_str();
        if arch.is_empty() {
            problem("detect.arch is empty".into());
        }
        let target_arch = self.target.split('-').next().map(triple_arch);
        if self.target.split('-').count() < 3 || target_arch != Some(arch) {
            problem(format!(
                "target {:?} is not a target triple for detect.arch {arch:?}",
                self.target
            ));
        }
        for (key, patterns) in [
            ("compatible", &self.detect.compatible),
            ("model", &self.detect.model),
            ("cpu_model", &self.detect.cpu_model),
        ] {
            if patterns.iter().any(|p| p.trim().is_empty()) {
                // An empty pattern would match every host.
                problem(format!("detect.{key} has an empty entry"));
            }
        }
        for feature in &self.cpu_features {
            if !feature.is_for_arch(arch) {
                problem(format!(
                    "cpu_features: {feature} is not a feature of {arch}"
                ));
            }
        }
        if let Some(repeated) = first_repeat(&self.cpu_features) {
            problem(format!("cpu_features lists {repeated} twice"));
        }
    }

    /// `[threads]`.
    fn thread_problems(&self, problem: &mut impl FnMut(String)) {
        if self.threads.count == Some(0) {
            problem("threads.count must be at least 1".into());
        }
        if let Some(repeated) = first_repeat(&self.threads.cores) {
            problem(format!("threads.cores lists cpu {repeated} twice"));
        }
        if let Some(count) = self.threads.count {
            if !self.threads.cores.is_empty() && count > self.threads.cores.len() {
                problem(format!(
                    "threads.count {count} is more than the {} threads.cores listed",
                    self.threads.cores.len()
                ));
            }
        }
    }

    /// `[camera]`.
    fn camera_problems(&self, problem: &mut impl FnMut(String)) {
        let camera = &self.camera;
        if camera.device.trim().is_empty() {
            problem("camera.device is empty".into());
        }
        for (key, value) in [
            ("width", camera.width),
            ("height", camera.height),
            ("fps", camera.fps),
        ] {
            if value == 0 {
                problem(format!("camera.{key} must be at least 1"));
            }
        }
        if let Some(format) = &camera.pixel_format {
            if !PIXEL_FORMATS.contains(&format.as_str()) {
                problem(format!(
                    "camera.pixel_format {format:?} is not one of {}",
                    PIXEL_FORMATS.join(", ")
                ));
            }
        }
    }

    fn backend_problems(&self, problem: &mut impl FnMut(String)) {
        let backends = &self.backends;
        if backends.order.is_empty() {
            problem("backends.order is empty".into());
        }
        if let Some(repeated) = first_repeat(&backends.order) {
            problem(format!("backends.order lists {repeated} twice"));
        }
        for name in backends.settings.keys() {
            if !backends.order.contains(name) {
                problem(format!(
                    "[backends.{name}] is set but backends.order does not list {name}"
                ));
            }
        }
    }
}

/// The `std::env::consts::ARCH` name of a target triple's first component.
fn triple_arch(first: &str) -> &str {
    match first {
        "i586" | "i686" => "x86",
        _ if first.starts_with("armv") => "arm",
        _ => first,
    }
}

fn first_repeat<T: Ord + Clone>(items: &[T]) -> Option<T> {
    let mut seen = BTreeSet::new();
    items.iter().find(|item| !seen.insert(*item)).cloned()
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"
name = "test-board"
title = "Test board"
target = "aarch64-unknown-linux-gnu"
cpu_features = ["neon", "dotprod"]

[detect]
arch = "aarch64"
model = ["Test Board"]

[backends]
order = ["rknn", "tract"]

[backends.rknn]
soc = "rk3588"
core_mask = "0_1_2"

[threads]
count = 2
cores = [4, 5, 6]

[camera]
device = "/dev/video0"
width = 640
height = 480
fps = 30
pixel_format = "YUYV"

[gpio]
chip = "/dev/gpiochip1"
lines = { ok = 3, alert = 4 }

[memory]
budget_mb = 512
"#;

    fn parse(text: &str) -> Result<Profile, BoardError> {
        Profile::parse("test.toml", text)
    }

    /// The error message of `VALID` with `from` replaced by `to`.
    fn error_with(from: &str, to: &str) -> String {
        assert!(VALID.contains(from), "{from:?} is not in the test profile");
        match parse(&VALID.replacen(from, to, 1)) {
            Ok(_) => panic!("replacing {from:?} with {to:?} still parses"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_valid_profile_parses_into_its_fields() {
        let profile = parse(VALID).expect("valid");
        assert_eq!(profile.name, "test-board");
        assert_eq!(profile.cpu_features, [Feature::Neon, Feature::Dotprod]);
        assert!(!profile.is_generic());
        let rknn = &profile.backends.settings["rknn"];
        assert_eq!(rknn["core_mask"].as_str(), Some("0_1_2"));
        assert_eq!(profile.threads.resolved_count(8), 2);
        assert_eq!(profile.gpio.map(|g| g.lines.alert), Some(4));
        assert_eq!(profile.memory.budget_mb, 512);
    }

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let message = error_with("budget_mb = 512", "budget_mb = 512\nbudget_gb = 1");
        assert!(
            message.starts_with("test.toml: invalid board profile: line "),
            "{message}"
        );
        assert!(message.contains("budget_gb"), "{message}");
    }

    #[test]
    fn unknown_feature_names_list_the_known_ones() {
        let message = error_with(r#""dotprod"]"#, r#""asimddp"]"#);
        assert!(
            message.contains("asimddp") && message.contains("dotprod"),
            "{message}"
        );
    }

    #[test]
    fn features_of_another_arch_are_errors() {
        let message = error_with(r#""dotprod"]"#, r#""avx2"]"#);
        assert!(
            message.contains("avx2 is not a feature of aarch64"),
            "{message}"
        );
    }

    #[test]
    fn threads_rules() {
        assert!(error_with("count = 2", "count = 0").contains("threads.count must be at least 1"));
        assert!(error_with("[4, 5, 6]", "[4, 5, 4]").contains("cpu 4 twice"));
        assert!(error_with("count = 2", "count = 4").contains("more than the 3 threads.cores"));
    }

    #[test]
    fn threads_count_defaults() {
        let listed = Threads {
            count: None,
            cores: vec![4, 5, 6, 7],
        };
        assert_eq!(listed.resolved_count(8), 4);
        assert_eq!(Threads::default().resolved_count(8), 8);
        assert_eq!(Threads::default().resolved_count(0), 1);
    }

    #[test]
    fn backend_rules() {
        assert!(error_with(r#"["rknn", "tract"]"#, "[]").contains("backends.order is empty"));
        assert!(error_with(r#""tract"]"#, r#""rknn"]"#).contains("lists rknn twice"));
        assert!(error_with(r#"["rknn", "tract"]"#, r#"["tract"]"#)
            .contains("[backends.rknn] is set but backends.order does not list rknn"));
    }

    /// What a backend's table says is the backend crate's to judge (its
    /// factory's tests); the profile keeps the table as written.
    #[test]
    fn backend_tables_are_kept_for_their_backend() {
        let text = VALID.replacen(
            "core_mask = \"0_1_2\"",
            "core_mask = \"0_1_2\"\nlibrary = \"/opt/rknn\"",
            1,
        );
        let profile = parse(&text).expect("valid");
        assert_eq!(
            profile.backends.settings["rknn"]["library"].as_str(),
            Some("/opt/rknn")
        );
    }

    #[test]
    fn target_must_match_arch() {
        assert!(
            error_with("aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu")
                .contains("not a target triple for detect.arch \"aarch64\"")
        );
        assert!(error_with("aarch64-unknown-linux-gnu", "aarch64").contains("not a target triple"));
    }

    #[test]
    fn other_rules_name_their_key() {
        assert!(error_with("test-board", "Test Board").contains("name \"Test Board\""));
        assert!(
            error_with("[\"Test Board\"]", "[\"\"]").contains("detect.model has an empty entry")
        );
        assert!(error_with("fps = 30", "fps = 0").contains("camera.fps must be at least 1"));
        assert!(error_with("YUYV", "H264").contains("pixel_format \"H264\""));
        assert!(error_with("alert = 4", "alert = 3").contains("ok and alert are both line 3"));
        assert!(
            error_with("budget_mb = 512", "budget_mb = 0").contains("budget_mb must be at least 1")
        );
    }

    #[test]
    fn all_problems_are_reported_at_once() {
        let text = VALID
            .replacen("fps = 30", "fps = 0", 1)
            .replacen("count = 2", "count = 0", 1);
        let message = parse(&text).map(|_| ()).unwrap_err().to_string();
        assert!(
            message.contains("fps") && message.contains("threads.count"),
            "{message}"
        );
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("ab", 99), (1, 3));
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC*") {
            let _ = Profile::parse("fuzz.toml", &text);
        }
    }
}
