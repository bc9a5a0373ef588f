//! What a model's DepthCLIP head is made of: distance words, their depths, the prompt
//! template and the logit scale. A model package's manifest can carry one (serde).

use serde::{Deserialize, Serialize};

use crate::DepthError;

/// The official distance words, nearest first (`DepthCLIP_code/monoclip.py`,
/// `depth_classes`).
pub const OFFICIAL_WORDS: [&str; 7] = [
    "giant",
    "extremely close",
    "close",
    "not in distance",
    "a little remote",
    "far",
    "unseen",
];

/// The official bin depths in metres, one per word (`monoclip.py`, `bin_list`).
pub const OFFICIAL_BINS_M: [f32; 7] = [1.00, 1.50, 2.00, 2.25, 2.50, 2.75, 3.00];

/// The official prompt: `monoclip.py` formats `'This {} is {}'` with the object class
/// `'object'` and a word, so the prompts have no full stop ("This object is giant").
pub const OFFICIAL_TEMPLATE: &str = "This object is {}";

/// The official logit scale: `MonoCLIP.forward` multiplies the scores by 100 and then
/// divides them by `temperature = 0.1`.
pub const OFFICIAL_SCALE: f32 = 1000.0;

/// The most bins a head takes: the per-patch scores then live on the stack.
pub const MAX_BINS: usize = 64;

/// A DepthCLIP head's settings. `Default` is the official DepthCLIP setting; a
/// manifest may override any field and leave the others at their defaults:
///
/// ```toml
/// [depthclip]
/// scale = 20.0
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepthConfig {
    /// Distance words, one per bin, in the order of `bins_m`.
    pub words: Vec<String>,
    /// Each word's depth in metres: finite and positive.
    pub bins_m: Vec<f32>,
    /// Prompt template with one `{}` where the word goes.
    pub template: String,
    /// Factor on the cosine scores before the softmax over bins: finite and positive.
    /// The official value suits CLIP RN50's layer-4 features; a model whose scores
    /// spread differently needs its own, measured (`runtime/depth/SCALE.md`).
    pub scale: f32,
}

impl Default for DepthConfig {
    fn default() -> Self {
        DepthConfig {
            words: OFFICIAL_WORDS.iter().map(|w| w.to_string()).collect(),
            bins_m: OFFICIAL_BINS_M.to_vec(),
            template: OFFICIAL_TEMPLATE.to_string(),
            scale: OFFICIAL_SCALE,
        }
    }
}

impl DepthConfig {
    /// The bin prompts, in bin order: the template with each word in place of `{}`.
    pub fn prompts(&self) -> Vec<String> {
        self.words
            .iter()
            .map(|w| self.template.replacen("{}", w, 1))
            .collect()
    }

    /// Refuses a configuration the head cannot use, saying which field is wrong.
    pub fn validate(&self) -> Result<(), DepthError> {
        let bad = |msg: String| Err(DepthError::Config(msg));
        let n = self.bins_m.len();
        if self.words.len() != n {
            return bad(format!(
                "{} words but {} bins: each word needs exactly one depth",
                self.words.len(),
                n
            ));
        }
        if !(2..=MAX_BINS).contains(&n) {
            return bad(format!("{n} bins: need between 2 and {MAX_BINS}"));
        }
        if let Some((i, b)) = self
            .bins_m
            .iter()
            .enumerate()
            .find(|(_, b)| !(b.is_finite() && **b > 0.0))
        {
            return bad(format!(
                "bin {i} is {b} m: depths must be finite and positive"
            ));
        }
        if let Some(i) = self.words.iter().position(|w| w.trim().is_empty()) {
            return bad(format!("word {i} is empty"));
        }
        if self.template.matches("{}").count() != 1 {
            return bad(format!(
                "template {:?} must contain exactly one {{}} for the word",
                self.template
            ));
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return bad(format!(
                "scale is {}: must be finite and positive",
                self.scale
            ));
        }
        Ok(())
    }

    /// The smallest and largest bin depth: every depth the head predicts lies between.
    pub fn depth_range(&self) -> (f32, f32) {
        let lo = self.bins_m.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = self
            .bins_m
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        (lo, hi)
    }

    /// The index of the bin whose depth is nearest to `depth_m` (the first on a tie).
    pub fn nearest_bin(&self, depth_m: f32) -> usize {
        let mut best = 0;
        for (i, b) in self.bins_m.iter().enumerate() {
            if (depth_m - b).abs() < (depth_m - self.bins_m[best]).abs() {
                best = i;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_official_setting() {
        let c = DepthConfig::default();
        c.validate().unwrap();
        assert_eq!(c.prompts()[0], "This object is giant");
        assert_eq!(c.prompts()[3], "This object is not in distance");
        assert_eq!(c.prompts().len(), 7);
        assert_eq!(c.scale, 1000.0);
        assert_eq!(c.depth_range(), (1.0, 3.0));
    }

    #[test]
    fn nearest_bin_takes_the_first_on_a_tie() {
        let c = DepthConfig::default();
        assert_eq!(c.nearest_bin(0.2), 0);
        assert_eq!(c.nearest_bin(1.25), 0);
        assert_eq!(c.nearest_bin(2.2), 3);
        assert_eq!(c.nearest_bin(9.0), 6);
    }

    fn refused(c: DepthConfig, needle: &str) {
        let msg = c.validate().unwrap_err().to_string();
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }

    #[test]
    fn bad_configs_are_refused_with_the_field_named() {
        let ok = DepthConfig::default();
        refused(
            DepthConfig {
                bins_m: vec![1.0; 6],
                ..ok.clone()
            },
            "7 words but 6 bins",
        );
        refused(
            DepthConfig {
                words: vec!["near".into()],
                bins_m: vec![1.0],
                ..ok.clone()
            },
            "1 bins",
        );
        let mut c = ok.clone();
        c.bins_m[2] = f32::NAN;
        refused(c, "bin 2 is NaN");
        let mut c = ok.clone();
        c.bins_m[0] = 0.0;
        refused(c, "bin 0 is 0 m");
        let mut c = ok.clone();
        c.words[5] = " ".into();
        refused(c, "word 5 is empty");
        refused(
            DepthConfig {
                template: "no slot".into(),
                ..ok.clone()
            },
            "exactly one {}",
        );
        refused(
            DepthConfig {
                template: "{} and {}".into(),
                ..ok.clone()
            },
            "exactly one {}",
        );
        refused(
            DepthConfig {
                scale: 0.0,
                ..ok.clone()
            },
            "scale is 0",
        );
        refused(
            DepthConfig {
                scale: f32::INFINITY,
                ..ok
            },
            "scale is inf",
        );
    }

    #[test]
    fn a_manifest_table_overrides_only_what_it_names() {
        let c: DepthConfig = serde_json::from_str(r#"{"scale": 10.0}"#).unwrap();
        assert_eq!(
            c,
            DepthConfig {
                scale: 10.0,
                ..DepthConfig::default()
            }
        );
        assert!(serde_json::from_str::<DepthConfig>(r#"{"scael": 10.0}"#).is_err());
        let back: DepthConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
