//! Scores in sandboxed rhai: compiling and running scripts from real ruleset files, the
//! sandbox limits, and the rendered diagnostics (insta snapshots).

use cds_rules::ast::{Item, Score};
use cds_rules::script::{self, Script, ScriptError, ScriptErrorKind, ScriptValue};
use miette::{GraphicalReportHandler, GraphicalTheme, NamedSource};
use rust_decimal::Decimal;

const FILE: &str = "af.rules";
const HEAD: &str = "ruleset af version 1.0.0\n  answers patient-view\n\n";

/// The names scripts in these tests may read.
const KNOWN: &[&str] = &[
    "age",
    "female",
    "heart-failure",
    "hypertension",
    "diabetes",
    "stroke-or-tia",
    "vascular-disease",
    "rr-points",
    "temperature",
    "note",
];

/// A ruleset file made of the header and one score named `s` with this script.
fn file(script: &str) -> String {
    format!("{HEAD}score s using rhai \"\"\"{script}\"\"\"\n")
}

/// The first score of a ruleset file.
fn score_of(src: &str) -> Score {
    let ruleset = match cds_rules::parse(src, FILE) {
        Ok(r) => r,
        Err(e) => panic!("the test file does not parse: {e:?}"),
    };
    ruleset
        .items
        .into_iter()
        .find_map(|item| match item {
            Item::Score(s) => Some(s),
            _ => None,
        })
        .expect("a score")
}

fn compile(src: &str) -> Result<Script, ScriptError> {
    script::compile(&score_of(src), KNOWN)
}

fn compiled(src: &str) -> Script {
    match compile(src) {
        Ok(s) => s,
        Err(e) => panic!("compile failed: {e:?}"),
    }
}

fn compile_err(src: &str) -> ScriptError {
    match compile(src) {
        Ok(_) => panic!("expected a compile error in:\n{src}"),
        Err(e) => e,
    }
}

fn run_err(src: &str, inputs: &[ScriptValue]) -> ScriptError {
    match compiled(src).run(inputs) {
        Ok(v) => panic!("expected a run-time error, got {v:?}"),
        Err(e) => e,
    }
}

fn num(s: &str) -> ScriptValue {
    ScriptValue::Number(s.parse().expect("a decimal"))
}

fn yes(b: bool) -> ScriptValue {
    ScriptValue::Bool(b)
}

/// The error rendered against its whole file, as `cds check` shows it.
fn render(src: &str, err: ScriptError) -> String {
    let report = miette::Report::new(err).with_source_code(NamedSource::new(FILE, src.to_string()));
    let mut out = String::new();
    let handler =
        GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    if let Err(e) = handler.render_report(&mut out, report.as_ref()) {
        panic!("rendering failed: {e}");
    }
    out
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, col)
}

const CHA2DS2_VASC: &str = r#"
// CHA2DS2-VASc (Lip 2010): stroke risk in atrial fibrillation
let s = 0;
if heart_failure { s += 1 }
if hypertension { s += 1 }
if age >= 75 { s += 2 } else if age >= 65 { s += 1 }
if diabetes { s += 1 }
if stroke_or_tia { s += 2 }
if vascular_disease { s += 1 }
if female { s += 1 }
s
"#;

#[test]
fn cha2ds2_vasc() {
    let src = format!(
        "{HEAD}define heart-failure = active condition snomed 84114007\n\
         score cha2ds2-vasc using rhai \"\"\"{CHA2DS2_VASC}\"\"\"\n\n\
         rule high\n  when cha2ds2-vasc >= 2\n  then warning \"CHA2DS2-VASc {{cha2ds2-vasc}}\"\n"
    );
    let script = compiled(&src);
    assert_eq!(script.name(), "cha2ds2-vasc");
    assert_eq!(
        script.inputs(),
        [
            "age",
            "diabetes",
            "female",
            "heart-failure",
            "hypertension",
            "stroke-or-tia",
            "vascular-disease"
        ]
    );
    // inputs order: age, diabetes, female, heart-failure, hypertension, stroke, vascular
    let cases = [
        (["50", "f", "f", "f", "f", "f", "f"], "0"),
        (["70", "f", "t", "f", "f", "f", "f"], "2"),
        (["80", "t", "t", "t", "t", "t", "t"], "9"),
        (["64.9", "f", "f", "t", "f", "t", "f"], "3"),
        (["65", "f", "f", "f", "f", "f", "f"], "1"),
    ];
    for (inputs, expected) in cases {
        let values: Vec<ScriptValue> = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| if i == 0 { num(v) } else { yes(*v == "t") })
            .collect();
        assert_eq!(script.run(&values).unwrap(), num(expected), "{inputs:?}");
    }
}

#[test]
fn script_runs_from_many_threads() {
    let script = compiled(&file(CHA2DS2_VASC));
    std::thread::scope(|scope| {
        for age in [50, 66, 80, 90] {
            let script = &script;
            scope.spawn(move || {
                let mut inputs = vec![yes(false); 7];
                inputs[0] = ScriptValue::Number(Decimal::from(age));
                let expected = if age >= 75 { 2 } else { i64::from(age >= 65) };
                assert_eq!(
                    script.run(&inputs).unwrap(),
                    ScriptValue::Number(Decimal::from(expected))
                );
            });
        }
    });
}

#[test]
fn absent_inputs() {
    let src = file("\nif type_of(temperature) == \"()\" { () } else { temperature * 2 }\n");
    let script = compiled(&src);
    assert_eq!(script.inputs(), ["temperature"]);
    assert_eq!(
        script.run(&[ScriptValue::Absent]).unwrap(),
        ScriptValue::Absent
    );
    assert_eq!(script.run(&[num("36.6")]).unwrap(), num("73.2"));

    // Arithmetic on an absent value fails, naming the operator and the types only.
    let err = run_err(&file("\ntemperature + 1\n"), &[ScriptValue::Absent]);
    assert_eq!(err.kind, ScriptErrorKind::Runtime);
    insta::assert_snapshot!(render(&file("\ntemperature + 1\n"), err));
}

#[test]
fn dashed_names_are_underscored() {
    let src = file("\nrr_points * 2 + age\n");
    let script = compiled(&src);
    assert_eq!(script.inputs(), ["age", "rr-points"]);
    assert_eq!(script.run(&[num("40"), num("3")]).unwrap(), num("46"));

    // Written with its dash, it reads as `rr - points`.
    let src = file("\nrr-points * 2\n");
    let err = compile_err(&src);
    assert_eq!(err.kind, ScriptErrorKind::UnknownName);
    assert!(err.help.contains("`rr_points`"), "{}", err.help);
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn text_values() {
    let script = compiled(&file(
        "\nif note.contains(\"urgent\") { \"review\" } else { note }\n",
    ));
    assert_eq!(
        script.run(&[ScriptValue::from("urgent: call")]).unwrap(),
        ScriptValue::from("review")
    );
    assert_eq!(
        script.run(&[ScriptValue::from("fine")]).unwrap(),
        ScriptValue::from("fine")
    );
}

#[test]
fn exact_decimal_arithmetic() {
    let yes_true = |script: &str| {
        let v = compiled(&file(&format!("\n{script}\n"))).run(&[]).unwrap();
        assert_eq!(v, yes(true), "{script}");
    };
    yes_true("0.1 + 0.2 == 0.3");
    yes_true("1.1 * 3 == 3.3");
    yes_true("7.0 / 2 == 3.5");
    yes_true("type_of(1.5) == \"decimal\"");
    // Integer literals divide as integers (documented).
    yes_true("7 / 2 == 3");

    // Numeric inputs are decimals: no integer division, no binary rounding.
    let script = compiled(&file("age / 2 + temperature * 3"));
    assert_eq!(script.run(&[num("7"), num("0.1")]).unwrap(), num("3.8"));
    let third = compiled(&file("age / 3")).run(&[num("1")]).unwrap();
    assert_eq!(
        third,
        ScriptValue::Number(Decimal::ONE / Decimal::from(3)),
        "exact to rust_decimal's 28 digits"
    );

    // Mixed integer and decimal arithmetic and rounding from the maths package.
    let script = compiled(&file("let s = 1; s += temperature; round(s * 10) / 10"));
    assert_eq!(script.run(&[num("0.26")]).unwrap(), num("1.3"));
}

#[test]
fn division_by_zero_hides_the_operands() {
    let src = file("\nlet bmi = age / 0;\nbmi\n");
    let err = run_err(&src, &[num("12345.678")]);
    assert_eq!(err.kind, ScriptErrorKind::Runtime);
    assert!(!err.to_string().contains("12345"), "{err}");
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn thrown_values_are_not_shown() {
    let src = file("\nthrow age;\n");
    let err = run_err(&src, &[num("98765")]);
    assert_eq!(err.kind, ScriptErrorKind::Runtime);
    let shown = render(&src, err);
    assert!(!shown.contains("98765"), "{shown}");
}

#[test]
fn infinite_loop_hits_the_operation_limit() {
    let src = file("\nlet n = 0;\nloop { n += 1; }\n");
    let err = run_err(&src, &[]);
    assert_eq!(err.kind, ScriptErrorKind::Limit);
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn deep_recursion_hits_the_call_limit() {
    let src = file("\nfn down(n) { down(n + 1) }\ndown(0)\n");
    let err = run_err(&src, &[]);
    assert_eq!(err.kind, ScriptErrorKind::Limit);
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn huge_string_hits_the_size_limit() {
    let src = file("\nlet s = \"ab\";\nloop { s += s; }\n");
    let err = run_err(&src, &[]);
    assert_eq!(err.kind, ScriptErrorKind::Limit);
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn huge_array_hits_the_size_limit() {
    let src = file("\nlet a = [];\nloop { a.push(1); }\n");
    let err = run_err(&src, &[]);
    assert_eq!(err.kind, ScriptErrorKind::Limit);
    assert!(err.message.contains("array"), "{}", err.message);
}

#[test]
fn huge_map_hits_the_size_limit() {
    let src = file("\nlet m = #{};\nfor i in 0..5000 { m[`k${i}`] = i; }\nm.len()\n");
    let err = run_err(&src, &[]);
    assert_eq!(err.kind, ScriptErrorKind::Limit);
    assert!(err.message.contains("map"), "{}", err.message);
}

#[test]
fn deep_nesting_is_refused_at_compile_time() {
    let depth = 200;
    let src = file(&format!("{}1{}", "(".repeat(depth), ")".repeat(depth)));
    assert_eq!(compile_err(&src).kind, ScriptErrorKind::Limit);
}

#[test]
fn eval_is_refused() {
    let src = file("\nlet code = \"1 + 1\";\neval(code)\n");
    let err = compile_err(&src);
    assert_eq!(err.kind, ScriptErrorKind::Syntax);
    assert_eq!(&src[err.span.start..err.span.end], "eval");
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn import_is_refused() {
    let src = file("\nimport \"os\" as os;\n1\n");
    let err = compile_err(&src);
    assert_eq!(err.kind, ScriptErrorKind::Syntax);
    assert_eq!(&src[err.span.start..err.span.end], "import");
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn syntax_error_points_at_the_file_line_and_column() {
    let src = format!(
        "{HEAD}define x = age\n\nscore s using rhai \"\"\"\nlet s = 0;\nif age > 1 {{ s += }}\ns\n\"\"\"\n"
    );
    let err = compile_err(&src);
    assert_eq!(err.kind, ScriptErrorKind::Syntax);
    // `}` after `s +=` is on file line 8, column 19.
    assert_eq!(line_col(&src, err.span.start), (8, 19));
    assert_eq!(&src[err.span.start..err.span.end], "}");
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn error_on_the_opening_line() {
    // The script starts right after the opening quotes, on the `score` line.
    let src = file("1 + ; \n");
    let err = compile_err(&src);
    assert_eq!(line_col(&src, err.span.start), (4, 27));
    assert_eq!(&src[err.span.start..err.span.end], ";");
}

#[test]
fn unfinished_script_points_at_the_closing_quotes() {
    let src = file("\nlet s = (1 + \n");
    let err = compile_err(&src);
    assert_eq!(err.kind, ScriptErrorKind::Syntax);
    assert_eq!(&src[err.span.start..err.span.end], "\"\"\"");
}

#[test]
fn unknown_variable() {
    let src = file("\nlet s = 0;\nif smoker { s += 1 }\ns\n");
    let err = compile_err(&src);
    assert_eq!(err.kind, ScriptErrorKind::UnknownName);
    assert_eq!(&src[err.span.start..err.span.end], "smoker");
    insta::assert_snapshot!(render(&src, err));
}

#[test]
fn function_reading_a_ruleset_name() {
    let src = file("\nfn old() { age >= 75 }\nif old() { 2 } else { 0 }\n");
    let err = compile_err(&src);
    assert_eq!(err.kind, ScriptErrorKind::UnknownName);
    assert_eq!(&src[err.span.start..err.span.end], "age");
    // Passed as a parameter it works.
    let ok = compiled(&file(
        "\nfn old(a) { a >= 75 }\nif old(age) { 2 } else { 0 }\n",
    ));
    assert_eq!(ok.run(&[num("80")]).unwrap(), num("2"));
}

#[test]
fn wrong_result_type() {
    let src = file("\n[age, 1]\n");
    let err = run_err(&src, &[num("70")]);
    assert_eq!(err.kind, ScriptErrorKind::WrongResultType);
    insta::assert_snapshot!(render(&src, err));
    let err = run_err(&file("#{ a: 1 }"), &[]);
    assert_eq!(err.kind, ScriptErrorKind::WrongResultType);
}

#[test]
fn runtime_error_inside_a_function_points_into_it() {
    let src = file("\nfn half(x) {\n  x / 0\n}\nhalf(age)\n");
    let err = run_err(&src, &[num("3")]);
    assert_eq!(err.kind, ScriptErrorKind::Runtime);
    assert!(
        err.message.starts_with("in function `half`"),
        "{}",
        err.message
    );
    assert_eq!(line_col(&src, err.span.start).0, 6);
}

#[test]
fn print_and_debug_are_silent() {
    let script = compiled(&file("\nprint(age); debug(age); age\n"));
    assert_eq!(script.run(&[num("1")]).unwrap(), num("1"));
}

#[test]
fn sleep_is_not_available() {
    let err = run_err(&file("\nsleep(100); 1\n"), &[]);
    assert_eq!(err.kind, ScriptErrorKind::Runtime);
    assert!(err.message.contains("sleep"), "{}", err.message);
}
