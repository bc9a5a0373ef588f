//! `edgeclip backends`: the backends of this build, whether each can run here,
//! and which one `--backend` picks.

use anyhow::Result;

use crate::context::{Ctx, Outcome};
use crate::output::{BackendInfo, Record};

/// Runs `backends`. When `--backend` resolves to none (unknown name, or not
/// available here) the list is still printed, then that is the run's error.
pub fn run(ctx: &mut Ctx) -> Result<Outcome> {
    let registry = ctx.registry()?;
    let selected = ctx.select_backend(&registry);
    let selected_name = selected.as_ref().ok().map(|b| b.name());
    for status in registry.statuses() {
        ctx.out.print(&Record::Backend(BackendInfo {
            name: status.name,
            available: status.available.is_ok(),
            reason: status.available.err().map(|e| e.to_string()),
            selected: selected_name == Some(status.name),
        }))?;
    }
    selected?;
    Ok(Outcome::Success)
}
