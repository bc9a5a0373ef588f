//! `[gpio]`: which pin an [`Indicator`](crate::indicator::Indicator) drives and
//! what makes it active, as a settings file writes it. Read with serde and
//! checked here, once; opening the line is the caller's (it owns the GPIO
//! library).

use std::path::PathBuf;

use serde::Deserialize;

use crate::indicator::{IndicatorConfig, Watched};
use crate::EventsErrorKind;

/// The chip used when the table names none.
pub const DEFAULT_CHIP: &str = "/dev/gpiochip0";

/// The `[gpio]` table: a pin driven while labels are present.
///
/// ```toml
/// [gpio]
/// line = 17
/// label = "person"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioTable {
    /// GPIO character device (default [`DEFAULT_CHIP`]).
    pub chip: Option<PathBuf>,
    /// Line offset on the chip.
    pub line: Option<u32>,
    /// The pin is active when driven low.
    pub active_low: Option<bool>,
    /// Active while this label is present.
    pub label: Option<String>,
    /// Active while any label of this group is present.
    pub group: Option<String>,
    /// Active while any of these labels is present.
    pub labels: Option<Vec<String>>,
}

/// A checked [`GpioTable`]: the line to request and the indicator's setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioLine {
    /// The GPIO character device.
    pub chip: PathBuf,
    /// The line offset on it.
    pub line: u32,
    /// What the indicator watches and its active level.
    pub config: IndicatorConfig,
}

/// Why a `[gpio]` table was refused; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[gpio]: {0}")]
pub struct GpioTableError(String);

impl GpioTableError {
    /// What class of failure this is: always a setting
    /// ([`EventsErrorKind::Config`]).
    pub fn kind(&self) -> EventsErrorKind {
        EventsErrorKind::Config
    }
}

impl GpioTable {
    /// The line and the indicator's setup, or why the table cannot give them.
    pub fn resolve(&self) -> Result<GpioLine, GpioTableError> {
        let chip = self.chip.clone().unwrap_or_else(|| DEFAULT_CHIP.into());
        let Some(line) = self.line else {
            return Err(GpioTableError(format!(
                "needs `line`, the line offset on {}",
                chip.display()
            )));
        };
        let watched = match (&self.label, &self.group, &self.labels) {
            (Some(l), None, None) => Watched::Label(l.clone()),
            (None, Some(g), None) => Watched::Group(g.clone()),
            (None, None, Some(ls)) if !ls.is_empty() => Watched::AnyOf(ls.clone()),
            (None, None, Some(_)) => {
                return Err(GpioTableError("labels is empty: name at least one".into()))
            }
            (None, None, None) => Watched::Any,
            _ => return Err(GpioTableError("give one of label, group or labels".into())),
        };
        Ok(GpioLine {
            chip,
            line,
            config: IndicatorConfig {
                watched,
                active_low: self.active_low.unwrap_or(false),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> GpioTable {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_line_alone_watches_any_label_on_the_default_chip() {
        let line = table("line = 17").resolve().unwrap();
        assert_eq!(line.chip, PathBuf::from(DEFAULT_CHIP));
        assert_eq!(line.line, 17);
        assert_eq!(
            line.config,
            IndicatorConfig {
                watched: Watched::Any,
                active_low: false
            }
        );
    }

    #[test]
    fn each_way_of_naming_what_to_watch() {
        let watched = |text: &str| table(text).resolve().unwrap().config.watched;
        assert_eq!(
            watched("line = 1\nlabel = \"person\""),
            Watched::Label("person".into())
        );
        assert_eq!(
            watched("line = 1\ngroup = \"vehicles\""),
            Watched::Group("vehicles".into())
        );
        assert_eq!(
            watched("line = 1\nlabels = [\"cat\", \"dog\"]"),
            Watched::AnyOf(vec!["cat".into(), "dog".into()])
        );
        let low = table("chip = \"/dev/gpiochip1\"\nline = 4\nactive_low = true")
            .resolve()
            .unwrap();
        assert_eq!(low.chip, PathBuf::from("/dev/gpiochip1"));
        assert!(low.config.active_low);
    }

    #[test]
    fn unusable_tables_are_refused() {
        let refused = |text: &str, says: &str| {
            let err = table(text).resolve().unwrap_err();
            assert_eq!(err.kind(), EventsErrorKind::Config);
            assert!(err.to_string().contains(says), "{err} lacks {says:?}");
        };
        refused(
            "label = \"x\"",
            "[gpio]: needs `line`, the line offset on /dev/gpiochip0",
        );
        refused(
            "line = 1\nlabel = \"x\"\ngroup = \"y\"",
            "give one of label, group or labels",
        );
        refused("line = 1\nlabels = []", "labels is empty");
        assert!(toml::from_str::<GpioTable>("pin = 3").is_err());
    }
}
