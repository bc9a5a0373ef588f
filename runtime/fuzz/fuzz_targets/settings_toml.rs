//! Fuzzes the three TOML files the device reads from its owner: the watch settings
//! file, a board profile and a model package's manifest. The first byte picks the
//! parser; the rest is the file's text (non-UTF-8 files are refused before any
//! parser, by `edgeclip_io::read_text_limited`). Any text must parse or give a
//! message, never panic, and what parses must pass or fail its own checks cleanly.
#![no_main]

use std::path::Path;

use edgeclip::model::Manifest;
use edgeclip_board::Profile;
use edgeclip_pipeline::{SettingsFile, WatchConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 3 {
        0 => match SettingsFile::parse(text) {
            Ok(file) => {
                let mut config = WatchConfig::default();
                config.apply(&file.watch, &file.track);
                let _ = config.validate();
            }
            Err(message) => assert!(!message.is_empty()),
        },
        1 => {
            if let Err(e) = Profile::parse("fuzz.toml", text) {
                assert!(!e.to_string().is_empty());
            }
        }
        _ => {
            if let Err(e) = Manifest::parse(text, Path::new("model.toml")) {
                assert!(!e.to_string().is_empty());
            }
        }
    }
});
