//! The expression tree that [`parse`](super::parse) builds and the evaluator walks.
//!
//! Everything that can be decided once is decided while parsing: function names are resolved to
//! [`Func`], literals are converted to their values, type specifiers to [`TypeSpec`], and
//! external constants with a fixed value (`%ucum`, `%sct`, ...) to literals.

use super::error::Span;
use super::types::TypeSpec;
use super::value::Lit;

/// A node of the expression tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// `{}`.
    Empty,
    /// A literal value.
    Lit(Lit),
    /// `$this`.
    This,
    /// `$index`.
    Index,
    /// `$total`.
    Total,
    /// `%name`: an environment variable resolved at evaluation time.
    Var(VarRef, Span),
    /// An element name applied to the focus (`name` or `base.name`).
    Member(Option<Box<Node>>, Member),
    /// A function call (`base.f(args)` or `f(args)` on the focus).
    Call(Box<Call>),
    /// `base is Type` / `base.is(Type)`.
    Is(Box<Node>, TypeSpec),
    /// `base as Type` / `base.as(Type)`.
    As(Box<Node>, TypeSpec, Span),
    /// `base[index]`.
    Indexer(Box<Node>, Box<Node>, Span),
    /// `-operand` (`+operand` is dropped while parsing).
    Neg(Box<Node>, Span),
    /// A binary operator.
    Binary(Box<Binary>),
}

/// An element name after a dot, or at the start of a path.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub name: Box<str>,
    /// The name starts with an upper-case letter, so it may name the type of the root.
    pub may_be_type: bool,
    pub span: Span,
    /// The model lookup of `name` for the last owner type seen here (most steps always see
    /// the same type).
    pub cache: crate::model::ChildCache,
}

/// A function call with its base (None: applied to the focus).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub base: Option<Node>,
    pub func: Func,
    pub args: Vec<Node>,
    /// Pre-parsed type argument of `ofType`.
    pub type_arg: Option<TypeSpec>,
    pub span: Span,
    /// A regular expression argument given as a literal, compiled on first use.
    pub regex: std::sync::OnceLock<Option<regex::Regex>>,
}

/// A binary operator with its operands.
#[derive(Debug, Clone)]
pub(crate) struct Binary {
    pub op: BinOp,
    pub lhs: Node,
    pub rhs: Node,
    pub span: Span,
}

/// The binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::IntDiv => "div",
            BinOp::Mod => "mod",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Concat => "&",
            BinOp::Union => "|",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Equiv => "~",
            BinOp::NotEquiv => "!~",
            BinOp::In => "in",
            BinOp::Contains => "contains",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Xor => "xor",
            BinOp::Implies => "implies",
        }
    }
}

/// A `%name` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VarRef {
    /// `%resource`, `%rootResource`: the resource the evaluation started from.
    Resource,
    /// `%context`: the evaluation's input.
    Context,
    /// Any other name, looked up among the caller's variables.
    Named(Box<str>),
}

macro_rules! functions {
    ($( $variant:ident = $name:literal ($min:literal, $max:literal) ),* $(,)?) => {
        /// The functions this engine knows, resolved while parsing.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func { $( $variant ),* }

        impl Func {
            /// The function of a name, if known.
            pub(crate) fn from_name(name: &str) -> Option<Func> {
                match name { $( $name => Some(Func::$variant), )* _ => None }
            }
            /// The FHIRPath name.
            pub(crate) fn name(self) -> &'static str {
                match self { $( Func::$variant => $name ),* }
            }
            /// Minimum and maximum number of arguments.
            pub(crate) fn arity(self) -> (usize, usize) {
                match self { $( Func::$variant => ($min, $max) ),* }
            }
        }
    };
}

functions! {
    Empty = "empty"(0, 0),
    Exists = "exists"(0, 1),
    All = "all"(1, 1),
    AllTrue = "allTrue"(0, 0),
    AnyTrue = "anyTrue"(0, 0),
    AllFalse = "allFalse"(0, 0),
    AnyFalse = "anyFalse"(0, 0),
    SubsetOf = "subsetOf"(1, 1),
    SupersetOf = "supersetOf"(1, 1),
    Count = "count"(0, 0),
    Distinct = "distinct"(0, 0),
    IsDistinct = "isDistinct"(0, 0),
    Where = "where"(1, 1),
    Select = "select"(1, 1),
    Repeat = "repeat"(1, 1),
    OfType = "ofType"(1, 1),
    Single = "single"(0, 0),
    First = "first"(0, 0),
    Last = "last"(0, 0),
    Tail = "tail"(0, 0),
    Skip = "skip"(1, 1),
    Take = "take"(1, 1),
    Intersect = "intersect"(1, 1),
    Exclude = "exclude"(1, 1),
    Union = "union"(1, 1),
    Combine = "combine"(1, 1),
    Iif = "iif"(2, 3),
    ToBoolean = "toBoolean"(0, 0),
    ConvertsToBoolean = "convertsToBoolean"(0, 0),
    ToInteger = "toInteger"(0, 0),
    ConvertsToInteger = "convertsToInteger"(0, 0),
    ToDecimal = "toDecimal"(0, 0),
    ConvertsToDecimal = "convertsToDecimal"(0, 0),
    ToStringFn = "toString"(0, 0),
    ConvertsToString = "convertsToString"(0, 0),
    ToDate = "toDate"(0, 0),
    ConvertsToDate = "convertsToDate"(0, 0),
    ToDateTime = "toDateTime"(0, 0),
    ConvertsToDateTime = "convertsToDateTime"(0, 0),
    ToTime = "toTime"(0, 0),
    ConvertsToTime = "convertsToTime"(0, 0),
    ToQuantity = "toQuantity"(0, 1),
    ConvertsToQuantity = "convertsToQuantity"(0, 1),
    IndexOf = "indexOf"(1, 1),
    Substring = "substring"(1, 2),
    StartsWith = "startsWith"(1, 1),
    EndsWith = "endsWith"(1, 1),
    Contains = "contains"(1, 1),
    Upper = "upper"(0, 0),
    Lower = "lower"(0, 0),
    Replace = "replace"(2, 2),
    Matches = "matches"(1, 1),
    MatchesFull = "matchesFull"(1, 1),
    ReplaceMatches = "replaceMatches"(2, 2),
    Length = "length"(0, 0),
    ToChars = "toChars"(0, 0),
    Trim = "trim"(0, 0),
    Split = "split"(1, 1),
    Join = "join"(0, 1),
    Encode = "encode"(1, 1),
    Decode = "decode"(1, 1),
    Escape = "escape"(1, 1),
    Unescape = "unescape"(1, 1),
    Abs = "abs"(0, 0),
    Ceiling = "ceiling"(0, 0),
    Exp = "exp"(0, 0),
    Floor = "floor"(0, 0),
    Ln = "ln"(0, 0),
    Log = "log"(1, 1),
    Power = "power"(1, 1),
    Round = "round"(0, 1),
    Sqrt = "sqrt"(0, 0),
    Truncate = "truncate"(0, 0),
    Children = "children"(0, 0),
    Descendants = "descendants"(0, 0),
    Trace = "trace"(1, 2),
    Now = "now"(0, 0),
    TimeOfDay = "timeOfDay"(0, 0),
    Today = "today"(0, 0),
    Not = "not"(0, 0),
    TypeFn = "type"(0, 0),
    Extension = "extension"(1, 1),
    HasValue = "hasValue"(0, 0),
    GetValue = "getValue"(0, 0),
    Resolve = "resolve"(0, 0),
    MemberOf = "memberOf"(1, 1),
    ConformsTo = "conformsTo"(1, 1),
    Aggregate = "aggregate"(1, 2),
    Sort = "sort"(0, 9),
    LowBoundary = "lowBoundary"(0, 1),
    HighBoundary = "highBoundary"(0, 1),
    Precision = "precision"(0, 0),
    Comparable = "comparable"(1, 1),
}

impl Node {
    /// The span of this node in the expression text, if it has one.
    pub(crate) fn span(&self) -> Span {
        match self {
            Node::Var(_, s) | Node::As(_, _, s) | Node::Indexer(_, _, s) | Node::Neg(_, s) => *s,
            Node::Member(_, m) => m.span,
            Node::Call(c) => c.span,
            Node::Binary(b) => b.span,
            Node::Is(b, _) => b.span(),
            Node::Empty | Node::Lit(_) | Node::This | Node::Index | Node::Total => Span::default(),
        }
    }
}
