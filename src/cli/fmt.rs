//! `cds fmt [--check] PATH...`: rewrite ruleset files in canonical form.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::check::{all_rules_files, render};

/// Format ruleset files in the canonical layout (comments kept).
///
/// Every `.rules` file under the paths is rewritten in place, unless `--check` is given: then
/// nothing is written and the files that would change are listed. Files that do not parse are
/// never touched; their syntax errors are shown. Exit code: 0 when everything is (or now is)
/// formatted; 1 with `--check` when a file would change; 2 when a file does not parse, or on a
/// usage or I/O error.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// `.rules` files or folders, walked recursively.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Only list the files that are not formatted; write nothing.
    #[arg(long)]
    check: bool,
}

/// Runs `cds fmt`.
pub fn run(args: &FmtArgs) -> anyhow::Result<ExitCode> {
    let files = all_rules_files(&args.paths)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let (mut changed, mut unparsable) = (0usize, 0usize);
    for path in &files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let ast = match cds_rules::parse(&text, &path.display().to_string()) {
            Ok(ast) => ast,
            Err(e) => {
                unparsable += 1;
                eprintln!("{}", render(&e));
                eprintln!("not formatted: {} does not parse", path.display());
                continue;
            }
        };
        let formatted = cds_rules::format(&ast);
        if formatted == text {
            continue;
        }
        changed += 1;
        if args.check {
            writeln!(out, "{}", path.display())?;
        } else {
            std::fs::write(path, &formatted)
                .with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(out, "formatted {}", path.display())?;
        }
    }
    let n = files.len();
    let files_word = if n == 1 { "file" } else { "files" };
    if args.check {
        writeln!(
            out,
            "{n} {files_word}: {changed} would be reformatted, {unparsable} do not parse"
        )?;
    } else {
        writeln!(
            out,
            "{n} {files_word}: {changed} reformatted, {unparsable} do not parse"
        )?;
    }
    Ok(if unparsable > 0 {
        ExitCode::from(2)
    } else if args.check && changed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
