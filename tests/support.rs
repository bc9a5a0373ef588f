//! Shared helpers for the end-to-end tests: paths, fixtures, the built binary.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The shipped default model package.
pub fn default_model() -> PathBuf {
    root().join("models").join("edgeclip-tiny")
}

/// The default model's sample images, sorted by name.
pub fn samples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(default_model().join("samples"))
        .expect("the default model has samples/")
        .map(|e| e.expect("a readable directory entry").path())
        .collect();
    v.sort();
    v
}

/// A fixture path under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(rel)
}

/// A path in the held-out evaluation sets of the default model: `EDGECLIP_HELDOUT`, or
/// `target/heldout`, which `firmware-tools/test-env.sh` generates from seeds
/// (`firmware-tools/fixtures/make_model_fixtures.py --heldout-only`).
pub fn heldout(rel: &str) -> PathBuf {
    let dir = std::env::var_os("EDGECLIP_HELDOUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target").join("heldout"));
    assert!(
        dir.join("labels.json").is_file(),
        "the held-out sets are missing at {}: run firmware-tools/test-env.sh",
        dir.display()
    );
    dir.join(rel)
}

/// Reads a little-endian f32 file.
pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Smallest row-wise cosine between two row-major matrices of `dim` columns.
pub fn min_row_cosine(a: &[f32], b: &[f32], dim: usize) -> f64 {
    assert_eq!(a.len(), b.len(), "different sizes");
    a.chunks_exact(dim)
        .zip(b.chunks_exact(dim))
        .map(|(x, y)| cosine(x, y))
        // Not `f64::min`, which drops NaN: a NaN row must fail.
        .fold(1.0, |m, c| if c.is_nan() || c < m { c } else { m })
}

/// The `edgeclip` binary of the same build as the running test.
///
/// `cargo test --workspace` builds it because the CLI package has an
/// integration test of its own; it sits next to the `deps/` folder of this test.
pub fn edgeclip_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join(format!("edgeclip{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// A `Command` for the binary with the default model selected.
pub fn edgeclip() -> std::process::Command {
    let mut cmd = std::process::Command::new(edgeclip_bin());
    cmd.arg("--model").arg(default_model());
    cmd.env_remove("EDGECLIP_MODEL");
    cmd
}

/// A running `edgeclip serve`: the child process and the first line it printed (its
/// `serving` record). Killed when dropped, if still running.
pub struct Server {
    /// The process.
    pub child: std::process::Child,
    /// The `serving` record, as printed.
    pub record: serde_json::Value,
    /// `http://ADDR:PORT`.
    pub url: String,
}

impl Server {
    /// Starts `edgeclip --format json serve --bind 127.0.0.1:0 ARGS` (the default
    /// model) and waits for its `serving` record.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Server {
        use std::io::BufRead;
        let mut cmd = edgeclip();
        cmd.args(["--format", "json", "serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting edgeclip serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading the serving record");
        let record: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: serve printed {line:?}"));
        let address = record["data"]["address"]
            .as_str()
            .expect("an address")
            .to_owned();
        Server {
            child,
            record,
            url: format!("http://{address}"),
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("running kill");
        assert!(killed.success());
        self.child.wait().expect("waiting for serve")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON lines a finished `edgeclip --json ...` printed, after checking that it
/// succeeded (its stderr is the failure message).
pub fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}
