//! The ruleset test-case runner behind `cds test` and the studio's Tests tab.
//!
//! Test cases live in a `tests/` folder beside each `.rules` file, one JSON file a case:
//!
//! ```json
//! {
//!   "description": "what it shows",
//!   "at": "2024-03-01T10:00:00Z",
//!   "hook": "patient-view",
//!   "resources": [ { "resourceType": "Patient", "id": "p1" } ],
//!   "expect": {
//!     "cards": [ { "rule": "stage-2", "indicator": "warning", "summary": "..." } ],
//!     "values": { "systolic": "148 mm[Hg]", "score": 7, "enough": true, "latest": null }
//!   }
//! }
//! ```
//!
//! `expect.cards` is the exact set of rules that must fire (in any order; `indicator` and
//! `summary` are checked when given). `expect.values` maps definition names to values: a
//! number compares with the value's number, `"VALUE UNIT"` compares a quantity numerically in
//! UCUM (`"0.15 m[Hg]"` matches `150 mm[Hg]`; the values must be exactly equal), other text
//! compares with the value's text (or its shown form), `true`/`false` with a boolean, and
//! `null` means absent. Without `hook`, every rule is evaluated.
//!
//! ```no_run
//! let report = cds_rules::testing::run(&[std::path::PathBuf::from("rulesets")])?;
//! for case in report.failures() {
//!     println!("{}", case);
//! }
//! println!("{}", report.summary());
//! # Ok::<(), cds_rules::testing::TestError>(())
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cds_core::ucum::Quantity;
use rayon::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value as Json;

use cds_core::graph::Value;
use cds_core::temporal::DateTime;

use crate::engine::{Engine, EngineError, Evaluation};

/// Why test cases could not be found or read at all (a broken case file is a failed case, not
/// this error).
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// A path could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Finding the `.rules` files failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One test case, as read from its JSON file.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The file it was read from.
    pub path: PathBuf,
    /// What it shows.
    pub description: String,
    /// The evaluation time.
    pub at: DateTime,
    /// The hook to evaluate (`None`: every rule).
    pub hook: Option<String>,
    /// The patient's resources (resources or Bundles).
    pub resources: Vec<Json>,
    /// The rules that must fire, exactly.
    pub cards: Vec<ExpectedCard>,
    /// Definition values, in file order.
    pub values: Vec<(String, Json)>,
}

/// A card a case expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCard {
    /// The rule id.
    pub rule: String,
    /// `info`, `warning` or `critical`, when checked.
    pub indicator: Option<String>,
    /// The card's exact summary, when checked.
    pub summary: Option<String>,
}

impl TestCase {
    /// Reads a case file. The error names the file and the field, never patient values.
    pub fn read(path: &Path) -> Result<TestCase, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        let json: Json = serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?;
        TestCase::from_json(path, &json)
    }

    /// Builds a case from its JSON.
    pub fn from_json(path: &Path, json: &Json) -> Result<TestCase, String> {
        let obj = json
            .as_object()
            .ok_or("a test case must be a JSON object")?;
        let text = |key: &str| -> Result<Option<String>, String> {
            match obj.get(key) {
                None | Some(Json::Null) => Ok(None),
                Some(Json::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("`{key}` must be a string")),
            }
        };
        let description = text("description")?.unwrap_or_default();
        let at = text("at")?.ok_or("`at` (the evaluation time) is missing")?;
        let at = DateTime::parse(&at).map_err(|_| "`at` is not a FHIR dateTime".to_string())?;
        let hook = text("hook")?;
        let resources = match obj.get("resources") {
            Some(Json::Array(a)) => a.clone(),
            Some(_) => return Err("`resources` must be an array".into()),
            None => return Err("`resources` is missing".into()),
        };
        let expect = match obj.get("expect") {
            Some(Json::Object(o)) => o,
            Some(_) => return Err("`expect` must be an object".into()),
            None => return Err("`expect` is missing".into()),
        };
        let mut cards = Vec::new();
        match expect.get("cards") {
            Some(Json::Array(a)) => {
                for (i, c) in a.iter().enumerate() {
                    let field = |key: &str| -> Result<Option<String>, String> {
                        match c.get(key) {
                            None | Some(Json::Null) => Ok(None),
                            Some(Json::String(s)) => Ok(Some(s.clone())),
                            Some(_) => Err(format!("`expect.cards[{i}].{key}` must be a string")),
                        }
                    };
                    if !c.is_object() {
                        return Err(format!("`expect.cards[{i}]` must be an object"));
                    }
                    cards.push(ExpectedCard {
                        rule: field("rule")?
                            .ok_or(format!("`expect.cards[{i}].rule` is missing"))?,
                        indicator: field("indicator")?,
                        summary: field("summary")?,
                    });
                }
            }
            Some(_) => return Err("`expect.cards` must be an array".into()),
            None => return Err("`expect.cards` is missing (write [] for no cards)".into()),
        }
        let values = match expect.get("values") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Object(o)) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(_) => return Err("`expect.values` must be an object".into()),
        };
        if let Some((name, _)) = values
            .iter()
            .find(|(_, v)| matches!(v, Json::Array(_) | Json::Object(_)))
        {
            return Err(format!(
                "`expect.values.{name}` must be a number, text, true/false or null"
            ));
        }
        Ok(TestCase {
            path: path.to_path_buf(),
            description,
            at,
            hook,
            resources,
            cards,
            values,
        })
    }
}

/// A folder of rulesets with its test cases.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The folder holding the `.rules` file(s) and `tests/`.
    pub dir: PathBuf,
    /// The `.rules` files of the folder.
    pub rules: Vec<PathBuf>,
    /// The case files (sorted).
    pub cases: Vec<PathBuf>,
}

/// Finds the suites under `paths`: each path may be a folder (every `.rules` file under it),
/// a `.rules` file, or one case file (`…/tests/NAME.json`). Suites come sorted by folder.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Suite>, TestError> {
    let mut suites: Vec<Suite> = Vec::new();
    // Single case files given directly: (suite folder, case).
    let mut single: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut dirs = BTreeSet::new();
    // Folders reached through a folder or `.rules` path: all their cases run.
    let mut whole = BTreeSet::new();
    for path in paths {
        let is_case = path.is_file()
            && path.extension().is_some_and(|x| x == "json")
            && path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "tests");
        if is_case {
            let dir = path
                .parent()
                .and_then(Path::parent)
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            single.push((dir, path.clone()));
            continue;
        }
        for f in crate::engine::rules_files(path)? {
            let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
            whole.insert(dir.clone());
            dirs.insert(dir);
        }
    }
    for (dir, _) in &single {
        dirs.insert(dir.clone());
    }
    for dir in dirs {
        let rules = rules_in(&dir)?;
        let mut cases: Vec<PathBuf> = single
            .iter()
            .filter(|(d, _)| *d == dir)
            .map(|(_, c)| c.clone())
            .collect();
        if whole.contains(&dir) {
            cases = case_files(&dir.join("tests"))?;
        }
        cases.sort();
        cases.dedup();
        suites.push(Suite { dir, rules, cases });
    }
    Ok(suites)
}

/// The `.rules` files directly in `dir`.
fn rules_in(dir: &Path) -> Result<Vec<PathBuf>, TestError> {
    crate::engine::files_with_extension(dir, "rules").map_err(|e| TestError::Io {
        path: dir.to_path_buf(),
        source: e,
    })
}

/// The `.json` files in a `tests/` folder (none when it does not exist).
fn case_files(dir: &Path) -> Result<Vec<PathBuf>, TestError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    crate::engine::files_with_extension(dir, "json").map_err(|e| TestError::Io {
        path: dir.to_path_buf(),
        source: e,
    })
}

/// What differed in one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Mismatch {
    /// The case file is invalid, or its resources are not one patient's record.
    Invalid(String),
    /// The suite's rulesets did not load (the message is the rendered diagnostic).
    Load(String),
    /// An expected card was not raised.
    Missing {
        /// The rule.
        rule: String,
        /// Why the rule did not fire (the explanation outline), when known.
        explanation: Option<String>,
    },
    /// A card was raised that the case does not expect.
    Unexpected {
        /// The rule.
        rule: String,
        /// The card's summary.
        summary: String,
        /// Why the rule fired.
        explanation: Option<String>,
    },
    /// A raised card differs in a checked field.
    Card {
        /// The rule.
        rule: String,
        /// `indicator` or `summary`.
        field: &'static str,
        /// Expected.
        expected: String,
        /// Raised.
        got: String,
    },
    /// A definition has another value.
    Value {
        /// The definition.
        name: String,
        /// Expected, as written in the case.
        expected: String,
        /// Computed, as shown.
        got: String,
    },
    /// No loaded ruleset has a definition or score of that name (or the hook did not need it).
    UnknownValue(String),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outline = |f: &mut fmt::Formatter<'_>, e: &Option<String>| -> fmt::Result {
            if let Some(e) = e {
                for line in e.lines() {
                    write!(f, "\n      {line}")?;
                }
            }
            Ok(())
        };
        match self {
            Mismatch::Invalid(m) => write!(f, "invalid case: {m}"),
            Mismatch::Load(m) => write!(f, "rulesets did not load:\n{m}"),
            Mismatch::Missing { rule, explanation } => {
                write!(f, "card `{rule}` expected but not raised")?;
                outline(f, explanation)
            }
            Mismatch::Unexpected {
                rule,
                summary,
                explanation,
            } => {
                write!(f, "card `{rule}` raised but not expected: {summary}")?;
                outline(f, explanation)
            }
            Mismatch::Card {
                rule,
                field,
                expected,
                got,
            } => write!(
                f,
                "card `{rule}` {field}: expected {expected:?}, got {got:?}"
            ),
            Mismatch::Value {
                name,
                expected,
                got,
            } => write!(f, "value `{name}`: expected {expected}, got {got}"),
            Mismatch::UnknownValue(name) => write!(
                f,
                "value `{name}`: no such definition or score (or the hook's rules do not use it)"
            ),
        }
    }
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case file.
    pub path: PathBuf,
    /// Its description.
    pub description: String,
    /// What differed (empty: passed).
    pub mismatches: Vec<Mismatch>,
}

impl CaseResult {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        self.mismatches.is_empty()
    }
}

impl fmt::Display for CaseResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.passed() { "ok" } else { "FAILED" };
        write!(f, "{state}: {}", self.path.display())?;
        if !self.description.is_empty() {
            write!(f, "\n  {}", self.description)?;
        }
        for m in &self.mismatches {
            write!(f, "\n  - {m}")?;
        }
        Ok(())
    }
}

/// The results of a run, in suite and file order.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// The number of rulesets loaded (or tried).
    pub rulesets: usize,
    /// Every case's result.
    pub cases: Vec<CaseResult>,
}

impl TestReport {
    /// The cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.passed())
    }

    /// The number of cases that passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    /// The number of cases that failed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// Whether every case passed.
    pub fn success(&self) -> bool {
        self.failed() == 0
    }

    /// `N cases, P passed, F failed (R rulesets)`.
    pub fn summary(&self) -> String {
        format!(
            "{} cases, {} passed, {} failed ({} rulesets)",
            self.cases.len(),
            self.passed(),
            self.failed(),
            self.rulesets
        )
    }
}

/// Discovers and runs every case under `paths` (see [`discover`]), in parallel; results come
/// in a fixed order (suite folder, then case file).
pub fn run(paths: &[PathBuf]) -> Result<TestReport, TestError> {
    Ok(run_suites(&discover(paths)?))
}

/// Runs the cases of discovered suites.
pub fn run_suites(suites: &[Suite]) -> TestReport {
    let engines: Vec<Result<Engine, String>> = suites
        .par_iter()
        .map(|s| load_suite(s).map_err(|e| render_error(&e)))
        .collect();
    let rulesets = suites
        .iter()
        .zip(&engines)
        .map(|(s, e)| match e {
            Ok(engine) => engine.rulesets().len(),
            Err(_) => s.rules.len(),
        })
        .sum();
    let jobs: Vec<(usize, &PathBuf)> = suites
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.cases.iter().map(move |c| (i, c)))
        .collect();
    let cases = jobs
        .par_iter()
        .map(|(i, path)| match &engines[*i] {
            Ok(engine) => run_file(engine, path),
            Err(rendered) => CaseResult {
                path: (*path).clone(),
                description: String::new(),
                mismatches: vec![Mismatch::Load(rendered.clone())],
            },
        })
        .collect();
    TestReport { rulesets, cases }
}

/// Loads a suite's rulesets: its one `.rules` file, or its whole folder when it has several.
pub fn load_suite(suite: &Suite) -> Result<Engine, EngineError> {
    match suite.rules.as_slice() {
        [one] => Engine::load(one),
        _ => Engine::load(&suite.dir),
    }
}

/// Renders a load error with miette (plain text, no colour).
pub fn render_error(e: &EngineError) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, e).is_err() {
        out = e.to_string();
    }
    out
}

/// Reads and runs one case file against loaded rulesets.
pub fn run_file(engine: &Engine, path: &Path) -> CaseResult {
    match TestCase::read(path) {
        Ok(case) => run_case(engine, &case),
        Err(m) => CaseResult {
            path: path.to_path_buf(),
            description: String::new(),
            mismatches: vec![Mismatch::Invalid(m)],
        },
    }
}

/// Runs one case against loaded rulesets.
pub fn run_case(engine: &Engine, case: &TestCase) -> CaseResult {
    let result = |mismatches| CaseResult {
        path: case.path.clone(),
        description: case.description.clone(),
        mismatches,
    };
    let record = match crate::engine::record_from_json(Json::Array(case.resources.clone())) {
        Ok(r) => r,
        Err(e) => return result(vec![Mismatch::Invalid(format!("resources: {e}"))]),
    };
    let eval = engine.evaluate(&record, &case.at, case.hook.as_deref());
    let mut mismatches = compare_cards(engine, &eval, &case.cards);
    for (name, expected) in &case.values {
        let found = engine
            .rulesets()
            .iter()
            .find_map(|rs| eval.value(&rs.name, name));
        match found {
            None => mismatches.push(Mismatch::UnknownValue(name.clone())),
            Some(value) => {
                if !value_matches(value, expected) {
                    mismatches.push(Mismatch::Value {
                        name: name.clone(),
                        expected: expected.to_string(),
                        got: shown(value),
                    });
                }
            }
        }
    }
    result(mismatches)
}

fn shown(v: &Value<'_>) -> String {
    if v.is_absent() {
        "absent (not recorded)".into()
    } else {
        v.to_string()
    }
}

fn compare_cards(
    engine: &Engine,
    eval: &Evaluation<'_, '_>,
    expected: &[ExpectedCard],
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let raised = eval.cards();
    for exp in expected {
        match raised.iter().find(|c| c.rule == exp.rule) {
            None => out.push(Mismatch::Missing {
                rule: exp.rule.clone(),
                explanation: explain_rule(engine, eval, None, &exp.rule),
            }),
            Some(card) => {
                if let Some(ind) = &exp.indicator {
                    let got = card.card.indicator.as_str();
                    if got != ind {
                        out.push(Mismatch::Card {
                            rule: exp.rule.clone(),
                            field: "indicator",
                            expected: ind.clone(),
                            got: got.to_string(),
                        });
                    }
                }
                if let Some(summary) = &exp.summary {
                    if *summary != card.card.summary {
                        out.push(Mismatch::Card {
                            rule: exp.rule.clone(),
                            field: "summary",
                            expected: summary.clone(),
                            got: card.card.summary.clone(),
                        });
                    }
                }
            }
        }
    }
    for card in raised {
        if !expected.iter().any(|e| e.rule == card.rule) {
            out.push(Mismatch::Unexpected {
                rule: card.rule.clone(),
                summary: card.card.summary.clone(),
                explanation: explain_rule(engine, eval, Some(&card.ruleset), &card.rule),
            });
        }
    }
    out
}

/// The explanation outline of one rule (in `ruleset`, or the first ruleset that has it).
fn explain_rule(
    engine: &Engine,
    eval: &Evaluation<'_, '_>,
    ruleset: Option<&str>,
    rule: &str,
) -> Option<String> {
    let names: Vec<String> = match ruleset {
        Some(r) => vec![r.to_string()],
        None => engine.rulesets().iter().map(|r| r.name.clone()).collect(),
    };
    for name in names {
        let Some(mut e) = eval.explain(&name) else {
            continue;
        };
        if let Some(r) = e.rules.iter().find(|r| r.rule == rule).cloned() {
            e.rules = vec![r];
            return Some(e.to_string().trim_end().to_string());
        }
    }
    None
}

/// Whether a computed value matches a case's expectation (see the module docs).
pub fn value_matches(value: &Value<'_>, expected: &Json) -> bool {
    match expected {
        Json::Null => value.is_absent(),
        Json::Bool(b) => value.as_bool() == Some(*b),
        Json::Number(n) => match (Decimal::from_str(&n.to_string()), value.as_decimal()) {
            (Ok(want), Some(got)) => want == got,
            _ => false,
        },
        Json::String(s) => text_matches(value, s),
        Json::Array(_) | Json::Object(_) => false,
    }
}

fn text_matches(value: &Value<'_>, s: &str) -> bool {
    if value.is_absent() {
        return false;
    }
    let s = s.trim();
    if let Some((num, unit)) = s.split_once(char::is_whitespace) {
        let unit = unit.trim().trim_matches('\'');
        if let (Ok(n), Some(got)) = (Decimal::from_str(num), value.as_quantity()) {
            if let Ok(want) = Quantity::ucum(n, unit) {
                return got.equals(&want) == Some(true);
            }
        }
    }
    if let (Ok(n), Some(got)) = (Decimal::from_str(s), value.as_decimal()) {
        return n == got;
    }
    if let Some(t) = value.as_text() {
        return t == s;
    }
    value.to_string() == s
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"ruleset bp version 1.0.0
  answers patient-view

define systolic = latest observation loinc 8480-6 within 90 days
define high = systolic >= 140 'mm[Hg]'

rule stage-2
  when high
  then warning "Systolic {systolic} is high"
"#;

    fn case(value: f64, cards: Json, values: Json) -> TestCase {
        let json = serde_json::json!({
            "description": "d", "at": "2024-03-01T10:00:00Z", "hook": "patient-view",
            "resources": [
              {"resourceType": "Patient", "id": "p1"},
              {"resourceType": "Observation", "id": "o1", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
               "effectiveDateTime": "2024-02-20",
               "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
            ],
            "expect": {"cards": cards, "values": values}
        });
        TestCase::from_json(Path::new("t.json"), &json).unwrap()
    }

    #[test]
    fn a_matching_case_passes() {
        let engine = Engine::from_source("bp.rules", RULES).unwrap();
        let c = case(
            152.0,
            serde_json::json!([{"rule": "stage-2", "indicator": "warning"}]),
            serde_json::json!({"systolic": "152 mm[Hg]", "high": true}),
        );
        let r = run_case(&engine, &c);
        assert!(r.passed(), "{r}");
    }

    #[test]
    fn quantities_compare_in_ucum() {
        let engine = Engine::from_source("bp.rules", RULES).unwrap();
        let c = case(
            150.0,
            serde_json::json!([{"rule": "stage-2"}]),
            serde_json::json!({"systolic": "0.15 m[Hg]"}),
        );
        let r = run_case(&engine, &c);
        assert!(r.passed(), "{r}");
    }

    #[test]
    fn differences_are_reported() {
        let engine = Engine::from_source("bp.rules", RULES).unwrap();
        let c = case(
            120.0,
            serde_json::json!([{"rule": "stage-2"}]),
            serde_json::json!({"systolic": "130 mm[Hg]", "high": null, "nope": 1}),
        );
        let r = run_case(&engine, &c);
        assert_eq!(r.mismatches.len(), 4, "{r}");
        assert!(
            matches!(&r.mismatches[0], Mismatch::Missing { explanation: Some(e), .. } if e.contains("rule stage-2: did not fire"))
        );
        assert!(matches!(&r.mismatches[3], Mismatch::UnknownValue(n) if n == "nope"));
    }

    proptest::proptest! {
        /// A quantity matches its own shown form and `"VALUE UNIT"`, in any equal unit, and
        /// never a different value.
        #[test]
        fn quantities_match_their_own_text(cents in -1_000_000i64..1_000_000, unit in 0usize..4) {
            let units = ["mm[Hg]", "mg/dL", "%", "mmol/L"];
            let n = Decimal::new(cents, 2);
            let v = Value::Quantity(Quantity::ucum(n, units[unit]).unwrap());
            proptest::prop_assert!(value_matches(&v, &Json::String(v.to_string())));
            let plain = Json::String(format!("{n} {}", units[unit]));
            let quoted = Json::String(format!("{n} '{}'", units[unit]));
            proptest::prop_assert!(value_matches(&v, &plain));
            proptest::prop_assert!(value_matches(&v, &quoted));
            let other = format!("{} {}", n + Decimal::new(1, 2), units[unit]);
            proptest::prop_assert!(!value_matches(&v, &Json::String(other)));
            proptest::prop_assert!(!value_matches(&v, &Json::Null));
        }

        /// A number matches itself written as a JSON number, however many trailing zeros.
        #[test]
        fn numbers_match_json_numbers(cents in -1_000_000i64..1_000_000) {
            let n = Decimal::new(cents, 2);
            let v = Value::Number(n);
            let json: Json = serde_json::from_str(&n.to_string()).unwrap();
            proptest::prop_assert!(value_matches(&v, &json));
            proptest::prop_assert!(!value_matches(&v, &Json::Bool(true)));
        }
    }

    #[test]
    fn absent_matches_only_null() {
        assert!(value_matches(&Value::Absent, &Json::Null));
        assert!(!value_matches(&Value::Absent, &serde_json::json!(0)));
        assert!(!value_matches(
            &Value::Absent,
            &serde_json::json!("not recorded")
        ));
        assert!(!value_matches(&Value::Absent, &serde_json::json!(false)));
    }

    #[test]
    fn text_and_booleans() {
        let t = Value::Text("stage 2".into());
        assert!(value_matches(&t, &serde_json::json!("stage 2")));
        assert!(!value_matches(&t, &serde_json::json!("stage 1")));
        assert!(value_matches(
            &Value::Bool(false),
            &serde_json::json!(false)
        ));
        assert!(!value_matches(&Value::Bool(false), &Json::Null));
    }

    #[test]
    fn invalid_cases_name_the_field() {
        let err = TestCase::from_json(
            Path::new("t.json"),
            &serde_json::json!({"at": "2024-01-01", "resources": []}),
        )
        .unwrap_err();
        assert!(err.contains("`expect` is missing"), "{err}");
    }
}
