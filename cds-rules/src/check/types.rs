//! Types: each expression gets a [`Type`]; conditions must be true/false, arithmetic needs
//! numbers, quantities compared or added must have commensurable units, and so on.

use super::diagnostic::CheckKind;
use super::{codes, never, units, Checker, MAX_DEPTH};
use crate::ast::{
    AggregateFn, BandRange, BandRow, BinaryOp, CaseArm, CmpOp, CodeSpecKind, Expr, ExprKind,
    KnownSystem, Query, Span, Which,
};
use cds_core::ucum::Unit;
use std::fmt;

/// The type of a value in the rule language. Any value may also be absent (no data); that
/// is implicit in every type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    /// Not known to the checker (a FHIRPath result, or after an error): fits anywhere.
    Any,
    /// True or false: a condition.
    Bool,
    /// A plain number (a count, an age, points from a band table).
    Number,
    /// Text.
    Text,
    /// A quantity with a UCUM unit (`None`: some unit not known to the checker), such as a
    /// literal `140 'mm[Hg]'` or an aggregate of readings.
    Quantity(Option<String>),
    /// One observation (`latest observation ...`): its value, usually a quantity in the
    /// expected unit of its code when the checker knows it, or a coded value.
    Reading(Option<String>),
    /// A list of observations (`all observations ...`) with their expected unit if known.
    Readings(Option<String>),
}

impl Type {
    /// The unit of a quantity, reading or list of readings, when known.
    pub fn unit(&self) -> Option<&str> {
        match self {
            Type::Quantity(u) | Type::Reading(u) | Type::Readings(u) => u.as_deref(),
            _ => None,
        }
    }

    /// A number, quantity, single reading, or unknown.
    fn numeric(&self) -> bool {
        matches!(
            self,
            Type::Number | Type::Quantity(_) | Type::Reading(_) | Type::Any
        )
    }

    /// A quantity or reading (has a unit, known or not).
    fn with_unit(&self) -> bool {
        matches!(self, Type::Quantity(_) | Type::Reading(_))
    }
}

impl fmt::Display for Type {
    /// In words, for messages: "a number", "a reading in `mm[Hg]`", ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any value"),
            Type::Bool => f.write_str("true or false"),
            Type::Number => f.write_str("a plain number"),
            Type::Text => f.write_str("text"),
            Type::Quantity(Some(u)) => write!(f, "a quantity in `{u}`"),
            Type::Quantity(None) => f.write_str("a quantity"),
            Type::Reading(Some(u)) => write!(f, "a reading in `{u}`"),
            Type::Reading(None) => f.write_str("a reading"),
            Type::Readings(Some(u)) => write!(f, "a list of readings in `{u}`"),
            Type::Readings(None) => f.write_str("a list of readings"),
        }
    }
}

/// What the `what` of a value is called in messages: the source text when short.
fn called(text: Option<&str>) -> String {
    match text {
        Some(t) if t.len() <= 40 && !t.contains('\n') => format!("`{t}`"),
        _ => "this".to_string(),
    }
}

impl<'a> Checker<'a> {
    /// Type-checks an expression and returns its type.
    pub(crate) fn expr(&mut self, e: &Expr, depth: usize) -> Type {
        if depth > MAX_DEPTH {
            return Type::Any;
        }
        let d = depth + 1;
        match &e.kind {
            ExprKind::Number(_) => Type::Number,
            ExprKind::Quantity { unit, .. } => {
                let ok = self.unit(unit, units::unit_span(self.source, e.span));
                Type::Quantity(ok.then(|| unit.clone()))
            }
            ExprKind::Text(_) => Type::Text,
            ExprKind::Bool(_) => Type::Bool,
            ExprKind::Name(n) => self.resolve(n, e.span),
            ExprKind::Query(q) => {
                codes::check_code(&q.code, &mut self.sink);
                let unit = query_unit(q).map(str::to_string);
                match q.which {
                    Which::All => Type::Readings(unit),
                    _ => Type::Reading(unit),
                }
            }
            ExprKind::Aggregate { func, of } => self.aggregate(*func, of, d),
            ExprKind::Change { kind, of, .. } => {
                let t = self.expr(of, d);
                match t {
                    Type::Readings(u) => Type::Quantity(u),
                    Type::Any => Type::Any,
                    other => {
                        let what = called(self.text(of.span));
                        let help = list_help(of, kind.as_str());
                        self.sink
                            .error(
                                CheckKind::TypeMismatch,
                                of.span,
                                format!(
                                    "`{} in` needs a list of readings, but {what} is {other}",
                                    kind.as_str()
                                ),
                                "not a list of readings",
                            )
                            .help(help);
                        Type::Any
                    }
                }
            }
            ExprKind::Age => Type::Number,
            ExprKind::Active { code, .. } => {
                codes::check_code(code, &mut self.sink);
                Type::Bool
            }
            ExprKind::FhirPath(_) => Type::Any,
            ExprKind::Not(x) => {
                self.condition(x, "`not`", d);
                Type::Bool
            }
            ExprKind::Neg(x) => {
                let t = self.expr(x, d);
                self.arith_operand(&t, x, "-");
                match t {
                    Type::Number => Type::Number,
                    Type::Quantity(u) | Type::Reading(u) => Type::Quantity(u),
                    _ => Type::Any,
                }
            }
            ExprKind::Binary { op, lhs, rhs } => match op {
                BinaryOp::And | BinaryOp::Or => {
                    let ctx = format!("`{}`", op.as_str());
                    self.condition(lhs, &ctx, d);
                    self.condition(rhs, &ctx, d);
                    Type::Bool
                }
                _ => self.arithmetic(*op, lhs, rhs, d),
            },
            ExprKind::Compare { op, lhs, rhs } => {
                let l = self.expr(lhs, d);
                let r = self.expr(rhs, d);
                self.compare(*op, (&l, lhs), (&r, rhs), e.span);
                Type::Bool
            }
            ExprKind::Presence { of, .. } => {
                self.expr(of, d);
                Type::Bool
            }
            ExprKind::HasCode { of, code } => {
                codes::check_code(code, &mut self.sink);
                let t = self.expr(of, d);
                if !matches!(t, Type::Reading(_) | Type::Any) {
                    let what = called(self.text(of.span));
                    let help = if matches!(t, Type::Readings(_)) {
                        "`is CODE` tests one reading: `latest observation ... is snomed ...`"
                    } else {
                        "`is CODE` tests the coded value of a reading, such as \
                         `latest observation loinc 67775-7 is snomed 422768004`"
                    };
                    self.sink
                        .error(
                            CheckKind::TypeMismatch,
                            of.span,
                            format!("`is CODE` needs a reading, but {what} is {t}"),
                            "not a reading",
                        )
                        .help(help);
                }
                Type::Bool
            }
            ExprKind::Convert { of, unit } => {
                let uspan = units::unit_span(self.source, e.span);
                let ok = self.unit(unit, uspan);
                let t = self.expr(of, d);
                let target = ok.then(|| unit.clone());
                match &t {
                    Type::Quantity(_) | Type::Reading(_) | Type::Readings(_) => {
                        if let (Some(from), true) = (t.unit(), ok) {
                            if !units::commensurable(from, unit) {
                                let what = called(self.text(of.span));
                                self.sink
                                    .error(
                                        CheckKind::UnitMismatch,
                                        uspan,
                                        format!(
                                            "{what} is in {} and cannot be converted to {}",
                                            units::with_kind(from),
                                            units::with_kind(unit)
                                        ),
                                        "incommensurable unit",
                                    )
                                    .help(format!(
                                        "convert to a unit of the same kind as `{from}`"
                                    ));
                                return Type::Any;
                            }
                        }
                        if matches!(t, Type::Readings(_)) {
                            Type::Readings(target)
                        } else {
                            Type::Quantity(target)
                        }
                    }
                    Type::Any => Type::Quantity(target),
                    other => {
                        let what = called(self.text(of.span));
                        self.sink
                            .error(
                                CheckKind::TypeMismatch,
                                of.span,
                                format!("`in '{unit}'` converts a quantity, but {what} is {other}"),
                                "not a quantity",
                            )
                            .help(
                                "only quantities and readings have units to convert; a plain \
                                 number has no unit (write a quantity literal as `5 'mg/dL'`)",
                            );
                        Type::Any
                    }
                }
            }
            ExprKind::Round { of, .. } => {
                let t = self.expr(of, d);
                match t {
                    Type::Number => Type::Number,
                    Type::Quantity(u) | Type::Reading(u) => Type::Quantity(u),
                    Type::Readings(u) => Type::Readings(u),
                    Type::Any => Type::Any,
                    other => {
                        let what = called(self.text(of.span));
                        self.sink
                            .error(
                                CheckKind::TypeMismatch,
                                of.span,
                                format!("only numbers can be rounded, but {what} is {other}"),
                                "not a number",
                            )
                            .help(
                                "round a number or a quantity: `temperature rounded to 1 decimal`",
                            );
                        Type::Any
                    }
                }
            }
            ExprKind::Between { of, low, high } => {
                let t = self.expr(of, d);
                let lt = self.expr(low, d);
                let ht = self.expr(high, d);
                self.compare(CmpOp::Ge, (&t, of), (&lt, low), e.span);
                self.compare(CmpOp::Le, (&t, of), (&ht, high), e.span);
                Type::Bool
            }
            ExprKind::Case { arms, otherwise } => self.case(arms, otherwise.as_deref(), d),
            ExprKind::Bands {
                of,
                rows,
                otherwise,
            } => self.bands(of, rows, otherwise.as_deref(), d),
        }
    }

    /// Checks that a unit is UCUM; returns whether it is.
    pub(crate) fn unit(&mut self, unit: &str, span: Span) -> bool {
        let Err(e) = units::parse(unit) else {
            if let Some((usual, same)) = units::respelling(unit) {
                let (message, help) = if same {
                    (
                        format!("`{unit}` is usually written `{usual}`"),
                        format!("write `'{usual}'`, the spelling FHIR data and labs use"),
                    )
                } else {
                    (
                        format!("`{unit}` is not `{usual}`: UCUM units are case-sensitive"),
                        format!("did you mean `'{usual}'`?"),
                    )
                };
                self.sink
                    .warning(CheckKind::UnitSpelling, span, message, "unusual spelling")
                    .help(help);
            }
            return true;
        };
        let help = match units::hint(unit) {
            Some(good) => format!("did you mean `'{good}'`? Units are UCUM codes"),
            None => "units are UCUM codes, case-sensitive: `'mm[Hg]'`, `'mg/dL'`, `'mmol/L'`, \
                     `'%'`, `'Cel'`, `'/min'`, `'kg'`"
                .to_string(),
        };
        let problem = match e {
            cds_core::ucum::UcumError::Syntax { problem, .. } => problem.to_string(),
            other => other.to_string(),
        };
        self.sink
            .error(
                CheckKind::UnknownUnit,
                span,
                format!("`{unit}` is not a UCUM unit"),
                problem,
            )
            .help(help);
        false
    }

    /// Checks that an expression is a condition (true/false).
    pub(crate) fn condition(&mut self, e: &Expr, ctx: &str, depth: usize) {
        let t = self.expr(e, depth);
        if matches!(t, Type::Bool | Type::Any) {
            return;
        }
        let what = called(self.text(e.span));
        let name = self.text(e.span).filter(|t| t.len() <= 40).unwrap_or("X");
        let help = match &t {
            Type::Reading(Some(u)) | Type::Quantity(Some(u)) => format!(
                "compare it with a value, such as `{name} >= 100 '{u}'`, or test `{name} is present`"
            ),
            Type::Reading(None) | Type::Quantity(None) | Type::Number => format!(
                "compare it with a value, such as `{name} >= 3`, or test `{name} is present`"
            ),
            Type::Readings(_) => {
                format!("test whether there are readings: `count of {name} > 0`")
            }
            Type::Text => format!("compare it: `{name} = \"...\"`"),
            Type::Bool | Type::Any => String::new(),
        };
        self.sink
            .error(
                CheckKind::NotBoolean,
                e.span,
                format!("{ctx} needs a condition (true or false), but {what} is {t}"),
                "not a condition",
            )
            .help(help);
    }

    fn aggregate(&mut self, func: AggregateFn, of: &Expr, d: usize) -> Type {
        let t = self.expr(of, d);
        match (&t, func) {
            (Type::Readings(_) | Type::Any, AggregateFn::Count) => Type::Number,
            (Type::Readings(u), _) => Type::Quantity(u.clone()),
            (Type::Any, _) => Type::Any,
            _ => {
                let what = called(self.text(of.span));
                let help = list_help(of, func.as_str());
                self.sink
                    .error(
                        CheckKind::TypeMismatch,
                        of.span,
                        format!(
                            "`{} of` needs a list of readings, but {what} is {t}",
                            func.as_str()
                        ),
                        "not a list of readings",
                    )
                    .help(help);
                if func == AggregateFn::Count {
                    Type::Number
                } else {
                    Type::Any
                }
            }
        }
    }

    /// Reports an operand of arithmetic that is not a number.
    fn arith_operand(&mut self, t: &Type, e: &Expr, op: &str) -> bool {
        if t.numeric() {
            return true;
        }
        let what = called(self.text(e.span));
        let help = match t {
            Type::Readings(_) => {
                "use one reading (`latest observation ...`) or an aggregate (`average of ...`)"
            }
            Type::Bool => {
                "arithmetic needs numbers; true/false values are combined with `and`, `or`, `not`"
            }
            _ => "arithmetic needs numbers or quantities",
        };
        self.sink
            .error(
                CheckKind::TypeMismatch,
                e.span,
                format!("`{op}` needs numbers, but {what} is {t}"),
                "not a number",
            )
            .help(help);
        false
    }

    fn arithmetic(&mut self, op: BinaryOp, lhs: &Expr, rhs: &Expr, d: usize) -> Type {
        let l = self.expr(lhs, d);
        let r = self.expr(rhs, d);
        let ok_l = self.arith_operand(&l, lhs, op.as_str());
        let ok_r = self.arith_operand(&r, rhs, op.as_str());
        if !ok_l || !ok_r {
            return Type::Any;
        }
        if l == Type::Any || r == Type::Any {
            return Type::Any;
        }
        match op {
            BinaryOp::Add | BinaryOp::Sub => {
                if let (Some(a), Some(b)) = (l.unit(), r.unit()) {
                    if !units::commensurable(a, b) {
                        self.unit_mismatch(
                            (lhs, a),
                            (rhs, b),
                            &format!(
                                "cannot {} them",
                                if op == BinaryOp::Add {
                                    "add"
                                } else {
                                    "subtract"
                                }
                            ),
                        );
                        return Type::Any;
                    }
                }
                let verb = if op == BinaryOp::Add {
                    "added to"
                } else {
                    "combined with"
                };
                if self.plain_vs_unit((&l, lhs), (&r, rhs), verb) {
                    return Type::Any;
                }
                if l.with_unit() || r.with_unit() {
                    Type::Quantity(l.unit().or(r.unit()).map(str::to_string))
                } else {
                    Type::Number
                }
            }
            _ => {
                if !l.with_unit() && !r.with_unit() {
                    return Type::Number;
                }
                let unit_of = |t: &Type| -> Option<std::sync::Arc<Unit>> {
                    if t.with_unit() {
                        units::parse(t.unit()?).ok()
                    } else {
                        Some(Unit::unity())
                    }
                };
                let combined = match (unit_of(&l), unit_of(&r)) {
                    (Some(a), Some(b)) => if op == BinaryOp::Mul {
                        a.multiply(&b)
                    } else {
                        a.divide(&b)
                    }
                    .ok(),
                    _ => None,
                };
                match combined {
                    Some(u) if u.code() == "1" => Type::Number,
                    Some(u) => Type::Quantity(Some(u.code().to_string())),
                    None => Type::Quantity(None),
                }
            }
        }
    }

    fn unit_mismatch(&mut self, (a, ua): (&Expr, &str), (b, ub): (&Expr, &str), what: &str) {
        let an = called(self.text(a.span));
        let bn = called(self.text(b.span));
        // Point at the literal side when there is one: that is usually what to fix.
        let (at, at_unit, other, other_unit) = if is_literal(a) && !is_literal(b) {
            (units::unit_span(self.source, a.span), ua, b, ub)
        } else if is_literal(b) {
            (units::unit_span(self.source, b.span), ub, a, ua)
        } else {
            (b.span, ub, a, ua)
        };
        let help = if is_literal(a) || is_literal(b) {
            format!("write the value in `{other_unit}` (or a unit of the same kind)")
        } else {
            "only quantities of the same kind can be compared or added: check the codes and units"
                .to_string()
        };
        self.sink
            .error(
                CheckKind::UnitMismatch,
                at,
                format!(
                    "{an} is in {} but {bn} is in {}: {what}",
                    units::with_kind(ua),
                    units::with_kind(ub)
                ),
                format!("in `{at_unit}`"),
            )
            .related(other.span, format!("in `{other_unit}`"))
            .help(help);
    }

    /// Reports a computed plain number (a count, an age, points; not a number literal,
    /// which is read in the other side's unit) used with a quantity of a unit that is not
    /// dimensionless. Returns whether it did.
    fn plain_vs_unit(
        &mut self,
        (l, le): (&Type, &Expr),
        (r, re): (&Type, &Expr),
        verb: &str,
    ) -> bool {
        let plain =
            |t: &Type, e: &Expr| *t == Type::Number && !matches!(e.kind, ExprKind::Number(_));
        let dimensional = |t: &Type| {
            t.with_unit()
                && t.unit()
                    .is_some_and(|u| units::parse(u).is_ok_and(|u| !u.is_dimensionless()))
        };
        let (p, q, qt) = if plain(l, le) && dimensional(r) {
            (le, re, r)
        } else if plain(r, re) && dimensional(l) {
            (re, le, l)
        } else {
            return false;
        };
        let unit = qt.unit().unwrap_or_default();
        let pn = called(self.text(p.span));
        let at = if is_literal(q) {
            units::unit_span(self.source, q.span)
        } else {
            q.span
        };
        self.sink
            .error(
                CheckKind::TypeMismatch,
                at,
                format!(
                    "{pn} is a plain number and cannot be {verb} a quantity in {}",
                    units::with_kind(unit)
                ),
                format!("in `{unit}`"),
            )
            .related(p.span, "a plain number")
            .help(if is_literal(q) {
                format!("write the value without a unit: {pn} has none")
            } else {
                "a count, an age or points have no unit: compare them with plain numbers"
                    .to_string()
            });
        true
    }

    /// Checks that two values can be compared with `op`.
    fn compare(&mut self, op: CmpOp, (l, le): (&Type, &Expr), (r, re): (&Type, &Expr), span: Span) {
        if *l == Type::Any || *r == Type::Any {
            return;
        }
        for (t, e) in [(l, le), (r, re)] {
            if let Type::Readings(_) = t {
                let what = called(self.text(e.span));
                self.sink
                    .error(
                        CheckKind::TypeMismatch,
                        e.span,
                        format!("{what} is a list of readings and cannot be compared"),
                        "a list of readings",
                    )
                    .help(
                        "compare one reading (`latest observation ...`) or an aggregate \
                         (`max of ...`, `average of ...`, `count of ...`)",
                    );
                return;
            }
        }
        let ordering = !matches!(op, CmpOp::Eq | CmpOp::Ne);
        let ln = called(self.text(le.span));
        let rn = called(self.text(re.span));
        match (l, r) {
            _ if l.numeric() && r.numeric() => {
                if let (Some(a), Some(b)) = (l.unit(), r.unit()) {
                    if !units::commensurable(a, b) {
                        self.unit_mismatch((le, a), (re, b), "they cannot be compared");
                    }
                } else {
                    self.plain_vs_unit((l, le), (r, re), "compared with");
                }
            }
            (Type::Text, Type::Text) | (Type::Bool, Type::Bool) if !ordering => {}
            (Type::Text, Type::Text) => {
                self.sink
                    .error(
                        CheckKind::TypeMismatch,
                        span,
                        format!(
                            "text can only be compared with `=` or `!=`, not `{}`",
                            op.as_str()
                        ),
                        "ordering of text",
                    )
                    .help("use `=` or `!=` to compare text");
            }
            (Type::Bool, Type::Bool) => {
                self.sink
                    .error(
                        CheckKind::TypeMismatch,
                        span,
                        format!("true/false values cannot be ordered with `{}`", op.as_str()),
                        "ordering of true/false",
                    )
                    .help("use the condition itself, `not`, or `=` / `!=`");
            }
            _ => {
                let at_right = is_literal(re) || matches!(r, Type::Text | Type::Bool);
                let (at, at_t, other, other_t) = if at_right {
                    (re, r, le, l)
                } else {
                    (le, l, re, r)
                };
                let coded = matches!(
                    (l, r),
                    (Type::Reading(_), Type::Text) | (Type::Text, Type::Reading(_))
                );
                let help = if coded {
                    "a coded reading is tested with `is`: `X is snomed 422768004` or \
                     `X is code \"http://system\" \"code\"`"
                        .to_string()
                } else {
                    format!(
                        "compare values of the same type: {} is {other_t}",
                        called(self.text(other.span))
                    )
                };
                self.sink
                    .error(
                        CheckKind::TypeMismatch,
                        at.span,
                        format!("{ln} is {l} but {rn} is {r}: they cannot be compared"),
                        at_t.to_string(),
                    )
                    .related(other.span, other_t.to_string())
                    .help(help);
            }
        }
    }

    fn case(&mut self, arms: &[CaseArm], otherwise: Option<&Expr>, d: usize) -> Type {
        let mut values = Vec::new();
        for arm in arms {
            self.condition(&arm.when, "a `case` arm's `when`", d);
            let t = self.expr(&arm.then, d);
            values.push((t, &arm.then));
        }
        if let Some(o) = otherwise {
            let t = self.expr(o, d);
            values.push((t, o));
        }
        self.unify(&values, "case arms")
    }

    /// The common type of band rows' or case arms' values; reports mixed types.
    fn unify(&mut self, values: &[(Type, &Expr)], what: &str) -> Type {
        let Some((first, fe)) = values.iter().find(|(t, _)| *t != Type::Any) else {
            return Type::Any;
        };
        for (t, e) in values {
            if *t == Type::Any || std::ptr::eq(*e, *fe) {
                continue;
            }
            let same_kind = match (first, t) {
                (a, b) if a.with_unit() && b.with_unit() => true,
                (Type::Readings(_), Type::Readings(_)) => true,
                (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
            };
            if !same_kind {
                let fnm = called(self.text(fe.span));
                self.sink
                    .error(
                        CheckKind::MixedTypes,
                        e.span,
                        format!("the {what} give values of different types: {t} here, {first} for {fnm}"),
                        format!("{t}"),
                    )
                    .related(fe.span, format!("{first}"))
                    .help(format!(
                        "all {what} must give the same type of value (all numbers, all quantities of one kind, all text, or all true/false)"
                    ));
                return Type::Any;
            }
            if let (Some(a), Some(b)) = (first.unit(), t.unit()) {
                if !units::commensurable(a, b) {
                    self.sink
                        .error(
                            CheckKind::UnitMismatch,
                            units::unit_span(self.source, e.span),
                            format!(
                                "the {what} give quantities of different kinds: {} here, {} for {}",
                                units::with_kind(b),
                                units::with_kind(a),
                                called(self.text(fe.span))
                            ),
                            format!("`{b}`"),
                        )
                        .related(fe.span, format!("`{a}`"))
                        .help(format!("all {what} must give quantities of the same kind"));
                    return Type::Any;
                }
            }
        }
        match first {
            Type::Reading(u) => Type::Quantity(u.clone()),
            t => t.clone(),
        }
    }

    fn bands(&mut self, of: &Expr, rows: &[BandRow], otherwise: Option<&Expr>, d: usize) -> Type {
        let subject = self.expr(of, d);
        let subject_ok = match &subject {
            t if t.numeric() => true,
            other => {
                let what = called(self.text(of.span));
                let help = if matches!(other, Type::Readings(_)) {
                    "band one value: `bands of latest observation ...` or of an aggregate"
                } else {
                    "band tables look up a number or a quantity"
                };
                self.sink
                    .error(
                        CheckKind::TypeMismatch,
                        of.span,
                        format!("`bands of` needs a number or a quantity, but {what} is {other}"),
                        "not a number",
                    )
                    .help(help);
                false
            }
        };
        let mut first_bound: Option<(bool, Span)> = None; // (has unit, where)
        let mut values = Vec::new();
        for row in rows {
            let bounds: Vec<&Expr> = match &row.range {
                BandRange::Compare { bound, .. } => vec![bound],
                BandRange::Span { low, high } => vec![low, high],
                BandRange::Exact(x) => vec![x],
            };
            for b in bounds {
                let bt = self.expr(b, d);
                if !subject_ok || bt == Type::Any {
                    continue;
                }
                if !bt.numeric() {
                    self.sink
                        .error(
                            CheckKind::TypeMismatch,
                            b.span,
                            format!("band bounds are numbers or quantities, but this is {bt}"),
                            "not a number",
                        )
                        .help("write bounds such as `<= 8`, `9 to 11` or `92 '%' to 93 '%'`");
                    continue;
                }
                let has_unit = bt.with_unit();
                match first_bound {
                    None => first_bound = Some((has_unit, b.span)),
                    Some((fu, fs)) if fu != has_unit => {
                        self.sink
                            .error(
                                CheckKind::MixedTypes,
                                b.span,
                                "the band bounds mix plain numbers and quantities",
                                if has_unit {
                                    "with a unit"
                                } else {
                                    "without a unit"
                                },
                            )
                            .related(fs, if fu { "with a unit" } else { "without a unit" })
                            .help("write every bound with its unit, or every bound without");
                        first_bound = Some((has_unit, b.span));
                    }
                    _ => {}
                }
                let dimensional = bt
                    .unit()
                    .is_some_and(|u| units::parse(u).is_ok_and(|u| !u.is_dimensionless()));
                if dimensional && subject == Type::Number {
                    let what = called(self.text(of.span));
                    self.sink
                        .error(
                            CheckKind::TypeMismatch,
                            b.span,
                            format!("{what} is a plain number, but this bound has a unit"),
                            "bound with a unit",
                        )
                        .related(of.span, "a plain number")
                        .help("write the bound without a unit, as the value is a plain number");
                } else if let (Some(su), Some(bu)) = (subject.unit(), bt.unit()) {
                    if !units::commensurable(su, bu) {
                        let what = called(self.text(of.span));
                        self.sink
                            .error(
                                CheckKind::UnitMismatch,
                                units::unit_span(self.source, b.span),
                                format!(
                                    "{what} is in {} but this bound is in {}",
                                    units::with_kind(su),
                                    units::with_kind(bu)
                                ),
                                format!("`{bu}` here"),
                            )
                            .related(of.span, format!("in `{su}`"))
                            .help(format!(
                                "write the bounds in `{su}` (or a unit of the same kind)"
                            ));
                    }
                }
            }
            let t = self.expr(&row.value, d);
            values.push((t, &row.value));
        }
        if let Some(o) = otherwise {
            let t = self.expr(o, d);
            values.push((t, o));
        }
        never::check_band_rows(self, rows);
        self.unify(&values, "band rows")
    }
}

fn is_literal(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Number(_) | ExprKind::Quantity { .. })
}

/// Help for an aggregate or change of something that is not a list of readings.
fn list_help(of: &Expr, func: &str) -> String {
    match &of.kind {
        ExprKind::Query(q) if q.which != Which::All => format!(
            "`{func}` works on all readings: write `all observations` instead of `{} observation`",
            q.which.as_str()
        ),
        _ => "use a list of readings, such as `all observations loinc 2160-0 within 7 days` or a \
              name defined as one"
            .to_string(),
    }
}

/// The usual unit of a query's code, when the checker knows it.
fn query_unit(q: &Query) -> Option<&'static str> {
    match &q.code.kind {
        CodeSpecKind::Known {
            system: KnownSystem::Loinc,
            code,
        } => units::loinc_unit(code),
        CodeSpecKind::Explicit { system, code } if system == KnownSystem::Loinc.uri() => {
            units::loinc_unit(code)
        }
        _ => None,
    }
}
