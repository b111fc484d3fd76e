//! Why each rule did or did not fire: the rule's condition, part by part, with the value each
//! part had, the resources the data came from, and for missing data what was looked for.
//!
//! ```text
//! rule stage-2: did not fire
//!   systolic >= 140 'mm[Hg]' or diastolic >= 90 'mm[Hg]'  →  unknown (data missing)
//!     systolic >= 140 'mm[Hg]'  →  no
//!       systolic  =  132 mm[Hg]  (Observation/bp-1, 2024-02-20)
//!     diastolic >= 90 'mm[Hg]'  →  unknown
//!       diastolic  =  not recorded: no observation loinc 8462-4 within 90 days
//! ```

use std::fmt::{self, Write as _};

use cds_core::graph::{Evaluation, NodeId, Value};

use crate::ast::{ActiveKind, Expr, ExprKind, Item, Ruleset};
use crate::compile::CompiledRuleset;

/// The explanation of every rule of a ruleset for one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// The ruleset's name.
    pub ruleset: String,
    /// One entry per rule, in file order.
    pub rules: Vec<RuleExplanation>,
}

/// Why one rule did or did not fire.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleExplanation {
    /// The rule id.
    pub rule: String,
    /// Whether it fired.
    pub fired: bool,
    /// Whether the hook evaluated it at all.
    pub evaluated: bool,
    /// The condition's parts, as an indented outline.
    pub lines: Vec<Line>,
}

/// One line of an explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Nesting depth.
    pub depth: usize,
    /// The text of the part, as written.
    pub text: String,
    /// Its value, as shown.
    pub value: String,
    /// Where the value came from (`Type/id`).
    pub resources: Vec<String>,
    /// For a definition: its name.
    pub name: Option<String>,
}

impl Explanation {
    /// As JSON: `{"ruleset", "rules": [{"rule", "fired", "evaluated", "lines": [{"depth",
    /// "text", "value", "resources", "name"}]}]}` (what `cds explain --json` and the studio show).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let rules: Vec<serde_json::Value> = self
            .rules
            .iter()
            .map(|r| {
                let lines: Vec<serde_json::Value> = r
                    .lines
                    .iter()
                    .map(|l| {
                        json!({
                            "depth": l.depth,
                            "text": l.text,
                            "value": l.value,
                            "resources": l.resources,
                            "name": l.name,
                        })
                    })
                    .collect();
                json!({
                    "rule": r.rule,
                    "fired": r.fired,
                    "evaluated": r.evaluated,
                    "lines": lines,
                })
            })
            .collect();
        json!({ "ruleset": self.ruleset, "rules": rules })
    }
}

/// Explains every rule of `ruleset` (compiled as `compiled`) in `eval`.
pub fn explain(
    ruleset: &Ruleset,
    source: &str,
    compiled: &CompiledRuleset,
    eval: &Evaluation<'_, '_>,
) -> Explanation {
    let mut rules = Vec::new();
    for item in &ruleset.items {
        let Item::Rule(r) = item else { continue };
        let card = compiled
            .rules()
            .iter()
            .find(|(id, _, _)| *id == r.id.name)
            .map(|(_, node, _)| *node);
        let evaluated = card.is_some_and(|c| eval.value(c).is_some());
        let fired = card
            .and_then(|c| eval.value(c))
            .is_some_and(|v| matches!(v, Value::Bool(true)));
        let mut x = Explainer {
            ruleset,
            source,
            compiled,
            eval,
            lines: Vec::new(),
            shown: Vec::new(),
        };
        if evaluated {
            x.expr(&r.when, 0);
        }
        rules.push(RuleExplanation {
            rule: r.id.name.clone(),
            fired,
            evaluated,
            lines: x.lines,
        });
    }
    Explanation {
        ruleset: ruleset.header.name.name.clone(),
        rules,
    }
}

struct Explainer<'a, 'e, 'r> {
    ruleset: &'a Ruleset,
    source: &'a str,
    compiled: &'a CompiledRuleset,
    eval: &'a Evaluation<'e, 'r>,
    lines: Vec<Line>,
    shown: Vec<String>,
}

fn truth(v: &Value<'_>) -> String {
    match v {
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Absent => "unknown (data missing)".into(),
        other => other.to_string(),
    }
}

impl<'a> Explainer<'a, '_, '_> {
    fn node(&self, e: &Expr) -> Option<NodeId> {
        self.compiled.node_at(e.span)
    }

    fn text(&self, e: &Expr) -> String {
        // A binary expression's span ends with its right operand, which inside parentheses
        // leaves the closing `)` out: take the closing parentheses that balance the text.
        let mut end = e.span.end;
        let mut t = self.source.get(e.span.start..end).unwrap_or("");
        let open = |t: &str| {
            t.matches('(')
                .count()
                .saturating_sub(t.matches(')').count())
        };
        let mut missing = open(t);
        while missing > 0 {
            let rest = self.source.get(end..).unwrap_or("");
            let skip = rest.len() - rest.trim_start().len();
            if rest[skip..].starts_with(')') {
                end += skip + 1;
                missing -= 1;
            } else {
                break;
            }
        }
        t = self.source.get(e.span.start..end).unwrap_or(t);
        let one_line = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() > 90 {
            let cut: String = one_line.chars().take(87).collect();
            format!("{cut}...")
        } else {
            one_line
        }
    }

    fn resources(&self, node: NodeId) -> Vec<String> {
        self.eval
            .sources(node)
            .iter()
            .filter_map(|r| r.id().map(|id| format!("{}/{id}", r.resource_type())))
            .take(5)
            .collect()
    }

    fn expr(&mut self, e: &Expr, depth: usize) {
        if depth > 12 {
            return;
        }
        let Some(node) = self.node(e) else { return };
        let Some(value) = self.eval.value(node) else {
            return;
        };
        match &e.kind {
            ExprKind::Binary { op, .. } if is_logic(e) => {
                self.push(depth, self.text(e), truth(value), Vec::new(), None);
                // `a or b or c` is one list of alternatives, not a nest of pairs.
                let mut operands = Vec::new();
                flatten(e, *op, &mut operands);
                for x in operands {
                    self.expr(x, depth + 1);
                }
            }
            ExprKind::Not(x) => {
                self.push(depth, self.text(e), truth(value), Vec::new(), None);
                self.expr(x, depth + 1);
            }
            ExprKind::Compare { lhs, rhs, .. } => {
                self.push(depth, self.text(e), truth(value), Vec::new(), None);
                self.operand(lhs, depth + 1);
                self.operand(rhs, depth + 1);
            }
            ExprKind::Between { of, low, high } => {
                self.push(depth, self.text(e), truth(value), Vec::new(), None);
                self.operand(of, depth + 1);
                self.operand(low, depth + 1);
                self.operand(high, depth + 1);
            }
            ExprKind::Presence { of, .. } | ExprKind::HasCode { of, .. } => {
                self.push(depth, self.text(e), truth(value), Vec::new(), None);
                self.operand(of, depth + 1);
            }
            ExprKind::Name(_) => self.operand(e, depth),
            ExprKind::Active { kind, .. } => {
                let shown = match value {
                    Value::Bool(false) => format!("no: {}", not_found(*kind)),
                    other => truth(other),
                };
                let res = self.resources(node);
                self.push(depth, self.text(e), shown, res, None);
            }
            _ => {
                let v = value.to_string();
                let res = self.resources(node);
                self.push(depth, self.text(e), v, res, None);
            }
        }
    }

    /// A value in a comparison: names show their value and what they are made of.
    fn operand(&mut self, e: &Expr, depth: usize) {
        let Some(node) = self.node(e) else { return };
        let Some(value) = self.eval.value(node) else {
            return;
        };
        match &e.kind {
            ExprKind::Name(n) => {
                let shown = self.describe(value, n);
                let res = self.resources(node);
                self.push(depth, n.clone(), shown, res, Some(n.clone()));
                if !self.shown.contains(n) {
                    self.shown.push(n.clone());
                    if let Some(def) = self.definition(n) {
                        if !matches!(def.kind, ExprKind::Query(_)) {
                            self.expr(def, depth + 1);
                        }
                    }
                }
            }
            ExprKind::Number(_) | ExprKind::Quantity { .. } | ExprKind::Text(_) => {}
            _ => self.expr(e, depth),
        }
    }

    fn definition(&self, name: &str) -> Option<&'a Expr> {
        let rs: &'a Ruleset = self.ruleset;
        rs.items.iter().find_map(|i| match i {
            Item::Define(d) if d.name.name == name => Some(&d.value),
            _ => None,
        })
    }

    fn describe(&self, value: &Value<'_>, name: &str) -> String {
        if !value.is_absent() {
            let mut s = value.to_string();
            if let Value::Reading(r) = value {
                if let Some(t) = r.entry.time() {
                    let _ = write!(s, " at {}", t.at);
                }
            }
            return s;
        }
        match self.definition(name).map(|d| &d.kind) {
            Some(ExprKind::Query(_)) => {
                let text = self
                    .definition(name)
                    .map(|d| self.text(d))
                    .unwrap_or_default();
                format!("not recorded: no {text}")
            }
            _ => "not recorded".into(),
        }
    }

    fn push(
        &mut self,
        depth: usize,
        text: String,
        value: String,
        resources: Vec<String>,
        name: Option<String>,
    ) {
        self.lines.push(Line {
            depth,
            text,
            value,
            resources,
            name,
        });
    }
}

/// What was looked for and not found, for `active condition`, `active medication` and
/// `ordered medication`.
fn not_found(kind: ActiveKind) -> &'static str {
    match kind {
        ActiveKind::Condition => "no active Condition with this code",
        ActiveKind::Medication => "no active MedicationRequest with this code",
        ActiveKind::OrderedMedication => {
            "no MedicationRequest with this code being ordered (status draft)"
        }
    }
}

fn flatten<'e>(e: &'e Expr, op: crate::ast::BinaryOp, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary { op: o, lhs, rhs } if *o == op => {
            flatten(lhs, op, out);
            flatten(rhs, op, out);
        }
        _ => out.push(e),
    }
}

fn is_logic(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Binary {
            op: crate::ast::BinaryOp::And | crate::ast::BinaryOp::Or,
            ..
        }
    )
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.rules {
            let state = match (r.evaluated, r.fired) {
                (false, _) => "not evaluated for this hook",
                (true, true) => "fired",
                (true, false) => "did not fire",
            };
            writeln!(f, "rule {}: {state}", r.rule)?;
            for l in &r.lines {
                let pad = "  ".repeat(l.depth + 1);
                let sep = if l.name.is_some() { "=" } else { "→" };
                write!(f, "{pad}{}  {sep}  {}", l.text, l.value)?;
                if !l.resources.is_empty() {
                    write!(f, "  ({})", l.resources.join(", "))?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
