//! Scores in sandboxed rhai: `score NAME using rhai """ ... """`.
//!
//! A score is a calculation the rule language cannot express, written in
//! [rhai](https://rhai.rs/book/). [`compile`] checks the script once, when the ruleset is
//! compiled, and finds the ruleset names it reads ([`Script::inputs`]); the evaluation graph
//! then calls [`Script::run`] with the value of each input and uses the result like the
//! value of a definition.
//!
//! ```
//! use cds_rules::ast::Item;
//! use cds_rules::script::{self, ScriptValue};
//! use rust_decimal::Decimal;
//!
//! let src = r#"ruleset af version 1.0.0
//! define heart-failure = active condition snomed 84114007
//! define female        = fhirpath "Patient.gender = 'female'"
//! score cha2ds2-vasc using rhai """
//! let s = 0;
//! if age >= 75 { s += 2 } else if age >= 65 { s += 1 }
//! if heart_failure { s += 1 }
//! if female == true { s += 1 }
//! s
//! """
//! "#;
//! let ruleset = cds_rules::parse(src, "af.rules")?;
//! let Item::Score(score) = &ruleset.items[2] else { unreachable!() };
//!
//! // The names the script may read: the ruleset's definitions and scores, and `age`.
//! let known = ["age", "heart-failure", "female", "cha2ds2-vasc"];
//! let script = script::compile(score, &known)?;
//! assert_eq!(script.inputs(), ["age", "female", "heart-failure"]);
//!
//! // One value per input, in the order of `inputs()`; `female` is absent here.
//! let result = script.run(&[
//!     ScriptValue::Number(Decimal::from(78)),
//!     ScriptValue::Absent,
//!     ScriptValue::Bool(true),
//! ])?;
//! assert_eq!(result, ScriptValue::Number(Decimal::from(3)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Names
//!
//! A script reads the definitions and scores of its ruleset (and built-in names such as
//! `age`, whatever the caller passes as `known_names`) as variables. Names in the rule
//! language may contain dashes, which rhai reads as subtraction, so **in a script every
//! dash of a name is written as an underscore**: `rr-points` is `rr_points` ([`rhai_name`]).
//! Writing `rr-points` in a script is reported as the unknown name `rr`, with a hint. If
//! two ruleset names differ only by dashes and underscores (`rr-points`, `rr_points`), a
//! script that reads either is refused as ambiguous.
//!
//! Any other name must be a local variable (`let s = 0;`): a name that is neither is a
//! compile-time error pointing at it (rhai's strict variables mode, with the ruleset names
//! declared). Functions (`fn points(x) { ... }`) see only their parameters, as always in
//! rhai; a function body that reads a ruleset name is refused at compile time too.
//!
//! # Values
//!
//! | rule language        | [`ScriptValue`] | in the script              |
//! |----------------------|-----------------|----------------------------|
//! | absent               | `Absent`        | `()`                       |
//! | true / false         | `Bool`          | `bool`                     |
//! | number               | `Number`        | `decimal` (always)         |
//! | text                 | `Text`          | `string`                   |
//!
//! The script's result maps back the same way: `()` is absent, an integer or a decimal is a
//! number, a string or a character is text. Anything else (an array, a map, a function
//! pointer) is [`ScriptErrorKind::WrongResultType`].
//!
//! An absent input is `()`: comparing it with `==` is false, but arithmetic or `<` on it
//! fails at run time ("no function or operator"). Test it first, for example
//! `if type_of(x) == "()" { 0 } else { x }`.
//!
//! # Numbers: exact decimals
//!
//! rhai is built with its `decimal` and `no_float` features, so there are no binary floats
//! at all: literals with a decimal point (`1.5`, `0.1`) are [`rust_decimal::Decimal`], as
//! are all numeric inputs, and `0.1 + 0.2 == 0.3` holds. Clinical scores and thresholds are
//! written in decimal and must compare exactly as written (`>= 37.5`); binary floats would
//! make `0.1 + 0.2 > 0.3` and turn exact thresholds into rounding bugs. Integer literals
//! (`2`) stay rhai integers (`i64`), which mix freely with decimals (the result is a
//! decimal). Mind that an expression made only of integer literals divides as integers:
//! `7 / 2` is `3`, while `7.0 / 2` and `x / 2` with a numeric input `x` are `3.5`.
//! Arithmetic overflow and division by zero are run-time errors, never silent.
//!
//! # The sandbox
//!
//! Every script runs on one shared engine ([`rhai::Engine::new_raw`]) with only the
//! packages a calculation needs: arithmetic, comparisons, maths (`abs`, `round`, `floor`,
//! `sqrt`, ...), strings, ranges for `for` loops, arrays and maps. Left out: rhai's
//! language-core package (`sleep`, `exit`, `parse_json`, function metadata), blobs, bit
//! fields, time. `eval` is disabled and `import` does not exist (rhai `no_module`); both
//! are compile errors. `print` and `debug` go nowhere (scripts see patient data and must not
//! log it). The limits, enforced by rhai and reported as [`ScriptErrorKind::Limit`]:
//!
//! - [`MAX_OPERATIONS`] operations per run (an endless loop stops there);
//! - [`MAX_CALL_LEVELS`] nested function calls (endless recursion stops there);
//! - [`MAX_EXPR_DEPTH`] / [`MAX_FUNCTION_EXPR_DEPTH`] levels of nested expressions, checked
//!   at compile time;
//! - strings of at most [`MAX_STRING_SIZE`] bytes, arrays of [`MAX_ARRAY_SIZE`] items, maps
//!   of [`MAX_MAP_SIZE`] entries, [`MAX_VARIABLES`] variables, [`MAX_FUNCTIONS`] functions.
//!
//! [`compile`] and [`Script::run`] never panic: a panic inside rhai, should one happen, is
//! caught and reported as an error. A compiled [`Script`] is `Send + Sync` (rhai's `sync`
//! feature) and runs concurrently from many threads.
//!
//! rhai is also built with `internals`, for one use: walking the compiled syntax tree to
//! find the ruleset names a script reads.
//!
//! # Errors
//!
//! A [`ScriptError`] carries the byte [`Span`] in the **ruleset file** of
//! the offending token (rhai's line and column inside the script are mapped through the
//! verbatim script text, which starts just after the opening `"""`), or of the whole script
//! literal when rhai gives no position. Messages name the operation, the variable or the
//! type, never a value: inputs are patient data. Attach the file to render it:
//!
//! ```
//! # use cds_rules::ast::Item;
//! let src = "ruleset s version 1.0.0\nscore bad using rhai \"\"\"\nlet s = 1;\ns + nope\n\"\"\"\n";
//! let ruleset = cds_rules::parse(src, "s.rules").unwrap();
//! let Item::Score(score) = &ruleset.items[0] else { unreachable!() };
//! let err = cds_rules::script::compile(score, &[]).unwrap_err();
//! assert_eq!(err.kind, cds_rules::script::ScriptErrorKind::UnknownName);
//! assert_eq!(&src[err.span.start..err.span.end], "nope");
//! let report = miette::Report::new(err).with_source_code(miette::NamedSource::new("s.rules", src.to_string()));
//! # let _ = report;
//! ```

mod error;
mod sandbox;
mod text;

pub use error::{ScriptError, ScriptErrorKind};
pub use sandbox::{
    MAX_ARRAY_SIZE, MAX_CALL_LEVELS, MAX_EXPR_DEPTH, MAX_FUNCTIONS, MAX_FUNCTION_EXPR_DEPTH,
    MAX_MAP_SIZE, MAX_OPERATIONS, MAX_STRING_SIZE, MAX_VARIABLES,
};

use crate::ast::{self, Span};
use error::Reporter;
use rhai::{ASTNode, Dynamic, EvalAltResult, Expr, Position, Scope, AST};
use rust_decimal::Decimal;
use sandbox::engine;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use text::ScriptText;

/// A value going into or coming out of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptValue {
    /// No value (a query that found nothing); `()` in the script.
    Absent,
    /// A yes/no value.
    Bool(bool),
    /// A number (exact decimal).
    Number(Decimal),
    /// A text.
    Text(String),
}

impl From<bool> for ScriptValue {
    fn from(b: bool) -> ScriptValue {
        ScriptValue::Bool(b)
    }
}

impl From<Decimal> for ScriptValue {
    fn from(d: Decimal) -> ScriptValue {
        ScriptValue::Number(d)
    }
}

impl From<&str> for ScriptValue {
    fn from(s: &str) -> ScriptValue {
        ScriptValue::Text(s.to_string())
    }
}

/// The name a ruleset name has inside scripts: dashes become underscores
/// (`rr-points` → `rr_points`).
///
/// ```
/// assert_eq!(cds_rules::script::rhai_name("rr-points"), "rr_points");
/// ```
pub fn rhai_name(dsl_name: &str) -> String {
    dsl_name.replace('-', "_")
}

/// A compiled score script, ready to run.
#[derive(Debug, Clone)]
pub struct Script {
    name: String,
    inputs: Vec<String>,
    /// The script-side name of each input, in the same order.
    variables: Vec<String>,
    ast: AST,
    text: ScriptText,
}

/// Compiles the script of `score`.
///
/// `known_names` are the names the script may read, as written in the rule language (with
/// dashes): the ruleset's definitions and scores, and any built-in names. The script's
/// inputs are the known names it actually reads.
///
/// # Errors
///
/// [`ScriptErrorKind::Syntax`] for invalid rhai (or `eval` / `import`),
/// [`ScriptErrorKind::UnknownName`] for a name that is neither known nor local,
/// [`ScriptErrorKind::AmbiguousName`], [`ScriptErrorKind::SelfReference`], and
/// [`ScriptErrorKind::Limit`] for expressions nested too deeply or too many functions.
pub fn compile(score: &ast::Score, known_names: &[&str]) -> Result<Script, ScriptError> {
    let text = ScriptText::new(&score.script);
    let name = score.name.name.as_str();
    let reporter = Reporter {
        score: name,
        text: &text,
    };

    // Script-side name -> the ruleset names that map to it.
    let mut by_variable: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for &known in known_names {
        let names = by_variable.entry(rhai_name(known)).or_default();
        if !names.contains(&known) {
            names.push(known);
        }
    }
    let mut scope = Scope::new();
    for variable in by_variable.keys() {
        scope.push_dynamic(variable.as_str(), Dynamic::UNIT);
    }

    let compiled = catch_unwind(AssertUnwindSafe(|| {
        engine().compile_with_scope(&scope, &text.text)
    }));
    let ast = match compiled {
        Ok(Ok(ast)) => ast,
        Ok(Err(err)) => return Err(reporter.parse_error(&err, known_names)),
        Err(_) => return Err(internal(&reporter)),
    };

    // Ruleset names read by the main body (closures' captures included), first position.
    let mut statements = ast.clone();
    statements.clear_functions();
    let read = free_variables(&statements);
    // Function bodies cannot see them: refuse rather than fail at run time. (A closure's
    // captured names are among its parameters.)
    if let Some((variable, pos)) = ast
        .iter_fn_def()
        .flat_map(|f| {
            let only_f = ast.clone_functions_only_filtered(|_, _, _, fname, arity| {
                fname == f.name.as_str() && arity == f.params.len()
            });
            free_variables(&only_f)
                .into_iter()
                .filter(|(v, _)| !f.params.iter().any(|p| p.as_str() == v))
                .collect::<Vec<_>>()
        })
        .find(|(v, _)| by_variable.contains_key(v))
    {
        return Err(reporter.error(
            ScriptErrorKind::UnknownName,
            reporter.name_span(pos, &variable),
            format!("a function cannot read `{variable}`"),
            "not visible inside a function",
            format!(
                "functions see only their parameters: pass it in, as in \
                 `fn points({variable}) {{ ... }}` called as `points({variable})`"
            ),
        ));
    }

    let mut inputs: Vec<(String, String)> = Vec::new();
    for (variable, pos) in read {
        let Some(names) = by_variable.get(&variable) else {
            // Strict variables mode lets no other free name through.
            continue;
        };
        if names.len() > 1 {
            let mut names = names.clone();
            names.sort_unstable();
            return Err(reporter.error(
                ScriptErrorKind::AmbiguousName,
                reporter.name_span(pos, &variable),
                format!(
                    "`{variable}` could be any of {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "ambiguous name",
                "these ruleset names differ only by dashes and underscores, which are the \
                 same in scripts; rename one of them",
            ));
        }
        if names[0] == name {
            return Err(reporter.error(
                ScriptErrorKind::SelfReference,
                reporter.name_span(pos, &variable),
                format!("the score `{name}` reads itself"),
                "the score itself",
                "a score cannot use its own value; use a local variable (`let s = 0;`)",
            ));
        }
        inputs.push((names[0].to_string(), variable));
    }
    inputs.sort();
    let (inputs, variables) = inputs.into_iter().unzip();

    Ok(Script {
        name: name.to_string(),
        inputs,
        variables,
        ast,
        text,
    })
}

/// The names read from outside (not local variables, not parameters) with the position
/// of their first reading.
fn free_variables(ast: &AST) -> BTreeMap<String, Position> {
    let mut found = BTreeMap::new();
    ast.walk(&mut |path: &[ASTNode]| {
        record_free(path, &mut found);
        true
    });
    found
}

fn record_free(path: &[ASTNode], found: &mut BTreeMap<String, Position>) {
    if let Some(ASTNode::Expr(Expr::Variable(var, short_index, pos))) = path.last() {
        let (index, name) = &**var;
        if index.is_none() && short_index.is_none() {
            found.entry(name.to_string()).or_insert(*pos);
        }
    }
}

fn internal(reporter: &Reporter<'_>) -> ScriptError {
    reporter.error(
        ScriptErrorKind::Runtime,
        reporter.whole(),
        "internal error in the script engine",
        "while handling this script",
        "please report this script to the engine's maintainers",
    )
}

impl Script {
    /// The score's name, as written in the ruleset.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The script text as rhai runs it.
    pub fn source(&self) -> &str {
        &self.text.text
    }

    /// The ruleset names (as written in the DSL, with dashes) the script reads, sorted,
    /// deduplicated; only names from `known_names`. The compiler wires these as graph
    /// inputs.
    pub fn inputs(&self) -> &[String] {
        &self.inputs
    }

    /// The whole script literal in the ruleset file (quotes included).
    pub fn span(&self) -> Span {
        self.text.literal
    }

    /// Runs with one value per input (same order as [`inputs`](Script::inputs)). Never
    /// panics.
    ///
    /// # Errors
    ///
    /// [`ScriptErrorKind::Runtime`] when the script fails, [`ScriptErrorKind::Limit`] when
    /// it hits a sandbox limit, [`ScriptErrorKind::WrongResultType`] when it returns
    /// something a score cannot be, [`ScriptErrorKind::Inputs`] when the number of values
    /// is not the number of inputs.
    pub fn run(&self, inputs: &[ScriptValue]) -> Result<ScriptValue, ScriptError> {
        let reporter = Reporter {
            score: &self.name,
            text: &self.text,
        };
        if inputs.len() != self.variables.len() {
            return Err(reporter.error(
                ScriptErrorKind::Inputs,
                reporter.whole(),
                format!(
                    "the script reads {} names but was given {} values",
                    self.variables.len(),
                    inputs.len()
                ),
                "this script",
                "pass one value per name of `inputs()`, in that order",
            ));
        }
        let mut scope = Scope::with_capacity(inputs.len());
        for (variable, value) in self.variables.iter().zip(inputs) {
            scope.push_dynamic(variable.as_str(), to_dynamic(value));
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            engine().eval_ast_with_scope::<Dynamic>(&mut scope, &self.ast)
        }));
        let value = match outcome {
            Ok(Ok(value)) => value,
            Ok(Err(err)) => match *err {
                EvalAltResult::Return(value, _) | EvalAltResult::Exit(value, _) => value,
                ref other => return Err(reporter.eval_error(other)),
            },
            Err(_) => return Err(internal(&reporter)),
        };
        from_dynamic(value).map_err(|type_name| {
            reporter.error(
                ScriptErrorKind::WrongResultType,
                reporter.whole(),
                format!("the script returns a value of type {type_name}"),
                format!("returns {type_name}"),
                "a score is a number, true/false, a text or `()` (absent): end the script \
                 with that value",
            )
        })
    }
}

fn to_dynamic(value: &ScriptValue) -> Dynamic {
    match value {
        ScriptValue::Absent => Dynamic::UNIT,
        ScriptValue::Bool(b) => Dynamic::from_bool(*b),
        ScriptValue::Number(d) => Dynamic::from_decimal(*d),
        ScriptValue::Text(s) => Dynamic::from(s.clone()),
    }
}

/// The score value of a script's result, or the (friendly) name of its type.
fn from_dynamic(value: Dynamic) -> Result<ScriptValue, String> {
    let value = value.flatten();
    if value.is_unit() {
        return Ok(ScriptValue::Absent);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(ScriptValue::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(ScriptValue::Number(Decimal::from(i)));
    }
    if let Ok(d) = value.as_decimal() {
        return Ok(ScriptValue::Number(d));
    }
    if let Ok(c) = value.as_char() {
        return Ok(ScriptValue::Text(c.to_string()));
    }
    let type_name = engine().map_type_name(value.type_name()).to_string();
    match value.into_immutable_string() {
        Ok(s) => Ok(ScriptValue::Text(s.to_string())),
        Err(_) => Err(type_name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Ident, Text};

    fn score(name: &str, script: &str) -> ast::Score {
        ast::Score {
            comments: Vec::new(),
            name: Ident {
                name: name.to_string(),
                span: Span::new(6, 6 + name.len()),
            },
            script: Text {
                value: script.to_string(),
                span: Span::new(100, 106 + script.len()),
            },
            span: Span::new(0, 106 + script.len()),
        }
    }

    fn num(s: &str) -> ScriptValue {
        ScriptValue::Number(s.parse().unwrap())
    }

    #[test]
    fn script_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Script>();
        assert_send_sync::<ScriptError>();
    }

    #[test]
    fn inputs_are_known_names_read_sorted_and_deduplicated() {
        let s = score("s", "let x = b_c + a; if a > 1 { x } else { b_c }");
        let script = compile(&s, &["a", "b-c", "unused", "s"]).unwrap();
        assert_eq!(script.name(), "s");
        assert_eq!(script.inputs(), ["a", "b-c"]);
        assert_eq!(script.span(), Span::new(100, 106 + s.script.value.len()));
    }

    #[test]
    fn local_variables_shadowing_a_known_name_are_not_inputs() {
        let s = score("s", "let a = 2; a * 3");
        let script = compile(&s, &["a"]).unwrap();
        assert!(script.inputs().is_empty());
        assert_eq!(script.run(&[]).unwrap(), num("6"));
    }

    #[test]
    fn captured_names_are_inputs() {
        let s = score("s", "let f = |x| x + a; f.call(1)");
        let script = compile(&s, &["a"]).unwrap();
        assert_eq!(script.inputs(), ["a"]);
        assert_eq!(script.run(&[num("2.5")]).unwrap(), num("3.5"));
    }

    #[test]
    fn values_round_trip() {
        let s = score("s", "x");
        let script = compile(&s, &["x"]).unwrap();
        for v in [
            ScriptValue::Absent,
            ScriptValue::Bool(true),
            num("1.25"),
            ScriptValue::from("text"),
        ] {
            assert_eq!(script.run(std::slice::from_ref(&v)).unwrap(), v);
        }
    }

    #[test]
    fn integers_and_chars_map_back() {
        let int = compile(&score("s", "40 + 2"), &[]).unwrap();
        assert_eq!(int.run(&[]).unwrap(), num("42"));
        let ch = compile(&score("s", "'x'"), &[]).unwrap();
        assert_eq!(ch.run(&[]).unwrap(), ScriptValue::from("x"));
        let unit = compile(&score("s", "let x = 1;"), &[]).unwrap();
        assert_eq!(unit.run(&[]).unwrap(), ScriptValue::Absent);
    }

    #[test]
    fn return_gives_the_value() {
        let s = compile(&score("s", "if a { return 1; } 2"), &["a"]).unwrap();
        assert_eq!(s.run(&[ScriptValue::Bool(true)]).unwrap(), num("1"));
        assert_eq!(s.run(&[ScriptValue::Bool(false)]).unwrap(), num("2"));
    }

    #[test]
    fn wrong_number_of_inputs() {
        let s = compile(&score("s", "a"), &["a"]).unwrap();
        let err = s.run(&[]).unwrap_err();
        assert_eq!(err.kind, ScriptErrorKind::Inputs);
    }

    #[test]
    fn function_reading_a_ruleset_name_is_refused() {
        let err = compile(&score("s", "fn f() { age } f()"), &["age"]).unwrap_err();
        assert_eq!(err.kind, ScriptErrorKind::UnknownName);
        // `age` is at script offset 9, the script at file offset 103.
        assert_eq!(err.span, Span::new(112, 115));
    }

    #[test]
    fn ambiguous_and_self_references() {
        let err = compile(&score("s", "rr_points"), &["rr-points", "rr_points"]).unwrap_err();
        assert_eq!(err.kind, ScriptErrorKind::AmbiguousName);
        let err = compile(&score("my-score", "my_score + 1"), &["my-score"]).unwrap_err();
        assert_eq!(err.kind, ScriptErrorKind::SelfReference);
        // Ambiguity matters only for names the script reads.
        assert!(compile(&score("s", "1"), &["rr-points", "rr_points"]).is_ok());
    }

    #[test]
    fn absent_tests() {
        let s = compile(
            &score("s", r#"if type_of(x) == "()" { 0 } else { x }"#),
            &["x"],
        )
        .unwrap();
        assert_eq!(s.run(&[ScriptValue::Absent]).unwrap(), num("0"));
        assert_eq!(s.run(&[num("4")]).unwrap(), num("4"));
        let eq = compile(&score("s", "x == ()"), &["x"]).unwrap();
        assert_eq!(
            eq.run(&[ScriptValue::Absent]).unwrap(),
            ScriptValue::Bool(true)
        );
    }
}
