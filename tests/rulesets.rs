//! The shipped rulesets pass `cds check` and `cds test` (run through the built binary, so this
//! is exactly what `cds check rulesets/` and `cds test rulesets/` do). Runs without the test
//! harness (`harness = false`) so the counts are printed on every run.

use std::io::Write;
use std::process::{Command, ExitCode, Output};

fn cds(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cds"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the cds binary runs")
}

/// Runs one command; prints its last line (the summary), or all its output when it fails.
fn run(out: &mut impl Write, args: &[&str]) -> bool {
    let o = cds(args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    let summary = stdout.lines().last().unwrap_or("(no output)");
    let ok = o.status.success();
    let _ = writeln!(
        out,
        "cds {}: {summary} [{}]",
        args.join(" "),
        if ok { "ok" } else { "FAILED" }
    );
    if !ok {
        let _ = writeln!(out, "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    }
    ok
}

fn main() -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut ok = run(&mut out, &["check", "rulesets/"]);
    ok &= run(&mut out, &["fmt", "--check", "rulesets/"]);
    ok &= run(&mut out, &["test", "rulesets/"]);
    // Every shipped ruleset has test cases.
    let report = match cds::testing::run(&["rulesets".into()]) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "cannot run the ruleset tests: {e}");
            return ExitCode::FAILURE;
        }
    };
    let suites = cds::testing::discover(&["rulesets".into()]).unwrap_or_default();
    for s in &suites {
        if s.cases.is_empty() {
            ok = false;
            let _ = writeln!(out, "{}: no test cases", s.dir.display());
        }
    }
    let _ = writeln!(
        out,
        "rulesets: {} folders, {}",
        suites.len(),
        report.summary()
    );
    if ok && report.success() && !report.cases.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
