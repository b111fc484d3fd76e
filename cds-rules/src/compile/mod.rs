//! The compiler: checked rulesets → one evaluation graph ([`cds_core::graph`]).
//!
//! Every expression becomes a node; a definition is compiled once and its node reused by
//! every rule that names it; identical expressions across rules and rulesets are one node
//! (the graph builder shares them). Each rule becomes a card node whose inputs are its
//! condition, the values its texts show and the definitions it uses (its evidence).
//!
//! The compiler keeps, per ruleset, the node of every definition and of every expression
//! (by source span), which `explain` uses to show the value of each part of a rule.
//!
//! ```
//! let src = "ruleset k version 1.0.0\n\
//!   define potassium = latest observation loinc 2823-3 within 12 hours\n\
//!   rule high\n  when potassium >= 6 'mmol/L'\n  then critical \"Potassium {potassium}\"\n";
//! let rs = cds_rules::parse(src, "k.rules").unwrap();
//! let compiled = cds_rules::compile::compile(&[(&rs, src)], Default::default()).unwrap();
//! assert_eq!(compiled.graph.cards().len(), 1);
//! assert!(compiled.rulesets[0].definition("potassium").is_some());
//! ```

mod script_node;

use std::collections::HashMap;
use std::sync::Arc;

use cds_core::fhirpath::ValueSetRegistry;
use cds_core::graph::{
    self, ActionSpec, CardSpec, CodeFilter, Graph, GraphBuilder, Literal, NodeId, Op, Period,
    PeriodUnit, SuggestionSpec, Template, TemplatePart,
};

use crate::ast::{self, Expr, ExprKind, Item, Ruleset};
use crate::script;

/// A problem that stops compilation (the checker reports these first, with positions;
/// the compiler meets them only for rulesets that were not checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// A name that is not defined.
    #[error("{ruleset}: `{name}` is not defined")]
    UnknownName {
        /// The ruleset.
        ruleset: String,
        /// The name.
        name: String,
    },
    /// Definitions that use each other.
    #[error("{ruleset}: definition `{name}` depends on itself")]
    Cycle {
        /// The ruleset.
        ruleset: String,
        /// A name on the cycle.
        name: String,
    },
    /// A FHIRPath expression or rhai script that does not compile.
    #[error("{ruleset}: {message}")]
    Invalid {
        /// The ruleset.
        ruleset: String,
        /// What is wrong.
        message: String,
    },
    /// Two loaded rulesets with the same name.
    #[error("two rulesets are named `{0}`")]
    DuplicateRuleset(String),
}

/// What the compiler keeps of one ruleset.
#[derive(Debug, Clone)]
pub struct CompiledRuleset {
    /// The ruleset's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The hooks it answers.
    pub hooks: Vec<String>,
    definitions: HashMap<String, NodeId>,
    rules: Vec<(String, NodeId, usize)>,
    spans: HashMap<(usize, usize), NodeId>,
}

impl CompiledRuleset {
    /// The node of a definition or score.
    pub fn definition(&self, name: &str) -> Option<NodeId> {
        self.definitions.get(name).copied()
    }

    /// The names of all definitions and scores.
    pub fn definition_names(&self) -> impl Iterator<Item = &str> {
        self.definitions.keys().map(String::as_str)
    }

    /// The rules: id, card node, card spec index in the graph.
    pub fn rules(&self) -> &[(String, NodeId, usize)] {
        &self.rules
    }

    /// The node computed for the expression written at `span`, if any.
    pub fn node_at(&self, span: ast::Span) -> Option<NodeId> {
        self.spans.get(&(span.start, span.end)).copied()
    }
}

/// The graph of all loaded rulesets.
pub struct Compiled {
    /// The graph.
    pub graph: Graph,
    /// Per ruleset, in load order.
    pub rulesets: Vec<CompiledRuleset>,
}

/// Compiles rulesets (each with its source text) into one graph, resolving `in valueset`
/// against `valuesets`.
pub fn compile(
    rulesets: &[(&Ruleset, &str)],
    valuesets: Arc<ValueSetRegistry>,
) -> Result<Compiled, CompileError> {
    let mut b = GraphBuilder::new().with_valuesets(valuesets);
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (rs, _src) in rulesets {
        if !names.insert(rs.header.name.name.clone()) {
            return Err(CompileError::DuplicateRuleset(rs.header.name.name.clone()));
        }
        out.push(compile_one(&mut b, rs)?);
    }
    Ok(Compiled {
        graph: b.finish(),
        rulesets: out,
    })
}

struct Ctx<'a> {
    b: &'a mut GraphBuilder,
    rs: &'a Ruleset,
    name: String,
    items: HashMap<&'a str, &'a Item>,
    done: HashMap<String, NodeId>,
    active: Vec<String>,
    spans: HashMap<(usize, usize), NodeId>,
}

fn compile_one(b: &mut GraphBuilder, rs: &Ruleset) -> Result<CompiledRuleset, CompileError> {
    let mut items = HashMap::new();
    for it in &rs.items {
        match it {
            Item::Define(d) => {
                items.insert(d.name.name.as_str(), it);
            }
            Item::Score(s) => {
                items.insert(s.name.name.as_str(), it);
            }
            Item::Rule(_) => {}
        }
    }
    let version = {
        let v = &rs.header.version;
        match &v.pre {
            Some(p) => format!("{}.{}.{}-{p}", v.major, v.minor, v.patch),
            None => format!("{}.{}.{}", v.major, v.minor, v.patch),
        }
    };
    let hooks: Vec<String> = rs.header.answers.iter().map(|h| h.name.clone()).collect();
    let mut cx = Ctx {
        b,
        rs,
        name: rs.header.name.name.clone(),
        items,
        done: HashMap::new(),
        active: Vec::new(),
        spans: HashMap::new(),
    };
    // Every definition gets a node (so that tools can show any of them), in file order: the
    // same text always compiles to the same node numbers.
    let names: Vec<&str> = rs
        .items
        .iter()
        .filter_map(|it| match it {
            Item::Define(d) => Some(d.name.name.as_str()),
            Item::Score(s) => Some(s.name.name.as_str()),
            Item::Rule(_) => None,
        })
        .collect();
    for n in names {
        cx.name_node(n)?;
    }
    let mut rules = Vec::new();
    for it in &rs.items {
        let Item::Rule(r) = it else { continue };
        let condition = cx.expr(&r.when)?;
        let spec = cx.card(r, condition, &version, &hooks)?;
        let index = cx.b.card_count();
        let node = cx.b.card(spec);
        rules.push((r.id.name.clone(), node, index));
    }
    Ok(CompiledRuleset {
        name: cx.name.clone(),
        version,
        hooks,
        definitions: cx.done,
        rules,
        spans: cx.spans,
    })
}

fn code_filter(c: &ast::CodeSpec) -> CodeFilter {
    match &c.kind {
        ast::CodeSpecKind::ValueSet(url) => CodeFilter::ValueSet(url.clone()),
        other => {
            let (system, code) = other.system_and_code().unwrap_or(("", ""));
            CodeFilter::Code {
                system: system.into(),
                code: code.into(),
            }
        }
    }
}

fn period(w: &ast::Window) -> Period {
    Period {
        amount: w.amount,
        unit: match w.unit {
            ast::TimeUnit::Minutes => PeriodUnit::Minutes,
            ast::TimeUnit::Hours => PeriodUnit::Hours,
            ast::TimeUnit::Days => PeriodUnit::Days,
            ast::TimeUnit::Weeks => PeriodUnit::Weeks,
            ast::TimeUnit::Months => PeriodUnit::Months,
            ast::TimeUnit::Years => PeriodUnit::Years,
        },
    }
}

fn cmp(op: ast::CmpOp) -> graph::Cmp {
    match op {
        ast::CmpOp::Lt => graph::Cmp::Lt,
        ast::CmpOp::Le => graph::Cmp::Le,
        ast::CmpOp::Gt => graph::Cmp::Gt,
        ast::CmpOp::Ge => graph::Cmp::Ge,
        ast::CmpOp::Eq => graph::Cmp::Eq,
        ast::CmpOp::Ne => graph::Cmp::Ne,
    }
}

impl<'a> Ctx<'a> {
    fn name_node(&mut self, name: &str) -> Result<NodeId, CompileError> {
        if let Some(n) = self.done.get(name) {
            return Ok(*n);
        }
        let Some(item) = self.items.get(name).copied() else {
            if name == "age" {
                return Ok(self.b.node(Op::Age, &[]));
            }
            return Err(CompileError::UnknownName {
                ruleset: self.name.clone(),
                name: name.into(),
            });
        };
        if self.active.iter().any(|a| a == name) {
            return Err(CompileError::Cycle {
                ruleset: self.name.clone(),
                name: name.into(),
            });
        }
        self.active.push(name.into());
        let node = match item {
            Item::Define(d) => self.expr(&d.value),
            Item::Score(s) => self.score(s),
            Item::Rule(_) => unreachable_rule(),
        };
        self.active.pop();
        let node = node?;
        self.done.insert(name.into(), node);
        Ok(node)
    }

    fn score(&mut self, s: &ast::Score) -> Result<NodeId, CompileError> {
        let mut known: Vec<&str> = self.items.keys().copied().collect();
        known.push("age");
        let compiled = script::compile(s, &known).map_err(|e| CompileError::Invalid {
            ruleset: self.name.clone(),
            message: e.to_string(),
        })?;
        let mut inputs = Vec::new();
        for n in compiled.inputs() {
            inputs.push(self.name_node(n)?);
        }
        let op = Op::Script(graph::ScriptOp(Arc::new(script_node::ScriptNode::new(
            compiled,
        ))));
        Ok(self.b.node(op, &inputs))
    }

    fn expr(&mut self, e: &Expr) -> Result<NodeId, CompileError> {
        let id = self.expr_inner(e)?;
        self.spans.insert((e.span.start, e.span.end), id);
        Ok(id)
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<NodeId, CompileError> {
        use ExprKind as K;
        Ok(match &e.kind {
            K::Number(n) => self.b.node(Op::Const(Literal::Number(*n)), &[]),
            K::Quantity { value, unit } => self
                .b
                .node(Op::Const(Literal::Quantity(*value, unit.clone())), &[]),
            K::Text(t) => self.b.node(Op::Const(Literal::Text(t.clone())), &[]),
            K::Bool(v) => self.b.node(Op::Const(Literal::Bool(*v)), &[]),
            K::Name(n) => self.name_node(n)?,
            K::Query(q) => {
                let obs = self.b.node(
                    Op::Observations {
                        code: code_filter(&q.code),
                        window: q.window.as_ref().map(period),
                    },
                    &[],
                );
                match q.which {
                    ast::Which::All => obs,
                    ast::Which::Latest => self.b.node(Op::Pick(graph::Which::Latest), &[obs]),
                    ast::Which::Earliest => self.b.node(Op::Pick(graph::Which::Earliest), &[obs]),
                }
            }
            K::Aggregate { func, of } => {
                let x = self.expr(of)?;
                let f = match func {
                    ast::AggregateFn::Count => graph::AggregateFn::Count,
                    ast::AggregateFn::Min => graph::AggregateFn::Min,
                    ast::AggregateFn::Max => graph::AggregateFn::Max,
                    ast::AggregateFn::Average => graph::AggregateFn::Average,
                    ast::AggregateFn::Sum => graph::AggregateFn::Sum,
                };
                self.b.node(Op::Aggregate(f), &[x])
            }
            K::Change { kind, of, window } => {
                let mut x = self.expr(of)?;
                if let Some(w) = window {
                    x = self.b.node(Op::Within(period(w)), &[x]);
                }
                let k = match kind {
                    ast::ChangeKind::Change => graph::ChangeKind::Change,
                    ast::ChangeKind::Rise => graph::ChangeKind::Rise,
                    ast::ChangeKind::Fall => graph::ChangeKind::Fall,
                };
                self.b.node(Op::Change(k), &[x])
            }
            K::Age => self.b.node(Op::Age, &[]),
            K::Active { kind, code } => self.b.node(
                Op::Active {
                    kind: match kind {
                        ast::ActiveKind::Condition => graph::ActiveKind::Condition,
                        ast::ActiveKind::Medication => graph::ActiveKind::Medication,
                        ast::ActiveKind::OrderedMedication => graph::ActiveKind::OrderedMedication,
                    },
                    code: code_filter(code),
                },
                &[],
            ),
            K::FhirPath(t) => {
                let expr =
                    cds_core::fhirpath::parse(&t.value).map_err(|e| CompileError::Invalid {
                        ruleset: self.name.clone(),
                        message: format!("FHIRPath: {e}"),
                    })?;
                self.b.node(
                    Op::FhirPath(graph::FhirPathOp {
                        expr: Arc::new(expr),
                    }),
                    &[],
                )
            }
            K::Not(x) => {
                let x = self.expr(x)?;
                self.b.node(Op::Not, &[x])
            }
            K::Neg(x) => {
                let x = self.expr(x)?;
                self.b.node(Op::Neg, &[x])
            }
            K::Binary { op, lhs, rhs } => {
                let (l, r) = (self.expr(lhs)?, self.expr(rhs)?);
                let op = match op {
                    ast::BinaryOp::Or => Op::Or,
                    ast::BinaryOp::And => Op::And,
                    ast::BinaryOp::Add => Op::Arith(graph::Arith::Add),
                    ast::BinaryOp::Sub => Op::Arith(graph::Arith::Sub),
                    ast::BinaryOp::Mul => Op::Arith(graph::Arith::Mul),
                    ast::BinaryOp::Div => Op::Arith(graph::Arith::Div),
                };
                self.b.node(op, &[l, r])
            }
            K::Compare { op, lhs, rhs } => {
                let (l, r) = (self.expr(lhs)?, self.expr(rhs)?);
                self.b.node(Op::Compare(cmp(*op)), &[l, r])
            }
            K::Presence { of, present } => {
                let x = self.expr(of)?;
                self.b.node(Op::Present(*present), &[x])
            }
            K::HasCode { of, code } => {
                let x = self.expr(of)?;
                self.b.node(Op::HasCode(code_filter(code)), &[x])
            }
            K::Convert { of, unit } => {
                let x = self.expr(of)?;
                self.b.node(Op::Convert(unit.clone()), &[x])
            }
            K::Round { of, places } => {
                let x = self.expr(of)?;
                self.b.node(Op::Round(*places), &[x])
            }
            K::Between { of, low, high } => {
                let ins = [self.expr(of)?, self.expr(low)?, self.expr(high)?];
                self.b.node(Op::Between, &ins)
            }
            K::Case { arms, otherwise } => {
                let mut ins = Vec::new();
                for a in arms {
                    ins.push(self.expr(&a.when)?);
                    ins.push(self.expr(&a.then)?);
                }
                if let Some(o) = otherwise {
                    ins.push(self.expr(o)?);
                }
                self.b.node(
                    Op::Case {
                        arms: arms.len(),
                        otherwise: otherwise.is_some(),
                    },
                    &ins,
                )
            }
            K::Bands {
                of,
                rows,
                otherwise,
            } => {
                let mut ins = vec![self.expr(of)?];
                let mut tests = Vec::new();
                for r in rows {
                    match &r.range {
                        ast::BandRange::Compare { op, bound } => {
                            tests.push(graph::BandTest::Cmp(cmp(*op)));
                            ins.push(self.expr(bound)?);
                        }
                        ast::BandRange::Span { low, high } => {
                            tests.push(graph::BandTest::Span);
                            ins.push(self.expr(low)?);
                            ins.push(self.expr(high)?);
                        }
                        ast::BandRange::Exact(b) => {
                            tests.push(graph::BandTest::Exact);
                            ins.push(self.expr(b)?);
                        }
                    }
                    ins.push(self.expr(&r.value)?);
                }
                if let Some(o) = otherwise {
                    ins.push(self.expr(o)?);
                }
                self.b.node(
                    Op::Bands {
                        rows: tests,
                        otherwise: otherwise.is_some(),
                    },
                    &ins,
                )
            }
        })
    }

    fn template(&mut self, t: &ast::Template) -> Result<Template, CompileError> {
        let mut parts = Vec::new();
        for p in &t.parts {
            parts.push(match p {
                ast::TemplatePart::Text(s) => TemplatePart::Text(s.clone()),
                ast::TemplatePart::Name(n) => TemplatePart::Value(self.name_node(&n.name)?),
            });
        }
        Ok(Template { parts })
    }

    /// An action body: `{name}` of a definition shows its value (for delete: the reference
    /// of the resource it came from); any other brace is literal (JSON).
    fn action(&mut self, a: &ast::Action) -> Result<ActionSpec, CompileError> {
        let kind = a.kind;
        let text = &a.body.value;
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after.find('}');
            let name = close.map(|c| &after[..c]);
            match name {
                Some(n) if self.items.contains_key(n) || n == "age" => {
                    lit.push_str(&rest[..open]);
                    if !lit.is_empty() {
                        parts.push(TemplatePart::Text(std::mem::take(&mut lit)));
                    }
                    let node = self.name_node(n)?;
                    parts.push(if kind == graph::ActionKind::Delete {
                        TemplatePart::Reference(node)
                    } else {
                        TemplatePart::Value(node)
                    });
                    rest = &after[n.len() + 1..];
                }
                _ => {
                    lit.push_str(&rest[..=open]);
                    rest = after;
                }
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(TemplatePart::Text(lit));
        }
        Ok(ActionSpec {
            kind,
            description: String::new(),
            body: Template { parts },
        })
    }

    fn card(
        &mut self,
        r: &ast::Rule,
        condition: NodeId,
        version: &str,
        hooks: &[String],
    ) -> Result<CardSpec, CompileError> {
        let c = &r.card;
        let summary = self.template(&c.summary)?;
        let detail = c.detail.as_ref().map(|d| self.template(d)).transpose()?;
        let mut suggestions = Vec::new();
        for s in &c.suggestions {
            let mut actions = Vec::new();
            for a in &s.actions {
                let mut spec = self.action(a)?;
                spec.description = s.label.value.clone();
                actions.push(spec);
            }
            suggestions.push(SuggestionSpec {
                label: s.label.value.clone(),
                actions,
            });
        }
        let mut system_actions = Vec::new();
        for a in &c.system_actions {
            let mut spec = self.action(a)?;
            spec.description = format!("{} by rule {}", a.kind.as_str(), r.id.name);
            system_actions.push(spec);
        }
        // Evidence: every definition the rule uses, directly or through other definitions,
        // in the order they are first named.
        let mut used = Vec::new();
        names_in_expr(&r.when, &mut used);
        for t in std::iter::once(&c.summary).chain(c.detail.as_ref()) {
            for p in &t.parts {
                if let ast::TemplatePart::Name(n) = p {
                    used.push(n.name.clone());
                }
            }
        }
        let mut evidence: Vec<(String, NodeId)> = Vec::new();
        let mut i = 0;
        while i < used.len() {
            let n = used[i].clone();
            i += 1;
            if evidence.iter().any(|(e, _)| *e == n) {
                continue;
            }
            let Some(item) = self.items.get(n.as_str()).copied() else {
                continue;
            };
            match item {
                Item::Define(d) => names_in_expr(&d.value, &mut used),
                Item::Score(s) => {
                    if let Ok(sc) =
                        script::compile(s, &self.items.keys().copied().collect::<Vec<_>>())
                    {
                        used.extend(sc.inputs().iter().cloned());
                    }
                }
                Item::Rule(_) => {}
            }
            let node = self.name_node(&n)?;
            evidence.push((n, node));
        }
        Ok(CardSpec {
            ruleset: self.name.clone(),
            version: version.into(),
            rule: r.id.name.clone(),
            hooks: hooks.to_vec(),
            condition,
            indicator: c.indicator,
            summary,
            detail,
            source: match &c.source {
                Some(s) => (
                    s.label.value.clone(),
                    s.url.as_ref().map(|u| u.value.clone()),
                    s.icon.as_ref().map(|u| u.value.clone()),
                ),
                None => (
                    self.rs
                        .header
                        .description
                        .as_ref()
                        .map_or_else(|| self.name.clone(), |d| d.value.clone()),
                    None,
                    None,
                ),
            },
            links: c
                .links
                .iter()
                .map(|l| (l.label.value.clone(), l.url.value.clone()))
                .collect(),
            suggestions,
            override_reasons: c
                .override_reasons
                .iter()
                .map(|o| (o.code.value.clone(), o.display.value.clone()))
                .collect(),
            system_actions,
            evidence,
        })
    }
}

fn unreachable_rule() -> Result<NodeId, CompileError> {
    Err(CompileError::Invalid {
        ruleset: String::new(),
        message: "a rule is not a value".into(),
    })
}

/// The names an expression reads, in order of appearance.
pub(crate) fn names_in_expr(e: &Expr, out: &mut Vec<String>) {
    use ExprKind as K;
    match &e.kind {
        K::Name(n) => out.push(n.clone()),
        K::Number(_)
        | K::Quantity { .. }
        | K::Text(_)
        | K::Bool(_)
        | K::Query(_)
        | K::Age
        | K::Active { .. }
        | K::FhirPath(_) => {}
        K::Aggregate { of, .. }
        | K::Change { of, .. }
        | K::Not(of)
        | K::Neg(of)
        | K::Presence { of, .. }
        | K::HasCode { of, .. }
        | K::Convert { of, .. }
        | K::Round { of, .. } => names_in_expr(of, out),
        K::Binary { lhs, rhs, .. } | K::Compare { lhs, rhs, .. } => {
            names_in_expr(lhs, out);
            names_in_expr(rhs, out);
        }
        K::Between { of, low, high } => {
            names_in_expr(of, out);
            names_in_expr(low, out);
            names_in_expr(high, out);
        }
        K::Case { arms, otherwise } => {
            for a in arms {
                names_in_expr(&a.when, out);
                names_in_expr(&a.then, out);
            }
            if let Some(o) = otherwise {
                names_in_expr(o, out);
            }
        }
        K::Bands {
            of,
            rows,
            otherwise,
        } => {
            names_in_expr(of, out);
            for r in rows {
                names_in_expr(&r.value, out);
            }
            if let Some(o) = otherwise {
                names_in_expr(o, out);
            }
        }
    }
}
