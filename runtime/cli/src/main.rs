//! `edgeclip`: a thin command line over the edgeclip library.
//!
//! Parse (`args`), resolve the flags once (`context`), run one command
//! (`commands`), which prints records through a printer (`output`), and map how
//! it ended to an exit code: 0 success (or stdout closed by its reader), 1 some
//! inputs failed, 2 fatal.

mod args;
mod commands;
mod context;
mod numbers;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::context::{Ctx, Outcome};

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let level = match cli.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("EDGECLIP_LOG")
        .init();
    let mut ctx = Ctx::new(&cli);
    match commands::run(&mut ctx, cli.command) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        // Some inputs failed and were reported; the others were processed.
        Ok(Outcome::PartialFailure) => ExitCode::from(1),
        // `edgeclip ... | head -1`: the reader has all it wanted. Not a failure,
        // and nothing to say about it (the shell's own tools stay quiet too).
        Err(err) if output::is_closed_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Whether or not the record gets out, the run has failed: exit 2.
            let _ = ctx.out.report_error(None, &err);
            ExitCode::from(2)
        }
    }
}
