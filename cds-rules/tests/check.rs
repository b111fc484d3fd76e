//! Rendered checker diagnostics for common authoring mistakes (insta snapshots), the
//! fixtures checked, and the API.

use cds_rules::check::{CheckKind, Severity, Type};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};

const HEAD: &str = "ruleset bp version 1.0.0\n  answers patient-view\n\n";

fn handler() -> GraphicalReportHandler {
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100)
}

fn render_one(d: &dyn Diagnostic) -> String {
    let mut out = String::new();
    if let Err(e) = handler().render_report(&mut out, d) {
        panic!("rendering failed: {e}");
    }
    out
}

fn report(src: &str) -> cds_rules::CheckReport {
    let rs = match cds_rules::parse(src, "bp.rules") {
        Ok(rs) => rs,
        Err(e) => panic!("the test text does not parse: {e:?}\n{src}"),
    };
    cds_rules::check(&rs, src, "bp.rules")
}

/// Checks `src` (which must have errors) and renders all its diagnostics.
fn render(src: &str) -> String {
    match report(src).into_result() {
        Ok(w) => panic!("expected a check error in:\n{src}\nwarnings: {w:#?}"),
        Err(e) => render_one(&e),
    }
}

/// Checks `src` (which must have no errors) and renders its warnings.
fn render_warnings(src: &str) -> String {
    match report(src).into_result() {
        Ok(ws) => ws
            .iter()
            .map(|w| render_one(w))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => panic!("expected no check errors, got:\n{}", render_one(&e)),
    }
}

fn with_head(body: &str) -> String {
    format!("{HEAD}{body}")
}

/// The kinds of the diagnostics of `src`.
fn kinds(src: &str) -> Vec<(Severity, CheckKind)> {
    report(src)
        .diagnostics()
        .iter()
        .map(|d| (d.severity, d.kind))
        .collect()
}

const SBP: &str = "define sbp = latest observation loinc 8480-6 within 90 days\n";

#[test]
fn misspelt_name() {
    insta::assert_snapshot!(render(&with_head(
        "define systolic = latest observation loinc 8480-6\n\nrule high\n  when sytolic >= 140 'mm[Hg]'\n  then warning \"high {systolic}\"\n"
    )));
}

#[test]
fn unknown_name_in_summary() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"BP {{spb}} is high\"\n"
    ))));
}

#[test]
fn duplicate_definition() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}define sbp = latest observation loinc 8462-4\n\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"high\"\n"
    ))));
}

#[test]
fn duplicate_rule_id() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"high\"\n\nrule high\n  when sbp >= 180 'mm[Hg]'\n  then critical \"very high\"\n"
    ))));
}

#[test]
fn definition_cycle() {
    insta::assert_snapshot!(render(&with_head(
        "define a = b + 1\ndefine b = c * 2\ndefine c = a - 1\n\nrule r\n  when a > 3\n  then info \"x\"\n"
    )));
}

#[test]
fn unit_without_brackets() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule high\n  when sbp >= 140 'mmHg'\n  then warning \"high\"\n"
    ))));
}

#[test]
fn wrong_unit_for_the_code() {
    insta::assert_snapshot!(render(&with_head(
        "rule high\n  when latest observation loinc 8480-6 >= 80 'kg'\n  then warning \"high\"\n"
    )));
}

#[test]
fn text_compared_with_a_reading() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule high\n  when sbp = \"high\"\n  then warning \"high\"\n"
    ))));
}

#[test]
fn reading_used_as_a_condition() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule high\n  when sbp and age > 60\n  then warning \"high\"\n"
    ))));
}

#[test]
fn average_of_a_single_reading() {
    insta::assert_snapshot!(render(&with_head(
        "define mean = average of latest observation loinc 8480-6\n\nrule high\n  when mean > 140 'mm[Hg]'\n  then warning \"high\"\n"
    )));
}

#[test]
fn lowercase_unit_letter() {
    insta::assert_snapshot!(render_warnings(&with_head(
        "define glucose = latest observation loinc 2345-7\n\nrule high\n  when glucose > 200 'mg/dl'\n  then warning \"high\"\n"
    )));
}

#[test]
fn loinc_check_digit() {
    insta::assert_snapshot!(render(&with_head(
        "define sbp = latest observation loinc 8480-5\n\nrule high\n  when sbp > 140\n  then warning \"high\"\n"
    )));
}

#[test]
fn code_system_by_name() {
    insta::assert_snapshot!(render(&with_head(
        "define sbp = latest observation code \"LOINC\" \"8480-6\"\n\nrule high\n  when sbp > 140\n  then warning \"high\"\n"
    )));
}

#[test]
fn contradictory_range() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule odd\n  when sbp > 140 'mm[Hg]' and sbp < 90 'mm[Hg]'\n  then warning \"odd\"\n"
    ))));
}

#[test]
fn absent_and_compared() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule missing-or-low\n  when sbp is absent and sbp < 90 'mm[Hg]'\n  then warning \"check BP\"\n"
    ))));
}

#[test]
fn band_result_out_of_reach() {
    insta::assert_snapshot!(render(&with_head(
        "define rr = latest observation loinc 9279-1\ndefine rr-points = bands of rr\n  <= 8     -> 3\n  9 to 11  -> 1\n  12 to 20 -> 0\n  21 to 24 -> 2\n  >= 25    -> 3\nend\n\nrule rr-high\n  when rr-points >= 4\n  then warning \"RR score high\"\n"
    )));
}

#[test]
fn count_below_zero() {
    insta::assert_snapshot!(render(&with_head(
        "define readings = count of all observations loinc 8480-6 within 1 year\n\nrule none\n  when readings < 0\n  then info \"no readings\"\n"
    )));
}

#[test]
fn constant_false_condition() {
    insta::assert_snapshot!(render(&with_head(
        "rule off\n  when false\n  then info \"disabled\"\n"
    )));
}

#[test]
fn empty_and_unreachable_band_rows() {
    insta::assert_snapshot!(render_warnings(&with_head(
        "define rr = latest observation loinc 9279-1\ndefine rr-points = bands of rr\n  <= 8     -> 3\n  12 to 9  -> 1\n  5 to 8   -> 2\n  >= 9     -> 0\nend\n\nrule r\n  when rr-points > 2\n  then info \"x\"\n"
    )));
}

#[test]
fn band_bounds_in_the_wrong_unit() {
    insta::assert_snapshot!(render(&with_head(
        "define spo2 = latest observation loinc 59408-5\ndefine spo2-points = bands of spo2\n  <= 91 'mm[Hg]' -> 3\n  otherwise      -> 0\nend\n\nrule r\n  when spo2-points > 2\n  then info \"x\"\n"
    )));
}

#[test]
fn case_arms_of_mixed_types() {
    insta::assert_snapshot!(render(&with_head(
        "define level = case\n  when age > 80 then 2\n  when age > 65 then \"elderly\"\n  otherwise 0\nend\n\nrule r\n  when level > 1\n  then info \"x\"\n"
    )));
}

#[test]
fn summary_too_long() {
    let long = "This patient has a blood pressure reading that is in the stage 2 hypertension range according to the ACC/AHA 2017 guideline, please review the readings and the treatment";
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"{long} {{sbp}}\"\n"
    ))));
}

#[test]
fn unknown_hook() {
    insta::assert_snapshot!(render(&format!(
        "ruleset bp version 1.0.0\n  answers patient-veiw, order-sign\n\n{SBP}\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"high\"\n"
    )));
}

#[test]
fn custom_device_observation_hook_is_known() {
    let rule = format!("{SBP}\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"high\"\n");
    let ok =
        format!("ruleset bp version 1.0.0\n  answers device-observation, patient-view\n\n{rule}");
    assert_eq!(kinds(&ok), vec![]);
    let misspelt = format!("ruleset bp version 1.0.0\n  answers device-observaton\n\n{rule}");
    assert_eq!(
        kinds(&misspelt),
        vec![(Severity::Error, CheckKind::UnknownHook)]
    );
    let e = report(&misspelt);
    let help = e.errors().next().and_then(|d| d.help.clone());
    assert_eq!(help.as_deref(), Some("did you mean `device-observation`?"));
}

#[test]
fn ordered_medication_with_a_system_by_name() {
    insta::assert_snapshot!(render(&with_head(
        "rule k-ordered\n  when ordered medication code \"RxNorm\" \"8591\"\n  then warning \"ordered\"\n"
    )));
}

#[test]
fn action_without_resource_type() {
    insta::assert_snapshot!(render(&with_head(&format!(
        "{SBP}\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"high\"\n       suggest \"Recheck\" create \"\"\"{{ \"status\": \"draft\" }}\"\"\"\n       suggest \"Stop\" delete \"MedicationRequest\"\n"
    ))));
}

#[test]
fn arithmetic_on_text_and_incommensurable_units() {
    insta::assert_snapshot!(render(&with_head(
        "define sbp = latest observation loinc 8480-6\ndefine weight = latest observation loinc 29463-7\ndefine odd = sbp + weight\ndefine label = \"bp\" * 2\n\nrule r\n  when odd > 3 and label > 1\n  then info \"x\"\n"
    )));
}

#[test]
fn conversion_of_a_plain_number() {
    insta::assert_snapshot!(render(&with_head(
        "define a = age in 'a'\ndefine t = latest observation loinc 8310-5 in 'kg'\n\nrule r\n  when a > 3 and t > 38 'Cel'\n  then info \"x\"\n"
    )));
}

#[test]
fn relative_value_set() {
    insta::assert_snapshot!(render(&with_head(
        "define on-anticoagulant = active medication in valueset \"anticoagulants\"\n\nrule r\n  when on-anticoagulant\n  then info \"x\"\n"
    )));
}

#[test]
fn unused_definition_is_a_warning() {
    insta::assert_snapshot!(render_warnings(&with_head(&format!(
        "{SBP}define dbp = latest observation loinc 8462-4\n\nrule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"high\"\n"
    ))));
}

#[test]
fn several_mistakes_are_all_reported() {
    insta::assert_snapshot!(render(&format!(
        "ruleset bp version 1.0.0\n  answers patient-veiw\n\n{SBP}define sbp = age\n\nrule a\n  when sytolic >= 140 'mmHg'\n  then warning \"{{sbp}} high\"\n\nrule b\n  when sbp >= 80 'kg' and sbp < 50 'mm[Hg]'\n  then info \"b\"\n\nrule a\n  when count of sbp > 1\n  then info \"c\"\n"
    )));
}

#[test]
fn fixtures_have_no_errors() {
    for (name, src) in [
        (
            "everything.rules",
            include_str!("fixtures/everything.rules"),
        ),
        (
            "hypertension.rules",
            include_str!("fixtures/hypertension.rules"),
        ),
    ] {
        let rs = cds_rules::parse(src, name).unwrap();
        let r = cds_rules::check(&rs, src, name);
        let rendered = match r.clone().into_result() {
            Ok(ws) => ws
                .iter()
                .map(|w| render_one(w))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => panic!("{name} has check errors:\n{}", render_one(&e)),
        };
        insta::assert_snapshot!(name, rendered);
    }
}

#[test]
fn types_of_definitions() {
    let src = include_str!("fixtures/everything.rules");
    let rs = cds_rules::parse(src, "everything.rules").unwrap();
    let r = cds_rules::check(&rs, src, "everything.rules");
    let t = |n: &str| r.type_of(n).cloned();
    assert_eq!(
        t("respiration-rate"),
        Some(Type::Reading(Some("/min".into())))
    );
    assert_eq!(t("rr-points"), Some(Type::Number));
    assert_eq!(t("on-oxygen"), Some(Type::Any));
    assert_eq!(t("temperature"), Some(Type::Quantity(Some("Cel".into()))));
    assert_eq!(t("alert"), Some(Type::Bool));
    assert_eq!(t("creatinine"), Some(Type::Readings(Some("mg/dL".into()))));
    assert_eq!(
        t("creatinine-rise"),
        Some(Type::Quantity(Some("mg/dL".into())))
    );
    assert_eq!(t("reading-count"), Some(Type::Number));
    assert_eq!(t("mean-sbp"), Some(Type::Quantity(None)));
    assert_eq!(t("elderly"), Some(Type::Bool));
    assert_eq!(t("ordering-k"), Some(Type::Bool));
    assert_eq!(t("total"), Some(Type::Number));
    assert_eq!(t("cha2ds2-vasc"), Some(Type::Number));
    assert_eq!(t("nothing"), None);
}

#[test]
fn accepted_forms() {
    // Numbers compare with readings in the reading's unit; quantities in any commensurable
    // unit; text with text; a count of readings; a change of readings.
    let ok = with_head(
        "define sbp = latest observation loinc 8480-6\n\
         define all-sbp = all observations loinc 8480-6 within 1 year\n\
         define female = fhirpath \"Patient.gender = 'female'\"\n\
         rule r\n  when (sbp > 140 or sbp > 18 'kPa' or count of all-sbp > 3 \
         or rise in all-sbp > 20 'mm[Hg]' or \"a\" = \"a\") and female \
         and sbp - 5 'mm[Hg]' > 3 and sbp between 1 and 300 and not (sbp = 12)\n  then info \"{sbp}\"\n",
    );
    assert_eq!(kinds(&ok), vec![]);
}

#[test]
fn checks_by_kind() {
    let k = |body: &str| kinds(&with_head(body));
    assert_eq!(
        k("define x = age\ndefine x = 2\nrule r\n  when x > 1\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::DuplicateName)]
    );
    assert_eq!(
        k("define r = age\nrule r\n  when r > 1\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::DuplicateName)]
    );
    assert_eq!(
        k("define x = x + 1\nrule r\n  when x > 1\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::Cycle)]
    );
    assert_eq!(
        k("rule r\n  when latest observation loinc 8480-6 is snomed 1 and age is snomed 2\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::TypeMismatch)]
    );
    assert_eq!(
        k("rule r\n  when all observations loinc 8480-6 > 3\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::TypeMismatch)]
    );
    assert_eq!(
        k("rule r\n  when age > 3 and not (age + 1)\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::NotBoolean)]
    );
    assert_eq!(
        k("rule r\n  when \"a\" < \"b\"\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::TypeMismatch)]
    );
    assert_eq!(
        k("rule r\n  when active condition code \"\" \"x\"\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::BadCodeSystem)]
    );
    assert_eq!(
        k("rule r\n  when active condition code \"http://x\" \"\"\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::BadCodeSystem)]
    );
    assert_eq!(
        k("rule r\n  when age > 3\n  then info \"x\"\n       link \"a\" \"example.org\"\n"),
        vec![(Severity::Error, CheckKind::RelativeUrl)]
    );
    assert_eq!(
        k("rule r\n  when age > 3\n  then info \"x\"\n       suggest \"a\" create \"\"\"{\"resourceType\": \"ServiceReqest\"}\"\"\"\n"),
        vec![(Severity::Error, CheckKind::UnknownResourceType)]
    );
    assert_eq!(
        k("rule r\n  when age > 80 and age < 60 or age > 3\n  then info \"x\"\n"),
        vec![(Severity::Warning, CheckKind::AlwaysFalse)]
    );
    assert_eq!(
        k("define odd = age > 80 and age < 60\nrule r\n  when odd\n  then info \"x\"\n"),
        vec![
            (Severity::Warning, CheckKind::AlwaysFalse),
            (Severity::Error, CheckKind::NeverFires)
        ]
    );
    assert_eq!(
        k("rule r\n  when ordered medication code \"\" \"8591\"\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::BadCodeSystem)]
    );
    assert_eq!(
        k("rule r\n  when ordered medication rxnorm 8591 and age > 3\n  then info \"x\"\n"),
        vec![]
    );
    assert_eq!(
        k("rule r\n  when ordered medication rxnorm 8591 > 3\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::TypeMismatch)]
    );
    assert_eq!(
        k("rule r\n  when age between 80 and 60\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::NeverFires)]
    );
    assert_eq!(
        k("rule r\n  when not (age >= 0) and age is present\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::NeverFires)]
    );
    assert_eq!(
        k("rule r\n  when not (age > 3)\n  then info \"x\"\n"),
        vec![]
    );
    assert_eq!(
        k("rule r\n  when 1 > 2\n  then info \"x\"\n"),
        vec![(Severity::Error, CheckKind::NeverFires)]
    );
}

#[test]
fn api() {
    let src = with_head(&format!(
        "{SBP}define dbp = latest observation loinc 8462-4\n\nrule high\n  when sbp >= 140 'kg'\n  then warning \"high\"\n"
    ));
    let r = report(&src);
    assert!(r.has_errors());
    assert_eq!(r.errors().count(), 1);
    assert_eq!(r.warnings().count(), 1);
    assert_eq!(r.file(), "bp.rules");
    let e = r.errors().next().unwrap();
    assert_eq!(e.kind, CheckKind::UnitMismatch);
    assert_eq!(&src[e.span.start..e.span.end], "kg");
    assert_eq!(
        e.to_string(),
        format!("bp.rules:{}:{}: {}", e.line, e.column, e.message)
    );
    let errs = r.into_result().unwrap_err();
    assert_eq!(errs.to_string(), "bp.rules: 1 error, 1 warning");
    assert_eq!(errs.errors().count(), 1);
    assert_eq!(errs.warnings().count(), 1);
}

#[test]
fn reference_example_is_current() {
    let src = with_head(&format!(
        "{SBP}\nrule high\n  when sbp >= 80 'kg'\n  then warning \"high\"\n"
    ));
    let r = report(&src);
    let rendered = render_one(&r.diagnostics()[0]);
    let body = &rendered[rendered.find("  ×").unwrap()..];
    let doc = include_str!("../../docs/rule-language.md");
    assert!(
        doc.contains(body.trim_end()),
        "docs/rule-language.md (Checks) should show:\n{body}"
    );
}

#[test]
fn score_reading_an_unknown_name() {
    insta::assert_snapshot!(render(&with_head(
        "define rr-points = 3\n\nscore total using rhai \"\"\"\nlet s = rr-points;\ns + 1\n\"\"\"\n\nrule r\n  when total > 2\n  then info \"x\"\n"
    )));
}

#[test]
fn scores_read_definitions_and_can_close_cycles() {
    // A name read by a score is used.
    let ok = with_head(
        "define rr-points = 3\n\nscore total using rhai \"\"\"\nrr_points + age\n\"\"\"\n\nrule r\n  when total > 2\n  then info \"x\"\n",
    );
    assert_eq!(kinds(&ok), vec![]);
    // A score that reads a definition that reads the score.
    let cycle = with_head(
        "define doubled = total * 2\n\nscore total using rhai \"\"\"\ndoubled + 1\n\"\"\"\n\nrule r\n  when total > 2\n  then info \"x\"\n",
    );
    assert_eq!(kinds(&cycle), vec![(Severity::Error, CheckKind::Cycle)]);
    let syntax = with_head(
        "score total using rhai \"\"\"\nlet s = ;\n\"\"\"\n\nrule r\n  when total > 2\n  then info \"x\"\n",
    );
    assert_eq!(kinds(&syntax), vec![(Severity::Error, CheckKind::Script)]);
}

#[test]
fn count_compared_with_a_quantity() {
    insta::assert_snapshot!(render(&with_head(
        "define readings = count of all observations loinc 8480-6 within 1 year\n\nrule r\n  when readings > 3 'mm[Hg]' or age > 75 'a'\n  then info \"x\"\n"
    )));
}

#[test]
fn the_same_query_written_twice_is_one_operand() {
    let src = with_head(
        "rule r\n  when latest observation loinc 8480-6 > 140 and latest observation loinc 8480-6 < 100\n  then info \"x\"\n",
    );
    assert_eq!(kinds(&src), vec![(Severity::Error, CheckKind::NeverFires)]);
    let other_window = with_head(
        "rule r\n  when latest observation loinc 8480-6 > 140 and latest observation loinc 8480-6 within 1 day < 100\n  then info \"x\"\n",
    );
    assert_eq!(kinds(&other_window), vec![]);
}

#[test]
fn total_of_band_points_out_of_reach() {
    insta::assert_snapshot!(render(&with_head(
        "define rr = latest observation loinc 9279-1\ndefine pulse = latest observation loinc 8867-4\n\
         define rr-points = bands of rr\n  <= 8 -> 3\n  9 to 20 -> 0\n  >= 21 -> 2\nend\n\
         define pulse-points = case\n  when pulse > 130 then 3\n  when pulse > 90 then bands of pulse\n    <= 110 -> 1\n    otherwise -> 2\n  end\n  otherwise 0\nend\n\
         define total = rr-points + pulse-points\n\n\
         rule high\n  when total >= 7\n  then warning \"NEWS {total}\"\n"
    )));
}

#[test]
fn misspelt_case_result() {
    insta::assert_snapshot!(render(&with_head(
        "define total = age / 10\ndefine risk = case\n  when total >= 7 then \"high\"\n  when total >= 5 then \"medium\"\n  otherwise \"low\"\nend\n\nrule high-risk\n  when risk = \"hihg\"\n  then critical \"high risk\"\n"
    )));
}
