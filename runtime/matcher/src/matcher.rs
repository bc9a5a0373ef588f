//! The per-frame entry point: shapes checked once, scratch allocated once.

use crate::error::{Error, Result};
use crate::softmax::{sigmoid, Softmax};
use crate::topk::{top_k_into, Scored, TopK};
use edgeclip_store::Rows;

/// One label's result in a zero-shot classification.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Index of the label (its row).
    pub label: usize,
    /// Cosine similarity × logit scale.
    pub logit: f32,
    /// Softmax probability over the whole label set.
    pub probability: f32,
}

/// One label that passed its threshold in multi-label tagging.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tag {
    /// Index of the label (its row).
    pub label: usize,
    /// Cosine similarity × logit scale.
    pub logit: f32,
    /// `sigmoid(logit + bias)`, the value compared with the threshold.
    pub score: f32,
}

/// Thresholds on [`Tag::score`]: one default, optionally overridden per label.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds<'a> {
    /// Used for every label without its own threshold.
    pub default: f32,
    /// Empty, or one entry per label; `None` falls back to `default`.
    pub per_label: &'a [Option<f32>],
}

impl Thresholds<'_> {
    /// The same threshold for every label.
    pub fn uniform(default: f32) -> Self {
        Thresholds {
            default,
            per_label: &[],
        }
    }

    fn get(&self, label: usize) -> f32 {
        match self.per_label.get(label) {
            Some(Some(t)) => *t,
            _ => self.default,
        }
    }
}

/// The labels that passed, best first, at most `N` of them.
#[derive(Debug, Clone)]
pub struct Tags<const N: usize> {
    /// The best `N` (or fewer) labels that passed, highest score first, ties by
    /// lower index.
    pub tags: heapless::Vec<Tag, N>,
    /// How many labels passed in all; more than `tags.len()` when truncated.
    pub passed: usize,
}

impl<const N: usize> Tags<N> {
    /// Whether more labels passed than fit in `N`.
    pub fn truncated(&self) -> bool {
        self.passed > self.tags.len()
    }
}

/// Scores image embeddings against a fixed-size label set, allocation-free per frame.
///
/// Built for `labels × dim` rows; every call checks the rows and query against that
/// shape and returns an [`Error`] on mismatch.
#[derive(Debug, Clone)]
pub struct Matcher {
    dim: usize,
    logit_scale: f32,
    bias: f32,
    logits: Vec<f32>,
    query_q16: Vec<i16>,
    /// The heap of [`Matcher::top_k_into`]; empty (unallocated) until first used.
    best: Vec<Scored>,
}

impl Matcher {
    /// A matcher for `labels` rows of `dim` values, with the model's logit scale
    /// (CLIP's `exp(logit_scale)`, typically 100). Allocates its scratch here, once.
    pub fn new(labels: usize, dim: usize, logit_scale: f32) -> Self {
        Matcher {
            dim,
            logit_scale,
            bias: 0.0,
            logits: vec![0.0; labels],
            query_q16: vec![0; dim],
            best: Vec::new(),
        }
    }

    /// Sets the bias added to logits before the sigmoid in [`Matcher::tags`]
    /// (SigLIP's `logit_bias`; CLIP models need one calibrated, 0 by default).
    pub fn with_bias(mut self, bias: f32) -> Self {
        self.bias = bias;
        self
    }

    /// Number of labels (rows).
    pub fn labels(&self) -> usize {
        self.logits.len()
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The logit scale multiplied into every cosine.
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale
    }

    /// The sigmoid bias used by [`Matcher::tags`].
    pub fn bias(&self) -> f32 {
        self.bias
    }

    /// Every label's logit (`logit_scale × cosine`) for one normalized query, in
    /// label order. Borrowed from the matcher's scratch until the next call.
    pub fn logits(&mut self, rows: Rows<'_>, query: &[f32]) -> Result<&[f32]> {
        self.check(rows, query)?;
        crate::score::logits(
            rows,
            query,
            self.logit_scale,
            &mut self.query_q16,
            &mut self.logits,
        );
        Ok(&self.logits)
    }

    /// The `K` best labels, best first (ties by lower index), with softmax
    /// probabilities over the whole set.
    pub fn top_k<const K: usize>(
        &mut self,
        rows: Rows<'_>,
        query: &[f32],
    ) -> Result<heapless::Vec<Match, K>> {
        let logits = self.logits(rows, query)?;
        let best = crate::topk::top_k::<K>(logits);
        let mut out = heapless::Vec::new();
        let Some(first) = best.first() else {
            return Ok(out);
        };
        let softmax = Softmax::new(logits, first.score);
        for s in &best {
            // Cannot fail: `best` holds at most K.
            let _ = out.push(Match {
                label: s.index,
                logit: s.score,
                probability: softmax.probability(s.score),
            });
        }
        Ok(out)
    }

    /// [`Matcher::top_k`] with `k` chosen at run time: the `k` best labels into
    /// `out` (cleared first; best first, ties by lower index), with softmax
    /// probabilities over the whole set. Returns that softmax, for the
    /// probability of any other logit against the set
    /// ([`Softmax::probability_if_added`]).
    ///
    /// Allocates only while a buffer grows: `out` and the matcher's heap reach `k`
    /// on the first call with that `k` and are reused after.
    pub fn top_k_into(
        &mut self,
        rows: Rows<'_>,
        query: &[f32],
        k: usize,
        out: &mut Vec<Match>,
    ) -> Result<Softmax> {
        out.clear();
        self.logits(rows, query)?;
        top_k_into(&self.logits, k, &mut self.best);
        let max = match self.best.first() {
            Some(first) => first.score,
            // k = 0: nothing selected, but the probabilities still need the maximum.
            None => self
                .logits
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max),
        };
        let softmax = Softmax::new(&self.logits, max);
        out.extend(self.best.iter().map(|s| Match {
            label: s.index,
            logit: s.score,
            probability: softmax.probability(s.score),
        }));
        Ok(softmax)
    }

    /// Multi-label tagging: every label whose `sigmoid(logit + bias)` reaches its
    /// threshold, keeping the `N` best when more pass (see [`Tags::truncated`]).
    pub fn tags<const N: usize>(
        &mut self,
        rows: Rows<'_>,
        query: &[f32],
        thresholds: &Thresholds<'_>,
    ) -> Result<Tags<N>> {
        let labels = self.labels();
        if !thresholds.per_label.is_empty() && thresholds.per_label.len() != labels {
            return Err(Error::ThresholdsLen {
                expected: labels,
                got: thresholds.per_label.len(),
            });
        }
        let bias = self.bias;
        let logits = self.logits(rows, query)?;
        let mut top = TopK::<N>::new();
        let mut passed = 0;
        for (index, &logit) in logits.iter().enumerate() {
            let score = sigmoid(logit + bias);
            if score >= thresholds.get(index) {
                passed += 1;
                top.push(Scored { index, score });
            }
        }
        let mut tags = heapless::Vec::new();
        for s in top.into_sorted() {
            let _ = tags.push(Tag {
                label: s.index,
                logit: logits[s.index],
                score: s.score,
            });
        }
        Ok(Tags { tags, passed })
    }

    fn check(&self, rows: Rows<'_>, query: &[f32]) -> Result<()> {
        let (labels, dim) = (self.labels(), self.dim);
        if query.len() != dim {
            return Err(Error::QueryDim {
                expected: dim,
                got: query.len(),
            });
        }
        let got = match rows {
            Rows::F32(v) => v.len(),
            Rows::F16(v) => v.len(),
            Rows::Int8 { values, scales } => {
                if scales.len() != labels {
                    return Err(Error::ScalesLen {
                        expected: labels,
                        got: scales.len(),
                    });
                }
                values.len()
            }
        };
        if Some(got) != labels.checked_mul(dim) {
            return Err(Error::RowsLen { labels, dim, got });
        }
        Ok(())
    }
}
