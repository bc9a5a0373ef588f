//! Finding OpenVINO's C library (`libopenvino_c`) at run time.
//!
//! The binary is built without OpenVINO and loads it only when the backend is
//! asked for, so one build starts on every board. Where the library is: a path
//! given by the caller (flag or board profile), then `$OPENVINO_LIB`, then the
//! places OpenVINO's own finder searches (`$INTEL_OPENVINO_DIR`, `$OpenVINO_DIR`,
//! `$LD_LIBRARY_PATH`, the system's library directories). Each of these may name
//! the library file or a directory holding it. The Python wheel ships only
//! versioned names (`libopenvino_c.so.2641`), which the finder does not look for,
//! so a directory is searched for those too and the newest wins.

use std::path::{Path, PathBuf};

/// The environment variable naming the library file or its directory.
pub const ENV: &str = "OPENVINO_LIB";

/// Where the library was found, and by which rule (for `doctor` and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The library file.
    pub path: PathBuf,
    /// Which rule found it: `given`, `$OPENVINO_LIB` or `search`.
    pub how: &'static str,
}

/// Finds the library: `given` first, then `$OPENVINO_LIB`, then OpenVINO's search.
/// The error lists every place looked at.
pub fn locate(given: Option<&Path>) -> Result<Located, String> {
    let mut tried = Vec::new();
    if let Some(path) = given {
        return in_place(path, &mut tried)
            .map(|path| Located { path, how: "given" })
            .ok_or_else(|| not_found(&tried));
    }
    if let Some(path) = std::env::var_os(ENV) {
        return in_place(Path::new(&path), &mut tried)
            .map(|path| Located {
                path,
                how: "$OPENVINO_LIB",
            })
            .ok_or_else(|| not_found(&tried));
    }
    if let Some(path) = openvino_sys::library::find() {
        if path.is_file() {
            return Ok(Located {
                path,
                how: "search",
            });
        }
    }
    tried.push("OpenVINO's search ($INTEL_OPENVINO_DIR, $OpenVINO_DIR, $LD_LIBRARY_PATH, system library directories)".into());
    Err(format!(
        "{}; set {ENV} to the library or its directory (the Python wheel keeps it in site-packages/openvino/libs)",
        not_found(&tried)
    ))
}

fn not_found(tried: &[String]) -> String {
    format!("libopenvino_c not found (looked at {})", tried.join(", "))
}

/// `path` itself when it is a file, else the best library file in it.
fn in_place(path: &Path, tried: &mut Vec<String>) -> Option<PathBuf> {
    tried.push(path.display().to_string());
    if path.is_file() {
        return Some(path.to_owned());
    }
    let names = std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok());
    best_library(names).map(|name| path.join(name))
}

/// Of the file names in a directory, the C library to load: the unversioned
/// `libopenvino_c.so` where present, else the highest numeric version.
pub fn best_library(names: impl IntoIterator<Item = String>) -> Option<String> {
    const STEM: &str = "libopenvino_c.so";
    names
        .into_iter()
        .filter_map(|name| {
            let rank = match name.strip_prefix(STEM)? {
                "" => Some(u64::MAX),
                rest => parse_version(rest.strip_prefix('.')?),
            }?;
            Some((rank, name))
        })
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)))
        .map(|(_, name)| name)
}

/// `2641` or `2025.1.0` as one comparable number; `None` for anything else.
fn parse_version(text: &str) -> Option<u64> {
    let mut value = 0u64;
    let mut parts = 0;
    for part in text.split('.') {
        let n: u64 = part.parse().ok()?;
        value = value.checked_mul(100_000)?.checked_add(n.min(99_999))?;
        parts += 1;
    }
    (parts > 0 && parts <= 3).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_wheels_versioned_name_is_found() {
        let wheel = names(&[
            "libopenvino.so.2641",
            "libopenvino_c.so.2641",
            "libopenvino_intel_cpu_plugin.so",
            "libtbb.so.12",
        ]);
        assert_eq!(
            best_library(wheel).as_deref(),
            Some("libopenvino_c.so.2641")
        );
    }

    #[test]
    fn the_unversioned_name_wins_then_the_newest_version() {
        let both = names(&["libopenvino_c.so.2641", "libopenvino_c.so"]);
        assert_eq!(best_library(both).as_deref(), Some("libopenvino_c.so"));
        let two = names(&["libopenvino_c.so.2541", "libopenvino_c.so.2641"]);
        assert_eq!(best_library(two).as_deref(), Some("libopenvino_c.so.2641"));
    }

    #[test]
    fn look_alikes_are_not_the_library() {
        let none = names(&[
            "libopenvino_c.so.bak",
            "libopenvino_c.sox",
            "libopenvino.so",
        ]);
        assert_eq!(best_library(none), None);
    }

    #[test]
    fn a_missing_path_is_reported_with_where_it_looked() {
        let err = locate(Some(Path::new("/nonexistent/openvino/libs"))).unwrap_err();
        assert!(err.contains("/nonexistent/openvino/libs"), "{err}");
        assert!(err.contains("libopenvino_c not found"), "{err}");
    }
}
