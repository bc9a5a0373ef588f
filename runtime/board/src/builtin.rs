//! The profiles shipped in `boards/`, built into the binary, and user profile files.

use std::path::Path;

use crate::{BoardError, Profile};

/// The shipped profiles as (file name, text), boards first and the generic fallbacks last.
const SHIPPED: [(&str, &str); 7] = [
    ("rpi4.toml", include_str!("../../../boards/rpi4.toml")),
    ("rpi5.toml", include_str!("../../../boards/rpi5.toml")),
    ("rk3588.toml", include_str!("../../../boards/rk3588.toml")),
    ("rk3566.toml", include_str!("../../../boards/rk3566.toml")),
    (
        "intel-n100.toml",
        include_str!("../../../boards/intel-n100.toml"),
    ),
    (
        "generic-x86_64.toml",
        include_str!("../../../boards/generic-x86_64.toml"),
    ),
    (
        "generic-aarch64.toml",
        include_str!("../../../boards/generic-aarch64.toml"),
    ),
];

/// The profiles shipped with edgeclip, in detection order.
pub fn builtin() -> Vec<Profile> {
    SHIPPED
        .iter()
        .map(|(file, text)| {
            // These files are part of the build, not user input, and a test parses each
            // one: a bad shipped profile fails `cargo test`, never a user's run.
            Profile::parse(&format!("boards/{file}"), text)
                .unwrap_or_else(|e| panic!("shipped profile does not parse: {e}"))
        })
        .collect()
}

/// The shipped profile called `name`.
pub fn find(name: &str) -> Result<Profile, BoardError> {
    find_in(&builtin(), name)
}

/// The profile called `name` among `profiles`; the error lists their names.
pub fn find_in(profiles: &[Profile], name: &str) -> Result<Profile, BoardError> {
    profiles
        .iter()
        .find(|p| p.name == name)
        .cloned()
        .ok_or_else(|| BoardError::UnknownBoard {
            name: name.to_owned(),
            known: profiles.iter().map(|p| p.name.clone()).collect(),
        })
}

/// The largest board profile read: the built-in ones are about 2 KiB.
const PROFILE_LIMIT: edgeclip_io::Limit = edgeclip_io::Limit::new("a board profile", 1 << 20);

/// Reads and checks a user's own profile file.
pub fn load_file(path: &Path) -> Result<Profile, BoardError> {
    let text =
        edgeclip_io::read_text_limited(path, PROFILE_LIMIT).map_err(|error| BoardError::Io {
            path: path.to_owned(),
            error,
        })?;
    Profile::parse(&path.display().to_string(), &text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_shipped_profile_parses_and_is_named_after_its_file() {
        for (file, text) in SHIPPED {
            let profile = Profile::parse(file, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(format!("{}.toml", profile.name), file);
        }
        assert_eq!(builtin().len(), SHIPPED.len());
    }

    #[test]
    fn every_board_file_is_shipped() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../boards");
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .expect("boards/ is readable")
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".toml"))
            .collect();
        let shipped: BTreeSet<String> = SHIPPED.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(on_disk, shipped);
    }

    #[test]
    fn generic_profiles_come_last_one_per_arch() {
        let profiles = builtin();
        let first_generic = profiles.iter().position(Profile::is_generic);
        let generics: Vec<&str> = profiles
            .iter()
            .filter(|p| p.is_generic())
            .map(|p| p.detect.arch.as_str())
            .collect();
        assert_eq!(first_generic, Some(profiles.len() - 2));
        assert_eq!(generics, ["x86_64", "aarch64"]);
        for board in profiles.iter().filter(|p| !p.is_generic()) {
            assert!(
                generics.contains(&board.detect.arch.as_str()),
                "{} has no fallback",
                board.name
            );
        }
    }

    #[test]
    fn find_by_name_and_unknown_names_list_the_known() {
        assert_eq!(find("rk3588").expect("shipped").threads.cores, [4, 5, 6, 7]);
        let message = find("rpi3").map(|_| ()).unwrap_err().to_string();
        assert!(
            message.starts_with("unknown board `rpi3` (known boards: rpi4, rpi5, rk3588,"),
            "{message}"
        );
    }

    #[test]
    fn load_file_names_the_file_in_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("mine.toml");
        let text = include_str!("../../../boards/rpi5.toml").replace("rpi5", "mine");
        std::fs::write(&path, text).expect("write");
        assert_eq!(load_file(&path).expect("valid").name, "mine");

        std::fs::write(&path, "name = 3").expect("write");
        let message = load_file(&path).map(|_| ()).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "{}: invalid board profile: line 1",
                path.display()
            )),
            "{message}"
        );

        let missing = dir.path().join("missing.toml");
        let message = load_file(&missing).map(|_| ()).unwrap_err().to_string();
        assert!(
            message.starts_with(&missing.display().to_string()),
            "{message}"
        );
    }
}
