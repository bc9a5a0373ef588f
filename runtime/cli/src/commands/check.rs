//! `edgeclip check`: this machine's outputs against the package's reference.

use anyhow::{bail, Context as _, Result};
use edgeclip::reference::Reference;

use crate::args::CheckArgs;
use crate::context::{Ctx, Outcome};
use crate::output::Record;

/// Runs `check`; a failed comparison is a partial failure (exit 1).
pub fn run(ctx: &mut Ctx, args: CheckArgs) -> Result<Outcome> {
    let package = ctx.package()?;
    let reference = match &args.reference {
        Some(dir) => Reference::open(dir),
        None => Reference::of_package(&package),
    }
    .context("opening the reference outputs")?;
    let agreements = reference.check(&package, ctx.engine()?, ctx.precision)?;
    if agreements.is_empty() {
        bail!(
            "{}: no reference output for precision {}",
            reference.dir().display(),
            ctx.precision
        );
    }
    for a in &agreements {
        ctx.out.print(&Record::Check {
            output: &a.output,
            rows: a.rows,
            min_cosine: a.min_cosine,
            mean_cosine: a.mean_cosine,
            floor: a.floor,
            passed: a.passed(),
        })?;
    }
    Ok(Outcome::failed_if(!agreements.iter().all(|a| a.passed())))
}
