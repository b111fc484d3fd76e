//! Rendered diagnostics for common authoring mistakes (insta snapshots).

use miette::{GraphicalReportHandler, GraphicalTheme};

const HEAD: &str = "ruleset bp version 1.0.0\n  answers patient-view\n\n";

/// Parses `src` (which must fail) and renders all its errors as plain unicode text.
fn render(src: &str) -> String {
    let err = match cds_rules::parse(src, "bp.rules") {
        Ok(_) => panic!("expected a syntax error in:\n{src}"),
        Err(e) => e,
    };
    let mut out = String::new();
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    if let Err(e) = handler.render_report(&mut out, &err) {
        panic!("rendering failed: {e}");
    }
    out
}

fn with_head(body: &str) -> String {
    format!("{HEAD}{body}")
}

#[test]
fn missing_header() {
    insta::assert_snapshot!(render("define sbp = latest observation loinc 8480-6\n"));
}

#[test]
fn two_part_version() {
    insta::assert_snapshot!(render("ruleset bp version 1.2\n"));
}

#[test]
fn unit_without_quotes() {
    insta::assert_snapshot!(render(&with_head(
        "rule high\n  when sbp >= 140 mmHg\n  then warning \"high\"\n"
    )));
}

#[test]
fn code_without_system() {
    insta::assert_snapshot!(render(&with_head(
        "define sbp = latest observation 8480-6 within 90 days\n"
    )));
}

#[test]
fn unclosed_string() {
    insta::assert_snapshot!(render(&with_head(
        "rule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"BP is high\n"
    )));
}

#[test]
fn unknown_indicator() {
    insta::assert_snapshot!(render(&with_head(
        "rule high\n  when sbp >= 140 'mm[Hg]'\n  then alert \"BP is high\"\n"
    )));
}

#[test]
fn missing_then() {
    insta::assert_snapshot!(render(&with_head(
        "rule high\n  when sbp >= 140 'mm[Hg]'\n  warning \"BP is high\"\n"
    )));
}

#[test]
fn misspelt_time_unit() {
    insta::assert_snapshot!(render(&with_head(
        "define sbp = latest observation loinc 8480-6 within 90 dayz\n"
    )));
}

#[test]
fn broken_interpolation() {
    insta::assert_snapshot!(render(&with_head(
        "rule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"BP {sbp is high\"\n"
    )));
}

#[test]
fn invalid_fhirpath() {
    insta::assert_snapshot!(render(&with_head(
        "define female = fhirpath \"Patient.gender = 'female\"\n"
    )));
}

#[test]
fn band_row_without_arrow() {
    insta::assert_snapshot!(render(&with_head(
        "define rr-points = bands of rr\n  <= 8 -> 3\n  9 to 11 1\nend\n"
    )));
}

#[test]
fn band_table_without_end() {
    insta::assert_snapshot!(render(&with_head(
        "define rr-points = bands of rr\n  <= 8 -> 3\n  9 to 11 -> 1\n\nrule r\n  when rr-points > 2\n  then info \"x\"\n"
    )));
}

#[test]
fn define_without_equals() {
    insta::assert_snapshot!(render(&with_head(
        "define sbp latest observation loinc 8480-6\n"
    )));
}

#[test]
fn between_without_and() {
    insta::assert_snapshot!(render(&with_head(
        "rule r\n  when sbp between 90 'mm[Hg]' 120 'mm[Hg]'\n  then info \"x\"\n"
    )));
}

#[test]
fn invalid_json_template() {
    insta::assert_snapshot!(render(&with_head(
        "rule r\n  when sbp > 1\n  then info \"x\"\n       suggest \"Order\" create \"\"\"{ \"resourceType\": }\"\"\"\n"
    )));
}

#[test]
fn keyword_as_a_name() {
    insta::assert_snapshot!(render(&with_head("define age = 3\n")));
}

#[test]
fn zero_length_window() {
    insta::assert_snapshot!(render(&with_head(
        "define sbp = latest observation loinc 8480-6 within 0 days\n"
    )));
}

#[test]
fn several_broken_rules_are_all_reported() {
    insta::assert_snapshot!(render(&with_head(
        "rule a\n  when sbp >= 140 mmHg\n  then warning \"a\"\n\nrule b\n  when sbp > 1\n  then alert \"b\"\n\nrule c\n  when latest observation 8480-6 > 1\n  then info \"c\"\n"
    )));
}

#[test]
fn two_details_on_one_card() {
    insta::assert_snapshot!(render(&with_head(
        "rule r\n  when sbp > 1\n  then info \"x\"\n       detail \"one\"\n       detail \"two\"\n"
    )));
}

#[test]
fn unknown_escape_in_text() {
    insta::assert_snapshot!(render(&with_head(
        "rule r\n  when sbp > 1\n  then info \"C:\\temp\\x\"\n"
    )));
}

#[test]
fn expression_nested_too_deeply() {
    let deep = format!("define d = {}1\n", "not ".repeat(60));
    insta::assert_snapshot!(render(&with_head(&deep)));
}
