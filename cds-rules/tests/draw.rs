//! Pictures of the evaluation graph (`cds_rules::draw`): a snapshot of a small ruleset, and
//! every shipped ruleset drawn as well-formed XML.

use std::time::Instant;

use cds_rules::draw::{draw, Picture};
use cds_rules::engine::Engine;

/// The shipped rulesets, from the workspace root.
const RULESETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rulesets");

/// Checks that `xml` is one well-formed XML element: tags nested and closed, attributes quoted
/// and not repeated, `<` never in text or values, every `&` an entity, no character XML
/// forbids. Returns the element names in document order.
fn well_formed(xml: &str) -> Result<Vec<String>, String> {
    fn entities(text: &str, at: usize) -> Result<(), String> {
        for (k, _) in text.match_indices('&') {
            let rest = &text[k + 1..];
            let name = rest
                .split(';')
                .next()
                .filter(|n| rest.len() > n.len())
                .ok_or_else(|| format!("unterminated entity at {}", at + k))?;
            let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                || name
                    .strip_prefix("#x")
                    .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
                || name
                    .strip_prefix('#')
                    .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(format!("bad entity &{name}; at {}", at + k));
            }
        }
        Ok(())
    }
    if let Some(c) = xml.chars().find(|c| {
        (*c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    }) {
        return Err(format!("character {c:?} is not allowed in XML"));
    }
    let mut names = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut i = 0;
    while i < xml.len() {
        let rest = &xml[i..];
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            if open.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root element at {i}"));
            }
            entities(text, i)?;
            i += end;
            continue;
        }
        if let Some(closing) = rest.strip_prefix("</") {
            let end = closing.find('>').ok_or("unterminated end tag")?;
            let name = closing[..end].trim_end();
            match open.pop() {
                Some(o) if o == name => {}
                other => return Err(format!("</{name}> at {i} closes {other:?}")),
            }
            i += 2 + end + 1;
            continue;
        }
        // A start tag: its name, then attributes up to `>` or `/>`.
        let tag = &rest[1..];
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .ok_or("unterminated start tag")?;
        let name = &tag[..name_end];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:.".contains(c))
        {
            return Err(format!("bad element name {name:?} at {i}"));
        }
        if open.is_empty() {
            roots += 1;
        }
        names.push(name.to_string());
        let mut k = 1 + name_end;
        let mut seen: Vec<&str> = Vec::new();
        loop {
            let r = &rest[k..];
            let trimmed = r.trim_start();
            k += r.len() - trimmed.len();
            if trimmed.starts_with("/>") {
                k += 2;
                break;
            }
            if trimmed.starts_with('>') {
                k += 1;
                open.push(name);
                break;
            }
            let eq = trimmed
                .find('=')
                .ok_or_else(|| format!("attribute without value at {}", i + k))?;
            let attr = trimmed[..eq].trim_end();
            if attr.is_empty() || attr.contains(char::is_whitespace) || seen.contains(&attr) {
                return Err(format!("bad or repeated attribute {attr:?} at {}", i + k));
            }
            seen.push(attr);
            let after = trimmed[eq + 1..].trim_start();
            k += trimmed.len() - after.len();
            let quote = after.chars().next().filter(|q| *q == '"' || *q == '\'');
            let quote = quote.ok_or_else(|| format!("unquoted attribute {attr} at {}", i + k))?;
            let value_len = after[1..]
                .find(quote)
                .ok_or("unterminated attribute value")?;
            let value = &after[1..1 + value_len];
            if value.contains('<') {
                return Err(format!("`<` in the value of {attr} at {}", i + k));
            }
            entities(value, i + k)?;
            k += 1 + value_len + 1;
        }
        i += k;
    }
    if let Some(o) = open.last() {
        return Err(format!("<{o}> is never closed"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(names)
}

#[test]
fn the_checker_finds_what_is_not_well_formed() {
    assert!(well_formed("<a x=\"1\"><b/>t &amp; u</a>").is_ok());
    for bad in [
        "<a><b></a></b>",
        "<a>x < y</a>",
        "<a>fish & chips</a>",
        "<a x=\"1\" x=\"2\"/>",
        "<a x=1/>",
        "<a x=\"<\"/>",
        "<a>",
        "<a/><b/>",
        "<a>\u{1}</a>",
    ] {
        assert!(well_formed(bad).is_err(), "{bad}");
    }
}

/// The picture's counts agree with what it draws, and it is well-formed.
fn check(picture: &Picture) {
    let names = well_formed(&picture.svg).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    assert_eq!(names.first().map(String::as_str), Some("svg"));
    assert_eq!(
        picture.svg.matches("<g class=\"node ").count(),
        picture.nodes,
        "nodes"
    );
    assert_eq!(
        picture.svg.matches("<path class=\"edge\"").count(),
        picture.edges,
        "edges"
    );
    let shared = picture
        .svg
        .lines()
        .filter(|l| l.starts_with("<g class=\"node ") && l.contains(" shared\""))
        .count();
    assert_eq!(shared, picture.shared, "shared");
    assert_eq!(picture.svg.matches("<g class=\"badge\">").count(), shared);
    assert_eq!(picture.svg.matches("<title>").count(), picture.nodes);
}

#[test]
fn snapshot_of_a_small_ruleset() {
    let engine = Engine::from_source(
        "hypertension.rules",
        r#"ruleset hypertension version 1.0.0
  "Blood pressure in the stage 2 range"

define systolic  = latest observation loinc 8480-6 within 90 days
define diastolic = latest observation loinc 8462-4 within 90 days
define stage-2   = systolic >= 140 'mm[Hg]' or diastolic >= 90 'mm[Hg]'

rule stage-2-adult
  when stage-2 and age >= 18
  then warning "BP {systolic}/{diastolic} is in the stage 2 range"

rule crisis
  when systolic >= 180 'mm[Hg]' or diastolic >= 120 'mm[Hg]'
  then critical "BP {systolic}/{diastolic}: hypertensive crisis"

rule high-systolic-only
  when systolic >= 140 'mm[Hg]' and diastolic < 90 'mm[Hg]'
  then info "Isolated systolic hypertension"
"#,
    )
    .expect("the ruleset loads");
    let picture = draw(&engine, &[]);
    check(&picture);
    assert!(picture.shared > 0);
    insta::assert_snapshot!(picture.svg);
}

#[test]
fn every_shipped_ruleset_draws() {
    let engine = Engine::load(RULESETS).expect("the shipped rulesets load");
    let mut total_ms = 0.0;
    for rs in engine.rulesets() {
        let started = Instant::now();
        let picture = draw(&engine, &[rs.name.as_str()]);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        total_ms += ms;
        check(&picture);
        assert!(picture.nodes > 0, "{}", rs.name);
        assert!(
            picture.svg.matches("<g class=\"node card").count() == rs.rules().len(),
            "{}: one box per rule",
            rs.name
        );
        println!(
            "{:<20} {:>4} nodes {:>4} edges {:>4} shared {:>8} bytes {:>7.1} ms",
            rs.name,
            picture.nodes,
            picture.edges,
            picture.shared,
            picture.svg.len(),
            ms
        );
        if rs.name == "news2" {
            // Every NEWS2 rule reads the risk, and so everything below it.
            assert!(picture.shared > 10, "news2 shares {}", picture.shared);
        }
    }
    let started = Instant::now();
    let all = draw(&engine, &[]);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    check(&all);
    println!(
        "{:<20} {:>4} nodes {:>4} edges {:>4} shared {:>8} bytes {:>7.1} ms (one by one: {total_ms:.1} ms)",
        "all together",
        all.nodes,
        all.edges,
        all.shared,
        all.svg.len(),
        ms
    );
    assert!(all.svg.len() < 1_000_000, "{} bytes", all.svg.len());
    // Several rulesets: rules named with their ruleset.
    assert!(all.svg.contains("news2/high-risk"));
    // Drawing is deterministic, also across loads (which may number nodes differently).
    let again = Engine::load(RULESETS).expect("the shipped rulesets load");
    assert_eq!(draw(&again, &[]), all);
}
