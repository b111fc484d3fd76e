//! pest pairs → syntax tree. Problems found in literals (numbers, versions, escapes,
//! templates, embedded FHIRPath, JSON templates) are recorded and building goes on.

use super::error::{ErrorSink, ParseErrorKind};
use super::strings;
use super::Rule;
use crate::ast::*;
use pest::iterators::Pair;
use rust_decimal::Decimal;
use std::str::FromStr;

type P<'i> = Pair<'i, Rule>;

/// How deeply expressions may nest (operators, `not`, `case`, `bands`...).
pub(crate) const MAX_DEPTH: usize = 40;

pub(crate) struct Builder<'s> {
    base: usize,
    sink: &'s mut ErrorSink,
    depth: usize,
    too_deep: bool,
}

/// Where a pair's own text ends: the end of its last sub-pair, except for rules that end
/// with a quote or parenthesis of their own.
fn trimmed_end(p: &P<'_>) -> usize {
    match p.as_rule() {
        Rule::string | Rule::triple_string | Rule::unit | Rule::paren => p.as_span().end(),
        _ => p
            .clone()
            .into_inner()
            .last()
            .map_or(p.as_span().end(), |last| trimmed_end(&last)),
    }
}

fn kids(p: P<'_>) -> impl Iterator<Item = P<'_>> {
    p.into_inner().filter(|p| !matches!(p.as_rule(), Rule::EOI))
}

impl<'s> Builder<'s> {
    pub(crate) fn new(base: usize, sink: &'s mut ErrorSink) -> Builder<'s> {
        Builder {
            base,
            sink,
            depth: 0,
            too_deep: false,
        }
    }

    /// The span of a pair without the whitespace and comments pest lets trail behind it.
    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        Span::new(
            self.base + s.start(),
            self.base + trimmed_end(p).max(s.start()),
        )
    }

    fn ident(&self, p: &P<'_>) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(p),
        }
    }

    fn error(&mut self, kind: ParseErrorKind, span: Span, message: &str, label: &str, help: &str) {
        self.sink
            .push(kind, span, message, label, Some(help.to_string()));
    }

    pub(crate) fn header_file(&mut self, p: P<'_>) -> Option<Header> {
        let h = kids(p).next()?;
        let span = self.span(&h);
        let mut it = kids(h);
        let _k = it.next()?;
        let name = self.ident(&it.next()?);
        let _k = it.next()?;
        let version = self.version(&it.next()?)?;
        let mut description = None;
        let mut answers = Vec::new();
        for p in it {
            match p.as_rule() {
                Rule::string => description = Some(self.text(p)),
                Rule::answers => answers = kids(p).skip(1).map(|h| self.ident(&h)).collect(),
                _ => {}
            }
        }
        Some(Header {
            comments: Vec::new(),
            name,
            version,
            description,
            answers,
            span,
        })
    }

    fn version(&mut self, p: &P<'_>) -> Option<Version> {
        let span = self.span(p);
        let (nums, pre) = match p.as_str().split_once('-') {
            Some((n, pre)) => (n, Some(pre.to_string())),
            None => (p.as_str(), None),
        };
        let parsed: Vec<Option<u64>> = nums.split('.').map(|n| n.parse().ok()).collect();
        match parsed.as_slice() {
            [Some(major), Some(minor), Some(patch)] => Some(Version {
                major: *major,
                minor: *minor,
                patch: *patch,
                pre,
                span,
            }),
            _ => {
                self.error(
                    ParseErrorKind::Literal,
                    span,
                    "the version number is too large",
                    "version",
                    "a version is three whole numbers: `version 1.2.0`",
                );
                None
            }
        }
    }

    pub(crate) fn item_file(&mut self, p: P<'_>) -> Option<Item> {
        let item = kids(p).next()?;
        match item.as_rule() {
            Rule::define => self.define(item).map(Item::Define),
            Rule::score => self.score(item).map(Item::Score),
            Rule::rule => self.rule(item).map(Item::Rule),
            _ => None,
        }
    }

    fn define(&mut self, p: P<'_>) -> Option<Define> {
        let span = self.span(&p);
        let mut it = kids(p).skip(1);
        let name = self.ident(&it.next()?);
        let value = self.expr(it.nth(1)?)?;
        Some(Define {
            comments: Vec::new(),
            name,
            value,
            span,
        })
    }

    fn score(&mut self, p: P<'_>) -> Option<Score> {
        let span = self.span(&p);
        let mut it = kids(p).skip(1);
        let name = self.ident(&it.next()?);
        let script = self.triple(it.nth(2)?);
        Some(Score {
            comments: Vec::new(),
            name,
            script,
            span,
        })
    }

    fn rule(&mut self, p: P<'_>) -> Option<Rule_> {
        let span = self.span(&p);
        let mut it = kids(p).skip(1);
        let id = self.ident(&it.next()?);
        let when = self.expr(kids(it.next()?).nth(1)?);
        let then = it.next()?;
        let mut t = kids(then).skip(1);
        let ind = t.next()?;
        let indicator = match ind.as_str() {
            "info" => Indicator::Info,
            "critical" => Indicator::Critical,
            _ => Indicator::Warning,
        };
        let indicator_span = self.span(&ind);
        let summary = self.template(t.next()?);
        let mut card = Card {
            indicator,
            indicator_span,
            summary: summary.unwrap_or(Template {
                parts: Vec::new(),
                span: indicator_span,
            }),
            detail: None,
            source: None,
            links: Vec::new(),
            suggestions: Vec::new(),
            override_reasons: Vec::new(),
            system_actions: Vec::new(),
        };
        for clause in it {
            let cspan = self.span(&clause);
            match clause.as_rule() {
                Rule::detail => {
                    let d = kids(clause).nth(1).and_then(|s| self.template(s));
                    if card.detail.is_some() {
                        self.duplicate(cspan, "detail");
                    }
                    card.detail = d;
                }
                Rule::source => {
                    let mut label = None;
                    let mut url = None;
                    let mut icon = None;
                    let mut last_kw = Rule::k_source;
                    for k in kids(clause) {
                        match k.as_rule() {
                            Rule::string => {
                                let t = Some(self.text(k));
                                match last_kw {
                                    Rule::k_link => url = t,
                                    Rule::k_icon => icon = t,
                                    _ => label = t,
                                }
                            }
                            r => last_kw = r,
                        }
                    }
                    if card.source.is_some() {
                        self.duplicate(cspan, "source");
                    }
                    card.source = label.map(|label| Source {
                        label,
                        url,
                        icon,
                        span: cspan,
                    });
                }
                Rule::link => {
                    let mut s = kids(clause).skip(1);
                    if let (Some(l), Some(u)) = (s.next(), s.next()) {
                        card.links.push(Link {
                            label: self.text(l),
                            url: self.text(u),
                            span: cspan,
                        });
                    }
                }
                Rule::suggest => {
                    let mut s = kids(clause).skip(1);
                    if let Some(l) = s.next() {
                        let label = self.text(l);
                        let actions = s.filter_map(|a| self.action(a)).collect();
                        card.suggestions.push(Suggestion {
                            label,
                            actions,
                            span: cspan,
                        });
                    }
                }
                Rule::override_reason => {
                    let mut s = kids(clause).skip(2);
                    if let (Some(c), Some(d)) = (s.next(), s.next()) {
                        card.override_reasons.push(OverrideReason {
                            code: self.text(c),
                            display: self.text(d),
                            span: cspan,
                        });
                    }
                }
                Rule::system_action => {
                    if let Some(a) = kids(clause).nth(2).and_then(|a| self.action(a)) {
                        card.system_actions.push(a);
                    }
                }
                _ => {}
            }
        }
        Some(Rule_ {
            comments: Vec::new(),
            id,
            when: when?,
            card,
            span,
        })
    }

    fn duplicate(&mut self, span: Span, what: &str) {
        self.error(
            ParseErrorKind::Duplicate,
            span,
            &format!("a card has at most one `{what}`"),
            "second one",
            if what == "detail" {
                "join the texts into one `detail`; use \"\"\"...\"\"\" for several lines"
            } else {
                "keep one `source`; add further references with `link \"label\" \"url\"`"
            },
        );
    }

    fn action(&mut self, p: P<'_>) -> Option<Action> {
        let span = self.span(&p);
        let mut it = kids(p);
        let kind = match it.next()?.as_str() {
            "create" => ActionKind::Create,
            "update" => ActionKind::Update,
            _ => ActionKind::Delete,
        };
        let body_pair = it.next()?;
        let body = self.any_text(body_pair);
        if kind != ActionKind::Delete {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&body.value) {
                self.error(
                    ParseErrorKind::Json,
                    body.span,
                    &format!(
                        "the resource template is not valid JSON (line {}, column {} of the template)",
                        e.line(),
                        e.column()
                    ),
                    "resource template",
                    "write the FHIR resource as JSON, for example \"\"\"{ \"resourceType\": \"ServiceRequest\", ... }\"\"\"",
                );
            }
        }
        Some(Action { kind, body, span })
    }

    /// A `"..."` string → decoded text (errors recorded, raw text kept).
    fn text(&mut self, p: P<'_>) -> Text {
        self.text_with_map(p).0
    }

    fn text_with_map(&mut self, p: P<'_>) -> (Text, Vec<usize>) {
        let span = self.span(&p);
        let raw = p.as_str();
        let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
        match strings::decode(inner, span.start + 1) {
            Ok((value, map)) => (Text { value, span }, map),
            Err(e) => {
                self.error(ParseErrorKind::Literal, e.span, &e.message, "here", &e.help);
                (
                    Text {
                        value: inner.to_string(),
                        span,
                    },
                    Vec::new(),
                )
            }
        }
    }

    fn triple(&mut self, p: P<'_>) -> Text {
        let span = self.span(&p);
        let raw = p.as_str();
        Text {
            value: raw
                .get(3..raw.len().saturating_sub(3))
                .unwrap_or("")
                .to_string(),
            span,
        }
    }

    /// `any_string` (triple or plain) → text.
    fn any_text(&mut self, p: P<'_>) -> Text {
        match kids(p.clone()).next() {
            Some(k) if k.as_rule() == Rule::triple_string => self.triple(k),
            Some(k) => self.text(k),
            None => self.text(p),
        }
    }

    fn template(&mut self, p: P<'_>) -> Option<Template> {
        let (inner, span, triple) = match kids(p.clone()).next() {
            Some(k) => {
                let triple = k.as_rule() == Rule::triple_string;
                (k, self.span(&p), triple)
            }
            None => (p.clone(), self.span(&p), false),
        };
        let q = if triple { 3 } else { 1 };
        let raw = inner.as_str();
        let body = raw.get(q..raw.len().saturating_sub(q)).unwrap_or("");
        match strings::template(body, span.start + q, !triple) {
            Ok(parts) => Some(Template { parts, span }),
            Err(e) => {
                self.error(
                    ParseErrorKind::Template,
                    e.span,
                    &e.message,
                    "here",
                    &e.help,
                );
                None
            }
        }
    }

    // ------------------------------------------------------------ expressions

    fn node(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// Builds an expression. Wrapper levels of the grammar with a single child (one per
    /// precedence level, parentheses) are walked in a loop, so that only real operators
    /// recurse; nesting deeper than [`MAX_DEPTH`] is reported instead of exhausting the stack.
    pub(crate) fn expr(&mut self, mut p: P<'_>) -> Option<Expr> {
        loop {
            let single = match p.as_rule() {
                Rule::expr
                | Rule::and_expr
                | Rule::sum
                | Rule::product
                | Rule::predicate
                | Rule::primary
                | Rule::postfix
                | Rule::paren => {
                    let mut it = kids(p.clone());
                    match (it.next(), it.next()) {
                        (Some(only), None) => Some(only),
                        _ => None,
                    }
                }
                Rule::not_expr | Rule::unary => kids(p.clone())
                    .next()
                    .filter(|k| !matches!(k.as_rule(), Rule::k_not | Rule::neg)),
                _ => None,
            };
            match single {
                Some(child) => p = child,
                None => break,
            }
        }
        if self.depth >= MAX_DEPTH {
            if !self.too_deep {
                self.too_deep = true;
                let span = self.span(&p);
                self.error(
                    ParseErrorKind::Syntax,
                    span,
                    "this expression is nested too deeply",
                    "nested too deeply",
                    "split it into several `define`s and combine their names",
                );
            }
            return None;
        }
        self.depth += 1;
        let e = self.expr_node(p);
        self.depth -= 1;
        e
    }

    fn expr_node(&mut self, p: P<'_>) -> Option<Expr> {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr | Rule::and_expr | Rule::sum | Rule::product => {
                let mut it = kids(p);
                let mut lhs = self.expr(it.next()?)?;
                while let (Some(op), Some(r)) = (it.next(), it.next()) {
                    let op = match op.as_str() {
                        "or" => BinaryOp::Or,
                        "and" => BinaryOp::And,
                        "+" => BinaryOp::Add,
                        "-" => BinaryOp::Sub,
                        "*" => BinaryOp::Mul,
                        _ => BinaryOp::Div,
                    };
                    let rhs = self.expr(r)?;
                    let s = Span::new(lhs.span.start, rhs.span.end);
                    lhs = Self::node(
                        ExprKind::Binary {
                            op,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                        s,
                    );
                }
                Some(lhs)
            }
            Rule::not_expr => {
                let mut it = kids(p);
                let first = it.next()?;
                if first.as_rule() == Rule::k_not {
                    let inner = self.expr(it.next()?)?;
                    Some(Self::node(ExprKind::Not(Box::new(inner)), span))
                } else {
                    self.expr(first)
                }
            }
            Rule::predicate => {
                let mut it = kids(p);
                let lhs = self.expr(it.next()?)?;
                let Some(post) = it.next() else {
                    return Some(lhs);
                };
                let lhs = Box::new(lhs);
                let kind = match post.as_rule() {
                    Rule::compare => {
                        let mut c = kids(post);
                        let op = CmpOp::from_str(c.next()?.as_str())?;
                        ExprKind::Compare {
                            op,
                            lhs,
                            rhs: Box::new(self.expr(c.next()?)?),
                        }
                    }
                    Rule::presence => ExprKind::Presence {
                        of: lhs,
                        present: kids(post).nth(1)?.as_rule() == Rule::k_present,
                    },
                    Rule::has_code => ExprKind::HasCode {
                        of: lhs,
                        code: self.code_spec(kids(post).nth(1)?)?,
                    },
                    _ => {
                        let mut c = kids(post).skip(1);
                        let low = self.expr(c.next()?)?;
                        let high = self.expr(c.nth(1)?)?;
                        ExprKind::Between {
                            of: lhs,
                            low: Box::new(low),
                            high: Box::new(high),
                        }
                    }
                };
                Some(Self::node(kind, span))
            }
            Rule::postfix => {
                let mut it = kids(p);
                let mut e = self.expr(it.next()?)?;
                for op in it {
                    let s = Span::new(e.span.start, self.span(&op).end);
                    let of = Box::new(e);
                    let kind = if op.as_rule() == Rule::convert {
                        ExprKind::Convert {
                            of,
                            unit: self.unit(kids(op).nth(1)?),
                        }
                    } else {
                        let digits = kids(op).nth(2)?;
                        let Ok(places) = digits.as_str().parse::<u32>() else {
                            let span = self.span(&digits);
                            self.error(
                                ParseErrorKind::Syntax,
                                span,
                                "too many decimal places",
                                "too many",
                                "round to at most 28 decimal places",
                            );
                            return None;
                        };
                        ExprKind::Round { of, places }
                    };
                    e = Self::node(kind, s);
                }
                Some(e)
            }
            Rule::unary => {
                let mut it = kids(p);
                let first = it.next()?;
                if first.as_rule() == Rule::neg {
                    let inner = self.expr(it.next()?)?;
                    Some(match inner.kind {
                        ExprKind::Number(n) => Self::node(ExprKind::Number(-n), span),
                        ExprKind::Quantity { value, unit } => Self::node(
                            ExprKind::Quantity {
                                value: -value,
                                unit,
                            },
                            span,
                        ),
                        _ => Self::node(ExprKind::Neg(Box::new(inner)), span),
                    })
                } else {
                    self.expr(first)
                }
            }
            Rule::primary | Rule::paren => self.expr(kids(p).find(|k| k.as_rule() != Rule::k_of)?),
            Rule::number => Some(Self::node(ExprKind::Number(self.decimal(&p)?), span)),
            Rule::quantity | Rule::bound => {
                let mut it = kids(p);
                let value = self.decimal(&it.next()?)?;
                Some(match it.next() {
                    Some(u) => Self::node(
                        ExprKind::Quantity {
                            value,
                            unit: self.unit(u),
                        },
                        span,
                    ),
                    None => Self::node(ExprKind::Number(value), span),
                })
            }
            Rule::string => {
                let t = self.text(p);
                Some(Self::node(ExprKind::Text(t.value), span))
            }
            Rule::boolean => Some(Self::node(ExprKind::Bool(p.as_str() == "true"), span)),
            Rule::name => Some(Self::node(ExprKind::Name(p.as_str().to_string()), span)),
            Rule::age => Some(Self::node(ExprKind::Age, span)),
            Rule::query => {
                let mut it = kids(p);
                let which = match it.next()?.as_str() {
                    "latest" => Which::Latest,
                    "earliest" => Which::Earliest,
                    _ => Which::All,
                };
                let code = self.code_spec(it.nth(1)?)?;
                let window = match it.next() {
                    Some(w) => Some(self.window(w)?),
                    None => None,
                };
                Some(Self::node(
                    ExprKind::Query(Query {
                        which,
                        code,
                        window,
                    }),
                    span,
                ))
            }
            Rule::aggregate => {
                let mut it = kids(p);
                let func = match it.next()?.as_str() {
                    "count" => AggregateFn::Count,
                    "min" => AggregateFn::Min,
                    "max" => AggregateFn::Max,
                    "average" => AggregateFn::Average,
                    _ => AggregateFn::Sum,
                };
                let of = self.expr(it.nth(1)?)?;
                Some(Self::node(
                    ExprKind::Aggregate {
                        func,
                        of: Box::new(of),
                    },
                    span,
                ))
            }
            Rule::change => {
                let mut it = kids(p);
                let kind = match it.next()?.as_str() {
                    "rise" => ChangeKind::Rise,
                    "fall" => ChangeKind::Fall,
                    _ => ChangeKind::Change,
                };
                let of = self.expr(it.nth(1)?)?;
                let window = match it.next() {
                    Some(w) => Some(self.window(w)?),
                    None => None,
                };
                Some(Self::node(
                    ExprKind::Change {
                        kind,
                        of: Box::new(of),
                        window,
                    },
                    span,
                ))
            }
            Rule::active => {
                let mut it = kids(p).skip(1);
                let kind = match it.next()?.as_str() {
                    "condition" => ActiveKind::Condition,
                    _ => ActiveKind::Medication,
                };
                let code = self.code_spec(it.next()?)?;
                Some(Self::node(ExprKind::Active { kind, code }, span))
            }
            Rule::ordered => {
                let code = self.code_spec(kids(p).nth(2)?)?;
                Some(Self::node(
                    ExprKind::Active {
                        kind: ActiveKind::OrderedMedication,
                        code,
                    },
                    span,
                ))
            }
            Rule::fhirpath => {
                let s = kids(p).nth(1)?;
                let (text, map) = self.text_with_map(s);
                if let Err(e) = cds_core::fhirpath::parse(&text.value) {
                    let at = |i: usize| {
                        map.get(i)
                            .copied()
                            .unwrap_or(text.span.end.saturating_sub(1))
                    };
                    let start = at(e.span.start);
                    let end = if e.span.end > e.span.start {
                        at(e.span.end - 1) + 1
                    } else {
                        start
                    };
                    self.error(
                        ParseErrorKind::FhirPath,
                        Span::new(start, end.max(start)),
                        &format!("FHIRPath: {}", e.message),
                        "in this FHIRPath expression",
                        "check the FHIRPath expression; strings inside it use single quotes: fhirpath \"Patient.gender = 'female'\"",
                    );
                }
                Some(Self::node(ExprKind::FhirPath(text), span))
            }
            Rule::case_expr => {
                let mut arms = Vec::new();
                let mut otherwise = None;
                for k in kids(p) {
                    match k.as_rule() {
                        Rule::case_arm => {
                            let aspan = self.span(&k);
                            let mut a = kids(k);
                            let when = self.expr(a.nth(1)?)?;
                            let then = self.expr(a.nth(1)?)?;
                            arms.push(CaseArm {
                                when,
                                then,
                                span: aspan,
                            });
                        }
                        Rule::otherwise => {
                            otherwise = Some(Box::new(self.expr(kids(k).nth(1)?)?));
                        }
                        _ => {}
                    }
                }
                Some(Self::node(ExprKind::Case { arms, otherwise }, span))
            }
            Rule::bands => {
                let mut it = kids(p).skip(2);
                let of = self.expr(it.next()?)?;
                let mut rows = Vec::new();
                let mut otherwise = None;
                for k in it {
                    match k.as_rule() {
                        Rule::band_row => rows.push(self.band_row(k)?),
                        Rule::band_otherwise => {
                            otherwise = Some(Box::new(self.expr(kids(k).nth(2)?)?));
                        }
                        _ => {}
                    }
                }
                Some(Self::node(
                    ExprKind::Bands {
                        of: Box::new(of),
                        rows,
                        otherwise,
                    },
                    span,
                ))
            }
            _ => None,
        }
    }

    fn band_row(&mut self, p: P<'_>) -> Option<BandRow> {
        let span = self.span(&p);
        let mut it = kids(p);
        let range_pair = kids(it.next()?).next()?;
        let range = match range_pair.as_rule() {
            Rule::band_cmp => {
                let mut r = kids(range_pair);
                let op = CmpOp::from_str(r.next()?.as_str())?;
                BandRange::Compare {
                    op,
                    bound: self.expr(r.next()?)?,
                }
            }
            Rule::band_span => {
                let mut r = kids(range_pair);
                let low = self.expr(r.next()?)?;
                let high = self.expr(r.nth(1)?)?;
                BandRange::Span { low, high }
            }
            _ => BandRange::Exact(self.expr(range_pair)?),
        };
        let value = self.expr(it.nth(1)?)?;
        Some(BandRow { range, value, span })
    }

    fn decimal(&mut self, p: &P<'_>) -> Option<Decimal> {
        match Decimal::from_str(p.as_str()) {
            Ok(d) => Some(d),
            Err(_) => {
                let span = self.span(p);
                self.error(
                    ParseErrorKind::Literal,
                    span,
                    "this number is too long",
                    "number",
                    "numbers have at most 28 significant digits",
                );
                None
            }
        }
    }

    fn unit(&mut self, p: P<'_>) -> String {
        kids(p)
            .next()
            .map_or(String::new(), |u| u.as_str().to_string())
    }

    fn window(&mut self, p: P<'_>) -> Option<Window> {
        let span = self.span(&p);
        let mut it = kids(p).skip(1);
        let n = it.next()?;
        let amount = match n.as_str().parse::<u32>() {
            Ok(a) if a > 0 => a,
            _ => {
                let s = self.span(&n);
                self.error(
                    ParseErrorKind::Literal,
                    s,
                    "a time window needs a whole number from 1 up",
                    "window length",
                    "write for example `within 90 days` or `within 48 hours`",
                );
                return None;
            }
        };
        let unit = match it.next()?.as_str().trim_end_matches('s') {
            "minute" => TimeUnit::Minutes,
            "hour" => TimeUnit::Hours,
            "day" => TimeUnit::Days,
            "week" => TimeUnit::Weeks,
            "month" => TimeUnit::Months,
            _ => TimeUnit::Years,
        };
        Some(Window { amount, unit, span })
    }

    fn code_spec(&mut self, p: P<'_>) -> Option<CodeSpec> {
        let span = self.span(&p);
        let inner = kids(p).next()?;
        let kind = match inner.as_rule() {
            Rule::system_code => {
                let mut it = kids(inner);
                let system = match it.next()?.as_str() {
                    "loinc" => KnownSystem::Loinc,
                    "snomed" => KnownSystem::Snomed,
                    "rxnorm" => KnownSystem::RxNorm,
                    _ => KnownSystem::Icd10,
                };
                CodeSpecKind::Known {
                    system,
                    code: it.next()?.as_str().to_string(),
                }
            }
            Rule::explicit_code => {
                let mut it = kids(inner).skip(1);
                let system = self.text(it.next()?).value;
                let code = self.text(it.next()?).value;
                CodeSpecKind::Explicit { system, code }
            }
            _ => CodeSpecKind::ValueSet(self.text(kids(inner).nth(2)?).value),
        };
        Some(CodeSpec { kind, span })
    }
}

use crate::ast::Rule as Rule_;
