//! Each backend's own settings, and the factories that build backends from them.
//!
//! A board profile carries one table per backend (`[backends.openvino]`), a
//! flag sets one key (`--backend-option openvino.library=PATH`); neither the
//! profile reader nor the CLI knows what the keys mean. The backend's crate
//! does: its [`Factory`] reads the table into its own settings type and says
//! what is wrong with it, naming the key.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::{Backend, Error, Result};

/// One backend's settings: the keys of its table, as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    table: toml::Table,
}

/// Settings by backend name.
pub type SettingsByBackend = BTreeMap<String, Settings>;

impl Settings {
    /// Settings holding `table`.
    pub fn new(table: toml::Table) -> Self {
        Self { table }
    }

    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Sets `key` to `value`, replacing what the table had (a flag over a
    /// profile).
    pub fn set(&mut self, key: &str, value: toml::Value) {
        self.table.insert(key.to_owned(), value);
    }

    /// The table read into `backend`'s own settings type `T` (which should deny
    /// unknown fields, so a misspelt key is an error, not ignored).
    pub fn read<T: DeserializeOwned>(&self, backend: &'static str) -> Result<T> {
        T::deserialize(toml::Value::Table(self.table.clone())).map_err(|e| Error::Settings {
            backend,
            message: e.message().to_owned(),
        })
    }
}

/// Parses one `NAME.KEY=VALUE` assignment (the generic flag's form) into the
/// backend name, the key and the value: a TOML value where `VALUE` is one
/// (`3`, `true`, `"CPU"`), else the text itself (paths, device names).
pub fn parse_assignment(text: &str) -> std::result::Result<(String, String, toml::Value), String> {
    let (path, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME.KEY=VALUE"))?;
    let (name, key) = path
        .split_once('.')
        .filter(|(n, k)| !n.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("`{path}` is not BACKEND.KEY"))?;
    let value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    Ok((name.to_owned(), key.to_owned(), value))
}

/// Builds one backend from its settings: what a backend crate exports, and all
/// the registry needs of it.
pub trait Factory: Sync {
    /// The backend's name, as `--backend`, board profiles and model manifests
    /// spell it.
    fn name(&self) -> &'static str;
    /// The backend configured by `settings` (empty when nothing was set); the
    /// error names the key that is wrong. Building loads no library: whether the
    /// backend can run here is [`Backend::check`]'s answer.
    fn build(&self, settings: &Settings) -> Result<Arc<dyn Backend>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Own {
        device: String,
    }

    #[test]
    fn assignments_take_toml_values_or_text() {
        let (name, key, value) = parse_assignment("openvino.library=/opt/ov/lib").unwrap();
        assert_eq!((name.as_str(), key.as_str()), ("openvino", "library"));
        assert_eq!(value.as_str(), Some("/opt/ov/lib"));
        let (_, _, n) = parse_assignment("rknn.cores=3").unwrap();
        assert_eq!(n.as_integer(), Some(3));
        assert!(parse_assignment("openvino").is_err());
        assert!(parse_assignment(".device=CPU").is_err());
        assert!(parse_assignment("openvino=CPU").is_err());
    }

    #[test]
    fn a_misspelt_key_names_itself() {
        let mut settings = Settings::default();
        settings.set("devise", "CPU".into());
        let err = settings.read::<Own>("openvino").unwrap_err();
        assert!(err.to_string().contains("devise"), "{err}");
        let mut settings = Settings::default();
        settings.set("device", "NPU".into());
        assert_eq!(settings.read::<Own>("x").unwrap().device, "NPU");
    }
}
