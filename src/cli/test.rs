//! `cds test PATH...`: run the test cases beside the rulesets.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Run ruleset test cases (`tests/*.json` beside each `.rules` file).
///
/// Each case gives patient resources, an evaluation time and a hook, the exact set of rules that
/// must fire and the values of some definitions (see `rulesets/README.md`). Failing cases are
/// listed with what differed and, for a card raised or missed, the rule's explanation. A path
/// may be a folder, a `.rules` file or one case file. Exit code: 0 when every case passes, 1
/// when one fails, 2 on a usage or I/O error.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Folders, `.rules` files or case files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also list the cases that pass.
    #[arg(long, short)]
    verbose: bool,
}

/// Runs `cds test`.
pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let suites = cds::testing::discover(&args.paths)?;
    let report = cds::testing::run_suites(&suites);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for s in suites.iter().filter(|s| s.cases.is_empty()) {
        writeln!(
            out,
            "note: {} has no test cases",
            s.dir.join("tests").display()
        )?;
    }
    for case in &report.cases {
        if args.verbose || !case.passed() {
            writeln!(out, "{case}\n")?;
        }
    }
    writeln!(out, "{}", report.summary())?;
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
