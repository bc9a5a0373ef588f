//! A query's scores: each text's cosine with the image and its probability (against
//! the other texts, or against the label store), and the store's best labels.
//!
//! Scoring goes through the matcher crate, as every other consumer of a label
//! store does: the stored rows are scored in their own element type with its
//! kernels, the `k` best labels come from a bounded heap (nothing else is sorted)
//! and probabilities from one log-sum-exp over the set, so a label's probability
//! is computed only for the labels reported. What a query needs in between (the
//! matcher's logits, its heap, the texts' logits) is scratch kept with the label
//! set between queries ([`ScratchPool`]): once warm, scoring allocates only the
//! answer itself, whatever the number of labels.

use std::sync::{Mutex, PoisonError};

use edgeclip_match::kernel::dot_f32;
use edgeclip_match::softmax::Softmax;
use edgeclip_match::{Match, Matcher, Rows};
use serde::{Deserialize, Serialize};

use crate::labels::ActiveLabels;

/// What a text's probability is computed against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Against {
    /// A softmax over the query's own texts.
    Texts,
    /// A softmax over the store's labels with the text added as one more.
    Labels,
}

/// One text's scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextScore {
    /// Cosine of the text with the image.
    pub score: f32,
    /// Its probability, as [`Against`] says.
    pub probability: f32,
}

/// One of the store's best labels for the image, as `POST /v1/query` answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    /// The label.
    pub label: String,
    /// Cosine of the label's row with the image.
    pub score: f32,
    /// Its probability in a softmax over all the store's labels.
    pub probability: f32,
}

/// The scores of one query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryScores {
    /// One per text, in the query's order.
    pub texts: Vec<TextScore>,
    /// The best labels, best first (equal scores in store order), at most `top_k`.
    pub labels: Vec<LabelScore>,
}

/// Scores the texts' embeddings and the active labels against a normalized image
/// embedding: the texts' cosines and probabilities ([`Against`]), and the `top_k`
/// best labels with their probabilities over the whole store.
///
/// Without a store, or with one whose rows are not the image's length (a store is
/// checked against the model when opened, so only a broken caller sees this), no
/// label is scored: the labels are empty and a text's probability against them is 1.
pub fn score_query<T: AsRef<[f32]>>(
    labels: &ActiveLabels,
    image: &[f32],
    texts: &[T],
    against: Against,
    top_k: usize,
) -> QueryScores {
    let scale = labels.logit_scale();
    let mut scratch = labels.scratch().take(labels);
    let label_softmax = scratch.rank_labels(labels.rows(), image, top_k);
    let mut scores: Vec<TextScore> = texts
        .iter()
        .map(|t| TextScore {
            score: dot_f32(t.as_ref(), image),
            probability: 0.0,
        })
        .collect();
    let logits = &mut scratch.text_logits;
    logits.clear();
    logits.extend(scores.iter().map(|s| scale * s.score));
    match against {
        Against::Texts => {
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let softmax = Softmax::new(logits, max);
            for (s, &logit) in scores.iter_mut().zip(logits.iter()) {
                s.probability = softmax.probability(logit);
            }
        }
        Against::Labels => {
            for (s, &logit) in scores.iter_mut().zip(logits.iter()) {
                s.probability = label_softmax.probability_if_added(logit);
            }
        }
    }
    let best = scratch
        .best
        .iter()
        .map(|m| LabelScore {
            label: labels.entries()[m.label].label.clone(),
            // The matcher's logit is `scale × cosine`; the API reports the cosine.
            score: m.logit / scale,
            probability: m.probability,
        })
        .collect();
    labels.scratch().give_back(scratch);
    QueryScores {
        texts: scores,
        labels: best,
    }
}

/// What scoring one query needs besides its answer, sized for one label set.
#[derive(Debug)]
pub(crate) struct Scratch {
    matcher: Matcher,
    best: Vec<Match>,
    text_logits: Vec<f32>,
}

impl Scratch {
    fn new(labels: &ActiveLabels) -> Self {
        Self {
            matcher: Matcher::new(labels.entries().len(), labels.dim(), labels.logit_scale()),
            best: Vec::new(),
            text_logits: Vec::new(),
        }
    }

    /// Ranks the labels for `image` into `self.best` and returns the softmax over
    /// all of them; an empty set when there is nothing to rank.
    fn rank_labels(&mut self, rows: Option<Rows<'_>>, image: &[f32], top_k: usize) -> Softmax {
        let ranked = rows.map(|rows| self.matcher.top_k_into(rows, image, top_k, &mut self.best));
        match ranked {
            Some(Ok(softmax)) => softmax,
            // No store, or rows of another length: nothing ranked (`best` is empty).
            None | Some(Err(_)) => {
                self.best.clear();
                Softmax::new(&[], f32::NEG_INFINITY)
            }
        }
    }
}

/// Scratch of the queries that finished scoring against one label set. A query
/// takes one (a new one when every scratch is in use) and gives it back, so there
/// are as many as queries ever scored at the same time: at most the async
/// runtime's worker threads, since scoring never waits. A label edit makes a new
/// set with a pool of its own; the old one goes with the old set.
#[derive(Debug, Default)]
pub(crate) struct ScratchPool {
    free: Mutex<Vec<Scratch>>,
}

impl ScratchPool {
    fn take(&self, labels: &ActiveLabels) -> Scratch {
        let spare = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        spare.unwrap_or_else(|| Scratch::new(labels))
    }

    fn give_back(&self, scratch: Scratch) {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(scratch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgeclip::labels::{DType, Fingerprint, Store, StoreBuilder};

    /// splitmix64: seeded test data without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }

        fn unit(&mut self, dim: usize) -> Vec<f32> {
            let mut v: Vec<f32> = (0..dim).map(|_| self.next()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        }
    }

    const SCALE: f32 = 36.8;

    /// A store of `n` random unit rows of `dtype`.
    fn write_store(dir: &std::path::Path, n: usize, dim: usize, dtype: DType) -> Store {
        let fingerprint = Fingerprint {
            model: "test".into(),
            text_sha256: [7; 32],
            tokenizer: "clip-bpe/77".into(),
            templates: vec!["{}".into()],
        };
        let mut builder = StoreBuilder::new(dtype, dim, fingerprint).unwrap();
        let mut rng = Rng(n as u64);
        for i in 0..n {
            builder
                .add(&format!("label {i:05}"), &rng.unit(dim))
                .unwrap();
        }
        let path = dir.join(format!("{n}-{dtype:?}.emb"));
        builder.write_atomic(&path).unwrap();
        Store::open(&path).unwrap()
    }

    /// The store's rows widened to f64 as the store decodes them.
    fn rows_f64(store: &Store) -> Vec<Vec<f64>> {
        let dim = store.dim();
        (0..store.len())
            .map(|i| match store.rows() {
                Rows::F32(v) => v[i * dim..][..dim].iter().map(|&x| x.into()).collect(),
                Rows::F16(v) => v[i * dim..][..dim].iter().map(|&x| x.to_f64()).collect(),
                Rows::Int8 { values, scales } => values[i * dim..][..dim]
                    .iter()
                    .map(|&q| f64::from(f32::from(q) * scales[i]))
                    .collect(),
            })
            .collect()
    }

    /// Softmax in f64 of `scale × cosines`, the textbook way.
    fn softmax(cosines: &[f64]) -> Vec<f64> {
        let max = cosines.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = cosines
            .iter()
            .map(|c| ((c - max) * f64::from(SCALE)).exp())
            .collect();
        let sum: f64 = exps.iter().sum();
        exps.iter().map(|e| e / sum).collect()
    }

    fn close(got: f32, want: f64, abs: f64, rel: f64, what: &str) {
        let err = (f64::from(got) - want).abs();
        assert!(err <= abs + rel * want.abs(), "{what}: {got} vs {want}");
    }

    /// Every number `score_query` gives is the straightforward computation's (every
    /// row widened, a full softmax per text, every label sorted) within rounding;
    /// for int8 rows also within the matcher's 16-bit query quantization (≈5·10⁻⁶ of
    /// cosine). A probability's relative error is the logit's absolute error, which
    /// is the cosine's times the logit scale: its tolerance follows from the cosine's.
    #[test]
    fn scores_match_a_straightforward_reference() {
        let dir = tempfile::tempdir().unwrap();
        let dim = 64;
        let mut rng = Rng(99);
        let image = rng.unit(dim);
        let texts: Vec<Vec<f32>> = (0..3).map(|_| rng.unit(dim)).collect();
        for (dtype, tolerance) in [(DType::F32, 1e-6), (DType::F16, 1e-6), (DType::Int8, 3e-5)] {
            let relative = 1e-5 + 2.0 * f64::from(SCALE) * tolerance;
            let store = write_store(dir.path(), 300, dim, dtype);
            let labels = ActiveLabels::from_store(&store, SCALE);
            let dot = |row: &[f64]| -> f64 {
                row.iter().zip(&image).map(|(a, &b)| a * f64::from(b)).sum()
            };
            let cosines: Vec<f64> = rows_f64(&store).iter().map(|r| dot(r)).collect();
            let text_cosines: Vec<f64> = texts
                .iter()
                .map(|t| t.iter().map(|&x| f64::from(x)).collect::<Vec<_>>())
                .map(|t| dot(&t))
                .collect();
            let probabilities = softmax(&cosines);
            let mut order: Vec<usize> = (0..cosines.len()).collect();
            order.sort_by(|&a, &b| cosines[b].total_cmp(&cosines[a]));

            let got = score_query(&labels, &image, &texts, Against::Labels, 10);
            assert_eq!(got.labels.len(), 10);
            for (rank, label) in got.labels.iter().enumerate() {
                let i: usize = label.label["label ".len()..].parse().unwrap();
                // The same label at each rank, unless two are closer than the error.
                let want = order[rank];
                assert!(
                    i == want || (cosines[i] - cosines[want]).abs() <= 2.0 * tolerance,
                    "{dtype:?} rank {rank}: {i} vs {want}"
                );
                close(label.score, cosines[i], tolerance, 0.0, "label cosine");
                close(
                    label.probability,
                    probabilities[i],
                    1e-9,
                    relative,
                    "label probability",
                );
            }
            for (t, &c) in got.texts.iter().zip(&text_cosines) {
                close(t.score, c, 1e-6, 0.0, "text cosine");
                let mut all = cosines.clone();
                all.push(c);
                let want = *softmax(&all).last().unwrap();
                close(t.probability, want, 1e-9, relative, "against the labels");
            }
            let got = score_query(&labels, &image, &texts, Against::Texts, 3);
            for (t, want) in got.texts.iter().zip(softmax(&text_cosines)) {
                close(t.probability, want, 1e-9, relative, "against the texts");
            }
        }
    }

    /// (Was a test of the handler's own softmax; the texts' softmax is this now.)
    #[test]
    fn softmax_sums_to_one_and_orders_like_its_inputs() {
        let labels = ActiveLabels::none(100.0);
        let image = [1.0, 0.0];
        let texts = [[0.1, 0.9], [0.3, 0.7], [0.2, 0.8]];
        let got = score_query(&labels, &image, &texts, Against::Texts, 5);
        let p: Vec<f32> = got.texts.iter().map(|t| t.probability).collect();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(p[1] > p[2] && p[2] > p[0]);
        assert!(got.labels.is_empty());
        // Without labels, a text against them is certain.
        let got = score_query(&labels, &image, &texts[..1], Against::Labels, 5);
        assert_eq!(got.texts[0].probability, 1.0);
    }

    #[test]
    fn rows_of_another_length_score_no_label() {
        let dir = tempfile::tempdir().unwrap();
        let labels = ActiveLabels::from_store(&write_store(dir.path(), 5, 8, DType::F16), SCALE);
        let got = score_query(&labels, &[1.0; 4], &[[1.0; 4]], Against::Labels, 5);
        assert!(got.labels.is_empty());
        assert_eq!(got.texts[0].probability, 1.0);
    }

    /// Equal cosines keep store order, and `top_k` above the store's size gives all.
    #[test]
    fn ties_keep_store_order_and_top_k_is_capped_by_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let fingerprint = Fingerprint {
            model: "test".into(),
            text_sha256: [7; 32],
            tokenizer: "clip-bpe/77".into(),
            templates: vec!["{}".into()],
        };
        let mut builder = StoreBuilder::new(DType::F32, 2, fingerprint).unwrap();
        for (label, row) in [("b", [0.0, 1.0]), ("a", [1.0, 0.0]), ("c", [0.0, 1.0])] {
            builder.add(label, &row).unwrap();
        }
        let path = dir.path().join("ties.emb");
        builder.write_atomic(&path).unwrap();
        let labels = ActiveLabels::from_store(&Store::open(&path).unwrap(), SCALE);
        let image = [0.6, 0.8];
        let got = score_query(&labels, &image, &[[0.0f32, 1.0]], Against::Labels, 100);
        let names: Vec<&str> = got.labels.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(names, ["b", "c", "a"]);
        let sum: f32 = got.labels.iter().map(|l| l.probability).sum();
        assert!((sum - 1.0).abs() < 1e-6);
    }
}
