//! One module per subcommand. Each turns its arguments and the [`Ctx`] into
//! library calls and records; none prints except through `ctx.out`.

mod backends;
mod check;
mod classify;
mod depth;
mod doctor;
mod embed;
mod events;
mod info;
mod label_source;
mod labels;
mod points;
mod serve;
mod tokenize;
mod watch;

use anyhow::Result;
use edgeclip::ErrorKind;

use crate::args::Command;
use crate::context::{Ctx, Outcome};

/// Runs `command`.
pub fn run(ctx: &mut Ctx, command: Command) -> Result<Outcome> {
    match command {
        Command::Classify(args) => classify::run(ctx, args),
        Command::Embed(args) => embed::run(ctx, args),
        Command::Tokenize(args) => tokenize::run(ctx, args),
        Command::Info(args) => info::run(ctx, args),
        Command::Check(args) => check::run(ctx, args),
        Command::Labels(command) => labels::run(ctx, command),
        Command::Backends => backends::run(ctx),
        Command::Watch(args) => watch::run(ctx, *args),
        Command::Events(command) => events::run(ctx, command),
        Command::Points(args) => points::run(ctx, args),
        Command::Depth(args) => depth::run(ctx, args),
        Command::Serve(args) => serve::run(ctx, *args),
        Command::Doctor(args) => doctor::run(ctx, args),
    }
}

/// Milliseconds since `start`, for the per-stage timings of the output records.
fn ms_since(start: std::time::Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Whether `err`, raised while handling one input, is that input's fault (so it is
/// reported and the run goes on) rather than the model's or the backend's, which
/// would fail every input alike (a backend that fails on the first image fails on
/// all of them).
fn is_input_error(err: &edgeclip::Error) -> bool {
    matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::Io)
}
