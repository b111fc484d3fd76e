//! Unit tests of the FHIRPath engine: operators and functions over small inputs, parse-error
//! snapshots, and property tests that parsing and evaluation never panic.

use super::*;
use crate::temporal::DateTime;
use proptest::prelude::*;
use serde_json::json;

fn ctx<'a>() -> EvalContext<'a> {
    EvalContext::new(DateTime::parse("2024-06-15T10:30:00Z").unwrap())
}

/// Evaluate on `resource` and render the result as JSON.
fn run(expr: &str, resource: &serde_json::Value) -> serde_json::Value {
    let e = parse(expr).unwrap_or_else(|err| panic!("{expr}: {err}"));
    let c = ctx();
    let out = e
        .evaluate(resource, &c)
        .unwrap_or_else(|err| panic!("{expr}: {err}"));
    out.to_json()
}

fn eval(expr: &str) -> serde_json::Value {
    run(expr, &patient())
}

fn patient() -> serde_json::Value {
    json!({
        "resourceType": "Patient",
        "id": "p1",
        "birthDate": "1970-03-04",
        "_birthDate": {"extension": [{"url": "http://x/ext", "valueString": "note"}]},
        "name": [{"given": ["Ann", "Bo"], "family": "Smith"}, {"given": ["Cy"]}],
        "deceasedBoolean": false
    })
}

fn observation() -> serde_json::Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "effectiveDateTime": "2024-05-01T08:00:00Z",
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 150, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 95.5, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
        ]
    })
}

#[test]
fn navigation_flattens_and_types_by_the_model() {
    assert_eq!(eval("name.given"), json!(["Ann", "Bo", "Cy"]));
    assert_eq!(eval("Patient.name.family"), json!(["Smith"]));
    assert_eq!(eval("Encounter.name"), json!([]));
    assert_eq!(eval("deceased"), json!([false]));
    assert_eq!(
        eval("birthDate.extension('http://x/ext').value"),
        json!(["note"])
    );
    assert_eq!(eval("birthDate is date"), json!([true]));
    assert_eq!(eval("birthDate < @2000-01-01"), json!([true]));
}

#[test]
fn choice_type_names_are_refused() {
    let e = parse("component.valueQuantity").unwrap();
    let obs = observation();
    let c = ctx();
    let err = e.evaluate(&obs, &c).unwrap_err();
    assert_eq!(err.kind, EvalErrorKind::Model);
    assert!(err.message.contains("use `value`"), "{}", err.message);
}

#[test]
fn typical_rule_expressions() {
    let obs = observation();
    assert_eq!(
        run(
            "component.where(code.coding.code = '8480-6').value.value > 140",
            &obs
        ),
        json!([true])
    );
    assert_eq!(
        run(
            "component.where(code.coding.code = '8462-4').value.ofType(Quantity) > 12 'kPa'",
            &obs
        ),
        json!([true])
    );
    assert_eq!(
        run("effective.ofType(dateTime) > now() - 90 days", &obs),
        json!([true])
    );
    assert_eq!(
        run(
            "code.coding.where(system = 'http://loinc.org' and code = '85354-9').exists()",
            &obs
        ),
        json!([true])
    );
    assert_eq!(eval("birthDate <= today() - 18 years"), json!([true]));
}

#[test]
fn three_valued_logic() {
    assert_eq!(eval("true and {}"), json!([]));
    assert_eq!(eval("false and {}"), json!([false]));
    assert_eq!(eval("{} or true"), json!([true]));
    assert_eq!(eval("{} implies false"), json!([]));
    assert_eq!(eval("false implies {}"), json!([true]));
    assert_eq!(eval("true xor false"), json!([true]));
}

#[test]
fn equality_and_equivalence() {
    assert_eq!(eval("'a b' ~ 'A  B'"), json!([true]));
    assert_eq!(eval("1.10 = 1.1"), json!([true]));
    assert_eq!(eval("@2012-04-15 = @2012-04-15T10:00:00"), json!([]));
    assert_eq!(eval("@2012-04-15 ~ @2012-04-15T10:00:00"), json!([false]));
    assert_eq!(eval("4 'g' = 4000 'mg'"), json!([true]));
    assert_eq!(eval("37 'Cel' < 99 '[degF]'"), json!([true]));
    assert_eq!(eval("100 'mg/dL' = 1 'g/L'"), json!([true]));
    assert_eq!(eval("1 year = 1 'a'"), json!([]));
}

#[test]
fn arithmetic_and_empty_propagation() {
    assert_eq!(eval("1 / 0"), json!([]));
    assert_eq!(eval("5 div 2"), json!([2]));
    assert_eq!(eval("5 mod 2"), json!([1]));
    assert_eq!(eval("9223372036854775807 + 1"), json!([]));
    assert_eq!(eval("1 + {}"), json!([]));
    assert_eq!(eval("'a' & {} & 'b'"), json!(["ab"]));
    assert_eq!(eval("@2024-01-31 + 1 month"), json!(["2024-02-29"]));
}

#[test]
fn singleton_rules_raise_errors() {
    let c = ctx();
    let p = patient();
    for expr in ["name.given + 'x'", "name.given < 'b'", "(1 | 2).not()"] {
        let err = parse(expr).unwrap().evaluate(&p, &c).unwrap_err();
        assert_eq!(err.kind, EvalErrorKind::NotSingleton, "{expr}");
    }
}

#[test]
fn functions() {
    assert_eq!(eval("name.given.count()"), json!([3]));
    assert_eq!(
        eval("name.given.where($this.startsWith('B'))"),
        json!(["Bo"])
    );
    assert_eq!(eval("name.select(given.first())"), json!(["Ann", "Cy"]));
    assert_eq!(eval("name.given.skip(1).take(1)"), json!(["Bo"]));
    assert_eq!(eval("(1 | 2 | 3).aggregate($this + $total, 0)"), json!([6]));
    assert_eq!(eval("'abc'.replaceMatches('[ab]', 'x')"), json!(["xxc"]));
    assert_eq!(eval("'2024-01-02'.toDate() = @2024-01-02"), json!([true]));
    assert_eq!(
        eval("'5 \\'mg\\''.toQuantity('g')"),
        json!([{"value": 0.005, "unit": "g"}])
    );
    assert_eq!(eval("iif(name.exists(), 'y', 'n')"), json!(["y"]));
    assert_eq!(eval("(3 | 1 | 2).sort()"), json!([1, 2, 3]));
    assert_eq!(eval("2.power(10)"), json!([1024]));
}

#[test]
fn variables_and_clock() {
    let p = patient();
    let limit = json!(140);
    let mut c = ctx();
    c.set_variable("limit", Collection::from_json(&limit));
    let e = parse("%limit + 1").unwrap();
    assert_eq!(e.evaluate(&p, &c).unwrap().to_json(), json!([141]));
    let e = parse("%missing").unwrap();
    let err = e.evaluate(&p, &c).unwrap_err();
    assert_eq!(err.kind, EvalErrorKind::UnknownVariable);
    assert_eq!(err.span, Span::new(0, 8));
    assert_eq!(run("today()", &p), json!(["2024-06-15"]));
    assert_eq!(run("%resource.id", &p), json!(["p1"]));
}

#[test]
fn json_numbers_keep_their_written_digits() {
    let p = patient();
    let (a, b, big) = (json!(95.5), json!(0.1), json!(1.5e-7));
    let c = ctx()
        .with_variable("a", Collection::from_json(&a))
        .with_variable("b", Collection::from_json(&b))
        .with_variable("big", Collection::from_json(&big));
    let e = parse("%a.toString() & ' ' & %b.toString() & ' ' & %big.toString()").unwrap();
    assert_eq!(
        e.evaluate(&p, &c).unwrap().to_json(),
        json!(["95.5 0.1 0.00000015"])
    );
}

struct OneResolver(serde_json::Value);

impl Resolver for OneResolver {
    fn resolve(&self, reference: &str) -> Option<&serde_json::Value> {
        (reference == "Patient/p1").then_some(&self.0)
    }
}

#[test]
fn resolve_uses_the_resolver() {
    let r = OneResolver(patient());
    let c = ctx().with_resolver(&r);
    let obs = json!({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}});
    let e = parse("subject.resolve().name.given.first()").unwrap();
    assert_eq!(e.evaluate(&obs, &c).unwrap().to_json(), json!(["Ann"]));
}

#[test]
fn unknown_functions_and_types_fail_at_parse_time() {
    let err = parse("name.givn()").unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::Semantic);
    assert_eq!((err.line, err.column), (1, 6));
    assert!(parse("value.ofType(Quantiti)").is_err());
    assert!(parse("substring()").is_err());
}

#[test]
fn parse_error_messages() {
    let cases = [
        "Patient.name.given.where(",
        "1 +\n  * 2",
        "name.foo(1)",
        "'unterminated",
        "Observation.value.ofType(Quantty) > 5",
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|c| format!("{c:?}\n  => {}", parse(c).unwrap_err()))
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}

#[test]
fn parse_errors_are_miette_diagnostics() {
    use miette::Diagnostic;
    let err = parse("name.given.where(").unwrap_err();
    let labels: Vec<_> = err.labels().expect("a label").collect();
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].offset(), 17);
    assert!(err.source_code().is_some());
}

#[test]
fn expressions_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Expr>();
    check::<Collection<'static>>();
    check::<EvalContext<'static>>();
}

const TOKENS: &[&str] = &[
    "Patient",
    "name",
    "given",
    ".",
    "(",
    ")",
    "[",
    "]",
    "0",
    "1.5",
    "'a'",
    "@2020",
    "@T10:00",
    "5 'mg'",
    "3 days",
    "+",
    "-",
    "*",
    "/",
    "div",
    "mod",
    "&",
    "|",
    "=",
    "!=",
    "~",
    "!~",
    "<",
    ">=",
    "and",
    "or",
    "xor",
    "implies",
    "in",
    "contains",
    "is",
    "as",
    "Quantity",
    "$this",
    "$index",
    "$total",
    "%resource",
    "%x",
    "where",
    "select",
    "exists",
    "first",
    "iif",
    ",",
    "true",
    "{}",
    "count",
    "`given`",
    "ofType",
    "// c\n",
    "/* c */",
    " ",
];

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_text(s in "\\PC{0,40}") {
        let _ = parse(&s);
    }

    #[test]
    fn parse_and_evaluate_never_panic_on_token_soup(idx in proptest::collection::vec(0..TOKENS.len(), 0..14)) {
        let text: String = idx.iter().map(|&i| TOKENS[i]).collect::<Vec<_>>().join(" ");
        if let Ok(e) = parse(&text) {
            let p = patient();
            let c = ctx();
            let _ = e.evaluate(&p, &c);
        }
    }
}

#[test]
fn literal_arithmetic_is_folded_while_parsing() {
    let e = parse("@2020-01-01T00:00:00Z - 90 days").unwrap();
    assert!(matches!(e.root, ast::Node::Lit(_)), "{:?}", e.root);
    assert_eq!(
        eval("@2020-01-01T00:00:00Z - 90 days"),
        json!(["2019-10-03T00:00:00Z"])
    );
    assert_eq!(eval("2 * 3 + 1"), json!([7]));
    assert_eq!(eval("'a' + 'b'"), json!(["ab"]));
    // Failing or empty operations stay in the tree and behave as before.
    assert!(matches!(parse("1 / 0").unwrap().root, ast::Node::Binary(_)));
    assert_eq!(eval("1 / 0"), json!([]));
    let err = parse("@2020-01-01 + 1 'kg'").unwrap();
    let (p, c) = (patient(), ctx());
    assert!(err.evaluate(&p, &c).is_err());
}

#[test]
fn string_concatenation_of_short_and_long_texts() {
    let long = "x".repeat(200);
    let expr = format!("'{long}' & 'é' + ''");
    assert_eq!(eval(&expr), json!([format!("{long}é")]));
    assert_eq!(eval("name.family & '|' & {}"), json!(["Smith|"]));
    assert_eq!(eval("{} & {}"), json!([""]));
    assert_eq!(eval("name.family + '|' + 'é'"), json!(["Smith|é"]));
}

#[test]
fn decimal_nodes_compare_with_integers_exactly() {
    let obs = observation();
    assert_eq!(run("component[1].value.value > 95", &obs), json!([true]));
    assert_eq!(run("component[1].value.value < 96", &obs), json!([true]));
    assert_eq!(run("96 > component[1].value.value", &obs), json!([true]));
    assert_eq!(run("component[1].value.value >= 95.5", &obs), json!([true]));
    assert_eq!(run("component[0].value.value >= 150", &obs), json!([true]));
    let r = json!({"resourceType": "Observation", "valueQuantity": {"value": 140.0}});
    assert_eq!(run("value.value > 140", &r), json!([false]));
    assert_eq!(run("value.value >= 140", &r), json!([true]));
    let r = json!({"resourceType": "Observation", "valueQuantity": {"value": 1e30}});
    // Beyond Decimal's range the value cannot be read, as before.
    let (e, c) = (parse("value.value > 140").unwrap(), ctx());
    assert!(e.evaluate(&r, &c).is_err());
}

#[test]
fn string_nodes_equal_literals_by_text() {
    let obs = observation();
    assert_eq!(run("status = 'final'", &obs), json!([true]));
    assert_eq!(run("'final' = status", &obs), json!([true]));
    assert_eq!(run("status = 'Final'", &obs), json!([false]));
    assert_eq!(
        run("effective = '2024-05-01T08:00:00Z'", &obs),
        json!([true])
    );
}

#[test]
fn quantity_nodes_compare_with_literals_in_place() {
    let obs = observation();
    assert_eq!(
        run("component[0].value > 140 'mm[Hg]'", &obs),
        json!([true])
    );
    assert_eq!(run("component[0].value > 20 'kPa'", &obs), json!([false]));
    assert_eq!(run("component[0].value < 21 'kPa'", &obs), json!([true]));
    assert_eq!(
        run("140 'mm[Hg]' < component[0].value", &obs),
        json!([true])
    );
    let (e, c) = (parse("component[0].value > 1 'kg'").unwrap(), ctx());
    assert_eq!(e.evaluate(&obs, &c).unwrap().len(), 0);
    let r = json!({"resourceType": "Observation", "valueQuantity": {"value": 3, "code": "d"}});
    assert_eq!(run("value > 2 days", &r), json!([true]));
    assert_eq!(run("value < 1 'wk'", &r), json!([true]));
    let r = json!({"resourceType": "Observation", "valueQuantity": {"unit": "d"}});
    let (e, c) = (parse("value > 2 days").unwrap(), ctx());
    assert!(e.evaluate(&r, &c).is_err());
    assert_eq!(
        run("component.where(value > 100 'mm[Hg]').count()", &obs),
        json!([1])
    );
    assert_eq!(run("component.count() >= 2", &obs), json!([true]));
    let (e, c) = (parse("component > 2").unwrap(), ctx());
    assert!(e.evaluate(&obs, &c).is_err());
}

#[test]
fn equality_with_a_literal_follows_collection_rules() {
    assert_eq!(eval("name.given = 'Ann'"), json!([false]));
    assert_eq!(eval("name.given != 'Ann'"), json!([true]));
    assert_eq!(eval("name.family = 'Smith'"), json!([true]));
    assert_eq!(eval("name.family != 'Smith'"), json!([false]));
    assert_eq!(eval("name.suffix = 'x'"), json!([]));
    assert_eq!(eval("name.suffix != 'x'"), json!([]));
    assert_eq!(eval("birthDate = @1970-03"), json!([]));
    assert_eq!(eval("birthDate = @1970-03-04"), json!([true]));
}
