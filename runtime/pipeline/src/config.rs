//! What the watch loop is told: scoring mode, smoothing, status cadence. Read
//! from the `[watch]` and `[track]` tables of a TOML file, then overridden by
//! flags; unknown keys and wrong types are errors that name the key.

use serde::Deserialize;

use edgeclip_match::track::TrackConfig;

/// How each frame's label scores are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The labels compete: softmax probabilities, and only the `top_k` best of a
    /// frame keep their score (the others count as 0).
    TopK,
    /// Scene tags: each label on its own, `sigmoid(logit + bias)`, entering at the
    /// store's per-label threshold or the default one.
    Tags,
}

/// The loop's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// Scoring mode.
    pub mode: Mode,
    /// Labels that keep their score per frame in top-k mode.
    pub top_k: usize,
    /// Bias added to logits before the tag sigmoid (tags mode).
    pub bias: f32,
    /// Seconds between status events (0: none).
    pub status_every_s: f64,
    /// Smoothing and hysteresis.
    pub track: TrackConfig,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            mode: Mode::TopK,
            top_k: 1,
            bias: 0.0,
            status_every_s: 10.0,
            track: TrackConfig::default(),
        }
    }
}

impl WatchConfig {
    /// Checks the settings; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.top_k == 0 {
            return Err("top_k must be at least 1".into());
        }
        if !(self.status_every_s.is_finite() && self.status_every_s >= 0.0) {
            return Err(format!(
                "status_every_s {} must be 0 or more",
                self.status_every_s
            ));
        }
        if !self.bias.is_finite() {
            return Err("bias must be a number".into());
        }
        self.track.validate().map_err(|e| format!("track: {e}"))
    }
}

/// The `[watch]` table of a config file: every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchTable {
    /// `top-k` or `tags`.
    pub mode: Option<Mode>,
    /// See [`WatchConfig::top_k`].
    pub top_k: Option<usize>,
    /// See [`WatchConfig::bias`].
    pub bias: Option<f32>,
    /// See [`WatchConfig::status_every_s`].
    pub status_every_s: Option<f64>,
}

/// The `[track]` table of a config file: every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackTable {
    /// See [`TrackConfig::alpha`].
    pub alpha: Option<f32>,
    /// See [`TrackConfig::enter`].
    pub enter: Option<f32>,
    /// See [`TrackConfig::exit`].
    pub exit: Option<f32>,
    /// See [`TrackConfig::dwell_ms`].
    pub dwell_ms: Option<u64>,
    /// See [`TrackConfig::hold_ms`].
    pub hold_ms: Option<u64>,
}

impl WatchConfig {
    /// Applies the keys a table sets (a config file's, then the flags').
    pub fn apply(&mut self, watch: &WatchTable, track: &TrackTable) {
        macro_rules! set {
            ($dst:expr, $src:expr) => {
                if let Some(v) = $src {
                    $dst = v;
                }
            };
        }
        set!(self.mode, watch.mode);
        set!(self.top_k, watch.top_k);
        set!(self.bias, watch.bias);
        set!(self.status_every_s, watch.status_every_s);
        set!(self.track.alpha, track.alpha);
        set!(self.track.enter, track.enter);
        set!(self.track.exit, track.exit);
        set!(self.track.dwell_ms, track.dwell_ms);
        set!(self.track.hold_ms, track.hold_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        watch: WatchTable,
        #[serde(default)]
        track: TrackTable,
    }

    #[test]
    fn tables_override_defaults_key_by_key() {
        let file: File =
            toml::from_str("[watch]\nmode = \"tags\"\nbias = -4.0\n[track]\ndwell_ms = 50\n")
                .unwrap();
        let mut config = WatchConfig::default();
        config.apply(&file.watch, &file.track);
        assert_eq!(config.mode, Mode::Tags);
        assert_eq!(config.bias, -4.0);
        assert_eq!(config.track.dwell_ms, 50);
        assert_eq!(config.track.hold_ms, TrackConfig::default().hold_ms);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key() {
        let err = toml::from_str::<File>("[track]\ndwel_ms = 5\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("dwel_ms"), "{err}");
        let err = toml::from_str::<File>("[watch]\ntop_k = \"three\"\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("top_k"), "{err}");
        let mut config = WatchConfig::default();
        config.track.exit = 0.9;
        assert!(config.validate().unwrap_err().contains("track"));
    }
}
