//! Conditions that can never be true, and band rows that can never match.
//!
//! A condition is turned into a disjunction of conjunctions of simple facts about
//! operands (bounds such as `x > 5`, presence, absence, constant false), following `not`,
//! `and`, `or` and the definitions it names. A conjunction is impossible when two bounds
//! on the same operand exclude each other, an operand is both absent and compared (a
//! comparison with an absent value is never true), a count is compared below zero, or a
//! band table / case result is compared with a value none of its rows give. The analysis
//! only ever over-approximates: when in doubt (too large, unknown parts) a condition is
//! taken to be satisfiable, so what it reports is certain.

use super::diagnostic::CheckKind;
use super::{units, Checker, Type, MAX_DEPTH};
use crate::ast::{AggregateFn, BandRange, BandRow, BinaryOp, CmpOp, Expr, ExprKind, Item, Span};
use cds_core::ucum::Unit;
use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// At most this many alternatives are followed before giving up (and assuming "satisfiable").
const MAX_CLAUSES: usize = 64;
/// How deep definitions are followed by name.
const MAX_INLINE: usize = 8;

/// A constant number, quantity or text.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Num(Decimal),
    Qty(Decimal, Arc<Unit>),
    /// Ordered alphabetically: only `=` and `!=` are allowed on text, and any total order
    /// makes `x = "a" and x = "b"` an empty range.
    Text(String),
}

impl Val {
    fn cmp(&self, other: &Val) -> Option<Ordering> {
        match (self, other) {
            (Val::Num(a), Val::Num(b)) => Some(a.cmp(b)),
            (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
            (Val::Qty(a, ua), Val::Qty(b, ub)) => {
                if !ua.is_commensurable(ub) {
                    return None;
                }
                let b = ub.convert_value(*b, ua).ok()?;
                Some(a.cmp(&b))
            }
            _ => None,
        }
    }

    fn show(&self) -> String {
        match self {
            Val::Num(d) => d.normalize().to_string(),
            Val::Qty(d, u) => format!("{} '{}'", d.normalize(), u.code()),
            Val::Text(t) => format!("\"{t}\""),
        }
    }
}

/// The constant value of a literal.
pub(crate) fn literal(e: &Expr) -> Option<Val> {
    match &e.kind {
        ExprKind::Number(d) => Some(Val::Num(*d)),
        ExprKind::Quantity { value, unit } => Some(Val::Qty(*value, units::parse(unit).ok()?)),
        ExprKind::Text(t) => Some(Val::Text(t.clone())),
        _ => None,
    }
}

fn holds(op: CmpOp, ord: Ordering) -> bool {
    match op {
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
        CmpOp::Ge => CmpOp::Lt,
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
    }
}

/// One fact of a conjunction.
#[derive(Debug, Clone)]
enum Fact {
    /// The operand is at least (`true`: or equal to) the value.
    Lower(String, Val, bool),
    /// The operand is at most (`true`: or equal to) the value.
    Upper(String, Val, bool),
    /// The operand has a value.
    Present(String),
    /// The operand has no value.
    Absent(String),
    /// Never true, for the reason given.
    False(String),
}

#[derive(Debug, Clone)]
struct Lit {
    fact: Fact,
    /// The text that states it (a comparison, `x is absent`, ...).
    span: Span,
}

type Clause = Vec<Lit>;
type Dnf = Vec<Clause>;

fn truth() -> Dnf {
    vec![Vec::new()]
}

/// Why a condition is never true: a sentence and the places involved.
#[derive(Debug, Clone)]
pub(crate) struct Reason {
    pub(crate) message: String,
    pub(crate) help: String,
    pub(crate) spans: Vec<(Span, String)>,
}

impl Reason {
    /// Where to report it: the last place involved (labelled), the others as related places;
    /// `whole` when no place is known.
    /// When a place lies outside `whole` (in a definition the condition names), `whole` is
    /// the main place and all others are related.
    fn place(&self, whole: Span) -> (Span, String, Vec<(Span, String)>) {
        let inside = |s: &Span| s.start >= whole.start && s.end <= whole.end;
        match self.spans.split_last() {
            Some(((at, label), rest)) if self.spans.iter().all(|(s, _)| inside(s)) => {
                (*at, label.clone(), rest.to_vec())
            }
            _ => (whole, "never true".to_string(), self.spans.clone()),
        }
    }
}

/// What is known about an operand.
#[derive(Debug, Clone, Default)]
struct Operand {
    /// How it is written.
    text: String,
    /// Never below zero: "a count" or "an age".
    non_negative: Option<&'static str>,
    /// It is always one of these values (a band table or case of constants).
    values: Option<Vec<Val>>,
}

struct Analysis<'c> {
    source: &'c str,
    defines: &'c HashMap<&'c str, &'c Expr>,
    operands: HashMap<String, Operand>,
    inlining: Vec<&'c str>,
}

impl<'c> Analysis<'c> {
    fn new(source: &'c str, defines: &'c HashMap<&'c str, &'c Expr>) -> Analysis<'c> {
        Analysis {
            source,
            defines,
            operands: HashMap::new(),
            inlining: Vec::new(),
        }
    }

    fn text(&self, span: Span) -> String {
        match self.source.get(span.start..span.end) {
            Some(t) if !t.is_empty() && t.len() <= 60 && !t.contains('\n') => format!("`{t}`"),
            _ => "this comparison".to_string(),
        }
    }

    fn and(a: Dnf, b: Dnf) -> Dnf {
        if a.len().saturating_mul(b.len()) > MAX_CLAUSES {
            return truth();
        }
        let mut out = Vec::with_capacity(a.len() * b.len());
        for x in &a {
            for y in &b {
                let mut c = x.clone();
                c.extend(y.iter().cloned());
                out.push(c);
            }
        }
        out
    }

    fn or(mut a: Dnf, b: Dnf) -> Dnf {
        if a.len() + b.len() > MAX_CLAUSES {
            return truth();
        }
        a.extend(b);
        a
    }

    /// The condition `e` (or its negation, when `pos` is false) as a disjunction.
    fn dnf(&mut self, e: &'c Expr, pos: bool, depth: usize) -> Dnf {
        if depth > MAX_DEPTH {
            return truth();
        }
        let d = depth + 1;
        match &e.kind {
            ExprKind::Bool(b) => {
                if *b == pos {
                    truth()
                } else {
                    vec![vec![Lit {
                        fact: Fact::False(format!("{} is never true", self.text(e.span))),
                        span: e.span,
                    }]]
                }
            }
            ExprKind::Not(x) => self.dnf(x, !pos, d),
            ExprKind::Binary {
                op: op @ (BinaryOp::And | BinaryOp::Or),
                lhs,
                rhs,
            } => {
                let l = self.dnf(lhs, pos, d);
                let r = self.dnf(rhs, pos, d);
                if (*op == BinaryOp::And) == pos {
                    Self::and(l, r)
                } else {
                    Self::or(l, r)
                }
            }
            ExprKind::Compare { op, lhs, rhs } => self.compare(*op, lhs, rhs, pos, e.span, d),
            ExprKind::Between { of, low, high } => {
                let a = self.compare(CmpOp::Ge, of, low, pos, e.span, d);
                let b = self.compare(CmpOp::Le, of, high, pos, e.span, d);
                if pos {
                    Self::and(a, b)
                } else {
                    Self::or(a, b)
                }
            }
            ExprKind::Presence { of, present } => match self.key(of, d) {
                Some(k) => {
                    let fact = if *present == pos {
                        Fact::Present(k)
                    } else {
                        Fact::Absent(k)
                    };
                    vec![vec![Lit { fact, span: e.span }]]
                }
                None => truth(),
            },
            ExprKind::HasCode { of, .. } if pos => vec![self.present_leaves(of, e.span, d)],
            ExprKind::Name(n) => {
                let Some(&value) = self.defines.get(n.as_str()) else {
                    return truth();
                };
                if self.inlining.len() >= MAX_INLINE || self.inlining.contains(&n.as_str()) {
                    return truth();
                }
                self.inlining.push(n);
                let out = self.dnf(value, pos, d);
                self.inlining.pop();
                out
            }
            _ => truth(),
        }
    }

    /// `lhs op rhs` (or its negation).
    fn compare(
        &mut self,
        op: CmpOp,
        lhs: &'c Expr,
        rhs: &'c Expr,
        pos: bool,
        span: Span,
        d: usize,
    ) -> Dnf {
        let (lv, rv) = (literal(lhs), literal(rhs));
        if let (Some(a), Some(b)) = (&lv, &rv) {
            return match a.cmp(b) {
                Some(ord) if holds(op, ord) != pos => vec![vec![Lit {
                    fact: Fact::False(format!("{} is never true", self.text(span))),
                    span,
                }]],
                _ => truth(),
            };
        }
        if !pos {
            // Not (a op b): a or b is absent, or the opposite comparison holds.
            let mut alternatives = Vec::new();
            for side in [lhs, rhs] {
                for k in self.leaves(side, d) {
                    alternatives.push(vec![Lit {
                        fact: Fact::Absent(k),
                        span,
                    }]);
                }
            }
            let opposite = self.compare(negate(op), lhs, rhs, true, span, d);
            return Self::or(alternatives, opposite);
        }
        let mut clause = self.present_leaves(lhs, span, d);
        clause.extend(self.present_leaves(rhs, span, d));
        let (operand, value, op) = match (lv, rv) {
            (None, Some(v)) => (lhs, v, op),
            (Some(v), None) => (rhs, v, flip(op)),
            _ => return vec![clause],
        };
        let Some(k) = self.key(operand, d) else {
            return vec![clause];
        };
        self.describe(&k, operand, d);
        let mut push = |fact| clause.push(Lit { fact, span });
        match op {
            CmpOp::Gt => push(Fact::Lower(k, value, false)),
            CmpOp::Ge => push(Fact::Lower(k, value, true)),
            CmpOp::Lt => push(Fact::Upper(k, value, false)),
            CmpOp::Le => push(Fact::Upper(k, value, true)),
            CmpOp::Eq => {
                push(Fact::Lower(k.clone(), value.clone(), true));
                push(Fact::Upper(k, value, true));
            }
            CmpOp::Ne => {}
        }
        vec![clause]
    }

    /// Records what is known about an operand.
    fn describe(&mut self, key: &str, e: &'c Expr, d: usize) {
        if self.operands.contains_key(key) {
            return;
        }
        let mut seen = e;
        for _ in 0..MAX_INLINE {
            match &seen.kind {
                ExprKind::Name(n) => match self.defines.get(n.as_str()) {
                    Some(v) => seen = v,
                    None => break,
                },
                _ => break,
            }
        }
        let non_negative = match seen.kind {
            ExprKind::Age => Some("an age"),
            ExprKind::Aggregate {
                func: AggregateFn::Count,
                ..
            } => Some("a count"),
            _ => None,
        };
        let values = value_set(e, self.defines, d);
        let text = self.text(e.span);
        self.operands.insert(
            key.to_string(),
            Operand {
                text,
                non_negative,
                values,
            },
        );
    }

    /// `Present` facts for the operands of a value (absence propagates through arithmetic).
    fn present_leaves(&mut self, e: &'c Expr, span: Span, d: usize) -> Clause {
        self.leaves(e, d)
            .into_iter()
            .map(|k| Lit {
                fact: Fact::Present(k),
                span,
            })
            .collect()
    }

    /// The keys of a value and of the values it is computed from by arithmetic.
    fn leaves(&mut self, e: &'c Expr, d: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![(e, d)];
        while let Some((e, d)) = stack.pop() {
            if d > MAX_DEPTH || out.len() > 32 {
                break;
            }
            if let Some(k) = self.key(e, d) {
                self.describe(&k, e, d);
                out.push(k);
            }
            match &e.kind {
                ExprKind::Binary {
                    op: BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div,
                    lhs,
                    rhs,
                } => {
                    stack.push((lhs, d + 1));
                    stack.push((rhs, d + 1));
                }
                ExprKind::Neg(x)
                | ExprKind::Convert { of: x, .. }
                | ExprKind::Round { of: x, .. } => stack.push((x, d + 1)),
                _ => {}
            }
        }
        out
    }

    /// A canonical text for values that can be compared as "the same operand".
    fn key(&self, e: &Expr, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        let d = depth + 1;
        Some(match &e.kind {
            ExprKind::Name(n) => format!("n:{n}"),
            ExprKind::Age => "age".to_string(),
            ExprKind::Query(q) => {
                let code = match &q.code.kind {
                    crate::ast::CodeSpecKind::ValueSet(url) => format!("vs|{url}"),
                    k => {
                        let (system, code) = k.system_and_code().unwrap_or_default();
                        format!("{system}|{code}")
                    }
                };
                format!(
                    "q:{}:{code}:{:?}",
                    q.which.as_str(),
                    q.window.as_ref().map(|w| (w.amount, w.unit))
                )
            }
            ExprKind::FhirPath(t) => format!("fp:{}", t.value),
            ExprKind::Aggregate { func, of } => format!("{}({})", func.as_str(), self.key(of, d)?),
            ExprKind::Change { kind, of, window } => format!(
                "{}({}){:?}",
                kind.as_str(),
                self.key(of, d)?,
                window.as_ref().map(|w| (w.amount, w.unit))
            ),
            ExprKind::Convert { of, unit } => format!("({}) in '{unit}'", self.key(of, d)?),
            ExprKind::Round { of, places } => format!("({}) rounded {places}", self.key(of, d)?),
            ExprKind::Neg(x) => format!("-({})", self.key(x, d)?),
            ExprKind::Binary {
                op: op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div),
                lhs,
                rhs,
            } => {
                let l = literal(lhs)
                    .map(|v| v.show())
                    .or_else(|| self.key(lhs, d))?;
                let r = literal(rhs)
                    .map(|v| v.show())
                    .or_else(|| self.key(rhs, d))?;
                format!("({l} {} {r})", op.as_str())
            }
            _ => return None,
        })
    }

    /// Why a conjunction is impossible, if it is.
    fn impossible(&self, clause: &Clause) -> Option<Reason> {
        for lit in clause {
            if let Fact::False(why) = &lit.fact {
                return Some(Reason {
                    message: why.clone(),
                    help: "remove the condition, or write the comparison that was meant"
                        .to_string(),
                    spans: vec![(lit.span, "never true".to_string())],
                });
            }
        }
        let mut by_key: HashMap<&str, Vec<&Lit>> = HashMap::new();
        let mut keys = Vec::new();
        for lit in clause {
            let k = match &lit.fact {
                Fact::Lower(k, ..) | Fact::Upper(k, ..) | Fact::Present(k) | Fact::Absent(k) => k,
                Fact::False(_) => continue,
            };
            if !by_key.contains_key(k.as_str()) {
                keys.push(k.as_str());
            }
            by_key.entry(k).or_default().push(lit);
        }
        for k in keys {
            let lits = &by_key[k];
            let operand = self.operands.get(k).cloned().unwrap_or_default();
            let name = if operand.text.is_empty() {
                "the value".to_string()
            } else {
                operand.text.clone()
            };
            // Absent and compared or present.
            if let Some(absent) = lits.iter().find(|l| matches!(l.fact, Fact::Absent(_))) {
                if let Some(other) = lits.iter().find(|l| !matches!(l.fact, Fact::Absent(_))) {
                    let explicit = matches!(other.fact, Fact::Present(_))
                        && self
                            .source
                            .get(other.span.start..other.span.end)
                            .is_some_and(|t| t.trim_end().ends_with("present"));
                    let (message, help) = if explicit {
                        (
                            format!("{name} cannot be both present and absent"),
                            "keep one of the two tests".to_string(),
                        )
                    } else {
                        (
                            format!(
                                "{name} is absent here, and a comparison with an absent value \
                                 is never true"
                            ),
                            format!(
                                "to fire when {name} is missing or out of range, write \
                                 `{} is absent or ...` with `or`",
                                strip_ticks(&name)
                            ),
                        )
                    };
                    return Some(Reason {
                        message,
                        help,
                        spans: vec![
                            (absent.span, "absent here".to_string()),
                            (other.span, "needs a value".to_string()),
                        ],
                    });
                }
            }
            let lowers: Vec<(&Val, bool, Span)> = lits
                .iter()
                .filter_map(|l| match &l.fact {
                    Fact::Lower(_, v, inc) => Some((v, *inc, l.span)),
                    _ => None,
                })
                .collect();
            let uppers: Vec<(&Val, bool, Span)> = lits
                .iter()
                .filter_map(|l| match &l.fact {
                    Fact::Upper(_, v, inc) => Some((v, *inc, l.span)),
                    _ => None,
                })
                .collect();
            for &(lo, lo_inc, ls) in &lowers {
                for &(hi, hi_inc, hs) in &uppers {
                    let empty = match lo.cmp(hi) {
                        Some(Ordering::Greater) => true,
                        Some(Ordering::Equal) => !(lo_inc && hi_inc),
                        _ => false,
                    };
                    if !empty {
                        continue;
                    }
                    let spans = if ls == hs {
                        vec![(ls, "empty range".to_string())]
                    } else {
                        vec![
                            (ls, "this condition".to_string()),
                            (hs, "contradicts the other condition".to_string()),
                        ]
                    };
                    let message = if ls == hs {
                        format!("{} is an empty range", self.text(ls))
                    } else {
                        format!(
                            "{} and {} cannot both be true",
                            self.text(ls),
                            self.text(hs)
                        )
                    };
                    return Some(Reason {
                        message,
                        help: "check the numbers and the operators; perhaps `or` was meant \
                               instead of `and`, or the bounds are swapped"
                            .to_string(),
                        spans,
                    });
                }
            }
            if let Some(kind) = operand.non_negative {
                let zero = Val::Num(Decimal::ZERO);
                for &(hi, inc, hs) in &uppers {
                    let below = match hi.cmp(&zero) {
                        Some(Ordering::Less) => true,
                        Some(Ordering::Equal) => !inc,
                        _ => false,
                    };
                    if below {
                        return Some(Reason {
                            message: format!("{name} is {kind} and never below 0"),
                            help: "a count or an age is 0 or more: check the number and the \
                                   operator (`count of ... = 0` tests for no readings)"
                                .to_string(),
                            spans: vec![(hs, "never true".to_string())],
                        });
                    }
                }
            }
            if let Some(values) = &operand.values {
                let fits = |v: &Val| {
                    lowers.iter().all(|&(lo, inc, _)| match v.cmp(lo) {
                        Some(Ordering::Less) => false,
                        Some(Ordering::Equal) => inc,
                        _ => true,
                    }) && uppers.iter().all(|&(hi, inc, _)| match v.cmp(hi) {
                        Some(Ordering::Greater) => false,
                        Some(Ordering::Equal) => inc,
                        _ => true,
                    })
                };
                if !values.is_empty() && !values.iter().any(fits) {
                    let mut sorted = values.clone();
                    sorted.sort_by(|a, b| a.cmp(b).unwrap_or(Ordering::Equal));
                    let mut shown: Vec<String> = Vec::new();
                    for v in &sorted {
                        let s = v.show();
                        if !shown.contains(&s) {
                            shown.push(s);
                        }
                    }
                    let numbers = sorted.iter().all(|v| matches!(v, Val::Num(_)));
                    let (can, list, choices) = match shown.len() {
                        1 => ("can only be", shown[0].clone(), shown[0].clone()),
                        n if n <= 8 => {
                            let l = format!("{} or {}", shown[..n - 1].join(", "), shown[n - 1]);
                            ("can only be", l.clone(), l)
                        }
                        n if numbers => (
                            "is always",
                            format!("between {} and {}", shown[0], shown[n - 1]),
                            format!("{} to {}", shown[0], shown[n - 1]),
                        ),
                        _ => {
                            let l = format!("{}, ...", shown[..8].join(", "));
                            ("can only be", l.clone(), l)
                        }
                    };
                    let spans: Vec<(Span, String)> = lowers
                        .iter()
                        .chain(uppers.iter())
                        .map(|&(_, _, s)| (s, "never true".to_string()))
                        .take(2)
                        .collect();
                    let first = spans.first().map(|(s, _)| *s).unwrap_or_default();
                    return Some(Reason {
                        message: format!(
                            "{name} {can} {list}, so {} is never true",
                            self.text(first)
                        ),
                        help: match misspelt(&lowers, &shown) {
                            Some(good) => format!("did you mean {good}?"),
                            None => {
                                format!("compare {name} with a value it can have ({choices})")
                            }
                        },
                        spans,
                    });
                }
            }
        }
        None
    }
}

/// For `x = "hihg"` where `x` can be `"high"`: the value probably meant.
fn misspelt(lowers: &[(&Val, bool, Span)], shown: &[String]) -> Option<String> {
    let written = lowers.iter().find_map(|(v, _, _)| match v {
        Val::Text(_) => Some(v.show()),
        _ => None,
    })?;
    super::suggest::closest(&written, shown.iter().map(String::as_str)).map(str::to_string)
}

fn strip_ticks(s: &str) -> &str {
    s.trim_matches('`')
}

/// How many values a value set may hold before it is given up.
const MAX_VALUES: usize = 64;

/// The values an expression always has, when it is built from constants: a literal, a band
/// table or case whose results are such values, their sums, differences and products, and
/// names defined as such.
fn value_set(e: &Expr, defines: &HashMap<&str, &Expr>, depth: usize) -> Option<Vec<Val>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let d = depth + 1;
    let results: Vec<&Expr> = match &e.kind {
        ExprKind::Number(_) | ExprKind::Quantity { .. } | ExprKind::Text(_) => {
            return literal(e).map(|v| vec![v])
        }
        ExprKind::Bands {
            rows, otherwise, ..
        } => rows
            .iter()
            .map(|r| &r.value)
            .chain(otherwise.as_deref())
            .collect(),
        ExprKind::Case { arms, otherwise } => arms
            .iter()
            .map(|a| &a.then)
            .chain(otherwise.as_deref())
            .collect(),
        ExprKind::Name(n) => {
            return value_set(
                defines.get(n.as_str())?,
                defines,
                depth + MAX_DEPTH / MAX_INLINE,
            )
        }
        ExprKind::Binary {
            op: op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul),
            lhs,
            rhs,
        } => {
            let l = value_set(lhs, defines, d)?;
            let r = value_set(rhs, defines, d)?;
            let mut out: Vec<Val> = Vec::new();
            for a in &l {
                for b in &r {
                    let (Val::Num(x), Val::Num(y)) = (a, b) else {
                        return None;
                    };
                    let v = match op {
                        BinaryOp::Add => x.checked_add(*y),
                        BinaryOp::Sub => x.checked_sub(*y),
                        _ => x.checked_mul(*y),
                    }?;
                    if !out.iter().any(|o| matches!(o, Val::Num(n) if *n == v)) {
                        out.push(Val::Num(v));
                        if out.len() > MAX_VALUES {
                            return None;
                        }
                    }
                }
            }
            return Some(out);
        }
        _ => return None,
    };
    let mut out = Vec::new();
    for r in results {
        out.extend(value_set(r, defines, d)?);
        if out.len() > MAX_VALUES {
            return None;
        }
    }
    Some(out)
}

/// Whether `e` can never be true, and why.
fn never_true(source: &str, defines: &HashMap<&str, &Expr>, e: &Expr) -> Option<(Reason, bool)> {
    let mut a = Analysis::new(source, defines);
    let dnf = a.dnf(e, true, 0);
    let mut first = None;
    for clause in &dnf {
        let r = a.impossible(clause)?;
        first.get_or_insert(r);
    }
    first.map(|r| (r, dnf.len() > 1))
}

impl Checker<'_> {
    /// Rules that can never fire, conditions and definitions that are never true.
    pub(crate) fn check_never_fire(&mut self) {
        let rs = self.rs;
        let mut defines: HashMap<&str, &Expr> = HashMap::new();
        for (&name, &i) in &self.names {
            if let Item::Define(d) = &rs.items[i] {
                defines.insert(name, &d.value);
            }
        }
        for (i, item) in rs.items.iter().enumerate() {
            match item {
                Item::Rule(r) => {
                    if let Some((reason, several)) = never_true(self.source, &defines, &r.when) {
                        let message = if several {
                            format!(
                                "rule `{}` can never fire: none of its alternatives can be \
                                 true ({})",
                                r.id.name, reason.message
                            )
                        } else {
                            format!("rule `{}` can never fire: {}", r.id.name, reason.message)
                        };
                        let (at, label, related) = reason.place(r.when.span);
                        let mut d = self
                            .sink
                            .error(CheckKind::NeverFires, at, message, label)
                            .help(reason.help);
                        for (s, l) in related {
                            d = d.related(s, l);
                        }
                    } else {
                        self.never_true_parts(&defines, &r.when, 0);
                    }
                }
                Item::Define(d) if self.item_types[i] == Some(Type::Bool) => {
                    if self.names.get(d.name.name.as_str()) != Some(&i) {
                        continue;
                    }
                    if let Some((reason, _)) = never_true(self.source, &defines, &d.value) {
                        let (at, label, related) = reason.place(d.value.span);
                        let mut w = self
                            .sink
                            .warning(
                                CheckKind::AlwaysFalse,
                                at,
                                format!("`{}` is never true: {}", d.name.name, reason.message),
                                label,
                            )
                            .help(reason.help);
                        for (s, l) in related {
                            w = w.related(s, l);
                        }
                    } else {
                        self.never_true_parts(&defines, &d.value, 0);
                    }
                }
                _ => {}
            }
        }
    }

    /// Warns about the outermost parts of a condition that are never true.
    fn never_true_parts(&mut self, defines: &HashMap<&str, &Expr>, e: &Expr, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match &e.kind {
            ExprKind::Binary {
                op: BinaryOp::And | BinaryOp::Or,
                lhs,
                rhs,
            } => {
                if let ExprKind::Binary {
                    op: BinaryOp::And, ..
                } = e.kind
                {
                    if depth > 0 && self.warn_never_true(defines, e) {
                        return;
                    }
                }
                self.never_true_parts(defines, lhs, depth + 1);
                self.never_true_parts(defines, rhs, depth + 1);
            }
            ExprKind::Not(x) => self.never_true_parts(defines, x, depth + 1),
            ExprKind::Compare { .. } | ExprKind::Between { .. } | ExprKind::Presence { .. } => {
                self.warn_never_true(defines, e);
            }
            _ => {}
        }
    }

    fn warn_never_true(&mut self, defines: &HashMap<&str, &Expr>, e: &Expr) -> bool {
        let Some((reason, _)) = never_true(self.source, defines, e) else {
            return false;
        };
        let (at, label, related) = reason.place(e.span);
        let mut w = self
            .sink
            .warning(
                CheckKind::AlwaysFalse,
                at,
                format!(
                    "this part of the condition is never true: {}",
                    reason.message
                ),
                label,
            )
            .help(reason.help);
        for (s, l) in related {
            w = w.related(s, l);
        }
        true
    }
}

/// A position on the line of values, with infinities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ext {
    NegInf,
    Fin(Decimal),
    PosInf,
}

/// An interval of values.
#[derive(Debug, Clone, Copy)]
struct Interval {
    lo: Ext,
    lo_inc: bool,
    hi: Ext,
    hi_inc: bool,
}

impl Interval {
    fn is_empty(&self) -> bool {
        self.lo > self.hi || (self.lo == self.hi && !(self.lo_inc && self.hi_inc))
    }
}

/// Whether `r` is covered by the union of `earlier`.
fn covered(r: &Interval, earlier: &[Interval]) -> bool {
    // Sweep: everything of `r` below the cursor is covered; `need` says whether the cursor
    // point itself still needs covering.
    let (mut at, mut need) = (r.lo, r.lo_inc && r.lo != Ext::NegInf);
    for _ in 0..=earlier.len() * 2 + 1 {
        let rest_empty = at > r.hi || (at == r.hi && !(need && r.hi_inc)) || at == Ext::PosInf;
        if rest_empty {
            return true;
        }
        // The earlier interval that reaches furthest from the cursor.
        let mut best: Option<(Ext, bool)> = None;
        for i in earlier.iter().filter(|i| !i.is_empty()) {
            let starts = i.lo < at || (i.lo == at && (i.lo_inc || !need));
            if !starts {
                continue;
            }
            let advances = i.hi > at || (i.hi == at && i.hi_inc && need);
            if !advances {
                continue;
            }
            let better = match best {
                None => true,
                Some((h, inc)) => i.hi > h || (i.hi == h && i.hi_inc && !inc),
            };
            if better {
                best = Some((i.hi, i.hi_inc));
            }
        }
        let Some((hi, inc)) = best else {
            return false;
        };
        at = hi;
        need = !inc;
    }
    false
}

/// Warns about empty and unreachable band rows.
pub(crate) fn check_band_rows(cx: &mut Checker<'_>, rows: &[BandRow]) {
    // Bounds are compared in the unit of the first quantity bound (or as plain numbers).
    let mut reference: Option<Val> = None;
    let mut num = |e: &Expr| -> Option<Decimal> {
        let v = literal(e)?;
        let r = reference.get_or_insert_with(|| v.clone());
        match (&v, &*r) {
            (Val::Num(d), Val::Num(_)) => Some(*d),
            (Val::Qty(d, u), Val::Qty(_, ru)) => u
                .convert_value(*d, ru)
                .ok()
                .or_else(|| (u.code() == ru.code()).then_some(*d)),
            _ => None,
        }
    };
    let mut earlier: Vec<Interval> = Vec::new();
    for row in rows {
        let iv = match &row.range {
            BandRange::Compare { op, bound } => {
                let Some(b) = num(bound) else { continue };
                let b = Ext::Fin(b);
                match op {
                    CmpOp::Lt | CmpOp::Le => Interval {
                        lo: Ext::NegInf,
                        lo_inc: false,
                        hi: b,
                        hi_inc: *op == CmpOp::Le,
                    },
                    CmpOp::Gt | CmpOp::Ge => Interval {
                        lo: b,
                        lo_inc: *op == CmpOp::Ge,
                        hi: Ext::PosInf,
                        hi_inc: false,
                    },
                    CmpOp::Eq => Interval {
                        lo: b,
                        lo_inc: true,
                        hi: b,
                        hi_inc: true,
                    },
                    CmpOp::Ne => continue,
                }
            }
            BandRange::Span { low, high } => {
                let (Some(l), Some(h)) = (num(low), num(high)) else {
                    continue;
                };
                Interval {
                    lo: Ext::Fin(l),
                    lo_inc: true,
                    hi: Ext::Fin(h),
                    hi_inc: true,
                }
            }
            BandRange::Exact(x) => {
                let Some(v) = num(x) else { continue };
                Interval {
                    lo: Ext::Fin(v),
                    lo_inc: true,
                    hi: Ext::Fin(v),
                    hi_inc: true,
                }
            }
        };
        if iv.is_empty() {
            let help = match &row.range {
                BandRange::Span { low, high } => match (cx.text(low.span), cx.text(high.span)) {
                    (Some(l), Some(h)) => format!("write the smaller bound first: `{h} to {l}`"),
                    _ => "write the smaller bound first".to_string(),
                },
                _ => "write the smaller bound first".to_string(),
            };
            cx.sink
                .warning(
                    CheckKind::EmptyBand,
                    row.span,
                    "this band row's range is empty: its low bound is above its high bound",
                    "empty range",
                )
                .help(help);
            continue;
        }
        if covered(&iv, &earlier) {
            cx.sink
                .warning(
                    CheckKind::UnreachableBand,
                    row.span,
                    "this band row never matches: the rows above it cover all its values",
                    "unreachable row",
                )
                .help(
                    "rows are tried in order and the first match wins: fix the bounds of this \
                     row or of the rows above, or remove it",
                );
        }
        earlier.push(iv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: i64, lo_inc: bool, hi: i64, hi_inc: bool) -> Interval {
        Interval {
            lo: Ext::Fin(lo.into()),
            lo_inc,
            hi: Ext::Fin(hi.into()),
            hi_inc,
        }
    }

    #[test]
    fn coverage() {
        let le8 = Interval {
            lo: Ext::NegInf,
            lo_inc: false,
            hi: Ext::Fin(8.into()),
            hi_inc: true,
        };
        assert!(covered(&iv(3, true, 8, true), &[le8]));
        assert!(!covered(&iv(3, true, 9, true), &[le8]));
        assert!(covered(
            &iv(3, true, 12, true),
            &[le8, iv(8, false, 12, true)]
        ));
        assert!(!covered(
            &iv(3, true, 12, true),
            &[le8, iv(9, true, 12, true)]
        ));
        assert!(!covered(&iv(8, true, 12, true), &[iv(8, false, 12, true)]));
        assert!(covered(&iv(5, true, 5, true), &[iv(5, true, 5, true)]));
        assert!(!covered(&iv(5, true, 5, true), &[]));
        let all = Interval {
            lo: Ext::NegInf,
            lo_inc: false,
            hi: Ext::PosInf,
            hi_inc: false,
        };
        assert!(covered(
            &all,
            &[
                le8,
                iv(8, false, 20, false),
                Interval {
                    lo: Ext::Fin(20.into()),
                    lo_inc: true,
                    hi: Ext::PosInf,
                    hi_inc: false
                }
            ]
        ));
        assert!(!covered(&all, &[le8]));
    }

    #[test]
    fn values_compare_across_units() {
        let a = Val::Qty(Decimal::from(1), units::parse("kPa").unwrap());
        let b = Val::Qty(Decimal::from(7), units::parse("mm[Hg]").unwrap());
        assert_eq!(a.cmp(&b), Some(Ordering::Greater));
        assert_eq!(a.cmp(&Val::Num(Decimal::ONE)), None);
    }
}
