//! From expression text to the [`Node`] tree: a pest grammar for the token structure and a
//! Pratt parser for the FHIRPath operator precedence.

use super::ast::{BinOp, Binary, Call, Func, Member, Node, VarRef};
use super::error::{ParseError, ParseErrorKind, Span};
use super::quantity::Quantity;
use super::types::TypeSpec;
use super::value::Lit;
use crate::temporal::{CalendarUnit, Date, DateTime, Time};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser;
use rust_decimal::Decimal;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

#[derive(pest_derive::Parser)]
#[grammar = "fhirpath/grammar.pest"]
struct FhirPathGrammar;

type Built = Result<(Node, Span), ParseError>;

/// The Pratt parser, lowest precedence first (FHIRPath §"Operator precedence").
fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::implies, Assoc::Left))
            .op(Op::infix(Rule::or, Assoc::Left) | Op::infix(Rule::xor, Assoc::Left))
            .op(Op::infix(Rule::and, Assoc::Left))
            .op(Op::infix(Rule::in_, Assoc::Left) | Op::infix(Rule::contains_, Assoc::Left))
            .op(Op::infix(Rule::eq, Assoc::Left)
                | Op::infix(Rule::ne, Assoc::Left)
                | Op::infix(Rule::equiv, Assoc::Left)
                | Op::infix(Rule::nequiv, Assoc::Left))
            .op(Op::infix(Rule::lt, Assoc::Left)
                | Op::infix(Rule::le, Assoc::Left)
                | Op::infix(Rule::gt, Assoc::Left)
                | Op::infix(Rule::ge, Assoc::Left))
            .op(Op::infix(Rule::union, Assoc::Left))
            .op(Op::postfix(Rule::is_op) | Op::postfix(Rule::as_op))
            .op(Op::infix(Rule::add, Assoc::Left)
                | Op::infix(Rule::sub, Assoc::Left)
                | Op::infix(Rule::concat, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left)
                | Op::infix(Rule::div_, Assoc::Left)
                | Op::infix(Rule::idiv, Assoc::Left)
                | Op::infix(Rule::mod_, Assoc::Left))
            .op(Op::prefix(Rule::neg) | Op::prefix(Rule::pos))
            .op(Op::postfix(Rule::invocation) | Op::postfix(Rule::indexer))
    })
}

/// Parse expression text into a tree.
pub(crate) fn parse_node(src: &str) -> Result<Node, ParseError> {
    let mut pairs = FhirPathGrammar::parse(Rule::main, src).map_err(|e| syntax_error(src, e))?;
    let main = pairs
        .next()
        .ok_or_else(|| semantic(src, Span::new(0, src.len()), "empty expression", "here"))?;
    let expr = main
        .into_inner()
        .next()
        .ok_or_else(|| semantic(src, Span::new(0, src.len()), "empty expression", "here"))?;
    Ok(build_expr(expr.into_inner(), src)?.0)
}

fn syntax_error(src: &str, e: pest::error::Error<Rule>) -> ParseError {
    let (start, end) = match e.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    let expected = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => describe_expected(positives),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let found = src
        .get(start..)
        .and_then(|rest| rest.chars().next())
        .map_or_else(
            || "the end of the expression".to_string(),
            |c| format!("`{c}`"),
        );
    let end = if end > start {
        end
    } else {
        src.get(start..)
            .and_then(|rest| rest.chars().next())
            .map_or(start, |c| start + c.len_utf8())
    };
    ParseError::new(
        ParseErrorKind::Syntax,
        src,
        Span::new(start, end),
        format!("expected {expected}, found {found}"),
        format!("expected {expected}"),
    )
}

fn describe_expected(rules: &[Rule]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for r in rules {
        let w = match r {
            Rule::expr | Rule::paren | Rule::member | Rule::function | Rule::literal => {
                "an expression"
            }
            Rule::EOI => "an operator or the end of the expression",
            Rule::identifier | Rule::name | Rule::field | Rule::call => "a name",
            Rule::type_specifier => "a type name",
            Rule::string => "a string",
            Rule::number | Rule::quantity => "a number",
            Rule::boolean | Rule::empty | Rule::datetime_lit | Rule::time_lit => "an expression",
            Rule::external => "an expression",
            Rule::this_ | Rule::index_ | Rule::total_ => "an expression",
            Rule::invocation => "`.`",
            Rule::indexer => "`[`",
            _ => "an operator",
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    if words.contains(&"an expression") {
        words.retain(|w| !matches!(*w, "a number" | "a string" | "a name" | "an operator"));
    }
    match words.len() {
        0 => "something else".to_string(),
        1 => words[0].to_string(),
        _ => {
            let last = words.pop().unwrap_or_default();
            format!("{} or {}", words.join(", "), last)
        }
    }
}

fn semantic(src: &str, span: Span, message: impl Into<String>, label: &str) -> ParseError {
    ParseError::new(ParseErrorKind::Semantic, src, span, message, label)
}

fn span_of(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start(), s.end())
}

fn join(a: Span, b: Span) -> Span {
    Span::new(a.start.min(b.start), a.end.max(b.end))
}

fn build_expr(pairs: Pairs<'_, Rule>, src: &str) -> Built {
    pratt()
        .map_primary(|p| build_primary(p, src))
        .map_prefix(|op, rhs| {
            let (rhs, rspan) = rhs?;
            let span = join(span_of(&op), rspan);
            match op.as_rule() {
                Rule::neg => Ok((Node::Neg(Box::new(rhs), span), span)),
                _ => Ok((rhs, span)),
            }
        })
        .map_postfix(|lhs, op| {
            let (lhs, lspan) = lhs?;
            let span = join(lspan, span_of(&op));
            match op.as_rule() {
                Rule::invocation => build_invocation(Some(lhs), op, src).map(|(n, _)| (n, span)),
                Rule::indexer => {
                    let inner = op
                        .into_inner()
                        .next()
                        .ok_or_else(|| semantic(src, span, "missing index", "here"))?;
                    let (index, _) = build_expr(inner.into_inner(), src)?;
                    Ok((Node::Indexer(Box::new(lhs), Box::new(index), span), span))
                }
                Rule::is_op | Rule::as_op => {
                    let is = op.as_rule() == Rule::is_op;
                    let spec_pair = op
                        .into_inner()
                        .find(|p| p.as_rule() == Rule::type_specifier)
                        .ok_or_else(|| semantic(src, span, "missing type", "here"))?;
                    let spec = type_spec(src, span_of(&spec_pair), &type_text(&spec_pair))?;
                    Ok(if is {
                        (Node::Is(Box::new(lhs), spec), span)
                    } else {
                        (Node::As(Box::new(lhs), spec, span), span)
                    })
                }
                _ => Err(semantic(src, span, "unexpected operator", "here")),
            }
        })
        .map_infix(|lhs, op, rhs| {
            let (lhs, lspan) = lhs?;
            let (rhs, rspan) = rhs?;
            let span = join(lspan, rspan);
            let op = match op.as_rule() {
                Rule::implies => BinOp::Implies,
                Rule::or => BinOp::Or,
                Rule::xor => BinOp::Xor,
                Rule::and => BinOp::And,
                Rule::in_ => BinOp::In,
                Rule::contains_ => BinOp::Contains,
                Rule::eq => BinOp::Eq,
                Rule::ne => BinOp::Ne,
                Rule::equiv => BinOp::Equiv,
                Rule::nequiv => BinOp::NotEquiv,
                Rule::lt => BinOp::Lt,
                Rule::le => BinOp::Le,
                Rule::gt => BinOp::Gt,
                Rule::ge => BinOp::Ge,
                Rule::union => BinOp::Union,
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::concat => BinOp::Concat,
                Rule::mul => BinOp::Mul,
                Rule::div_ => BinOp::Div,
                Rule::idiv => BinOp::IntDiv,
                _ => BinOp::Mod,
            };
            if let Some(folded) = fold_constant(op, &lhs, &rhs, span) {
                return Ok((folded, span));
            }
            Ok((Node::Binary(Box::new(Binary { op, lhs, rhs, span })), span))
        })
        .parse(pairs)
}

/// Arithmetic on two literals (`@2020-01-01 - 90 days`, `2 * 3`), computed once while
/// parsing. Operations that fail or give no value are left to the evaluator, so errors still
/// surface when the expression runs.
fn fold_constant(op: BinOp, lhs: &Node, rhs: &Node, span: Span) -> Option<Node> {
    let (Node::Lit(a), Node::Lit(b)) = (lhs, rhs) else {
        return None;
    };
    if !matches!(
        op,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::IntDiv | BinOp::Mod
    ) {
        return None;
    }
    let out = super::eval::arithmetic(op, &a.item(), &b.item(), span).ok()?;
    match out.0.as_slice() {
        [item] => Lit::from_item(item).map(Node::Lit),
        _ => None,
    }
}

fn build_primary(p: Pair<'_, Rule>, src: &str) -> Built {
    let span = span_of(&p);
    let node = match p.as_rule() {
        Rule::paren => {
            let inner = p
                .into_inner()
                .next()
                .ok_or_else(|| semantic(src, span, "empty parentheses", "here"))?;
            return build_expr(inner.into_inner(), src).map(|(n, _)| (n, span));
        }
        Rule::function | Rule::member => return build_call_or_member(None, p, src),
        Rule::this_ => Node::This,
        Rule::index_ => Node::Index,
        Rule::total_ => Node::Total,
        Rule::empty => Node::Empty,
        Rule::boolean => Node::Lit(Lit::Boolean(p.as_str().starts_with('t'))),
        Rule::number => Node::Lit(number(src, span, p.as_str())?),
        Rule::string => Node::Lit(Lit::String(unescape(strip_quotes(p.as_str())).into())),
        Rule::quantity => Node::Lit(quantity(src, span, p)?),
        Rule::datetime_lit => Node::Lit(datetime_literal(src, span, p.as_str())?),
        Rule::time_lit => {
            let text = p.as_str().get(2..).unwrap_or("");
            let t = Time::parse(text).map_err(|_| bad_literal(src, span, "time"))?;
            Node::Lit(Lit::Time(t))
        }
        Rule::external => external(p, span),
        _ => return Err(semantic(src, span, "unexpected term", "here")),
    };
    Ok((node, span))
}

fn build_invocation(base: Option<Node>, op: Pair<'_, Rule>, src: &str) -> Built {
    let span = span_of(&op);
    let inner = op
        .into_inner()
        .next()
        .ok_or_else(|| semantic(src, span, "missing name after `.`", "here"))?;
    match inner.as_rule() {
        Rule::this_ => Ok((Node::This, span)),
        Rule::index_ => Ok((Node::Index, span)),
        Rule::total_ => Ok((Node::Total, span)),
        _ => build_call_or_member(base, inner, src),
    }
}

/// A `member`/`field` (a name) or a `function`/`call` (a name with arguments).
fn build_call_or_member(base: Option<Node>, p: Pair<'_, Rule>, src: &str) -> Built {
    let span = span_of(&p);
    let is_call = matches!(p.as_rule(), Rule::function | Rule::call);
    let mut inner = p.into_inner();
    let name_pair = inner
        .next()
        .ok_or_else(|| semantic(src, span, "missing name", "here"))?;
    let name_span = span_of(&name_pair);
    let name = identifier_text(name_pair.as_str());
    if !is_call {
        let may_be_type = name.starts_with(|c: char| c.is_ascii_uppercase());
        let member = Member {
            name: name.into(),
            may_be_type,
            span: name_span,
            cache: crate::model::ChildCache::new(),
        };
        return Ok((Node::Member(base.map(Box::new), member), span));
    }
    let arg_pairs: Vec<Pair<'_, Rule>> = inner.collect();
    let base_node = base.unwrap_or(Node::This);
    match name.as_str() {
        "is" | "as" | "ofType" => {
            let [arg] = arg_pairs.as_slice() else {
                return Err(semantic(
                    src,
                    span,
                    format!("function `{name}` takes one type name"),
                    "expected one argument",
                ));
            };
            let text = type_arg_text(arg).ok_or_else(|| {
                semantic(src, span_of(arg), "expected a type name", "not a type name")
            })?;
            let spec = type_spec(src, span_of(arg), &text)?;
            return Ok(match name.as_str() {
                "is" => (Node::Is(Box::new(base_node), spec), span),
                "as" => (Node::As(Box::new(base_node), spec, span), span),
                _ => (
                    Node::Call(Box::new(Call {
                        base: Some(base_node),
                        func: Func::OfType,
                        args: Vec::new(),
                        type_arg: Some(spec),
                        span,
                        regex: std::sync::OnceLock::new(),
                    })),
                    span,
                ),
            });
        }
        _ => {}
    }
    let func = Func::from_name(&name).ok_or_else(|| {
        semantic(
            src,
            name_span,
            format!("unknown function `{name}`"),
            "not a FHIRPath function",
        )
    })?;
    let (min, max) = func.arity();
    if arg_pairs.len() < min || arg_pairs.len() > max {
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(semantic(
            src,
            span,
            format!(
                "function `{name}` takes {expected} argument(s), found {}",
                arg_pairs.len()
            ),
            "wrong number of arguments",
        ));
    }
    let mut args = Vec::with_capacity(arg_pairs.len());
    for a in arg_pairs {
        args.push(build_expr(a.into_inner(), src)?.0);
    }
    Ok((
        Node::Call(Box::new(Call {
            base: Some(base_node),
            func,
            args,
            type_arg: None,
            span,
            regex: std::sync::OnceLock::new(),
        })),
        span,
    ))
}

/// The text of a type-name argument (`Quantity`, `FHIR.Patient`, ``FHIR.`Patient` ``).
fn type_arg_text(arg: &Pair<'_, Rule>) -> Option<String> {
    // An `expr` whose only content is a member chain.
    let pairs: Vec<Pair<'_, Rule>> = arg.clone().into_inner().collect();
    let mut parts = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        match (i, p.as_rule()) {
            (0, Rule::member) => parts.push(identifier_text(p.as_str())),
            (_, Rule::invocation) if i > 0 => {
                let inner = p.clone().into_inner().next()?;
                if inner.as_rule() != Rule::field {
                    return None;
                }
                parts.push(identifier_text(inner.as_str()));
            }
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("."))
}

fn type_text(p: &Pair<'_, Rule>) -> String {
    p.clone()
        .into_inner()
        .map(|i| identifier_text(i.as_str()))
        .collect::<Vec<_>>()
        .join(".")
}

fn type_spec(src: &str, span: Span, text: &str) -> Result<TypeSpec, ParseError> {
    TypeSpec::resolve(text).map_err(|()| {
        semantic(
            src,
            span,
            format!("unknown type `{text}`"),
            "not a FHIR or System type",
        )
    })
}

fn identifier_text(raw: &str) -> String {
    match raw.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        Some(inner) => unescape(inner),
        None => raw.to_string(),
    }
}

fn strip_quotes(s: &str) -> &str {
    s.strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or(s)
}

/// Resolve FHIRPath string escapes (`\'`, `\"`, `` \` ``, `\\`, `\/`, `\f`, `\n`, `\r`, `\t`,
/// `\uXXXX`); an unknown escape stands for the character itself.
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push('\u{0C}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn bad_literal(src: &str, span: Span, what: &str) -> ParseError {
    semantic(
        src,
        span,
        format!("invalid {what} literal"),
        "cannot be read as a value",
    )
}

fn number(src: &str, span: Span, text: &str) -> Result<Lit, ParseError> {
    if text.contains('.') {
        Decimal::from_str(text)
            .map(Lit::Decimal)
            .map_err(|_| bad_literal(src, span, "decimal"))
    } else {
        match text.parse::<i64>() {
            Ok(i) => Ok(Lit::Integer(i)),
            Err(_) => Err(bad_literal(src, span, "integer")),
        }
    }
}

fn quantity(src: &str, span: Span, p: Pair<'_, Rule>) -> Result<Lit, ParseError> {
    let mut inner = p.into_inner();
    let (Some(num), Some(unit)) = (inner.next(), inner.next()) else {
        return Err(bad_literal(src, span, "quantity"));
    };
    let value = Decimal::from_str(num.as_str()).map_err(|_| bad_literal(src, span, "quantity"))?;
    let q = match unit.as_rule() {
        Rule::calendar_unit => {
            let word = unit.as_str();
            let cu = CalendarUnit::from_keyword(word)
                .ok_or_else(|| bad_literal(src, span, "quantity"))?;
            Quantity::calendar(value, cu, word)
        }
        _ => Quantity::ucum(value, &unescape(strip_quotes(unit.as_str()))),
    };
    Ok(Lit::Quantity(Arc::new(q)))
}

fn datetime_literal(src: &str, span: Span, text: &str) -> Result<Lit, ParseError> {
    let body = text.get(1..).unwrap_or("");
    if body.contains('T') {
        DateTime::parse(body)
            .map(Lit::DateTime)
            .map_err(|_| bad_literal(src, span, "date-time"))
    } else {
        Date::parse(body)
            .map(Lit::Date)
            .map_err(|_| bad_literal(src, span, "date"))
    }
}

fn external(p: Pair<'_, Rule>, span: Span) -> Node {
    let raw = p.as_str().get(1..).unwrap_or("");
    let name = if raw.starts_with('\'') {
        unescape(strip_quotes(raw))
    } else {
        identifier_text(raw)
    };
    let constant = |s: &str| Node::Lit(Lit::String(s.into()));
    match name.as_str() {
        "ucum" => constant("http://unitsofmeasure.org"),
        "sct" => constant("http://snomed.info/sct"),
        "loinc" => constant("http://loinc.org"),
        "resource" | "rootResource" => Node::Var(VarRef::Resource, span),
        "context" => Node::Var(VarRef::Context, span),
        other => {
            if let Some(vs) = other.strip_prefix("vs-") {
                constant(&format!("http://hl7.org/fhir/ValueSet/{vs}"))
            } else if let Some(ext) = other.strip_prefix("ext-") {
                constant(&format!("http://hl7.org/fhir/StructureDefinition/{ext}"))
            } else {
                Node::Var(VarRef::Named(other.into()), span)
            }
        }
    }
}
