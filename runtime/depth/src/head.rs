//! Features to depths: cosine with each bin prompt, scale, softmax over the bins, and
//! the expected bin depth.

use crate::config::MAX_BINS;
use crate::error::check_len;
use crate::{grid, DepthConfig, DepthError, DepthMap};

/// A DepthCLIP head: a validated [`DepthConfig`] and the unit-length text embeddings of
/// its bin prompts. It holds no per-frame state: one head serves any number of
/// threads, and its depth functions write into buffers the caller owns.
#[derive(Debug, Clone)]
pub struct DepthHead {
    config: DepthConfig,
    // f64 because the official scale of 1000 magnifies a rounding error in a cosine
    // a thousandfold before the softmax.
    text: Vec<f64>,
    dim: usize,
}

impl DepthHead {
    /// A head from `config` and its bin prompts' text embeddings (`bins × dim`,
    /// row-major, in the order of [`DepthConfig::prompts`]). The embeddings need not
    /// be unit length: the head normalises each one.
    pub fn new(config: DepthConfig, bin_text_embeddings: &[f32]) -> Result<Self, DepthError> {
        config.validate()?;
        let bins = config.bins_m.len();
        let dim = bin_text_embeddings.len() / bins;
        if dim == 0 || dim * bins != bin_text_embeddings.len() {
            return Err(DepthError::Shape {
                what: "bin text embeddings (bins × dim)",
                expected: bins * dim.max(1),
                got: bin_text_embeddings.len(),
            });
        }
        let mut text = Vec::with_capacity(bins * dim);
        for (index, row) in bin_text_embeddings.chunks_exact(dim).enumerate() {
            let norm = norm(row);
            if !(norm.is_finite() && norm > 0.0) {
                return Err(DepthError::TextEmbedding { index });
            }
            text.extend(row.iter().map(|&v| v as f64 / norm));
        }
        log::debug!(
            "DepthCLIP head: {bins} bins {:?} m, scale {}, prompts {:?}",
            config.bins_m,
            config.scale,
            config.prompts()
        );
        Ok(DepthHead { config, text, dim })
    }

    /// The configuration the head was built with.
    pub fn config(&self) -> &DepthConfig {
        &self.config
    }

    /// The embedding width the head expects of every feature.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// How many bins (prompts).
    pub fn bins(&self) -> usize {
        self.config.bins_m.len()
    }

    /// The softmax weights of one feature over the bins, written to `out` (one per
    /// bin). The feature is L2-normalised first; a zero feature scores 0 against every
    /// bin and so weighs them equally.
    pub fn bin_probabilities(&self, feature: &[f32], out: &mut [f32]) -> Result<(), DepthError> {
        check_len("feature", self.dim, feature.len())?;
        check_len("probabilities", self.bins(), out.len())?;
        let mut w = [0f64; MAX_BINS];
        let sum = self.weights(feature, &mut w);
        for (o, w) in out.iter_mut().zip(&w) {
            *o = (w / sum) as f32;
        }
        Ok(())
    }

    /// The depth of one feature: the sum over bins of softmax weight × bin depth, as
    /// `MonoCLIP.forward` in the official `monoclip.py` computes it per patch. It
    /// lies within [`DepthConfig::depth_range`] for any finite feature; a feature with
    /// a NaN or infinite value gives NaN.
    pub fn depth(&self, feature: &[f32]) -> Result<f32, DepthError> {
        check_len("feature", self.dim, feature.len())?;
        Ok(self.depth_unchecked(feature))
    }

    /// The scene's depth from the pooled image embedding (the image tower's
    /// `embedding` output): the same readout as a patch's, on the whole image. The
    /// default model's evaluation measures DepthCLIP this way.
    pub fn scene_depth(&self, pooled_embedding: &[f32]) -> Result<f32, DepthError> {
        self.depth(pooled_embedding)
    }

    /// Depths of a `grid = (rows, cols)` of patch tokens (`rows × cols × dim`,
    /// row-major, as the image tower's `patch_tokens` output), written to `out`
    /// (`rows × cols`, row-major). Each patch is L2-normalised first; a patch with a
    /// NaN or infinite value gets a NaN depth.
    pub fn patch_depths(
        &self,
        patch_tokens: &[f32],
        grid: (usize, usize),
        out: &mut [f32],
    ) -> Result<(), DepthError> {
        let patches = grid.0 * grid.1;
        check_len(
            "patch tokens (rows × cols × dim)",
            patches * self.dim,
            patch_tokens.len(),
        )?;
        check_len("patch depths (rows × cols)", patches, out.len())?;
        for (o, token) in out.iter_mut().zip(patch_tokens.chunks_exact(self.dim)) {
            *o = self.depth_unchecked(token);
        }
        Ok(())
    }

    /// The whole pipeline of the official evaluation (`DepthCLIP_code/eval.py`,
    /// `validate`): patch depths, averaged with those of the horizontally mirrored
    /// image when its patch tokens are given ([`grid::flip_average`]), then upsampled
    /// bilinearly with `align_corners=True` to `size = (height, width)`
    /// ([`grid::upsample`]).
    pub fn depth_map(
        &self,
        patch_tokens: &[f32],
        mirrored_patch_tokens: Option<&[f32]>,
        grid: (usize, usize),
        size: (usize, usize),
    ) -> Result<DepthMap, DepthError> {
        let mut depths = vec![0.0; grid.0 * grid.1];
        self.patch_depths(patch_tokens, grid, &mut depths)?;
        if let Some(mirrored) = mirrored_patch_tokens {
            let mut flipped = vec![0.0; depths.len()];
            self.patch_depths(mirrored, grid, &mut flipped)?;
            grid::flip_average(&mut depths, &flipped, grid)?;
        }
        let mut metres = vec![0.0; size.0 * size.1];
        grid::upsample(&depths, grid, size, &mut metres)?;
        DepthMap::new(size.1, size.0, metres)
    }

    fn depth_unchecked(&self, feature: &[f32]) -> f32 {
        let mut w = [0f64; MAX_BINS];
        let sum = self.weights(feature, &mut w);
        let weighted: f64 = w
            .iter()
            .zip(&self.config.bins_m)
            .map(|(w, &b)| w * b as f64)
            .sum();
        let (lo, hi) = self.config.depth_range();
        // Rounding may step a hair outside the bins; the documented range is exact.
        ((weighted / sum) as f32).clamp(lo, hi)
    }

    /// Unnormalised softmax weights (the largest is 1) in `w[..bins]`; returns their sum.
    fn weights(&self, feature: &[f32], w: &mut [f64; MAX_BINS]) -> f64 {
        let bins = self.bins();
        let norm = norm(feature);
        // A zero patch has no direction: score it 0 against every bin.
        let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        let scale = self.config.scale as f64;
        let mut max = f64::NEG_INFINITY;
        for (k, t) in self.text.chunks_exact(self.dim).enumerate() {
            let dot: f64 = feature.iter().zip(t).map(|(&f, &t)| f as f64 * t).sum();
            // Rounding can push a cosine a hair past ±1; clamping keeps huge scales sane.
            let logit = scale * (dot * inv).clamp(-1.0, 1.0);
            w[k] = logit;
            max = max.max(logit);
        }
        let mut sum = 0.0;
        for v in &mut w[..bins] {
            *v = (*v - max).exp();
            sum += *v;
        }
        sum
    }
}

/// The Euclidean norm in f64: exact enough for the official scale, and no overflow
/// for any finite f32 input.
fn norm(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Three bins on the axes of a 3-d space, so a feature's cosines are its unit
    /// vector's coordinates.
    fn axes_head(scale: f32) -> DepthHead {
        let config = DepthConfig {
            words: vec!["near".into(), "middle".into(), "far".into()],
            bins_m: vec![1.0, 2.0, 4.0],
            template: "it is {}".into(),
            scale,
        };
        DepthHead::new(config, &[2.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 9.0]).unwrap()
    }

    #[test]
    fn depth_is_the_softmax_weighted_bin_depth() {
        let head = axes_head(2.0);
        // cosines (0.6, 0.8, 0): logits (1.2, 1.6, 0)
        let feature = [3.0, 4.0, 0.0];
        let e = [1.2f64.exp(), 1.6f64.exp(), 1.0];
        let s: f64 = e.iter().sum();
        let want = (e[0] * 1.0 + e[1] * 2.0 + e[2] * 4.0) / s;
        assert!((head.depth(&feature).unwrap() as f64 - want).abs() < 1e-6);
        let mut p = [0.0; 3];
        head.bin_probabilities(&feature, &mut p).unwrap();
        for (p, e) in p.iter().zip(e) {
            assert!((*p as f64 - e / s).abs() < 1e-7);
        }
    }

    #[test]
    fn a_large_scale_picks_the_nearest_prompt() {
        let head = axes_head(1000.0);
        assert_eq!(head.depth(&[0.1, 0.2, 5.0]).unwrap(), 4.0);
        assert_eq!(head.scene_depth(&[7.0, 0.2, 0.1]).unwrap(), 1.0);
    }

    #[test]
    fn a_non_finite_feature_has_no_depth() {
        let head = axes_head(30.0);
        assert!(head.depth(&[f32::INFINITY, 0.0, 0.0]).unwrap().is_nan());
        assert!(head.depth(&[f32::NAN, 1.0, 0.0]).unwrap().is_nan());
        let tokens = [1.0, 0.0, 0.0, f32::NAN, 0.0, 0.0];
        let err = head.depth_map(&tokens, None, (1, 2), (2, 2)).unwrap_err();
        assert!(matches!(err, DepthError::BadDepth { .. }), "{err}");
    }

    #[test]
    fn a_zero_feature_weighs_the_bins_equally() {
        assert!((axes_head(1000.0).depth(&[0.0; 3]).unwrap() - 7.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn patch_depths_are_row_major_per_patch() {
        let head = axes_head(1000.0);
        let tokens = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 3.0, 0.0];
        let mut out = [0.0; 4];
        head.patch_depths(&tokens, (2, 2), &mut out).unwrap();
        assert_eq!(out, [1.0, 2.0, 4.0, 2.0]);
    }

    #[test]
    fn wrong_lengths_and_bad_text_are_refused() {
        let head = axes_head(1.0);
        let mut out = [0.0; 4];
        let err = head.patch_depths(&[0.0; 11], (2, 2), &mut out).unwrap_err();
        assert!(
            err.to_string().contains("expected 12 values, got 11"),
            "{err}"
        );
        assert!(head
            .patch_depths(&[0.0; 12], (2, 2), &mut out[..3])
            .is_err());
        assert!(head.depth(&[1.0; 4]).is_err());
        let c = DepthConfig::default();
        assert!(matches!(
            DepthHead::new(c.clone(), &[1.0; 7 * 4 + 1]),
            Err(DepthError::Shape { .. })
        ));
        let mut text = vec![1.0; 7 * 4];
        text[8..12].fill(0.0);
        assert!(matches!(
            DepthHead::new(c.clone(), &text),
            Err(DepthError::TextEmbedding { index: 2 })
        ));
        let bad = DepthConfig { scale: -1.0, ..c };
        assert!(matches!(
            DepthHead::new(bad, &[1.0; 28]),
            Err(DepthError::Config(_))
        ));
    }

    #[test]
    fn depth_map_runs_the_whole_pipeline() {
        let head = axes_head(1000.0);
        // Left column near, right column far; mirrored, the halves swap places.
        let tokens = [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
        let mirrored = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let map = head
            .depth_map(&tokens, Some(&mirrored), (2, 2), (3, 5))
            .unwrap();
        assert_eq!((map.width(), map.height()), (5, 3));
        assert_eq!(map.metres()[..5], [1.0, 1.75, 2.5, 3.25, 4.0]);
        let plain = head.depth_map(&tokens, None, (2, 2), (1, 1)).unwrap();
        assert_eq!(plain.metres(), [1.0]);
    }

    proptest! {
        #[test]
        fn weights_sum_to_one_and_depth_stays_within_the_bins(
            feature in prop::collection::vec(prop::num::f32::NORMAL | prop::num::f32::ZERO, 3),
            scale in prop::sample::select(vec![1e-3f32, 1.0, 10.0, 1000.0, 1e30, f32::MAX]),
        ) {
            let head = axes_head(scale);
            let mut p = [0.0; 3];
            head.bin_probabilities(&feature, &mut p).unwrap();
            prop_assert!(p.iter().all(|p| (0.0..=1.0).contains(p)));
            prop_assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            let d = head.depth(&feature).unwrap();
            prop_assert!((1.0..=4.0).contains(&d), "{d}");
        }
    }
}
