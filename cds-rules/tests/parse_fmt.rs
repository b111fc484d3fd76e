//! Parsing and formatting the fixture rulesets; error recovery; positions.

use cds_rules::ast::{ExprKind, Item};
use cds_rules::{format, parse};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[test]
fn issue_example_parses_and_formats_to_itself() {
    let src = fixture("hypertension.rules");
    let rs = parse(&src, "hypertension.rules").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(rs.header.name.name, "hypertension");
    assert_eq!(rs.header.version.minor, 2);
    assert_eq!(rs.items.len(), 3);
    let Some(Item::Rule(rule)) = rs.items.get(2) else {
        panic!("third item is not a rule")
    };
    assert_eq!(rule.id.name, "stage-2");
    assert!(matches!(rule.when.kind, ExprKind::Binary { .. }));
    assert_eq!(&src[rule.id.span.start..rule.id.span.end], "stage-2");
    assert_eq!(format(&rs), src);
}

#[test]
fn everything_fixture_is_canonical() {
    let src = fixture("everything.rules");
    let rs = parse(&src, "everything.rules").unwrap_or_else(|e| panic!("{e:?}"));
    let out = format(&rs);
    assert_eq!(out, src);
    assert_eq!(rs.trailing_comments.len(), 1);
    assert_eq!(rs.header.comments.len(), 2);
    assert_eq!(rs.items.first().map(|i| i.comments().len()), Some(1));
}

#[test]
fn messy_layout_formats_canonically_and_idempotently() {
    let src = "// header note\nruleset   x   version 1.0.0 answers patient-view\ndefine a=latest observation loinc 1-8 within 1 days # trailing\n  define bb = bands of a <= 1 -> 2  2 to 3 → 1 otherwise -> 0 end\nrule r when (a > 1) and ((bb = 2 or a<2)) then info \"x\" link \"l\" \"u\" detail \"d\"\n";
    let rs = parse(src, "x.rules").unwrap_or_else(|e| panic!("{e:?}"));
    let once = format(&rs);
    let again = parse(&once, "x.rules").unwrap_or_else(|e| panic!("{e:?}\n{once}"));
    assert_eq!(format(&again), once);
    assert_eq!(again.without_spans(), rs.without_spans());
    assert!(
        once.contains("define a  = latest observation loinc 1-8 within 1 day\n"),
        "{once}"
    );
    assert!(
        once.contains("  when a > 1 and (bb = 2 or a < 2)\n"),
        "{once}"
    );
    assert!(once.contains("# trailing\n"), "{once}");
}

#[test]
fn three_broken_rules_give_three_errors() {
    let src = "ruleset x version 1.0.0\n\nrule a\n  when x >= 140 mmHg\n  then warning \"a\"\n\nrule b\n  when x > 1\n  then alert \"b\"\n\ndefine ok = age\n\nrule c\n  when latest observation 8480-6 > 1\n  then info \"c\"\n";
    let err = parse(src, "x.rules")
        .err()
        .unwrap_or_else(|| panic!("expected errors"));
    let lines: Vec<usize> = err.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 9, 14]);
}

#[test]
fn fhirpath_error_points_into_the_file() {
    let src = "ruleset x version 1.0.0\ndefine f = fhirpath \"Patient.name.where(\"\n";
    let err = parse(src, "x.rules")
        .err()
        .unwrap_or_else(|| panic!("expected errors"));
    assert_eq!(err.errors.len(), 1);
    let e = &err.errors[0];
    assert_eq!(e.kind, cds_rules::ParseErrorKind::FhirPath);
    assert_eq!(e.line, 2);
    assert!(e.column > 20, "column {}", e.column);
}

#[test]
fn negative_numbers_are_literals() {
    let src = "ruleset x version 1.0.0\ndefine n = - 5\ndefine q = -(2 'kg')\n";
    let rs = parse(src, "x.rules").unwrap_or_else(|e| panic!("{e:?}"));
    let Some(Item::Define(d)) = rs.items.first() else {
        panic!("no define")
    };
    assert_eq!(d.value.kind, ExprKind::Number((-5).into()));
    assert!(format(&rs).contains("define q = -2 'kg'\n"));
}

#[test]
fn spans_stop_at_the_text() {
    let src = "ruleset x version 1.0.0\nrule r\n  when (a > 1)\n  then info \"x\" # note\n\n// c\n";
    let rs = parse(src, "x.rules").unwrap_or_else(|e| panic!("{e:?}"));
    let Some(Item::Rule(r)) = rs.items.first() else {
        panic!("no rule")
    };
    assert_eq!(
        &src[r.span.start..r.span.end],
        "rule r\n  when (a > 1)\n  then info \"x\""
    );
    assert_eq!(&src[r.when.span.start..r.when.span.end], "a > 1");
    assert_eq!(rs.trailing_comments.len(), 1);
    assert_eq!(r.comments.len(), 1);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [30usize, 320, 5000] {
        let src = format!(
            "ruleset x version 1.0.0\ndefine a = {}1{}\n",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let r = parse(&src, "x.rules");
        eprintln!(
            "parens {depth}: {:?}",
            r.as_ref().err().map(|e| &e.errors[0].message)
        );
        assert_eq!(r.is_ok(), depth == 30, "parens {depth}");
        let src = format!(
            "ruleset x version 1.0.0\ndefine a = {}1\n",
            "not ".repeat(depth)
        );
        let r = parse(&src, "x.rules");
        assert_eq!(r.is_ok(), depth == 30, "not {depth}");
    }
}

#[test]
fn examples_in_the_reference_parse() {
    let doc = include_str!("../../docs/rule-language.md");
    let mut checked = 0;
    for (n, block) in doc.split("```").enumerate().filter(|(n, _)| n % 2 == 1) {
        let first = block.split_whitespace().next().unwrap_or("");
        let src = match first {
            "ruleset" => block.to_string(),
            "define" | "rule" | "score" => format!("ruleset doc version 1.0.0\n{block}"),
            _ => continue,
        };
        if let Err(e) = parse(&src, "doc.rules") {
            panic!("example block {n} does not parse: {e:?}\n{src}");
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} examples found");
}

#[test]
fn ordered_medication_parses_and_formats_in_each_code_form() {
    use cds_rules::ast::{ActiveKind, CodeSpecKind, KnownSystem};
    let src = "ruleset x version 1.0.0\n  answers order-select\n\n\
               define a = ordered  medication   rxnorm 8591\n\
               define b = ordered medication code \"http://example.org/drugs\" \"K1\"\n\
               define c = ordered medication in valueset \"http://example.org/fhir/ValueSet/k\"\n\
               define d = active medication rxnorm 8591\n";
    let rs = parse(src, "x.rules").unwrap_or_else(|e| panic!("{e:?}"));
    let kinds: Vec<_> = rs
        .items
        .iter()
        .map(|i| match i {
            Item::Define(d) => match &d.value.kind {
                ExprKind::Active { kind, code } => (*kind, code.kind.clone()),
                other => panic!("not an active/ordered expression: {other:?}"),
            },
            other => panic!("not a definition: {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds[0],
        (
            ActiveKind::OrderedMedication,
            CodeSpecKind::Known {
                system: KnownSystem::RxNorm,
                code: "8591".into()
            }
        )
    );
    assert!(matches!(kinds[1].1, CodeSpecKind::Explicit { .. }));
    assert!(matches!(kinds[2].1, CodeSpecKind::ValueSet(_)));
    assert_eq!(kinds[3].0, ActiveKind::Medication);
    let out = format(&rs);
    assert!(
        out.contains("define a = ordered medication rxnorm 8591\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "define c = ordered medication in valueset \"http://example.org/fhir/ValueSet/k\"\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("define d = active medication rxnorm 8591\n"),
        "{out}"
    );
    let again = parse(&out, "x.rules").unwrap_or_else(|e| panic!("{e:?}\n{out}"));
    assert_eq!(again.without_spans(), rs.without_spans());
    assert_eq!(format(&again), out);
}

#[test]
fn ordered_is_a_word_of_the_language() {
    assert!(parse("ruleset x version 1.0.0\ndefine ordered = 1\n", "x.rules").is_err());
    assert!(parse(
        "ruleset x version 1.0.0\ndefine o = ordered condition snomed 1\n",
        "x.rules"
    )
    .is_err());
    assert!(parse("ruleset x version 1.0.0\ndefine ordered-k = 1\n", "x.rules").is_ok());
}
