//! Command-line parsing and dispatch.

mod check;
mod explain;
mod fhirpath;
mod fmt;
mod graph;
mod replay;
mod serve;
mod stats;
mod studio;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Clinical decision support on FHIR R4 data.
#[derive(Debug, Parser)]
#[command(name = "cds", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(check::CheckArgs),
    Fmt(fmt::FmtArgs),
    Test(test::TestArgs),
    Explain(explain::ExplainArgs),
    Graph(graph::GraphArgs),
    Stats(stats::StatsArgs),
    Fhirpath(fhirpath::FhirpathArgs),
    Serve(serve::ServeArgs),
    Studio(studio::StudioArgs),
    Replay(replay::ReplayArgs),
    #[command(name = "replay-merge")]
    ReplayMerge(replay::MergeArgs),
}

/// Parses the command line and runs the subcommand; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Stats(args) => stats::run(&args),
        Command::Fhirpath(args) => fhirpath::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Studio(args) => studio::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::ReplayMerge(args) => replay::run_merge(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
