//! `edgeclip points`: PointCLIP zero-shot classification of point clouds.
//!
//! Each cloud is read (`edgeclip_points::read`), projected to depth views
//! (`Projection::project`), resized into one batch for the image tower
//! (`to_encoder_input`), and its per-view embeddings (each L2-normalised) are
//! fused into one query: `Σ wᵥ·eᵥ / Σ wᵥ`. Label scores are linear in the query,
//! so scoring that mean is scoring the weighted mean of the per-view logits, as
//! PointCLIP does (up to the constant Σ w, which the mean keeps at one image's
//! temperature).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use edgeclip::encoder::ImageEncoder;
use edgeclip::model::ModelPackage;
use edgeclip::zero_shot::LabelSet;
use edgeclip_points::project::{save_views, to_encoder_input, Projection, Views};
use edgeclip_points::read::{self, ReadError};
use edgeclip_points::{PointClipSettings, PointCloud};

use super::{is_input_error, label_source, ms_since};
use crate::args::{LabelArgs, PointLabelArgs, PointsArgs, ProjectionArg};
use crate::context::{Ctx, Outcome};
use crate::output::{PointClassification, Record};

/// Runs `points`.
pub fn run(ctx: &mut Ctx, args: PointsArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let settings = package.manifest().pointclip.clone().unwrap_or_default();
    let projection = resolve_projection(args.projection, &settings, args.no_normalize)?;
    let weights = settings.view_weights(projection).to_vec();
    let max_points = args.max_points.unwrap_or_else(|| settings.points());
    let mut set = open_labels(ctx, args.labels, &settings, &package)?;
    let mut images = ImageEncoder::open(&package, ctx.engine()?, ctx.precision)?;
    let size = package.manifest().preprocess.image_size as usize;
    let mut views = Views::new();
    views.set_threads(ctx.threads());
    let mut batch = Vec::new();
    let mut fused = Vec::new();
    let several = args.clouds.len() > 1;
    let mut failed = false;
    for path in &args.clouds {
        let shown = path.display().to_string();
        let started = Instant::now();
        let cloud = match read_cloud(path) {
            Ok(cloud) => cloud,
            Err(err) if !is_input_error(&err) => return Err(err.into()),
            Err(err) => {
                failed = true;
                ctx.out.report_error(Some(&shown), &err.into())?;
                continue;
            }
        };
        let read_ms = ms_since(started);
        let started = Instant::now();
        let projected = cloud.downsampled(max_points);
        let projected_points = projected.len();
        projection.project(&projected, &mut views);
        let project_ms = ms_since(started);
        let views_dir = match &args.save_views {
            Some(dir) => {
                let dir = views_dir(dir, path, several);
                save_views(&dir, &views)?;
                Some(dir.display().to_string())
            }
            None => None,
        };
        let started = Instant::now();
        batch.resize(views.encoder_input_len(size), 0.0);
        to_encoder_input(&views, size, &mut batch)?;
        let embeddings = images.embed_preprocessed(&batch, views.count())?;
        embeddings.weighted_mean_into(&weights, &mut fused)?;
        let top = set.top_k(&fused, args.top_k.into())?;
        let encode_ms = ms_since(started);
        let top = label_source::scores(&set, &top);
        ctx.out
            .print(&Record::PointClassification(PointClassification {
                path: &shown,
                points: cloud.len(),
                projected_points,
                projection: projection.name(),
                views: views.count(),
                top,
                views_dir,
                read_ms,
                project_ms,
                encode_ms,
            }))?;
    }
    Ok(Outcome::failed_if(failed))
}

/// Reads one cloud, as an `edgeclip::Error` so that a bad file is reported as that
/// input's failure (`invalid_input`, or `io` when it cannot be read) and the run
/// goes on.
fn read_cloud(path: &Path) -> edgeclip::Result<PointCloud> {
    read::read_path(path).map_err(|err| match err {
        ReadError::Io { path, error } => edgeclip::Error::io(path, error),
        other => edgeclip::Error::InvalidInput(other.to_string()),
    })
}

/// `--projection`, else the model's `[pointclip] projection`, else V1; V1
/// normalises the cloud into the unit sphere unless `--no-normalize`.
fn resolve_projection(
    flag: Option<ProjectionArg>,
    settings: &PointClipSettings,
    no_normalize: bool,
) -> Result<Projection> {
    let projection = match flag {
        Some(ProjectionArg::V1) => Projection::V1 { normalize: true },
        Some(ProjectionArg::V2) => Projection::V2,
        None => settings.projection()?,
    };
    match (projection, no_normalize) {
        (Projection::V1 { .. }, true) => Ok(Projection::V1 { normalize: false }),
        (Projection::V2, true) => {
            bail!("--no-normalize applies to the v1 projection: v2 normalises each view itself")
        }
        (p, false) => Ok(p),
    }
}

/// The label set: a store, or labels (`--labels`, `--labels-file`, else the model's
/// `[pointclip] labels`) encoded in the templates (`--template`, else the model's
/// `[pointclip] template`, else PointCLIP's).
fn open_labels(
    ctx: &Ctx,
    args: PointLabelArgs,
    settings: &PointClipSettings,
    package: &ModelPackage,
) -> Result<LabelSet> {
    let templates = templates(args.templates, settings);
    let given = LabelArgs {
        labels: args.labels,
        labels_file: args.labels_file,
        store: args.store,
        templates: templates.clone(),
    };
    if given.store.is_some() {
        return label_source::open(ctx, &given, package);
    }
    let labels = if given.labels.is_some() || given.labels_file.is_some() {
        label_source::read_labels(&given)?
    } else if let Some(labels) = &settings.labels {
        labels.clone()
    } else {
        bail!(
            "this model names no point-cloud classes ([pointclip] labels): \
             give --labels, --labels-file or --store"
        );
    };
    label_source::encode(ctx, labels, &templates, package)
}

/// `--template`s, else the model's, else PointCLIP's.
fn templates(flags: Vec<String>, settings: &PointClipSettings) -> Vec<String> {
    if !flags.is_empty() {
        return flags;
    }
    vec![settings.template().to_owned()]
}

/// Where `--save-views DIR` puts a cloud's views: `DIR` itself for a single cloud,
/// `DIR/<file name>` when there are several.
fn views_dir(dir: &Path, cloud: &Path, several: bool) -> PathBuf {
    match cloud.file_name() {
        Some(name) if several => dir.join(name),
        _ => dir.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projection_comes_from_the_flag_then_the_model_then_v1() {
        let model = |name: Option<&str>| PointClipSettings {
            projection: name.map(str::to_owned),
            ..PointClipSettings::default()
        };
        let p = |flag, manifest, raw| resolve_projection(flag, &model(manifest), raw).unwrap();
        assert_eq!(p(None, None, false), Projection::V1 { normalize: true });
        assert_eq!(p(None, Some("v2"), false), Projection::V2);
        assert_eq!(
            p(Some(ProjectionArg::V1), Some("v2"), false),
            Projection::V1 { normalize: true }
        );
        assert_eq!(
            p(Some(ProjectionArg::V2), Some("v1"), false),
            Projection::V2
        );
        assert_eq!(p(None, None, true), Projection::V1 { normalize: false });
        let err = resolve_projection(Some(ProjectionArg::V2), &model(None), true).unwrap_err();
        assert!(err.to_string().contains("--no-normalize"), "{err}");
        assert!(resolve_projection(None, &model(Some("v9")), false).is_err());
    }

    #[test]
    fn templates_come_from_the_flags_then_the_model() {
        let none = PointClipSettings::default();
        assert_eq!(
            templates(vec![], &none),
            [edgeclip_points::settings::DEFAULT_TEMPLATE]
        );
        let model = PointClipSettings {
            template: Some("a depth map of a {}.".into()),
            ..PointClipSettings::default()
        };
        assert_eq!(templates(vec![], &model), ["a depth map of a {}."]);
        assert_eq!(templates(vec!["x {}".into()], &model), ["x {}"]);
    }

    #[test]
    fn several_clouds_get_a_folder_each() {
        let dir = Path::new("out");
        assert_eq!(views_dir(dir, Path::new("a/b.ply"), false), dir);
        assert_eq!(
            views_dir(dir, Path::new("a/b.ply"), true),
            dir.join("b.ply")
        );
    }

    #[test]
    fn unreadable_clouds_are_input_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_cloud(&dir.path().join("none.ply")).unwrap_err();
        assert!(is_input_error(&missing));
        let empty = dir.path().join("empty.xyz");
        std::fs::write(&empty, "# nothing\n").unwrap();
        let err = read_cloud(&empty).unwrap_err();
        assert!(is_input_error(&err));
        assert!(err.to_string().contains("empty.xyz"), "{err}");
        let unknown = dir.path().join("cloud.obj");
        std::fs::write(&unknown, "v 0 0 0\n").unwrap();
        assert!(read_cloud(&unknown)
            .unwrap_err()
            .to_string()
            .contains("extension"));
    }
}
