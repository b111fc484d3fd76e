//! Properties of the rhai stage: any script text compiles or fails cleanly (never panics),
//! compiled scripts run or fail cleanly, and every error points inside the script literal.

use cds_rules::ast::{Ident, Score, Span, Text};
use cds_rules::script::{self, ScriptError, ScriptValue};
use proptest::prelude::*;

const HEAD: &str = "ruleset p version 1.0.0\n\nscore s using rhai \"\"\"";
const KNOWN: &[&str] = &["age", "rr-points", "flag", "note"];

/// A ruleset file holding `script` verbatim, and its score as the parser would build it.
fn score(script: &str) -> (String, Score) {
    let src = format!("{HEAD}{script}\"\"\"\n");
    let literal = Span::new(HEAD.len() - 3, HEAD.len() + script.len() + 3);
    let name_start = HEAD.find("s using").expect("name");
    let score = Score {
        comments: Vec::new(),
        name: Ident {
            name: "s".into(),
            span: Span::new(name_start, name_start + 1),
        },
        script: Text {
            value: script.to_string(),
            span: literal,
        },
        span: Span::new(HEAD.find("score").expect("score"), literal.end),
    };
    (src, score)
}

/// The error points inside the script literal, at character boundaries of the file.
fn check_span(src: &str, score: &Score, err: &ScriptError) -> Result<(), TestCaseError> {
    let literal = score.script.span;
    prop_assert!(
        literal.start <= err.span.start && err.span.start <= err.span.end,
        "{err:?}"
    );
    prop_assert!(err.span.end <= literal.end, "{err:?}");
    prop_assert!(src.get(err.span.start..err.span.end).is_some(), "{err:?}");
    Ok(())
}

fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "let",
        "x",
        "y",
        "age",
        "rr_points",
        "flag",
        "note",
        "unknown",
        "=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "**",
        "==",
        "!=",
        ">=",
        "<",
        "&&",
        "||",
        "!",
        "(",
        ")",
        "{",
        "}",
        "[",
        "]",
        "#{",
        ":",
        ",",
        ";",
        ".",
        "..",
        "if",
        "else",
        "loop",
        "while",
        "for",
        "in",
        "break",
        "return",
        "throw",
        "fn",
        "f",
        "f(x)",
        "|y|",
        "0",
        "1",
        "2.5",
        "0.1",
        "-3",
        "true",
        "false",
        "()",
        "\"txt\"",
        "'c'",
        "`t${x}`",
        "eval",
        "import",
        "print",
        "len",
        "type_of",
        "switch",
        "=>",
        "_",
        "s",
        "+=",
        "x.len()",
        "\n",
        " ",
        "//",
        "/*",
        "*/",
    ])
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..40).prop_map(|tokens| tokens.join(" "))
}

fn input() -> impl Strategy<Value = ScriptValue> {
    prop_oneof![
        Just(ScriptValue::Absent),
        any::<bool>().prop_map(ScriptValue::Bool),
        (any::<i64>(), 0u32..6)
            .prop_map(|(n, scale)| { ScriptValue::Number(rust_decimal::Decimal::new(n, scale)) }),
        "[a-z ]{0,8}".prop_map(ScriptValue::Text),
    ]
}

/// Compiles, and if that works runs with `values` (cycled over the inputs); both must
/// return, and errors must point inside the literal.
fn exercise(script: &str, values: &[ScriptValue]) -> Result<(), TestCaseError> {
    let (src, score) = score(script);
    match script::compile(&score, KNOWN) {
        Err(err) => check_span(&src, &score, &err)?,
        Ok(compiled) => {
            for name in compiled.inputs() {
                prop_assert!(KNOWN.contains(&name.as_str()), "{name}");
            }
            let inputs: Vec<ScriptValue> = (0..compiled.inputs().len())
                .map(|i| {
                    values
                        .get(i % values.len().max(1))
                        .cloned()
                        .unwrap_or(ScriptValue::Absent)
                })
                .collect();
            if let Err(err) = compiled.run(&inputs) {
                check_span(&src, &score, &err)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(script in "\\PC{0,120}") {
        exercise(&script, &[])?;
    }

    #[test]
    fn arbitrary_lines_never_panic(script in "[ -~\n\té€]{0,120}") {
        exercise(&script, &[])?;
    }

    #[test]
    fn token_soup_never_panics(
        script in token_soup(),
        values in prop::collection::vec(input(), 0..4),
    ) {
        exercise(&script, &values)?;
    }
}
