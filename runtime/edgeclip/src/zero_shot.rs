//! Zero-shot matching: an image embedding against a label set, encoded at start-up
//! or read from a store on disk (memory-mapped, matched in place).
//!
//! Scoring is `edgeclip-match`'s: logits are cosine × the model's logit scale,
//! probabilities a softmax over the whole set, tags a per-label sigmoid against a
//! threshold. Nothing is allocated per frame once the set is built.

use edgeclip_match::softmax::{sigmoid, Softmax};
use edgeclip_match::Matcher;
use edgeclip_store::{Rows, Store};

pub use edgeclip_match::kernel::dot_f32 as dot;
pub use edgeclip_match::{Match, Tag, Tags, Thresholds};

use crate::embedding::Embeddings;
use crate::{Error, Result};

/// The most labels one [`LabelSet::top_k`] call returns.
pub const MAX_TOP_K: usize = 32;
/// The most tags one [`LabelSet::tags`] call returns (the best ones when more pass).
pub const MAX_TAGS: usize = 64;

/// Which per-label score [`LabelSet::scores_into`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// Softmax probability over the whole set (top-k mode: the labels compete).
    Probability,
    /// `sigmoid(logit + bias)`, each label on its own (scene-tag mode).
    Tag,
}

/// Where a set's rows live.
enum Source {
    /// Labels encoded by this process.
    Encoded {
        labels: Vec<String>,
        rows: Embeddings,
    },
    /// A store on disk, checked against the model by the caller (boxed: a store
    /// carries its parsed header and fingerprint).
    Stored(Box<Store>),
}

/// Labels and their text embeddings, ready to score images.
pub struct LabelSet {
    source: Source,
    matcher: Matcher,
    thresholds: Vec<Option<f32>>,
}

impl LabelSet {
    /// Pairs labels with their embeddings (one row each).
    pub fn new(labels: Vec<String>, embeddings: Embeddings, logit_scale: f32) -> Result<Self> {
        if labels.is_empty() {
            return Err(Error::InvalidInput("the label list is empty".into()));
        }
        if labels.len() != embeddings.len() {
            return Err(Error::InvalidInput(format!(
                "{} labels but {} embeddings",
                labels.len(),
                embeddings.len()
            )));
        }
        let matcher = Matcher::new(labels.len(), embeddings.dim(), logit_scale);
        Ok(Self {
            source: Source::Encoded {
                labels,
                rows: embeddings,
            },
            matcher,
            thresholds: Vec::new(),
        })
    }

    /// Uses a store's rows in place; its per-label thresholds apply to [`LabelSet::tags`].
    ///
    /// Check the store against the model first (`labels::open_store`).
    pub fn from_store(store: Store, logit_scale: f32) -> Result<Self> {
        if store.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{}: the store has no label",
                store.path().display()
            )));
        }
        let thresholds = (0..store.len()).map(|i| store.meta(i).threshold).collect();
        let matcher = Matcher::new(store.len(), store.dim(), logit_scale);
        Ok(Self {
            source: Source::Stored(Box::new(store)),
            matcher,
            thresholds,
        })
    }

    /// Sets the bias added to logits before the tagging sigmoid (0 by default;
    /// CLIP is trained with a softmax, so a useful bias is calibrated per model).
    pub fn with_bias(mut self, bias: f32) -> Self {
        self.matcher = self.matcher.with_bias(bias);
        self
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.matcher.labels()
    }

    /// Always false: an empty set is refused when built.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Label `i`.
    pub fn label(&self, i: usize) -> &str {
        match &self.source {
            Source::Encoded { labels, .. } => &labels[i],
            Source::Stored(store) => store.label(i),
        }
    }

    /// The `k` best labels for one normalized image embedding, best first
    /// (`k` is capped at [`MAX_TOP_K`]).
    pub fn top_k(&mut self, image: &[f32], k: usize) -> Result<heapless::Vec<Match, MAX_TOP_K>> {
        let rows = rows(&self.source);
        let mut best = self.matcher.top_k::<MAX_TOP_K>(rows, image)?;
        best.truncate(k);
        Ok(best)
    }

    /// Every label's score for one normalized image embedding, in label order,
    /// into `out` (resized; nothing allocated once it has the set's length): for
    /// tracking a scene over frames ([`edgeclip_match::track`]).
    pub fn scores_into(
        &mut self,
        image: &[f32],
        kind: ScoreKind,
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let rows = rows(&self.source);
        let bias = self.matcher.bias();
        let logits = self.matcher.logits(rows, image)?;
        out.clear();
        match kind {
            ScoreKind::Probability => {
                let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let softmax = Softmax::new(logits, max);
                out.extend(logits.iter().map(|&l| softmax.probability(l)));
            }
            ScoreKind::Tag => out.extend(logits.iter().map(|&l| sigmoid(l + bias))),
        }
        Ok(())
    }

    /// Each label's own tag threshold (a store's per-label one), in label order;
    /// empty for labels encoded at start-up.
    pub fn thresholds(&self) -> &[Option<f32>] {
        &self.thresholds
    }

    /// Label `i`'s group, when a store gives one.
    pub fn group(&self, i: usize) -> Option<&str> {
        match &self.source {
            Source::Encoded { .. } => None,
            Source::Stored(store) => store.meta(i).group,
        }
    }

    /// Multi-label tagging: every label whose sigmoid score reaches its threshold
    /// (the store's per-label one, else `default_threshold`).
    pub fn tags(&mut self, image: &[f32], default_threshold: f32) -> Result<Tags<MAX_TAGS>> {
        let rows = rows(&self.source);
        let thresholds = Thresholds {
            default: default_threshold,
            per_label: &self.thresholds,
        };
        Ok(self.matcher.tags::<MAX_TAGS>(rows, image, &thresholds)?)
    }
}

fn rows(source: &Source) -> Rows<'_> {
    match source {
        Source::Encoded { rows, .. } => Rows::F32(rows.as_slice()),
        Source::Stored(store) => store.rows(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> LabelSet {
        let emb = Embeddings::from_raw(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        LabelSet::new(vec!["x".into(), "y".into(), "xy".into()], emb, 100.0).unwrap()
    }

    #[test]
    fn best_label_first() {
        let mut set = set();
        let top = set.top_k(&[0.0, 1.0], 2).unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(set.label(top[0].label), "y");
        assert_eq!(set.label(top[1].label), "xy");
        assert!(top[0].probability > 0.99);
        assert_eq!(set.top_k(&[0.0, 1.0], 100).unwrap().len(), 3);
    }

    #[test]
    fn tags_pass_their_threshold() {
        let mut set = set().with_bias(-50.0);
        // logits 0, 100, 70.7: sigmoid(logit - 50) passes for y and xy only.
        let tags = set.tags(&[0.0, 1.0], 0.5).unwrap();
        let names: Vec<&str> = tags.tags.iter().map(|t| set.label(t.label)).collect();
        assert_eq!(names, ["y", "xy"]);
        assert!(!tags.truncated());
    }

    #[test]
    fn mismatched_sizes_are_errors() {
        let emb = Embeddings::from_raw(2, vec![1.0, 0.0]).unwrap();
        assert!(LabelSet::new(vec![], emb.clone(), 1.0).is_err());
        assert!(LabelSet::new(vec!["a".into(), "b".into()], emb.clone(), 1.0).is_err());
        let mut set = LabelSet::new(vec!["a".into()], emb, 1.0).unwrap();
        assert!(set.top_k(&[1.0, 0.0, 0.0], 1).is_err());
    }
}
