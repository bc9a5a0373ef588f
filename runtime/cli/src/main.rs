//! `edgeclip`: a thin command line over the edgeclip library.

mod args;
mod commands;
mod labels;
mod output;

use std::process::ExitCode;

use clap::Parser;

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
    match commands::run(cli) {
        Ok(commands::Outcome::Success) => ExitCode::SUCCESS,
        // Some inputs failed and were reported; the others were processed.
        Ok(commands::Outcome::PartialFailure) => ExitCode::from(1),
        Err(err) => {
            eprintln!("edgeclip: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
