//! `[journal]`: where a device keeps its journal and how, as a settings file
//! writes it. The table is read with serde and checked here, once, into a
//! [`JournalConfig`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::{Durability, JournalConfig, JournalError};

/// The `[journal]` table of a settings file. Every key is optional; a missing one
/// keeps [`JournalConfig::default`]'s value.
///
/// ```toml
/// [journal]
/// dir = "journal"
/// durability = "interval:100ms"
/// retain_mib = 64
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalTable {
    /// The journal's folder, relative to the settings file.
    pub dir: Option<PathBuf>,
    /// The sync policy ([`Durability`]'s forms: `every-record`, `interval:100ms`,
    /// `interval:50`, `interval:100ms,50`, `os`).
    pub durability: Option<String>,
    /// Size of one segment file, MiB.
    pub segment_mib: Option<u64>,
    /// Total size kept, MiB: the oldest segments go beyond it.
    pub retain_mib: Option<u64>,
    /// Age kept, days.
    pub retain_days: Option<f64>,
}

impl JournalTable {
    /// The journal's folder: `dir` resolved against `base` (the settings file's
    /// folder); `None` when the table names none.
    pub fn dir_in(&self, base: &Path) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| base.join(d))
    }

    /// The table as a [`JournalConfig`], `durability` replaced by `durability`
    /// when given (a command-line flag). Refuses a value the journal cannot use,
    /// naming the key.
    pub fn config(&self, durability: Option<&str>) -> Result<JournalConfig, JournalError> {
        let mut config = JournalConfig::default();
        if let Some(policy) = durability.or(self.durability.as_deref()) {
            config.durability =
                policy
                    .parse::<Durability>()
                    .map_err(|e| JournalError::Settings {
                        key: "durability",
                        message: format!("`{policy}`: {e}"),
                    })?;
        }
        if let Some(bytes) = mib("segment_mib", self.segment_mib)? {
            config.segment_bytes = bytes;
        }
        if let Some(bytes) = mib("retain_mib", self.retain_mib)? {
            config.retain_bytes = bytes;
        }
        if let Some(days) = self.retain_days {
            let age = Duration::try_from_secs_f64(days * 86_400.0).map_err(|_| {
                JournalError::Settings {
                    key: "retain_days",
                    message: format!("{days} is not a duration"),
                }
            })?;
            config.retain_age = Some(age);
        }
        Ok(config)
    }
}

/// A size in MiB as bytes; 0 is refused (a journal needs room for a record).
fn mib(key: &'static str, value: Option<u64>) -> Result<Option<u64>, JournalError> {
    match value {
        Some(0) => Err(JournalError::Settings {
            key,
            message: "must be at least 1".into(),
        }),
        Some(n) => Ok(Some(n.saturating_mul(1 << 20))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JournalErrorKind;

    #[test]
    fn an_empty_table_is_the_default_config() {
        assert_eq!(
            JournalTable::default().config(None).unwrap(),
            JournalConfig::default()
        );
        assert_eq!(JournalTable::default().dir_in(Path::new("/etc")), None);
    }

    #[test]
    fn keys_become_the_config_and_the_flag_wins() {
        let table = JournalTable {
            dir: Some("j".into()),
            durability: Some("os".into()),
            segment_mib: Some(2),
            retain_mib: Some(8),
            retain_days: Some(0.5),
        };
        let config = table.config(None).unwrap();
        assert_eq!(config.durability, Durability::Os);
        assert_eq!(
            (config.segment_bytes, config.retain_bytes),
            (2 << 20, 8 << 20)
        );
        assert_eq!(config.retain_age, Some(Duration::from_secs(43_200)));
        let flagged = table.config(Some("every-record")).unwrap();
        assert_eq!(flagged.durability, Durability::EveryRecord);
        assert_eq!(
            table.dir_in(Path::new("/etc/edgeclip")),
            Some("/etc/edgeclip/j".into())
        );
    }

    #[test]
    fn unusable_values_are_refused_naming_the_key() {
        let refused = |table: JournalTable, says: &str| {
            let err = table.config(None).unwrap_err();
            assert_eq!(err.kind(), JournalErrorKind::Config);
            let msg = err.to_string();
            assert!(msg.contains(says), "{msg:?} lacks {says:?}");
        };
        let d = JournalTable::default;
        refused(
            JournalTable {
                durability: Some("sometimes".into()),
                ..d()
            },
            "journal.durability: `sometimes`",
        );
        refused(
            JournalTable {
                segment_mib: Some(0),
                ..d()
            },
            "journal.segment_mib: must be at least 1",
        );
        refused(
            JournalTable {
                retain_mib: Some(0),
                ..d()
            },
            "journal.retain_mib",
        );
        refused(
            JournalTable {
                retain_days: Some(-1.0),
                ..d()
            },
            "journal.retain_days: -1 is not a duration",
        );
        let unknown = toml::from_str::<JournalTable>("retain = 3").unwrap_err();
        assert!(unknown.to_string().contains("unknown field"), "{unknown}");
    }
}
