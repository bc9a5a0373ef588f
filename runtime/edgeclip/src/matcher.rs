//! Matching image embeddings against label embeddings: CLIP's zero-shot head.

use crate::embedding::{dot, Embeddings};
use crate::{Error, Result};

/// One label's result for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Index of the label in the set.
    pub label: usize,
    /// Cosine similarity × logit scale.
    pub logit: f32,
    /// Softmax probability over the whole set.
    pub probability: f32,
}

/// A set of labels with their text embeddings, ready to score images.
#[derive(Debug, Clone)]
pub struct LabelSet {
    labels: Vec<String>,
    embeddings: Embeddings,
    logit_scale: f32,
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
        Ok(Self {
            labels,
            embeddings,
            logit_scale,
        })
    }

    /// The labels, in order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Scores one normalized image embedding; returns the `k` best, best first.
    pub fn top_k(&self, image: &[f32], k: usize) -> Result<Vec<Match>> {
        if image.len() != self.embeddings.dim() {
            return Err(Error::InvalidInput(format!(
                "image embedding has {} values, labels have {}",
                image.len(),
                self.embeddings.dim()
            )));
        }
        let logits: Vec<f32> = self
            .embeddings
            .rows()
            .map(|row| self.logit_scale * dot(row, image))
            .collect();
        let probabilities = softmax(&logits);
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        Ok(order
            .into_iter()
            .take(k)
            .map(|label| Match {
                label,
                logit: logits[label],
                probability: probabilities[label],
            })
            .collect())
    }
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn best_label_first() {
        let emb = Embeddings::from_raw(2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]).unwrap();
        let set = LabelSet::new(vec!["x".into(), "y".into(), "xy".into()], emb, 100.0).unwrap();
        let top = set.top_k(&[0.0, 1.0], 2).unwrap();
        assert_eq!(top[0].label, 1);
        assert_eq!(top[1].label, 2);
        assert!(top[0].probability > 0.99);
    }

    #[test]
    fn mismatched_sizes_are_errors() {
        let emb = Embeddings::from_raw(2, vec![1.0, 0.0]).unwrap();
        assert!(LabelSet::new(vec![], emb.clone(), 1.0).is_err());
        assert!(LabelSet::new(vec!["a".into(), "b".into()], emb.clone(), 1.0).is_err());
        let set = LabelSet::new(vec!["a".into()], emb, 1.0).unwrap();
        assert!(set.top_k(&[1.0, 0.0, 0.0], 1).is_err());
    }

    proptest! {
        #[test]
        fn softmax_is_a_distribution(v in proptest::collection::vec(-100f32..100.0, 1..64)) {
            let p = softmax(&v);
            let sum: f32 = p.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-4);
            prop_assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
            let argmax = v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
            prop_assert!(p[argmax] >= p.iter().copied().fold(0.0, f32::max) - 1e-6);
        }
    }
}
