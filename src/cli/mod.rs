//! Command-line parsing and dispatch.

mod fhirpath;
mod stats;

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
    Stats(stats::StatsArgs),
    Fhirpath(fhirpath::FhirpathArgs),
}

/// Parses the command line and runs the subcommand; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Stats(args) => stats::run(&args),
        Command::Fhirpath(args) => fhirpath::run(&args),
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
