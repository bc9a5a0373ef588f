//! The device's settings file: `[watch]`, `[track]`, `[journal]`, `[mqtt]` and
//! `[gpio]`, every table and key optional. Errors name the table and key (and the
//! line, for text that is not TOML), because serde's messages for a wrong type in a
//! whole table do not.

use edgeclip_events::gpio::GpioTable;
use edgeclip_journal::JournalTable;
use edgeclip_mqtt::MqttTable;

use crate::config::{TrackTable, WatchTable};

/// The tables a settings file may have.
pub const TABLES: [&str; 5] = ["watch", "track", "journal", "mqtt", "gpio"];

/// A parsed settings file. A table that is absent is its default (`mqtt` and
/// `gpio`, which turn a sink on, are `None`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SettingsFile {
    /// `[watch]`: scoring mode, top-k, bias, status cadence.
    pub watch: WatchTable,
    /// `[track]`: smoothing and hysteresis.
    pub track: TrackTable,
    /// `[journal]`: where and how events are kept on disk.
    pub journal: JournalTable,
    /// `[mqtt]`: the broker, when events are published.
    pub mqtt: Option<MqttTable>,
    /// `[gpio]`: output lines driven by labels.
    pub gpio: Option<GpioTable>,
}

impl SettingsFile {
    /// Parses settings text; the message says where it is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: toml::Table = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => format!(
                "{}: {}",
                edgeclip_io::position(text, span.start),
                e.message()
            ),
            None => e.message().to_owned(),
        })?;
        if let Some(name) = doc.keys().find(|k| !TABLES.contains(&k.as_str())) {
            return Err(format!(
                "unknown table or key `{name}` ({})",
                TABLES.join(", ")
            ));
        }
        let optional = |name: &str| doc.contains_key(name);
        Ok(Self {
            watch: table(&doc, "watch")?,
            track: table(&doc, "track")?,
            journal: table(&doc, "journal")?,
            mqtt: optional("mqtt").then(|| table(&doc, "mqtt")).transpose()?,
            gpio: optional("gpio").then(|| table(&doc, "gpio")).transpose()?,
        })
    }
}

/// Table `name` of `doc`; each key is read alone first so that an error names it.
fn table<T: serde::de::DeserializeOwned + Default>(
    doc: &toml::Table,
    name: &str,
) -> Result<T, String> {
    let Some(value) = doc.get(name) else {
        return Ok(T::default());
    };
    let table = value
        .as_table()
        .ok_or_else(|| format!("`{name}` must be a table"))?;
    for (key, v) in table {
        let one = toml::Table::from_iter([(key.clone(), v.clone())]);
        T::deserialize(one).map_err(|e| format!("{name}.{key}: {}", e.message()))?;
    }
    T::deserialize(table.clone()).map_err(|e| format!("[{name}]: {}", e.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_every_default() {
        assert_eq!(SettingsFile::parse("").unwrap(), SettingsFile::default());
    }

    #[test]
    fn tables_are_read_and_sinks_turned_on_only_when_present() {
        let s = SettingsFile::parse("[watch]\ntop_k = 3\n[track]\ndwell_ms = 50\n").unwrap();
        assert_eq!(s.watch.top_k, Some(3));
        assert_eq!(s.track.dwell_ms, Some(50));
        assert!(s.mqtt.is_none() && s.gpio.is_none());
    }

    #[test]
    fn errors_name_the_table_key_and_line() {
        let wrong_type = SettingsFile::parse("[watch]\ntop_k = \"three\"\n").unwrap_err();
        assert!(wrong_type.starts_with("watch.top_k: "), "{wrong_type}");
        let unknown = SettingsFile::parse("[camera]\n").unwrap_err();
        assert!(unknown.contains("`camera`"), "{unknown}");
        let not_toml = SettingsFile::parse("[watch]\ntop_k = = 3\n").unwrap_err();
        assert!(not_toml.contains("line 2"), "{not_toml}");
        let not_table = SettingsFile::parse("watch = 3\n").unwrap_err();
        assert_eq!(not_table, "`watch` must be a table");
        let huge = SettingsFile::parse("[track]\ndwell_ms = 99999999999999999999\n").unwrap_err();
        assert!(huge.contains("line 2"), "{huge}");
    }
}
