//! `[pointclip]`: how a model classifies point clouds. A model package's manifest
//! carries the table (serde); `edgeclip points` reads it through these methods, so
//! the defaults and the checks live in one place.

use serde::{Deserialize, Serialize};

use crate::project::Projection;
use crate::PointsErrorKind;

/// PointCLIP's prompt (`{}` is the class name), used when neither the caller nor
/// the model names one.
pub const DEFAULT_TEMPLATE: &str = "point cloud depth map of a {}.";

/// The point budget when the model names none: the 1,024 points of the
/// ModelNet40 clouds the official PointCLIP evaluates.
pub const DEFAULT_POINTS: usize = 1024;

/// A model's `[pointclip]` table. Every key is optional; a missing one takes the
/// published PointCLIP value.
///
/// ```toml
/// [pointclip]
/// projection = "v2"
/// labels = ["cube", "sphere"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointClipSettings {
    /// Prompt template with `{}` for the class name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Projection used when the caller names none: `v1` or `v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<String>,
    /// Weights of PointCLIP V1's six views, in the official view order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_weights_v1: Option<Vec<f32>>,
    /// Weights of PointCLIP V2's ten views, in the official view order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_weights_v2: Option<Vec<f32>>,
    /// The classes the model was trained to tell apart in point clouds: scored
    /// when the caller gives no labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Clouds with more points are evenly downsampled to this many before
    /// projection (the density the model's views were made from; 0 keeps all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
}

/// Why a `[pointclip]` table was refused; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pointclip.{key}: {message}")]
pub struct SettingsError {
    /// The key at fault.
    pub key: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

impl SettingsError {
    /// What class of failure this is: always a setting ([`PointsErrorKind::Config`]).
    pub fn kind(&self) -> PointsErrorKind {
        PointsErrorKind::Config
    }
}

impl PointClipSettings {
    /// Refuses a table `edgeclip points` could not use, naming the key.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key, message| Err(SettingsError { key, message });
        if let Some(p) = &self.projection {
            if let Err(e) = p.parse::<Projection>() {
                return bad("projection", e.to_string());
            }
        }
        for (key, weights, views) in [
            (
                "view_weights_v1",
                &self.view_weights_v1,
                Projection::V1 { normalize: true },
            ),
            ("view_weights_v2", &self.view_weights_v2, Projection::V2),
        ] {
            let Some(w) = weights else { continue };
            if w.len() != views.view_count() {
                return bad(
                    key,
                    format!(
                        "{} weights, the projection has {} views",
                        w.len(),
                        views.view_count()
                    ),
                );
            }
            if w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || w.iter().sum::<f32>() <= 0.0 {
                return bad(
                    key,
                    format!("{w:?}: weights must be finite, at least 0, and not all 0"),
                );
            }
        }
        if let Some(labels) = &self.labels {
            if labels.is_empty() || labels.iter().any(|l| l.trim().is_empty()) {
                return bad(
                    "labels",
                    format!("{labels:?}: give at least one label, none of them empty"),
                );
            }
        }
        if let Some(t) = &self.template {
            if t.matches("{}").count() != 1 {
                return bad(
                    "template",
                    format!("{t:?} must contain exactly one {{}} for the class name"),
                );
            }
        }
        Ok(())
    }

    /// The projection to use when the caller names none: the model's, else V1.
    pub fn projection(&self) -> Result<Projection, SettingsError> {
        match &self.projection {
            None => Ok(Projection::default()),
            Some(p) => p
                .parse()
                .map_err(|e: crate::project::ProjectError| SettingsError {
                    key: "projection",
                    message: e.to_string(),
                }),
        }
    }

    /// The weights that fuse `projection`'s per-view embeddings: the model's, else
    /// the projection's defaults.
    pub fn view_weights(&self, projection: Projection) -> &[f32] {
        let from_model = match projection {
            Projection::V1 { .. } => self.view_weights_v1.as_deref(),
            Projection::V2 => self.view_weights_v2.as_deref(),
        };
        from_model.unwrap_or_else(|| projection.default_view_weights())
    }

    /// The prompt template: the model's, else [`DEFAULT_TEMPLATE`].
    pub fn template(&self) -> &str {
        self.template.as_deref().unwrap_or(DEFAULT_TEMPLATE)
    }

    /// How many points a cloud is downsampled to: the model's, else [`DEFAULT_POINTS`].
    pub fn points(&self) -> usize {
        self.points.unwrap_or(DEFAULT_POINTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_table_is_pointclips_published_setting() {
        let s = PointClipSettings::default();
        s.validate().unwrap();
        assert_eq!(s.projection().unwrap(), Projection::V1 { normalize: true });
        assert_eq!(
            s.view_weights(Projection::V2),
            Projection::V2.default_view_weights()
        );
        assert_eq!(s.template(), DEFAULT_TEMPLATE);
        assert_eq!(s.points(), 1024);
    }

    #[test]
    fn the_models_values_win() {
        let s = PointClipSettings {
            projection: Some("v2".into()),
            view_weights_v2: Some(vec![1.0; 10]),
            template: Some("a {}".into()),
            points: Some(0),
            ..PointClipSettings::default()
        };
        s.validate().unwrap();
        assert_eq!(s.projection().unwrap(), Projection::V2);
        assert_eq!(s.view_weights(Projection::V2), [1.0; 10]);
        assert_eq!(
            s.view_weights(Projection::V1 { normalize: false }),
            Projection::V1 { normalize: true }.default_view_weights()
        );
        assert_eq!((s.template(), s.points()), ("a {}", 0));
    }

    #[test]
    fn bad_tables_are_refused_naming_the_key() {
        let bad = |s: PointClipSettings, says: &str| {
            let e = s.validate().unwrap_err();
            assert_eq!(e.kind(), PointsErrorKind::Config);
            let e = e.to_string();
            assert!(e.contains(says), "{e:?} lacks {says:?}");
        };
        let d = PointClipSettings::default;
        bad(
            PointClipSettings {
                projection: Some("v3".into()),
                ..d()
            },
            "pointclip.projection: unknown projection",
        );
        bad(
            PointClipSettings {
                view_weights_v2: Some(vec![1.0; 2]),
                ..d()
            },
            "pointclip.view_weights_v2: 2 weights, the projection has 10 views",
        );
        bad(
            PointClipSettings {
                view_weights_v1: Some(vec![0.0; 6]),
                ..d()
            },
            "not all 0",
        );
        bad(
            PointClipSettings {
                view_weights_v1: Some(vec![f32::NAN; 6]),
                ..d()
            },
            "finite",
        );
        bad(
            PointClipSettings {
                labels: Some(vec![]),
                ..d()
            },
            "pointclip.labels",
        );
        bad(
            PointClipSettings {
                labels: Some(vec!["cube".into(), " ".into()]),
                ..d()
            },
            "none of them empty",
        );
        bad(
            PointClipSettings {
                template: Some("a cloud".into()),
                ..d()
            },
            "pointclip.template",
        );
    }
}
