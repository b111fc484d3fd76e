//! Turns pest's "expected ..." errors into messages and hints in clinician words.

use super::error::{ErrorSink, ParseErrorKind};
use super::Rule;
use crate::ast::Span;
use pest::error::{Error, ErrorVariant, InputLocation};

pub(crate) const HEADER_HELP: &str =
    "the ruleset must start with `ruleset NAME version X.Y.Z`, for example `ruleset hypertension version 1.0.0`";

/// A reader's word for a grammar rule, or None for rules not worth naming.
fn word(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::k_ruleset => "`ruleset`",
        Rule::id => "a name or id (letters, digits and dashes)",
        Rule::name => "a name",
        Rule::k_version => "`version`",
        Rule::version => "a version like 1.0.0",
        Rule::string | Rule::any_string => "text in double quotes",
        Rule::triple_string => "a script in triple quotes \"\"\"...\"\"\"",
        Rule::answers | Rule::k_answers => "`answers`",
        Rule::hook => "a hook name such as patient-view",
        Rule::k_define => "`define`",
        Rule::k_rule => "`rule`",
        Rule::k_score => "`score`",
        Rule::equals => "`=`",
        Rule::k_using => "`using`",
        Rule::k_rhai => "`rhai`",
        Rule::when_clause | Rule::k_when => "`when`",
        Rule::then_clause | Rule::k_then => "`then`",
        Rule::indicator => "info, warning or critical",
        Rule::detail | Rule::k_detail => "`detail`",
        Rule::source | Rule::k_source => "`source`",
        Rule::link | Rule::k_link => "`link`",
        Rule::k_icon => "`icon`",
        Rule::suggest | Rule::k_suggest => "`suggest`",
        Rule::override_reason | Rule::k_override => "`override`",
        Rule::k_reason => "`reason`",
        Rule::system_action | Rule::k_system => "`system`",
        Rule::k_action => "`action`",
        Rule::action | Rule::action_kind => "create, update or delete",
        Rule::expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::predicate
        | Rule::sum
        | Rule::product
        | Rule::unary
        | Rule::primary => "a value",
        Rule::k_or => "`or`",
        Rule::k_and => "`and`",
        Rule::compare | Rule::cmp_op => "a comparison (>=, <=, >, <, =, !=)",
        Rule::presence | Rule::k_is => "`is present` or `is absent`",
        Rule::has_code => "`is` and a code",
        Rule::postfix => "a value",
        Rule::convert => "`in 'unit'`",
        Rule::rounding | Rule::k_rounded => "`rounded to N decimals`",
        Rule::k_decimal => "`decimal` or `decimals`",
        Rule::k_present => "`present`",
        Rule::k_absent => "`absent`",
        Rule::between | Rule::k_between => "`between`",
        Rule::add_op | Rule::mul_op => "an operator (+ - * /)",
        Rule::which => "latest, earliest or all",
        Rule::k_observation => "`observation`",
        Rule::code_spec | Rule::system_code | Rule::code_system => {
            "a code system (loinc, snomed, rxnorm, icd10, code, in valueset)"
        }
        Rule::code_token => "a code",
        Rule::k_code => "`code`",
        Rule::k_valueset => "`valueset`",
        Rule::window | Rule::k_within => "`within`",
        Rule::time_unit => "minutes, hours, days, weeks, months or years",
        Rule::digits => "a whole number",
        Rule::k_of => "`of`",
        Rule::k_in => "`in`",
        Rule::active_kind => "condition or medication",
        Rule::k_medication => "`medication`",
        Rule::case_arm => "`when`",
        Rule::otherwise | Rule::band_otherwise | Rule::k_otherwise => "`otherwise`",
        Rule::k_end => "`end`",
        Rule::band_row
        | Rule::band_range
        | Rule::band_cmp
        | Rule::band_span
        | Rule::bound
        | Rule::signed => "a band such as `<= 8`, `9 to 11` or `12`",
        Rule::arrow => "`->`",
        Rule::k_to => "`to`",
        Rule::unit => "a unit in single quotes",
        Rule::number | Rule::quantity => "a number",
        Rule::EOI => "the end of the item",
        _ => return None,
    })
}

fn has(rules: &[Rule], any: &[Rule]) -> bool {
    rules.iter().any(|r| any.contains(r))
}

/// Records a pest error found while parsing the chunk that starts at `base`.
pub(crate) fn push_pest_error(
    sink: &mut ErrorSink,
    src: &str,
    base: usize,
    e: &Error<Rule>,
    header: bool,
) {
    let pos = base
        + match e.location {
            InputLocation::Pos(p) => p,
            InputLocation::Span((s, _)) => s,
        };
    let positives: Vec<Rule> = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let rest = src.get(pos..).unwrap_or("");
    let line_start = src
        .get(..pos)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |i| i + 1);
    let before = src.get(line_start..pos).unwrap_or("");
    let line_end = rest.find('\n').map_or(src.len(), |n| pos + n);
    let line = src.get(line_start..line_end).unwrap_or("");
    let word_len = rest
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(rest.len(), |(i, _)| i);
    let token_span = Span::new(pos, pos + word_len.max(usize::from(!rest.is_empty())));

    // A unit conversion or rounding may follow any value; listing them after every value would
    // drown the alternatives the author most likely meant, so they are named only when alone.
    let postfix = [Rule::k_in, Rule::k_rounded, Rule::convert, Rule::rounding];
    let shown: Vec<Rule> = if positives.iter().all(|r| postfix.contains(r)) {
        positives.clone()
    } else {
        positives
            .iter()
            .copied()
            .filter(|r| !postfix.contains(r))
            .collect()
    };
    let mut words: Vec<&str> = shown.iter().filter_map(|r| word(*r)).collect();
    words.dedup();
    let mut seen = Vec::new();
    words.retain(|w| {
        let new = !seen.contains(w);
        seen.push(*w);
        new
    });
    let found = if rest.trim().is_empty() {
        "the end of the text".to_string()
    } else {
        let t: String = rest.chars().take(word_len.clamp(1, 24)).collect();
        format!("`{t}`")
    };
    let message = if words.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", words.join(" or "))
    };

    let quotes = line.matches('"').count() - line.matches("\\\"").count();
    let last_token = before.split_whitespace().last().unwrap_or("");
    let prev_is_number = before.ends_with(' ')
        && last_token.split('.').count() <= 2
        && !last_token.is_empty()
        && last_token.chars().all(|c| c.is_ascii_digit() || c == '.');
    let starts_word = rest.starts_with(|c: char| c.is_ascii_alphabetic());

    let (label, help): (&str, String) = if header && has(&positives, &[Rule::k_ruleset]) {
        ("expected `ruleset` here", HEADER_HELP.into())
    } else if has(&positives, &[Rule::version]) {
        (
            "not a version",
            "a version is three whole numbers separated by dots: `version 1.2.0`".into(),
        )
    } else if quotes % 2 == 1 && !line.contains("\"\"\"") {
        (
            "text not closed",
            "text in double quotes must end on the same line with `\"`; for text over several lines use \"\"\"...\"\"\"".into(),
        )
    } else if has(&positives, &[Rule::time_unit]) {
        (
            "not a time unit",
            "a window is a whole number and a unit: `within 90 days` (minutes, hours, days, weeks, months or years)".into(),
        )
    } else if has(&positives, &[Rule::digits]) && before.trim_end().ends_with("within") {
        (
            "expected a number",
            "a window is a whole number and a unit: `within 48 hours`".into(),
        )
    } else if has(&positives, &[Rule::code_spec, Rule::code_system]) {
        (
            "code without a system",
            "codes need a system: write `loinc 8480-6`, `snomed 38341003`, `code \"http://system\" \"8480-6\"` or `in valueset \"http://...\"`".into(),
        )
    } else if has(&positives, &[Rule::indicator]) {
        (
            "not an indicator",
            "a card's indicator is `info`, `warning` or `critical`: `then warning \"summary\"`"
                .into(),
        )
    } else if prev_is_number && starts_word {
        (
            "unit without quotes",
            "a quantity needs its unit in single quotes: `140 'mm[Hg]'`, `0.3 'mg/dL'`, `5.5 '%'`"
                .into(),
        )
    } else if has(&positives, &[Rule::arrow]) {
        (
            "expected `->`",
            "each band row reads `RANGE -> VALUE`, for example `9 to 11 -> 1` or `<= 8 -> 3`"
                .into(),
        )
    } else if has(&positives, &[Rule::k_end])
        && has(
            &positives,
            &[Rule::band_row, Rule::band_range, Rule::case_arm],
        )
    {
        (
            "expected `end`",
            "a band table or case ends with `end` on its own line after its last row".into(),
        )
    } else if has(&positives, &[Rule::equals]) {
        ("expected `=`", "a definition reads `define NAME = VALUE`, for example `define sbp = latest observation loinc 8480-6`".into())
    } else if has(&positives, &[Rule::then_clause, Rule::k_then]) {
        (
            "expected `then`",
            "after the condition a rule says what card it raises: `then warning \"summary\"`; join conditions with `and` / `or`".into(),
        )
    } else if has(&positives, &[Rule::when_clause, Rule::k_when]) {
        (
            "expected `when`",
            "a rule reads `rule ID` then `when CONDITION` then `then INDICATOR \"summary\"`".into(),
        )
    } else if has(&positives, &[Rule::k_and]) && before.contains("between") {
        (
            "expected `and`",
            "`between` needs both bounds: `between 9 and 11`".into(),
        )
    } else if has(&positives, &[Rule::id, Rule::name]) {
        (
            "expected a name",
            "names start with a letter and use letters, digits and dashes (stage-2, systolic-bp); words of the language such as `age`, `count` or `end` cannot be names".into(),
        )
    } else if has(&positives, &[Rule::triple_string]) {
        (
            "expected a script",
            "a score reads `score NAME using rhai \"\"\" ... \"\"\"`".into(),
        )
    } else if has(&positives, &[Rule::EOI]) {
        (
            "not understood",
            "items start at the beginning of a line with `define`, `score` or `rule`; card clauses are detail, source, link, suggest, override reason and system action".into(),
        )
    } else {
        (
            "here",
            "see docs/rule-language.md for the form of each clause".into(),
        )
    };
    sink.push(
        ParseErrorKind::Syntax,
        token_span,
        message,
        label,
        Some(help),
    );
}
