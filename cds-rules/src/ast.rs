//! The syntax tree of a ruleset, as written by its author.
//!
//! Every node carries the byte [`Span`] of its text in the ruleset file so that later stages
//! (checker, compiler, evaluation) can point back at the source. Literal values are typed
//! (decimal numbers, quantities with their UCUM unit text, decoded strings) and codes carry
//! their system. Two trees can be compared regardless of positions with
//! [`Ruleset::without_spans`].
//!
//! ```
//! let rs = cds_rules::parse("ruleset demo version 1.0.0\ndefine a = age", "demo.rules").unwrap();
//! assert_eq!(rs.header.name.name, "demo");
//! assert!(matches!(rs.items[0], cds_rules::ast::Item::Define(_)));
//! ```

use rust_decimal::Decimal;

/// A byte range in the ruleset file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> miette::SourceSpan {
        miette::SourceSpan::new(s.start.into(), s.end.saturating_sub(s.start))
    }
}

/// A name or identifier with its position: a ruleset name, rule id, hook or definition name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name as written.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A line comment (`# ...` or `// ...`), kept so that formatting does not lose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The comment text including its `#` or `//` marker, without trailing spaces.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

/// A decoded string literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The value after escapes are decoded (for `"""` strings: verbatim).
    pub value: String,
    /// The whole literal including its quotes.
    pub span: Span,
}

/// One piece of a text with `{name}` interpolation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// The value of a definition, written `{name}`.
    Name(Ident),
}

/// A card text (summary or detail) that may interpolate definitions as `{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Literal pieces and interpolated names, in order.
    pub parts: Vec<TemplatePart>,
    /// The whole literal including its quotes.
    pub span: Span,
}

/// A semantic version `X.Y.Z` with an optional `-pre` suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release suffix after `-`, if any.
    pub pre: Option<String>,
    /// Where it is written.
    pub span: Span,
}

/// A whole ruleset file.
#[derive(Debug, Clone, PartialEq)]
pub struct Ruleset {
    /// The `ruleset NAME version X.Y.Z` header.
    pub header: Header,
    /// Definitions, scores and rules in file order.
    pub items: Vec<Item>,
    /// Comments after the last item.
    pub trailing_comments: Vec<Comment>,
}

/// The ruleset header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Comments before (or inside) the header.
    pub comments: Vec<Comment>,
    /// The ruleset name.
    pub name: Ident,
    /// Its version.
    pub version: Version,
    /// Its one-line description.
    pub description: Option<Text>,
    /// The CDS Hooks it answers (`patient-view`, `order-sign`, ...).
    pub answers: Vec<Ident>,
    /// The whole header.
    pub span: Span,
}

/// A top-level item.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // a handful per file; boxing would only add noise
pub enum Item {
    /// `define NAME = EXPR`
    Define(Define),
    /// `score NAME using rhai """..."""`
    Score(Score),
    /// `rule ID when ... then ...`
    Rule(Rule),
}

impl Item {
    /// The comments attached to this item (written before or inside it).
    pub fn comments(&self) -> &[Comment] {
        match self {
            Item::Define(d) => &d.comments,
            Item::Score(s) => &s.comments,
            Item::Rule(r) => &r.comments,
        }
    }

    /// The span of the whole item.
    pub fn span(&self) -> Span {
        match self {
            Item::Define(d) => d.span,
            Item::Score(s) => s.span,
            Item::Rule(r) => r.span,
        }
    }
}

/// `define NAME = EXPR`: a named value used by rules and other definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Define {
    /// Comments written before or inside it.
    pub comments: Vec<Comment>,
    /// The defined name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
    /// The whole item.
    pub span: Span,
}

/// `score NAME using rhai """..."""`: a calculation in sandboxed rhai.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// Comments written before or inside it.
    pub comments: Vec<Comment>,
    /// The name of the score, usable like a definition.
    pub name: Ident,
    /// The rhai script text (verbatim, between the triple quotes).
    pub script: Text,
    /// The whole item.
    pub span: Span,
}

/// A rule: a condition and the card it raises.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Comments written before or inside it.
    pub comments: Vec<Comment>,
    /// The rule id (unique within the ruleset; checked later).
    pub id: Ident,
    /// The `when` condition.
    pub when: Expr,
    /// The `then` card.
    pub card: Card,
    /// The whole item.
    pub span: Span,
}

/// How urgent a card is (CDS Hooks `indicator`): the engine's own type, so that the
/// compiler passes it through unchanged.
pub use cds_core::card::Indicator;

/// The card a rule raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// `info`, `warning` or `critical`.
    pub indicator: Indicator,
    /// Where the indicator is written.
    pub indicator_span: Span,
    /// The summary (at most 140 characters once interpolated; checked later).
    pub summary: Template,
    /// `detail "..."` (markdown).
    pub detail: Option<Template>,
    /// `source "label" link "url" icon "url"`.
    pub source: Option<Source>,
    /// `link "label" "url"`, repeatable.
    pub links: Vec<Link>,
    /// `suggest "label" create|update|delete ...`, repeatable.
    pub suggestions: Vec<Suggestion>,
    /// `override reason "code" "display"`, repeatable.
    pub override_reasons: Vec<OverrideReason>,
    /// `system action create|update|delete ...`, repeatable.
    pub system_actions: Vec<Action>,
}

/// The source of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The label.
    pub label: Text,
    /// An optional URL.
    pub url: Option<Text>,
    /// An optional icon URL.
    pub icon: Option<Text>,
    /// The whole clause.
    pub span: Span,
}

/// A link on a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The label.
    pub label: Text,
    /// The URL.
    pub url: Text,
    /// The whole clause.
    pub span: Span,
}

/// A suggestion: a label and the actions it performs when accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The label shown to the clinician.
    pub label: Text,
    /// One or more actions.
    pub actions: Vec<Action>,
    /// The whole clause.
    pub span: Span,
}

/// What an action does (create, update or delete): the engine's own type.
pub use cds_core::graph::ActionKind;

/// A create/update/delete action. For create and update the body is a JSON resource
/// template (validated as JSON when parsing); for delete it is a reference such as
/// `MedicationRequest/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// What it does.
    pub kind: ActionKind,
    /// The resource template or reference.
    pub body: Text,
    /// The whole action.
    pub span: Span,
}

/// `override reason "code" "display"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideReason {
    /// The reason code.
    pub code: Text,
    /// Its display text.
    pub display: Text,
    /// The whole clause.
    pub span: Span,
}

/// An expression with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A plain number: `3`, `0.5`, `-2`.
    Number(Decimal),
    /// A number with a UCUM unit: `140 'mm[Hg]'`.
    Quantity {
        /// The number.
        value: Decimal,
        /// The UCUM unit text between the quotes.
        unit: String,
    },
    /// A string: `"text"`.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// A reference to a definition or score.
    Name(String),
    /// `latest|earliest|all observation(s) CODE [within N UNIT]`.
    Query(Query),
    /// `count|min|max|average|sum of EXPR`.
    Aggregate {
        /// Which aggregate.
        func: AggregateFn,
        /// Over what (usually a query of all observations).
        of: Box<Expr>,
    },
    /// `change|rise|fall in EXPR [within N UNIT]`: the difference between readings.
    Change {
        /// Which difference.
        kind: ChangeKind,
        /// The readings.
        of: Box<Expr>,
        /// Only readings in this window (relative to evaluation time).
        window: Option<Window>,
    },
    /// `age`: the patient's age in whole years at the evaluation time.
    Age,
    /// `active condition CODE`, `active medication CODE` or `ordered medication CODE`.
    Active {
        /// Which kind of resource, in which state.
        kind: ActiveKind,
        /// Which code or value set.
        code: CodeSpec,
    },
    /// `fhirpath "..."`: a FHIRPath expression (validated when parsing).
    FhirPath(Text),
    /// `not EXPR`.
    Not(Box<Expr>),
    /// `- EXPR` (never directly on a number literal: `-2` is a number).
    Neg(Box<Expr>),
    /// Arithmetic and logic with two operands.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// A comparison.
    Compare {
        /// The operator.
        op: CmpOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `EXPR is present` (`present: true`) or `EXPR is absent`.
    Presence {
        /// The value tested.
        of: Box<Expr>,
        /// Whether the test is for presence.
        present: bool,
    },
    /// `EXPR is CODE`: the coded value of a reading has this coding (or is in the value set).
    HasCode {
        /// The reading tested.
        of: Box<Expr>,
        /// The code or value set.
        code: CodeSpec,
    },
    /// `EXPR in 'unit'`: a quantity converted to a UCUM unit.
    Convert {
        /// The quantity.
        of: Box<Expr>,
        /// The UCUM unit text between the quotes.
        unit: String,
    },
    /// `EXPR rounded to N decimal(s)`: rounded half away from zero.
    Round {
        /// The number or quantity.
        of: Box<Expr>,
        /// Decimal places kept.
        places: u32,
    },
    /// `EXPR between LOW and HIGH` (inclusive).
    Between {
        /// The value tested.
        of: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
    },
    /// `case when C then V ... otherwise V end`.
    Case {
        /// The arms, tried in order.
        arms: Vec<CaseArm>,
        /// The value when no arm matches (absent if missing).
        otherwise: Option<Box<Expr>>,
    },
    /// `bands of EXPR  ROW -> V ... otherwise V end`: a band table.
    Bands {
        /// The value being banded.
        of: Box<Expr>,
        /// The rows, tried in order.
        rows: Vec<BandRow>,
        /// The value when no row matches (absent if missing).
        otherwise: Option<Box<Expr>>,
    },
}

/// One `when C then V` arm of a `case`.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseArm {
    /// The condition.
    pub when: Expr,
    /// The value.
    pub then: Expr,
    /// The whole arm.
    pub span: Span,
}

/// One row of a band table.
#[derive(Debug, Clone, PartialEq)]
pub struct BandRow {
    /// Which values the row matches.
    pub range: BandRange,
    /// The value of the row.
    pub value: Expr,
    /// The whole row.
    pub span: Span,
}

/// The values a band row matches. Bounds are number or quantity literals.
#[derive(Debug, Clone, PartialEq)]
pub enum BandRange {
    /// `<= 8`, `> 25`, ...: compared with the bound.
    Compare {
        /// The operator.
        op: CmpOp,
        /// The bound.
        bound: Expr,
    },
    /// `9 to 11`: between the bounds, inclusive.
    Span {
        /// Lower bound.
        low: Expr,
        /// Upper bound.
        high: Expr,
    },
    /// `12`: exactly this value.
    Exact(Expr),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
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

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
        }
    }

    pub(crate) fn from_str(s: &str) -> Option<CmpOp> {
        Some(match s {
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            "=" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            _ => return None,
        })
    }
}

/// Which observation(s) a query selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The most recent one.
    Latest,
    /// The oldest one.
    Earliest,
    /// All of them.
    All,
}

impl Which {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Which::Latest => "latest",
            Which::Earliest => "earliest",
            Which::All => "all",
        }
    }
}

/// A data query over the patient's observations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Latest, earliest or all.
    pub which: Which,
    /// The code or value set.
    pub code: CodeSpec,
    /// Only observations in this window before the evaluation time.
    pub window: Option<Window>,
}

/// Aggregates over a list of readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFn {
    /// `count of`
    Count,
    /// `min of`
    Min,
    /// `max of`
    Max,
    /// `average of`
    Average,
    /// `sum of`
    Sum,
}

impl AggregateFn {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateFn::Count => "count",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
            AggregateFn::Average => "average",
            AggregateFn::Sum => "sum",
        }
    }
}

/// The difference between readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `change in`: latest minus earliest reading.
    Change,
    /// `rise in`: latest reading minus the lowest reading before it.
    Rise,
    /// `fall in`: the highest reading before the latest minus the latest.
    Fall,
}

impl ChangeKind {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Change => "change",
            ChangeKind::Rise => "rise",
            ChangeKind::Fall => "fall",
        }
    }
}

/// Which clinical resource, in which state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveKind {
    /// `active condition`: an active Condition.
    Condition,
    /// `active medication`: an active MedicationRequest (status `active`).
    Medication,
    /// `ordered medication`: a MedicationRequest being ordered (status `draft`: the
    /// `draftOrders` of the CDS Hooks `order-select` and `order-sign` hooks).
    OrderedMedication,
}

impl ActiveKind {
    /// The words as written, before the code: `active condition`, `active medication`,
    /// `ordered medication`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActiveKind::Condition => "active condition",
            ActiveKind::Medication => "active medication",
            ActiveKind::OrderedMedication => "ordered medication",
        }
    }
}

/// A well-known code system with a short keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownSystem {
    /// `loinc` = `http://loinc.org`
    Loinc,
    /// `snomed` = `http://snomed.info/sct`
    Snomed,
    /// `rxnorm` = `http://www.nlm.nih.gov/research/umls/rxnorm`
    RxNorm,
    /// `icd10` = `http://hl7.org/fhir/sid/icd-10`
    Icd10,
}

impl KnownSystem {
    /// The keyword as written.
    pub fn keyword(self) -> &'static str {
        match self {
            KnownSystem::Loinc => "loinc",
            KnownSystem::Snomed => "snomed",
            KnownSystem::RxNorm => "rxnorm",
            KnownSystem::Icd10 => "icd10",
        }
    }

    /// The FHIR system URI.
    pub fn uri(self) -> &'static str {
        match self {
            KnownSystem::Loinc => "http://loinc.org",
            KnownSystem::Snomed => "http://snomed.info/sct",
            KnownSystem::RxNorm => "http://www.nlm.nih.gov/research/umls/rxnorm",
            KnownSystem::Icd10 => "http://hl7.org/fhir/sid/icd-10",
        }
    }
}

/// A code (with its system) or a value set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSpec {
    /// Which form.
    pub kind: CodeSpecKind,
    /// Where it is written.
    pub span: Span,
}

/// The forms of [`CodeSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeSpecKind {
    /// `loinc 8480-6`.
    Known {
        /// The system keyword.
        system: KnownSystem,
        /// The code.
        code: String,
    },
    /// `code "http://system" "code"`.
    Explicit {
        /// The system URI.
        system: String,
        /// The code.
        code: String,
    },
    /// `in valueset "url"`.
    ValueSet(String),
}

impl CodeSpecKind {
    /// The system URI and code, for a single code.
    pub fn system_and_code(&self) -> Option<(&str, &str)> {
        match self {
            CodeSpecKind::Known { system, code } => Some((system.uri(), code)),
            CodeSpecKind::Explicit { system, code } => Some((system, code)),
            CodeSpecKind::ValueSet(_) => None,
        }
    }
}

/// Units of a time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// minutes
    Minutes,
    /// hours
    Hours,
    /// days
    Days,
    /// weeks
    Weeks,
    /// months (calendar)
    Months,
    /// years (calendar)
    Years,
}

impl TimeUnit {
    /// The unit word, singular for 1 and plural otherwise.
    pub fn word(self, amount: u32) -> &'static str {
        let (one, many) = match self {
            TimeUnit::Minutes => ("minute", "minutes"),
            TimeUnit::Hours => ("hour", "hours"),
            TimeUnit::Days => ("day", "days"),
            TimeUnit::Weeks => ("week", "weeks"),
            TimeUnit::Months => ("month", "months"),
            TimeUnit::Years => ("year", "years"),
        };
        if amount == 1 {
            one
        } else {
            many
        }
    }
}

/// `within N UNIT`: a window ending at the evaluation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: TimeUnit,
    /// Where it is written.
    pub span: Span,
}
