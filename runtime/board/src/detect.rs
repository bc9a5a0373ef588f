//! Which profile fits this host: from the device tree, `/proc/cpuinfo` and the
//! architecture, or as the user chose with `--board`.
//!
//! [`HostFacts`] gathers what the kernel says; [`detect`] is a pure function of those
//! facts and a list of profiles, so it is tested on text captured from real boards.

use std::path::Path;

use crate::builtin::{find_in, load_file};
use crate::cpu::fields;
use crate::{BoardError, Profile};

/// The `--board` value that asks for detection.
pub const AUTO: &str = "auto";

/// What the kernel says about the host, as detection reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// The architecture, as `std::env::consts::ARCH` names it (`aarch64`).
    pub arch: String,
    /// `/proc/device-tree/model` without its trailing NUL; `None` without a device
    /// tree (x86, ACPI servers).
    pub device_tree_model: Option<String>,
    /// `/proc/device-tree/compatible`, most specific first (`radxa,rock-5b`,
    /// `rockchip,rk3588`).
    pub device_tree_compatible: Vec<String>,
    /// The text of `/proc/cpuinfo`.
    pub cpuinfo: String,
}

impl HostFacts {
    /// The facts of the machine this process runs on. A file that is missing or
    /// unreadable is a fact too (no device tree, a restricted container): it gives
    /// `None` or an empty value, never an error.
    pub fn probe() -> Self {
        let read = |path: &str| std::fs::read(path).ok();
        let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
        Self::from_proc(
            std::env::consts::ARCH,
            read("/proc/device-tree/model").as_deref(),
            read("/proc/device-tree/compatible").as_deref(),
            &String::from_utf8_lossy(&cpuinfo),
        )
    }

    /// Facts from the raw contents of `/proc/device-tree/model` (NUL-terminated),
    /// `/proc/device-tree/compatible` (NUL-separated) and `/proc/cpuinfo`.
    pub fn from_proc(
        arch: &str,
        model: Option<&[u8]>,
        compatible: Option<&[u8]>,
        cpuinfo: &str,
    ) -> Self {
        let model = model
            .map(|bytes| {
                String::from_utf8_lossy(bytes)
                    .trim_end_matches('\0')
                    .trim()
                    .to_owned()
            })
            .filter(|m| !m.is_empty());
        let compatible = compatible
            .map(|bytes| {
                bytes
                    .split(|&b| b == 0)
                    .filter(|entry| !entry.is_empty())
                    .map(|entry| String::from_utf8_lossy(entry).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        Self {
            arch: arch.to_owned(),
            device_tree_model: model,
            device_tree_compatible: compatible,
            cpuinfo: cpuinfo.to_owned(),
        }
    }

    /// The first `model name` of `/proc/cpuinfo` (`Intel(R) N100`), if any.
    pub fn cpu_model_name(&self) -> Option<&str> {
        fields(&self.cpuinfo)
            .find(|(key, _)| *key == "model name")
            .map(|(_, value)| value)
    }
}

/// The profile chosen for a host, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The profile.
    pub profile: Profile,
    /// The evidence, for logs and `edgeclip info`:
    /// `/proc/device-tree/model is "Raspberry Pi 5 Model B Rev 1.0"`.
    pub reason: String,
}

/// The profile for the host described by `facts`, from `profiles` in order.
///
/// Only profiles for the host's architecture count. Evidence is tried from the most
/// to the least specific, and the first kind that matches decides:
///
/// 1. `/proc/device-tree/compatible`, entry by entry in the kernel's order (board
///    before SoC), each against every profile's `detect.compatible`: a profile naming
///    the board (`radxa,rock-5b`) wins over one naming its SoC (`rockchip,rk3588`);
/// 2. `/proc/device-tree/model` against `detect.model`;
/// 3. `/proc/cpuinfo`'s `model name` against `detect.cpu_model`.
///
/// Model patterns match whole words, ignoring ASCII case (`Raspberry Pi 5` matches
/// `Raspberry Pi 5 Model B Rev 1.0` but not `Raspberry Pi 500`; `N100` matches
/// `Intel(R) N100`); where several profiles match, the longest pattern wins, then
/// the earlier profile. When nothing matches, the first generic profile of the
/// architecture is the fallback. With none of those either (an architecture no
/// profile is for, such as riscv64), the result is [`BoardError::NoProfile`]: a
/// profile for another machine would set wrong threads, backends and GPIO lines, so
/// the caller decides (the error asks for `--board`).
pub fn detect(facts: &HostFacts, profiles: &[Profile]) -> Result<Detection, BoardError> {
    let arch = normalize_arch(&facts.arch);
    let for_arch: Vec<&Profile> = profiles
        .iter()
        .filter(|p| normalize_arch(&p.detect.arch) == arch)
        .collect();

    if let Some(found) = by_evidence(facts, &for_arch) {
        log::debug!("board {}: {}", found.profile.name, found.reason);
        return Ok(found);
    }
    if let Some(generic) = for_arch.iter().find(|p| p.is_generic()) {
        return Ok(Detection {
            profile: (*generic).clone(),
            reason: format!("no board matched; {} by architecture", generic.name),
        });
    }
    let all: Vec<&Profile> = profiles.iter().collect();
    let other_arch = match by_evidence(facts, &all) {
        Some(found) => vec![found.profile.name],
        None => Vec::new(),
    };
    Err(BoardError::NoProfile {
        arch: facts.arch.clone(),
        model: facts.device_tree_model.clone(),
        other_arch,
    })
}

/// The profile for a `--board` value: [`AUTO`] or nothing detects; a value naming a
/// `.toml` file or containing `/` loads that file; anything else is a profile name
/// among `profiles`.
pub fn resolve(
    choice: Option<&str>,
    facts: &HostFacts,
    profiles: &[Profile],
) -> Result<Detection, BoardError> {
    let Some(choice) = choice.filter(|c| *c != AUTO) else {
        return detect(facts, profiles);
    };
    let (profile, reason) = if choice.ends_with(".toml") || choice.contains('/') {
        let profile = load_file(Path::new(choice))?;
        (profile, format!("chosen: profile file {choice}"))
    } else {
        let profile = find_in(profiles, choice)?;
        (profile, format!("chosen: board {choice}"))
    };
    if normalize_arch(&profile.detect.arch) != normalize_arch(&facts.arch) {
        // Allowed (checking a profile, building for a board from a workstation), but
        // its threads, backends and GPIO lines are not for this machine.
        log::warn!(
            "board {} is for {}, this host is {}",
            profile.name,
            profile.detect.arch,
            facts.arch
        );
    }
    Ok(Detection { profile, reason })
}

/// The first match of board evidence (compatible, model, cpu model name) among `profiles`.
fn by_evidence(facts: &HostFacts, profiles: &[&Profile]) -> Option<Detection> {
    for entry in &facts.device_tree_compatible {
        let found = profiles.iter().find(|p| {
            p.detect
                .compatible
                .iter()
                .any(|c| c.eq_ignore_ascii_case(entry))
        });
        if let Some(profile) = found {
            let model = match &facts.device_tree_model {
                Some(model) => format!(" (model {model:?})"),
                None => String::new(),
            };
            return Some(Detection {
                profile: (*profile).clone(),
                reason: format!("/proc/device-tree/compatible lists {entry:?}{model}"),
            });
        }
    }
    if let Some(model) = &facts.device_tree_model {
        if let Some(profile) = best_word_match(profiles, model, |p| &p.detect.model) {
            return Some(Detection {
                profile: profile.clone(),
                reason: format!("/proc/device-tree/model is {model:?}"),
            });
        }
    }
    if let Some(name) = facts.cpu_model_name() {
        if let Some(profile) = best_word_match(profiles, name, |p| &p.detect.cpu_model) {
            return Some(Detection {
                profile: profile.clone(),
                reason: format!("/proc/cpuinfo model name is {name:?}"),
            });
        }
    }
    None
}

/// The profile with the longest of its `patterns` found as words in `text`; the
/// earlier profile on a tie.
fn best_word_match<'a>(
    profiles: &[&'a Profile],
    text: &str,
    patterns: impl Fn(&Profile) -> &Vec<String>,
) -> Option<&'a Profile> {
    let mut best: Option<(&Profile, usize)> = None;
    for &profile in profiles {
        let longest = patterns(profile)
            .iter()
            .filter(|pattern| contains_words(text, pattern))
            .map(String::len)
            .max();
        if let Some(len) = longest {
            if best.is_none_or(|(_, best_len)| len > best_len) {
                best = Some((profile, len));
            }
        }
    }
    best.map(|(profile, _)| profile)
}

/// Whether `pattern` occurs in `text`, ignoring ASCII case, with no letter or digit
/// right before or after it.
fn contains_words(text: &str, pattern: &str) -> bool {
    // ASCII lowercasing keeps byte offsets, so the neighbours are checked in `text`'s bytes.
    let text = text.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    if pattern.is_empty() {
        return false;
    }
    let bytes = text.as_bytes();
    text.match_indices(&pattern).any(|(start, found)| {
        let end = start + found.len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(end).copied();
        !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

/// The `std::env::consts::ARCH` spelling of names other tools use (`uname -m`, Debian).
fn normalize_arch(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::builtin;

    fn facts(arch: &str, model: Option<&str>, compatible: &[&str], cpuinfo: &str) -> HostFacts {
        HostFacts {
            arch: arch.into(),
            device_tree_model: model.map(Into::into),
            device_tree_compatible: compatible.iter().map(|c| c.to_string()).collect(),
            cpuinfo: cpuinfo.into(),
        }
    }

    fn detected(facts: &HostFacts) -> Detection {
        detect(facts, &builtin()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn proc_bytes_lose_their_nuls() {
        let facts = HostFacts::from_proc(
            "aarch64",
            Some(b"Radxa ROCK 5B\0"),
            Some(b"radxa,rock-5b\0rockchip,rk3588\0"),
            "",
        );
        assert_eq!(facts.device_tree_model.as_deref(), Some("Radxa ROCK 5B"));
        assert_eq!(
            facts.device_tree_compatible,
            ["radxa,rock-5b", "rockchip,rk3588"]
        );
        let empty = HostFacts::from_proc("aarch64", Some(b"\0"), Some(b""), "");
        assert_eq!(empty.device_tree_model, None);
        assert!(empty.device_tree_compatible.is_empty());
    }

    #[test]
    fn words_match_whole_and_ignore_case() {
        assert!(contains_words(
            "Raspberry Pi 5 Model B Rev 1.0",
            "Raspberry Pi 5"
        ));
        assert!(!contains_words(
            "Raspberry Pi 500 Rev 1.0",
            "Raspberry Pi 5"
        ));
        assert!(contains_words("Intel(R) Core(TM) i3-N305", "n305"));
        assert!(!contains_words("Intel(R) Celeron(R) N2000", "N200"));
        assert!(!contains_words("anything", ""));
    }

    #[test]
    fn a_board_compatible_wins_over_its_soc() {
        let mut profiles = builtin();
        let mut rock5b = profiles[2].clone();
        rock5b.name = "rock-5b".into();
        rock5b.detect.compatible = vec!["radxa,rock-5b".into()];
        profiles.push(rock5b);
        let host = facts(
            "aarch64",
            Some("Radxa ROCK 5B"),
            &["radxa,rock-5b", "rockchip,rk3588"],
            "",
        );
        let found = detect(&host, &profiles).expect("detected");
        assert_eq!(found.profile.name, "rock-5b");
        assert_eq!(
            found.reason,
            r#"/proc/device-tree/compatible lists "radxa,rock-5b" (model "Radxa ROCK 5B")"#
        );
    }

    #[test]
    fn model_is_used_without_a_known_compatible() {
        let host = facts(
            "aarch64",
            Some("Raspberry Pi Compute Module 4 Rev 1.1"),
            &[],
            "",
        );
        let found = detected(&host);
        assert_eq!(found.profile.name, "rpi4");
        assert_eq!(
            found.reason,
            r#"/proc/device-tree/model is "Raspberry Pi Compute Module 4 Rev 1.1""#
        );
    }

    #[test]
    fn the_longest_model_pattern_wins() {
        let mut profiles = builtin();
        let mut cm4 = profiles[0].clone();
        cm4.name = "cm4-carrier".into();
        cm4.detect.compatible.clear();
        cm4.detect.model = vec!["Raspberry Pi Compute Module 4 Rev 1.1".into()];
        profiles.push(cm4);
        let host = facts(
            "aarch64",
            Some("Raspberry Pi Compute Module 4 Rev 1.1"),
            &[],
            "",
        );
        assert_eq!(
            detect(&host, &profiles).expect("detected").profile.name,
            "cm4-carrier"
        );
    }

    #[test]
    fn another_arch_never_matches() {
        // A 32-bit build on a Pi 4: the aarch64 profile would be wrong, and there is no
        // generic arm profile.
        let host = facts(
            "arm",
            Some("Raspberry Pi 4 Model B Rev 1.4"),
            &["raspberrypi,4-model-b", "brcm,bcm2711"],
            "",
        );
        let message = detect(&host, &builtin())
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "no board profile for this host (arch arm, device-tree model \"Raspberry Pi 4 Model B Rev 1.4\"); \
             rpi4 matched but is for another architecture; choose one with --board NAME or --board FILE.toml"
        );
    }

    #[test]
    fn uname_arch_names_are_accepted() {
        assert_eq!(
            detected(&facts("arm64", None, &[], "")).profile.name,
            "generic-aarch64"
        );
        assert_eq!(
            detected(&facts("amd64", None, &[], "")).profile.name,
            "generic-x86_64"
        );
    }

    #[test]
    fn resolve_by_name_file_or_detection() {
        let host = facts("x86_64", None, &[], "model name\t: Intel(R) N97\n");
        let profiles = builtin();
        for choice in [None, Some(AUTO)] {
            let found = resolve(choice, &host, &profiles).expect("detected");
            assert_eq!(
                found.reason,
                r#"/proc/cpuinfo model name is "Intel(R) N97""#
            );
        }
        let chosen = resolve(Some("rpi5"), &host, &profiles).expect("known");
        assert_eq!(
            (chosen.profile.name.as_str(), chosen.reason.as_str()),
            ("rpi5", "chosen: board rpi5")
        );
        let unknown = resolve(Some("rpi3"), &host, &profiles)
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(unknown, BoardError::UnknownBoard { .. }));

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mine.toml");
        let text = include_str!("../../../boards/rk3566.toml")
            .replace("\"rk3566\"\ntitle", "\"mine\"\ntitle");
        std::fs::write(&path, text).expect("write");
        let path = path.to_string_lossy();
        let loaded = resolve(Some(&path), &host, &profiles).expect("loaded");
        assert_eq!(loaded.profile.name, "mine");
        assert_eq!(loaded.reason, format!("chosen: profile file {path}"));
    }

    #[test]
    fn probe_reads_this_host_without_errors() {
        let facts = HostFacts::probe();
        assert_eq!(facts.arch, std::env::consts::ARCH);
        if cfg!(target_os = "linux") {
            assert!(facts.cpuinfo.contains("processor"));
        }
    }
}
