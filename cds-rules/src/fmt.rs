//! Syntax tree → canonical text.
//!
//! One clause per line, two-space indentation, card clauses aligned under the indicator,
//! `=` aligned across consecutive definitions, band table arrows aligned, minimal
//! parentheses. Formatting is idempotent and parsing the output gives the same tree
//! (modulo positions).
//!
//! ```
//! let src = "ruleset bp version 1.0.0\n\
//!            define   sbp=latest observation loinc 8480-6 within 90 day\n\
//!            rule high when (sbp>=140 'mm[Hg]') then warning \"high\"";
//! let rs = cds_rules::parse(src, "bp.rules").unwrap();
//! let text = cds_rules::format(&rs);
//! assert_eq!(text, "ruleset bp version 1.0.0\n\n\
//!     define sbp = latest observation loinc 8480-6 within 90 days\n\n\
//!     rule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"high\"\n");
//! ```

use crate::ast::*;
use crate::parse::strings_escape as escape;

/// Formats a ruleset canonically.
pub fn format(rs: &Ruleset) -> String {
    let mut out = String::new();
    let h = &rs.header;
    for c in &h.comments {
        out.push_str(&c.text);
        out.push('\n');
    }
    out.push_str(&format!(
        "ruleset {} version {}",
        h.name.name,
        version(&h.version)
    ));
    out.push('\n');
    if let Some(d) = &h.description {
        out.push_str("  ");
        out.push_str(&text(&d.value));
        out.push('\n');
    }
    if !h.answers.is_empty() {
        let hooks: Vec<&str> = h.answers.iter().map(|a| a.name.as_str()).collect();
        out.push_str(&format!("  answers {}\n", hooks.join(", ")));
    }

    let mut k = 0;
    while k < rs.items.len() {
        // Consecutive definitions (the first may carry comments) share one column for `=`.
        let mut group: Vec<&Define> = Vec::new();
        while let Some(Item::Define(d)) = rs.items.get(k + group.len()) {
            if !group.is_empty() && !d.comments.is_empty() {
                break;
            }
            group.push(d);
        }
        out.push('\n');
        if group.is_empty() {
            if let Some(item) = rs.items.get(k) {
                comments(item.comments(), &mut out);
                match item {
                    Item::Score(s) => out.push_str(&format!(
                        "score {} using rhai \"\"\"{}\"\"\"\n",
                        s.name.name, s.script.value
                    )),
                    Item::Rule(r) => rule(r, &mut out),
                    Item::Define(_) => {}
                }
            }
            k += 1;
        } else {
            let width = group.iter().map(|d| d.name.name.len()).max().unwrap_or(0);
            for d in &group {
                comments(&d.comments, &mut out);
                out.push_str(&format!(
                    "define {:width$} = {}\n",
                    d.name.name,
                    expr(&d.value, 0, 0)
                ));
            }
            k += group.len();
        }
    }
    if !rs.trailing_comments.is_empty() {
        out.push('\n');
        comments(&rs.trailing_comments, &mut out);
    }
    out
}

fn comments(cs: &[Comment], out: &mut String) {
    for c in cs {
        out.push_str(&c.text);
        out.push('\n');
    }
}

fn version(v: &Version) -> String {
    match &v.pre {
        Some(p) => format!("{}.{}.{}-{p}", v.major, v.minor, v.patch),
        None => format!("{}.{}.{}", v.major, v.minor, v.patch),
    }
}

const CARD_INDENT: &str = "       ";

fn rule(r: &Rule, out: &mut String) {
    out.push_str(&format!("rule {}\n", r.id.name));
    out.push_str(&format!("  when {}\n", expr(&r.when, 2, 0)));
    let c = &r.card;
    out.push_str(&format!(
        "  then {} {}\n",
        c.indicator.as_str(),
        template(&c.summary)
    ));
    if let Some(d) = &c.detail {
        out.push_str(&format!("{CARD_INDENT}detail {}\n", template(d)));
    }
    if let Some(s) = &c.source {
        out.push_str(&format!("{CARD_INDENT}source {}", text(&s.label.value)));
        if let Some(u) = &s.url {
            out.push_str(&format!(" link {}", text(&u.value)));
        }
        if let Some(i) = &s.icon {
            out.push_str(&format!(" icon {}", text(&i.value)));
        }
        out.push('\n');
    }
    for l in &c.links {
        out.push_str(&format!(
            "{CARD_INDENT}link {} {}\n",
            text(&l.label.value),
            text(&l.url.value)
        ));
    }
    for s in &c.suggestions {
        out.push_str(&format!("{CARD_INDENT}suggest {}", text(&s.label.value)));
        for a in &s.actions {
            out.push(' ');
            out.push_str(&action(a));
        }
        out.push('\n');
    }
    for o in &c.override_reasons {
        out.push_str(&format!(
            "{CARD_INDENT}override reason {} {}\n",
            text(&o.code.value),
            text(&o.display.value)
        ));
    }
    for a in &c.system_actions {
        out.push_str(&format!("{CARD_INDENT}system action {}\n", action(a)));
    }
}

fn action(a: &Action) -> String {
    format!("{} {}", a.kind.as_str(), long_text(&a.body.value))
}

/// A plain `"..."` literal.
fn text(s: &str) -> String {
    let mut out = String::from("\"");
    escape(s, false, &mut out);
    out.push('"');
    out
}

fn triple_safe(s: &str) -> bool {
    !s.contains("\"\"\"") && !s.ends_with('"')
}

/// Triple quotes for multi-line text, plain quotes otherwise.
fn long_text(s: &str) -> String {
    if (s.contains('\n') || s.contains('"')) && triple_safe(s) {
        format!("\"\"\"{s}\"\"\"")
    } else {
        text(s)
    }
}

fn template(t: &Template) -> String {
    let multi_line = t
        .parts
        .iter()
        .any(|p| matches!(p, TemplatePart::Text(s) if s.contains('\n')));
    let triple_ok = t.parts.iter().all(|p| match p {
        TemplatePart::Text(s) => !s.contains('{') && !s.contains('}') && !s.contains("\"\"\""),
        TemplatePart::Name(_) => true,
    }) && !matches!(t.parts.last(), Some(TemplatePart::Text(s)) if s.ends_with('"'));
    let triple = multi_line && triple_ok;
    let mut out = String::from(if triple { "\"\"\"" } else { "\"" });
    for p in &t.parts {
        match p {
            TemplatePart::Text(s) if triple => out.push_str(s),
            TemplatePart::Text(s) => escape(s, true, &mut out),
            TemplatePart::Name(n) => {
                out.push('{');
                out.push_str(&n.name);
                out.push('}');
            }
        }
    }
    out.push_str(if triple { "\"\"\"" } else { "\"" });
    out
}

/// Binding strength: an operand needs at least this to be written without parentheses.
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => match op {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        },
        ExprKind::Not(_) => 3,
        ExprKind::Compare { .. }
        | ExprKind::Presence { .. }
        | ExprKind::HasCode { .. }
        | ExprKind::Between { .. } => 4,
        ExprKind::Neg(_) => 7,
        ExprKind::Number(n) | ExprKind::Quantity { value: n, .. } if n.is_sign_negative() => 7,
        _ => 8,
    }
}

/// Formats `e` at block indentation `indent`, in parentheses if it binds weaker than `min`.
fn expr(e: &Expr, indent: usize, min: u8) -> String {
    let s = expr_inner(e, indent);
    if prec(e) < min {
        format!("({s})")
    } else {
        s
    }
}

fn number(n: &rust_decimal::Decimal) -> String {
    n.to_string()
}

fn expr_inner(e: &Expr, indent: usize) -> String {
    match &e.kind {
        ExprKind::Number(n) => number(n),
        ExprKind::Quantity { value, unit } => format!("{} '{unit}'", number(value)),
        ExprKind::Text(s) => text(s),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.clone(),
        ExprKind::Query(q) => query(q),
        ExprKind::Aggregate { func, of } => {
            format!("{} of {}", func.as_str(), expr(of, indent, 7))
        }
        ExprKind::Change { kind, of, window } => {
            // A windowless query would take the change's window: parenthesise it.
            let needs_paren = window.is_some() && ends_open(of);
            let operand = if needs_paren {
                format!("({})", expr(of, indent, 0))
            } else {
                expr(of, indent, 7)
            };
            match window {
                Some(w) => format!("{} in {operand} {}", kind.as_str(), self::window(w)),
                None => format!("{} in {operand}", kind.as_str()),
            }
        }
        ExprKind::Age => "age".into(),
        ExprKind::Active { kind, code } => format!("{} {}", kind.as_str(), code_spec(code)),
        ExprKind::FhirPath(t) => format!("fhirpath {}", text(&t.value)),
        // Comparisons under `not` keep parentheses for the reader: `not (x = 0)`.
        ExprKind::Not(x) => format!("not {}", expr(x, indent, 5)),
        ExprKind::Neg(x) => format!("-{}", expr(x, indent, 7)),
        ExprKind::Binary { op, lhs, rhs } => {
            let p = prec(e);
            format!(
                "{} {} {}",
                expr(lhs, indent, p),
                op.as_str(),
                expr(rhs, indent, p + 1)
            )
        }
        ExprKind::Compare { op, lhs, rhs } => {
            format!(
                "{} {} {}",
                expr(lhs, indent, 5),
                op.as_str(),
                expr(rhs, indent, 5)
            )
        }
        ExprKind::Presence { of, present } => format!(
            "{} is {}",
            expr(of, indent, 5),
            if *present { "present" } else { "absent" }
        ),
        ExprKind::HasCode { of, code } => {
            format!("{} is {}", expr(of, indent, 5), code_spec(code))
        }
        ExprKind::Convert { of, unit } => format!("{} in '{unit}'", postfix_operand(of, indent)),
        ExprKind::Round { of, places } => format!(
            "{} rounded to {places} {}",
            postfix_operand(of, indent),
            if *places == 1 { "decimal" } else { "decimals" }
        ),
        ExprKind::Between { of, low, high } => format!(
            "{} between {} and {}",
            expr(of, indent, 5),
            expr(low, indent, 5),
            expr(high, indent, 5)
        ),
        ExprKind::Case { arms, otherwise } => {
            let pad = " ".repeat(indent + 2);
            let mut s = String::from("case\n");
            for a in arms {
                s.push_str(&format!(
                    "{pad}when {} then {}\n",
                    expr(&a.when, indent + 2, 0),
                    expr(&a.then, indent + 2, 0)
                ));
            }
            if let Some(o) = otherwise {
                s.push_str(&format!("{pad}otherwise {}\n", expr(o, indent + 2, 0)));
            }
            s.push_str(&" ".repeat(indent));
            s.push_str("end");
            s
        }
        ExprKind::Bands {
            of,
            rows,
            otherwise,
        } => {
            let pad = " ".repeat(indent + 2);
            let ranges: Vec<String> = rows.iter().map(|r| band_range(&r.range)).collect();
            let width = ranges
                .iter()
                .map(|r| r.chars().count())
                .chain(otherwise.as_ref().map(|_| "otherwise".len()))
                .max()
                .unwrap_or(0);
            let mut s = format!("bands of {}\n", expr(of, indent + 2, 7));
            for (r, row) in ranges.iter().zip(rows) {
                s.push_str(&format!(
                    "{pad}{r:width$} -> {}\n",
                    expr(&row.value, indent + 2, 7)
                ));
            }
            if let Some(o) = otherwise {
                s.push_str(&format!(
                    "{pad}{:width$} -> {}\n",
                    "otherwise",
                    expr(o, indent + 2, 7)
                ));
            }
            s.push_str(&" ".repeat(indent));
            s.push_str("end");
            s
        }
    }
}

/// The operand of `in 'unit'` / `rounded to`: a primary, or in parentheses. An aggregate or a
/// change is parenthesised too: `max of x in 'Cel'` reads as the max of the converted `x`.
fn postfix_operand(of: &Expr, indent: usize) -> String {
    if matches!(
        of.kind,
        ExprKind::Aggregate { .. } | ExprKind::Change { .. }
    ) {
        format!("({})", expr(of, indent, 0))
    } else {
        expr(of, indent, 8)
    }
}

/// Whether the text of `e` (written as an operand at unary level) ends with a query or
/// change that would take a `within` written after it.
fn ends_open(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Query(q) => q.window.is_none(),
        ExprKind::Change { window, .. } => window.is_none(),
        ExprKind::Aggregate { of, .. } | ExprKind::Neg(of) => prec(of) >= 7 && ends_open(of),
        _ => false,
    }
}

fn band_range(r: &BandRange) -> String {
    match r {
        BandRange::Compare { op, bound } => format!("{} {}", op.as_str(), expr_inner(bound, 0)),
        BandRange::Span { low, high } => {
            format!("{} to {}", expr_inner(low, 0), expr_inner(high, 0))
        }
        BandRange::Exact(b) => expr_inner(b, 0),
    }
}

fn query(q: &Query) -> String {
    let noun = if q.which == Which::All {
        "observations"
    } else {
        "observation"
    };
    let mut s = format!("{} {noun} {}", q.which.as_str(), code_spec(&q.code));
    if let Some(w) = &q.window {
        s.push(' ');
        s.push_str(&window(w));
    }
    s
}

fn window(w: &Window) -> String {
    format!("within {} {}", w.amount, w.unit.word(w.amount))
}

fn code_spec(c: &CodeSpec) -> String {
    match &c.kind {
        CodeSpecKind::Known { system, code } => format!("{} {code}", system.keyword()),
        CodeSpecKind::Explicit { system, code } => format!("code {} {}", text(system), text(code)),
        CodeSpecKind::ValueSet(url) => format!("in valueset {}", text(url)),
    }
}
