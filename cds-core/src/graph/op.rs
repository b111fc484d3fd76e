//! The operations of graph nodes: data queries, derived values and predicates.
//!
//! An [`Op`] with its input nodes is the identity of a node: two nodes with the same op and
//! the same inputs compute the same value, so the builder keeps only one.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rust_decimal::Decimal;

use super::value::Value;
use crate::fhirpath;
use crate::temporal::{CalendarUnit, DateTime};

/// A span of time before the evaluation time: `within 90 days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: PeriodUnit,
}

/// The unit of a [`Period`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeriodUnit {
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Days.
    Days,
    /// Weeks.
    Weeks,
    /// Calendar months.
    Months,
    /// Calendar years.
    Years,
}

impl Period {
    /// The first millisecond of the window that ends at `at` (the latest instant `at` can
    /// mean): `at - period`, with calendar arithmetic for months and years.
    pub fn window_ending_at(&self, at: &DateTime) -> crate::data::Window {
        let to_ms = at.upper_bound_millis(0);
        let fixed = |unit_ms: i64| to_ms.saturating_sub(unit_ms.saturating_mul(self.amount.into()));
        let from_ms = match self.unit {
            PeriodUnit::Minutes => fixed(60_000),
            PeriodUnit::Hours => fixed(3_600_000),
            PeriodUnit::Days => fixed(86_400_000),
            PeriodUnit::Weeks => fixed(7 * 86_400_000),
            PeriodUnit::Months | PeriodUnit::Years => {
                let unit = if self.unit == PeriodUnit::Months {
                    CalendarUnit::Month
                } else {
                    CalendarUnit::Year
                };
                let days = if self.unit == PeriodUnit::Months {
                    30
                } else {
                    365
                };
                match DateTime::from_epoch_millis(to_ms, 0)
                    .and_then(|end| end.add(-Decimal::from(self.amount), unit))
                {
                    Ok(start) => start.lower_bound_millis(0),
                    Err(_) => fixed(days * 86_400_000),
                }
            }
        };
        crate::data::Window { from_ms, to_ms }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (one, many) = match self.unit {
            PeriodUnit::Minutes => ("minute", "minutes"),
            PeriodUnit::Hours => ("hour", "hours"),
            PeriodUnit::Days => ("day", "days"),
            PeriodUnit::Weeks => ("week", "weeks"),
            PeriodUnit::Months => ("month", "months"),
            PeriodUnit::Years => ("year", "years"),
        };
        let word = if self.amount == 1 { one } else { many };
        write!(f, "{} {word}", self.amount)
    }
}

/// Which codes a query or test matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CodeFilter {
    /// One code of one system.
    Code {
        /// The system URI.
        system: String,
        /// The code.
        code: String,
    },
    /// Every code of a value set (resolved against the graph's value sets).
    ValueSet(String),
}

impl fmt::Display for CodeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeFilter::Code { system, code } => write!(f, "{system}|{code}"),
            CodeFilter::ValueSet(url) => write!(f, "value set {url}"),
        }
    }
}

/// A constant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Literal {
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(Decimal),
    /// A number with a UCUM unit code.
    Quantity(Decimal, String),
    /// Text.
    Text(String),
}

/// Which clinical fact about the patient's conditions and medications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActiveKind {
    /// An active Condition.
    Condition,
    /// An active MedicationRequest (status `active`).
    Medication,
    /// A MedicationRequest being ordered (status `draft`): the `draftOrders` of the CDS Hooks
    /// `order-select` and `order-sign` hooks, which the caller puts into the record.
    OrderedMedication,
}

/// Which reading of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Which {
    /// The most recent.
    Latest,
    /// The oldest.
    Earliest,
}

/// Arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arith {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

/// Comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Eq,
    /// `!=`
    Ne,
}

impl Cmp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
        }
    }

    /// Whether an ordering satisfies the comparison.
    pub fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Lt => o == Less,
            Cmp::Le => o != Greater,
            Cmp::Gt => o == Greater,
            Cmp::Ge => o != Less,
            Cmp::Eq => o == Equal,
            Cmp::Ne => o != Equal,
        }
    }
}

/// Aggregates over readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    /// How many (0 for none).
    Count,
    /// The lowest reading.
    Min,
    /// The highest reading.
    Max,
    /// The mean.
    Average,
    /// The total.
    Sum,
}

/// Differences between readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// Latest minus earliest.
    Change,
    /// Latest minus the lowest before it.
    Rise,
    /// The highest before the latest minus the latest.
    Fall,
}

/// How a band row matches its subject. The bounds are the row's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BandTest {
    /// Compared with one bound (`<= 8`).
    Cmp(Cmp),
    /// Between two bounds, inclusive (`9 to 11`).
    Span,
    /// Equal to one bound (`12`).
    Exact,
}

impl BandTest {
    /// How many bound inputs the row has.
    pub fn bounds(self) -> usize {
        match self {
            BandTest::Span => 2,
            _ => 1,
        }
    }
}

/// A parsed FHIRPath expression; nodes compare by the expression text.
#[derive(Clone)]
pub struct FhirPathOp {
    /// The parsed expression.
    pub expr: Arc<fhirpath::Expr>,
}

impl FhirPathOp {
    /// The resource type the expression starts from (`Observation.where(...)` → Observation),
    /// or `None` when it does not start with one.
    pub fn lead_type(&self) -> Option<&'static str> {
        let lead: String = self
            .expr
            .source()
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        crate::data::intern_resource_type(&lead)
    }
}

impl fmt::Debug for FhirPathOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fhirpath {:?}", self.expr.source())
    }
}

impl PartialEq for FhirPathOp {
    fn eq(&self, other: &Self) -> bool {
        self.expr.source() == other.expr.source()
    }
}
impl Eq for FhirPathOp {}
impl Hash for FhirPathOp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.expr.source().hash(state)
    }
}

/// A calculation in a scripting language (rhai, supplied by `cds-rules`): a graph node whose
/// inputs are the values the script reads.
pub trait ScriptFn: Send + Sync {
    /// The name the script is known by (for explanations).
    fn name(&self) -> &str;
    /// A key that identifies the script's behaviour (its text): equal keys, equal results.
    fn key(&self) -> &str;
    /// Runs the script on its input values. The error message must not contain the values.
    fn run(&self, inputs: &[Value<'_>]) -> Result<Value<'static>, String>;
}

/// A script node's function; nodes compare by [`ScriptFn::key`].
#[derive(Clone)]
pub struct ScriptOp(pub Arc<dyn ScriptFn>);

impl fmt::Debug for ScriptOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "script {}", self.0.name())
    }
}
impl PartialEq for ScriptOp {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}
impl Eq for ScriptOp {}
impl Hash for ScriptOp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.key().hash(state)
    }
}

/// What a node computes from its inputs (listed per variant).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// A constant (no inputs).
    Const(Literal),
    /// The patient's observations with a code, in time order, within a period before the
    /// evaluation time (no inputs). Gives readings.
    Observations {
        /// The codes.
        code: CodeFilter,
        /// The window, if any.
        window: Option<Period>,
    },
    /// The latest or earliest of its input readings.
    Pick(Which),
    /// The patient's age in whole years (no inputs).
    Age,
    /// Whether the patient has an active condition / medication, or a medication being
    /// ordered, with a code (no inputs).
    Active {
        /// Condition, medication or ordered medication.
        kind: ActiveKind,
        /// The codes.
        code: CodeFilter,
    },
    /// A FHIRPath expression over the patient's resources (no inputs).
    FhirPath(FhirPathOp),
    /// A script over its inputs.
    Script(ScriptOp),
    /// Boolean negation (three-valued).
    Not,
    /// Conjunction of two inputs (three-valued).
    And,
    /// Disjunction of two inputs (three-valued).
    Or,
    /// Arithmetic negation.
    Neg,
    /// Arithmetic on two inputs.
    Arith(Arith),
    /// Comparison of two inputs.
    Compare(Cmp),
    /// Whether the input is present (`true`) or absent (`false`).
    Present(bool),
    /// Whether the coded value of the input reading matches.
    HasCode(CodeFilter),
    /// The input quantity in a UCUM unit.
    Convert(String),
    /// The input rounded half away from zero to this many decimals.
    Round(u32),
    /// Whether input 0 is between inputs 1 and 2, inclusive.
    Between,
    /// An aggregate of the input readings.
    Aggregate(AggregateFn),
    /// The input readings within a period before the evaluation time.
    Within(Period),
    /// The difference between the input readings.
    Change(ChangeKind),
    /// `case`: inputs are condition, value pairs, then the otherwise value if any.
    Case {
        /// Number of arms.
        arms: usize,
        /// Whether the last input is the otherwise value.
        otherwise: bool,
    },
    /// A band table: input 0 is the subject; then per row its bounds and its value; then the
    /// otherwise value if any.
    Bands {
        /// The row tests.
        rows: Vec<BandTest>,
        /// Whether the last input is the otherwise value.
        otherwise: bool,
    },
    /// A card: input 0 is the rule's condition, the others its template values and evidence.
    /// The number indexes the graph's card specs. Never shared.
    Card(usize),
}

impl Op {
    /// Whether the inputs may be reordered without changing the value (so that `a and b` and
    /// `b and a` share a node).
    pub fn is_commutative(&self) -> bool {
        matches!(
            self,
            Op::And
                | Op::Or
                | Op::Arith(Arith::Add)
                | Op::Arith(Arith::Mul)
                | Op::Compare(Cmp::Eq)
                | Op::Compare(Cmp::Ne)
        )
    }

    /// A short name of the kind of node, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Const(_) => "constant",
            Op::Observations { .. } | Op::Age | Op::Active { .. } | Op::FhirPath(_) => "query",
            Op::Card(_) => "card",
            Op::Compare(_)
            | Op::And
            | Op::Or
            | Op::Not
            | Op::Present(_)
            | Op::HasCode(_)
            | Op::Between => "predicate",
            _ => "derived",
        }
    }
}
