//! `cds graph RULESETS [--ruleset NAME]... [--out FILE]`: the compiled evaluation graph as an
//! SVG picture.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cds::Engine;
use clap::Args;

use super::check::render;

/// Draw the compiled evaluation graph of rulesets as an SVG picture.
///
/// Loads the rulesets (a `.rules` file or a folder) and draws what their rules compute: the
/// rules on top, the data they read at the bottom, an arrow from each step to each value it
/// reads. A step written in several rules is one node of the graph, computed once; the
/// picture marks every node that two or more rules use, with how many. Prints the SVG (or
/// writes it to `--out`) and a summary line on standard error. Exit code: 0 on success, 2 when
/// the rulesets cannot be loaded, a `--ruleset` is not among them, or the file cannot be
/// written.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// A `.rules` file or a folder of them.
    rulesets: PathBuf,
    /// Draw only the rules of this ruleset (repeatable; default: every ruleset loaded).
    #[arg(long = "ruleset", value_name = "NAME")]
    ruleset: Vec<String>,
    /// Write the SVG to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `cds graph`.
pub fn run(args: &GraphArgs) -> anyhow::Result<ExitCode> {
    let engine = match Engine::load(&args.rulesets) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}", render(&e));
            return Ok(ExitCode::from(2));
        }
    };
    let loaded: Vec<&str> = engine.rulesets().iter().map(|r| r.name.as_str()).collect();
    if let Some(unknown) = args.ruleset.iter().find(|n| !loaded.contains(&n.as_str())) {
        anyhow::bail!(
            "no ruleset named `{unknown}` in {} (loaded: {})",
            args.rulesets.display(),
            loaded.join(", ")
        );
    }
    let names: Vec<&str> = args.ruleset.iter().map(String::as_str).collect();
    let picture = cds_rules::draw::draw(&engine, &names);
    match &args.out {
        Some(path) => std::fs::write(path, &picture.svg)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(picture.svg.as_bytes())?;
            out.flush()?;
        }
    }
    eprintln!(
        "{} nodes, {} edges, {} shared",
        picture.nodes, picture.edges, picture.shared
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    const RULESETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rulesets");

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: GraphArgs,
    }

    fn args(extra: &[&str]) -> GraphArgs {
        let argv = std::iter::once("cds-graph")
            .chain(std::iter::once(RULESETS))
            .chain(extra.iter().copied());
        Cli::try_parse_from(argv).expect("valid arguments").args
    }

    /// Parses an SVG with quick-xml (end names checked, every reference resolved); returns
    /// the number of node groups.
    fn parse(svg: &str) -> usize {
        let mut reader = Reader::from_str(svg);
        let mut nodes = 0;
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => {
                    for a in e.attributes() {
                        let a = a.expect("a well-formed attribute");
                        a.unescape_value().expect("known entities only");
                        if a.key.as_ref() == b"class" && a.value.starts_with(b"node ") {
                            nodes += 1;
                        }
                    }
                }
                Event::GeneralRef(r) => {
                    let name = r.decode().expect("UTF-8");
                    assert!(
                        r.is_char_ref() || ["amp", "lt", "gt", "quot", "apos"].contains(&&*name),
                        "unknown entity &{name};"
                    );
                }
                Event::Eof => break,
                _ => {}
            }
        }
        nodes
    }

    #[test]
    fn every_shipped_ruleset_draws_as_xml() {
        let dir = std::env::temp_dir().join(format!("cds-graph-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let engine = Engine::load(RULESETS).expect("the shipped rulesets load");
        let mut names: Vec<&str> = engine.rulesets().iter().map(|r| r.name.as_str()).collect();
        names.push("");
        for name in names {
            let out = dir.join(format!("{name}.svg"));
            let out_arg = out.display().to_string();
            let mut extra = vec!["--out", out_arg.as_str()];
            if !name.is_empty() {
                extra.extend(["--ruleset", name]);
            }
            let code = run(&args(&extra)).expect("cds graph runs");
            assert_eq!(code, ExitCode::SUCCESS);
            let svg = std::fs::read_to_string(&out).expect("the picture was written");
            let expected =
                cds_rules::draw::draw(&engine, &if name.is_empty() { vec![] } else { vec![name] });
            assert_eq!(svg, expected.svg, "{name}");
            assert_eq!(parse(&svg), expected.nodes, "{name}");
            if name == "news2" {
                assert!(expected.shared > 0);
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unknown_ruleset_is_an_error() {
        let err = run(&args(&["--ruleset", "no-such-ruleset"])).expect_err("unknown name");
        assert!(err
            .to_string()
            .contains("no ruleset named `no-such-ruleset`"));
    }
}
