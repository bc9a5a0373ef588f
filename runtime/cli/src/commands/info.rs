//! `edgeclip info`: a package's manifest and a SHA-256 check of every file.

use anyhow::Result;
use edgeclip::model::TowerKind;

use crate::args::InfoArgs;
use crate::context::{open_package, Ctx, Outcome};
use crate::output::{ModelFile, ModelInfo, Record};

/// Runs `info`; a file that does not verify is a partial failure (exit 1).
pub fn run(ctx: &mut Ctx, args: InfoArgs) -> Result<Outcome> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => ctx.model_dir()?.to_owned(),
    };
    let package = open_package(&dir)?;
    let m = package.manifest();
    let mut files = Vec::new();
    let mut failed = false;
    for kind in [TowerKind::Image, TowerKind::Text] {
        for entry in &package.tower(kind).files {
            let status = match package.verify(entry) {
                Ok(_) => "ok".to_owned(),
                Err(e) => {
                    failed = true;
                    e.to_string()
                }
            };
            files.push(ModelFile {
                tower: kind.name(),
                precision: entry.precision.to_string(),
                backend: entry.backend.clone(),
                soc: entry.soc.clone(),
                path: entry.path.clone(),
                form: entry.form.clone(),
                sha256: entry.sha256.clone(),
                status,
            });
        }
    }
    ctx.out.print(&Record::ModelInfo(ModelInfo {
        dir: dir.display().to_string(),
        name: m.name.clone(),
        family: m.family.clone(),
        description: m.description.clone(),
        embed_dim: m.embed_dim,
        logit_scale: m.logit_scale,
        image_size: m.preprocess.image_size,
        interpolation: m.preprocess.interpolation,
        resize_mode: m.preprocess.resize_mode,
        context_length: m.tokenizer.context_length,
        files,
    }))?;
    Ok(Outcome::failed_if(failed))
}
