//! Evaluating a graph for one patient record at one time.
//!
//! The nodes of the hook's plan are visited once each in topological order; a node's value
//! is computed from its inputs' values. Cards whose condition is `true` are rendered with
//! their evidence. Problems met while evaluating (a FHIRPath or script error, units that do
//! not convert) make the value absent and are recorded as [`Issue`]s, without patient
//! values.

use std::cmp::Ordering;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use super::build::{ActionSpec, Graph, NodeId, Plan, Template, TemplatePart};
use super::op::*;
use super::value::{round, Reading, Recorded, Value};
use crate::card::{self, Card, Coding, Evidence, EvidenceValue};
use crate::data::record::ObservationEntry;
use crate::data::{PatientRecord, Resource};
use crate::fhirpath::{Collection, EvalContext, Item};
use crate::temporal::{Date, DateTime};
use crate::ucum::{Quantity, QuantityUnit, Unit};

/// A problem met while evaluating a node (its value is then absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// The node.
    pub node: NodeId,
    /// What went wrong (never patient values).
    pub message: String,
}

/// A card raised by a rule, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct FiredCard {
    /// The ruleset's name.
    pub ruleset: String,
    /// The rule id.
    pub rule: String,
    /// The rule's card spec index in the graph.
    pub spec: usize,
    /// The card in the CDS Hooks shape (evidence also in its `extension`).
    pub card: Card,
    /// Why it was raised.
    pub evidence: Evidence,
}

/// The result of evaluating a graph for one record at one time.
pub struct Evaluation<'g, 'r> {
    graph: &'g Graph,
    record: &'r PatientRecord,
    at: DateTime,
    values: Vec<Value<'r>>,
    evaluated: Vec<bool>,
    fired: Vec<usize>,
    rendered: std::sync::OnceLock<(Vec<FiredCard>, Vec<card::Action>)>,
    issues: Vec<Issue>,
}

impl Graph {
    /// Evaluates the rules answering `hook` (every rule for `None`) for `record` as of `at`:
    /// the record's data after `at` is not seen by windows ending at `at`.
    pub fn evaluate<'g, 'r>(
        &'g self,
        record: &'r PatientRecord,
        at: &DateTime,
        hook: Option<&str>,
    ) -> Evaluation<'g, 'r> {
        self.evaluate_plan(record, at, &self.plan(hook))
    }

    /// Evaluates the nodes of a plan (see [`Graph::plan_of_ruleset`]) for a record at a time.
    pub fn evaluate_plan<'g, 'r>(
        &'g self,
        record: &'r PatientRecord,
        at: &DateTime,
        plan: &Plan,
    ) -> Evaluation<'g, 'r> {
        let n = self.graph.node_count();
        let mut ev = Evaluation {
            graph: self,
            record,
            at: *at,
            values: vec![Value::Absent; n],
            evaluated: vec![false; n],
            fired: Vec::new(),
            rendered: std::sync::OnceLock::new(),
            issues: Vec::new(),
        };
        for id in &plan.nodes {
            let v = ev.compute(*id);
            ev.values[id.index()] = v;
            ev.evaluated[id.index()] = true;
        }
        let mut fired: Vec<(usize, NodeId)> = plan
            .cards
            .iter()
            .filter_map(|c| match self.graph[*c].op {
                Op::Card(i) => Some((i, *c)),
                _ => None,
            })
            .filter(|(i, _)| {
                matches!(
                    ev.values[self.cards[*i].condition.index()],
                    Value::Bool(true)
                )
            })
            .collect();
        fired.sort_by_key(|(i, _)| *i);
        ev.fired = fired.into_iter().map(|(i, _)| i).collect();
        ev
    }
}

impl<'g, 'r> Evaluation<'g, 'r> {
    /// The cards raised, in rule order.
    ///
    /// Cards and their evidence are rendered on first use: an evaluation that only asks
    /// which rules fired ([`Evaluation::fired`]) does not pay for them.
    pub fn cards(&self) -> &[FiredCard] {
        &self.rendered().0
    }

    /// The card spec indexes (into [`Graph::cards`]) of the rules that fired, in rule order.
    pub fn fired(&self) -> &[usize] {
        &self.fired
    }

    fn rendered(&self) -> &(Vec<FiredCard>, Vec<card::Action>) {
        self.rendered.get_or_init(|| {
            // Rules share definitions: each definition's evidence is worked out once.
            let mut memo = std::collections::HashMap::new();
            let mut cards = Vec::new();
            let mut actions = Vec::new();
            for &i in &self.fired {
                let (card, evidence, acts) = self.render(i, &mut memo);
                cards.push(FiredCard {
                    ruleset: self.graph.cards[i].ruleset.clone(),
                    rule: self.graph.cards[i].rule.clone(),
                    spec: i,
                    card,
                    evidence,
                });
                actions.extend(acts);
            }
            (cards, actions)
        })
    }

    /// The system actions of the raised cards.
    pub fn system_actions(&self) -> &[card::Action] {
        &self.rendered().1
    }

    /// Problems met while evaluating.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The value of a node (`None` when the hook's plan did not need it).
    pub fn value(&self, node: NodeId) -> Option<&Value<'r>> {
        if *self.evaluated.get(node.index())? {
            self.values.get(node.index())
        } else {
            None
        }
    }

    /// The evaluation time.
    pub fn at(&self) -> &DateTime {
        &self.at
    }

    /// The graph evaluated.
    pub fn graph(&self) -> &'g Graph {
        self.graph
    }

    /// The record evaluated.
    pub fn record(&self) -> &'r PatientRecord {
        self.record
    }

    fn issue(&mut self, node: NodeId, message: impl Into<String>) -> Value<'r> {
        self.issues.push(Issue {
            node,
            message: message.into(),
        });
        Value::Absent
    }

    fn input(&self, id: NodeId, i: usize) -> &Value<'r> {
        let node = &self.graph.graph[id];
        node.inputs
            .get(i)
            .map_or(&Value::Absent, |n| &self.values[n.index()])
    }

    fn compute(&mut self, id: NodeId) -> Value<'r> {
        let graph = self.graph;
        let node = &graph.graph[id];
        let a = |ev: &Self, i: usize| ev.input(id, i).clone();
        match &node.op {
            Op::Const(l) => match graph.consts.get(id.index()) {
                Some(Some(v)) => v.clone(),
                _ => match l {
                    Literal::Quantity(_, u) => self.issue(id, format!("'{u}' is not a UCUM unit")),
                    _ => Value::Absent,
                },
            },
            Op::Observations { code, window } => {
                let w = match window {
                    Some(p) => p.window_ending_at(&self.at),
                    None => crate::data::Window::up_to(&self.at),
                };
                let readings: Vec<Reading<'r>> = match code {
                    CodeFilter::Code { system, code } => {
                        let entries = self.record.observations_in(system, code, w);
                        let mut v = Vec::with_capacity(entries.len());
                        v.extend(entries.iter().filter_map(Reading::of));
                        v
                    }
                    CodeFilter::ValueSet(url) => {
                        let Some(vs) = graph.valuesets.get(url) else {
                            return self.issue(id, format!("value set {url} is not loaded"));
                        };
                        let mut all: Vec<&'r ObservationEntry> = Vec::new();
                        for (s, c, entries) in self.record.observation_index().iter() {
                            if vs.contains(s, c) {
                                all.extend(entries.iter().filter(|e| {
                                    e.time().is_some_and(|t| w.contains(t.start_ms()))
                                }));
                            }
                        }
                        all.sort_by_key(|e| e.time().map(|t| t.start_ms()));
                        all.into_iter().filter_map(Reading::of).collect()
                    }
                };
                Value::Readings(readings.into())
            }
            Op::Pick(which) => match self.input(id, 0) {
                Value::Readings(rs) => {
                    let r = match which {
                        Which::Latest => rs.last(),
                        Which::Earliest => rs.first(),
                    };
                    r.cloned().map_or(Value::Absent, Value::Reading)
                }
                _ => Value::Absent,
            },
            Op::Within(p) => match self.input(id, 0) {
                Value::Readings(rs) => {
                    let w = p.window_ending_at(&self.at);
                    let kept: Vec<Reading<'r>> = rs
                        .iter()
                        .filter(|r| r.entry.time().is_some_and(|t| w.contains(t.start_ms())))
                        .cloned()
                        .collect();
                    Value::Readings(kept.into())
                }
                _ => Value::Absent,
            },
            Op::Age => age(self.record.patient(), &self.at),
            Op::Active { kind, code } => {
                Value::Bool(!active_matches(graph, self.record, *kind, code).is_empty())
            }
            Op::FhirPath(f) => self.fhirpath(id, f),
            Op::Script(s) => {
                let inputs: Vec<Value<'_>> = node
                    .inputs
                    .iter()
                    .map(|n| self.values[n.index()].scalar_ref())
                    .collect();
                match s.0.run(&inputs) {
                    Ok(v) => v,
                    Err(m) => self.issue(id, format!("score {}: {m}", s.0.name())),
                }
            }
            Op::Not => match self.input(id, 0).as_bool() {
                Some(b) => Value::Bool(!b),
                None => Value::Absent,
            },
            Op::And | Op::Or => {
                let (x, y) = (self.input(id, 0).as_bool(), self.input(id, 1).as_bool());
                let and = matches!(node.op, Op::And);
                match (x, y) {
                    (Some(a), Some(b)) => Value::Bool(if and { a && b } else { a || b }),
                    (Some(v), None) | (None, Some(v)) if v != and => Value::Bool(v),
                    _ => Value::Absent,
                }
            }
            Op::Neg => match self.input(id, 0).scalar_ref() {
                Value::Number(n) => Value::Number(-n),
                Value::Quantity(q) => Value::Quantity(Quantity::new(-q.value, q.unit.clone())),
                Value::Absent => Value::Absent,
                _ => self.issue(id, "only numbers and quantities can be negated"),
            },
            Op::Arith(op) => {
                let (x, y) = (a(self, 0), a(self, 1));
                match arith(*op, &x, &y) {
                    Ok(v) => v,
                    Err(m) => self.issue(id, m),
                }
            }
            Op::Compare(op) => {
                let r = compare(self.input(id, 0), self.input(id, 1));
                match r {
                    Ok(Some(o)) => Value::Bool(op.holds(o)),
                    Ok(None) => Value::Absent,
                    Err(m) => self.issue(id, m),
                }
            }
            Op::Between => {
                let (x, lo, hi) = (self.input(id, 0), self.input(id, 1), self.input(id, 2));
                let r = (compare(x, lo), compare(x, hi));
                match r {
                    (Ok(Some(l)), Ok(Some(h))) => {
                        Value::Bool(l != Ordering::Less && h != Ordering::Greater)
                    }
                    (Err(m), _) | (_, Err(m)) => self.issue(id, m),
                    _ => Value::Absent,
                }
            }
            Op::Present(p) => Value::Bool(self.input(id, 0).is_absent() != *p),
            Op::HasCode(filter) => match self.input(id, 0) {
                Value::Reading(r) if matches!(r.value, Recorded::Code(_)) => {
                    let codings = r.codings();
                    Value::Bool(
                        codings
                            .iter()
                            .any(|(s, c)| code_matches(graph, filter, s, c)),
                    )
                }
                Value::Absent => Value::Absent,
                _ => self.issue(id, "`is CODE` needs a reading with a coded value"),
            },
            Op::Convert(unit) => match self.input(id, 0).scalar_ref() {
                Value::Quantity(q) => match q.convert_to_code(unit) {
                    Ok(q) => Value::Quantity(q),
                    Err(_) => self.issue(id, format!("the value does not convert to '{unit}'")),
                },
                Value::Absent => Value::Absent,
                _ => self.issue(id, format!("only a quantity converts to '{unit}'")),
            },
            Op::Round(places) => match self.input(id, 0).scalar_ref() {
                Value::Number(n) => Value::Number(round(n, *places)),
                Value::Quantity(q) => {
                    Value::Quantity(Quantity::new(round(q.value, *places), q.unit.clone()))
                }
                Value::Absent => Value::Absent,
                _ => self.issue(id, "only numbers and quantities can be rounded"),
            },
            Op::Aggregate(f) => {
                let x = a(self, 0);
                match aggregate(*f, &x) {
                    Ok(v) => v,
                    Err(m) => self.issue(id, m),
                }
            }
            Op::Change(kind) => match self.input(id, 0) {
                Value::Readings(rs) => match change_witness(*kind, rs) {
                    Some((from, to)) => match arith(
                        Arith::Sub,
                        &Value::Reading(to.clone()),
                        &Value::Reading(from.clone()),
                    ) {
                        Ok(v) => v,
                        Err(m) => self.issue(id, m),
                    },
                    None => Value::Absent,
                },
                _ => Value::Absent,
            },
            Op::Case { arms, otherwise } => {
                for i in 0..*arms {
                    match self.input(id, 2 * i).as_bool() {
                        Some(true) => return a(self, 2 * i + 1),
                        Some(false) => continue,
                        None => return Value::Absent,
                    }
                }
                if *otherwise {
                    a(self, 2 * arms)
                } else {
                    Value::Absent
                }
            }
            Op::Bands { rows, otherwise } => {
                let subject = a(self, 0);
                if subject.is_absent() {
                    return Value::Absent;
                }
                let mut k = 1;
                for test in rows {
                    let hit = match test {
                        BandTest::Cmp(op) => {
                            compare(&subject, self.input(id, k)).map(|o| o.map(|o| op.holds(o)))
                        }
                        BandTest::Exact => compare(&subject, self.input(id, k))
                            .map(|o| o.map(|o| o == Ordering::Equal)),
                        BandTest::Span => {
                            match (
                                compare(&subject, self.input(id, k)),
                                compare(&subject, self.input(id, k + 1)),
                            ) {
                                (Ok(Some(l)), Ok(Some(h))) => {
                                    Ok(Some(l != Ordering::Less && h != Ordering::Greater))
                                }
                                (Err(m), _) | (_, Err(m)) => Err(m),
                                _ => Ok(None),
                            }
                        }
                    };
                    k += test.bounds();
                    match hit {
                        Ok(Some(true)) => return a(self, k),
                        Ok(Some(false)) => {}
                        Ok(None) => return Value::Absent,
                        Err(m) => return self.issue(id, m),
                    }
                    k += 1;
                }
                if *otherwise {
                    a(self, k)
                } else {
                    Value::Absent
                }
            }
            Op::Card(i) => Value::Bool(matches!(
                self.values[graph.cards[*i].condition.index()],
                Value::Bool(true)
            )),
        }
    }

    fn fhirpath(&mut self, id: NodeId, f: &FhirPathOp) -> Value<'r> {
        let record = self.record;
        let patient = record.patient();
        let resolver = record.resolver_for(patient);
        let context: Collection<'_> = match f.lead_type() {
            Some(t) if t != "Patient" => record
                .resources_of_type(t)
                .iter()
                .flat_map(|r| Collection::from_json(r.json()))
                .collect(),
            _ => Collection::from_json(patient.json()),
        };
        let ctx = EvalContext::new(self.at)
            .with_resolver(&resolver)
            .with_valuesets(&self.graph.valuesets)
            .with_variable("patient", Collection::from_json(patient.json()));
        let result = f.expr.evaluate_on(&context, &ctx);
        match result {
            Ok(c) => {
                let mut vals: Vec<Value<'static>> = c.iter().map(item_value).collect();
                match vals.len() {
                    0 => Value::Absent,
                    1 => vals.pop().unwrap_or_default(),
                    _ => Value::List(vals.into()),
                }
            }
            Err(e) => self.issue(id, format!("FHIRPath: {}", e.message)),
        }
    }

    /// The resources a node's value came from, most specific first: the reading itself for a
    /// latest/earliest/min/max, the two readings of a change, all readings of a list, the
    /// matching conditions or medications, the patient for age; otherwise the union of its
    /// inputs' resources.
    pub fn sources(&self, node: NodeId) -> Vec<Arc<Resource>> {
        let mut acc = Sources::default();
        let mut seen = std::collections::HashSet::new();
        self.collect_sources(node, &mut acc, &mut seen, 0);
        acc.list
    }

    fn collect_sources(
        &self,
        node: NodeId,
        acc: &mut Sources,
        seen: &mut std::collections::HashSet<NodeId>,
        depth: usize,
    ) {
        if depth > 200 || !seen.insert(node) {
            return;
        }
        let n = &self.graph.graph[node];
        let value = &self.values[node.index()];
        match (&n.op, value) {
            (_, Value::Reading(r)) => acc.push(r.entry.observation()),
            (Op::Observations { .. } | Op::Within(_), Value::Readings(rs)) => {
                for r in rs.iter() {
                    acc.push(r.entry.observation());
                }
            }
            (Op::Change(kind), _) => {
                if let Value::Readings(rs) = self.input(node, 0) {
                    if let Some((a, b)) = change_witness(*kind, rs) {
                        acc.push(a.entry.observation());
                        acc.push(b.entry.observation());
                    }
                }
            }
            (Op::Active { kind, code }, _) => {
                for r in active_matches(self.graph, self.record, *kind, code) {
                    acc.push(&r);
                }
            }
            (Op::Age, _) => acc.push(self.record.patient()),
            (Op::Const(_), _) => {}
            _ => {
                for i in &n.inputs {
                    if self.evaluated[i.index()] {
                        self.collect_sources(*i, acc, seen, depth + 1);
                    }
                }
            }
        }
    }

    fn references(&self, node: NodeId) -> Vec<String> {
        self.sources(node)
            .iter()
            .filter_map(|r| r.id().map(|id| format!("{}/{id}", r.resource_type())))
            .collect()
    }

    fn fill(&self, t: &Template, json_string: bool) -> String {
        let mut s = String::new();
        for p in &t.parts {
            let piece = match p {
                TemplatePart::Text(x) => {
                    s.push_str(x);
                    continue;
                }
                TemplatePart::Value(n) => self.values[n.index()].to_string(),
                TemplatePart::Reference(n) => self
                    .sources(*n)
                    .iter()
                    .find_map(|r| r.id().map(str::to_string))
                    .unwrap_or_default(),
            };
            if json_string {
                let quoted = Json::String(piece).to_string();
                s.push_str(&quoted[1..quoted.len() - 1]);
            } else {
                s.push_str(&piece);
            }
        }
        s
    }

    fn action(&self, a: &ActionSpec) -> card::Action {
        match a.kind {
            super::build::ActionKind::Delete => card::Action {
                kind: "delete".into(),
                description: a.description.clone(),
                resource: None,
                resource_id: Some(self.fill(&a.body, false)),
            },
            kind => card::Action {
                kind: kind.as_str().into(),
                description: a.description.clone(),
                resource: serde_json::from_str(&self.fill(&a.body, true)).ok(),
                resource_id: None,
            },
        }
    }

    fn render(
        &self,
        i: usize,
        memo: &mut std::collections::HashMap<NodeId, EvidenceValue>,
    ) -> (Card, Evidence, Vec<card::Action>) {
        let spec = &self.graph.cards[i];
        let patient = self.record.patient().id().unwrap_or("");
        let name = format!(
            "cds:{}@{}/{}/{patient}/{}",
            spec.ruleset, spec.version, spec.rule, self.at
        );
        let uuid = |suffix: &str| {
            Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("{name}{suffix}").as_bytes()).to_string()
        };
        let evidence = Evidence {
            ruleset: spec.ruleset.clone(),
            version: spec.version.clone(),
            rule: spec.rule.clone(),
            at: self.at.to_string(),
            values: spec
                .evidence
                .iter()
                .map(|(name, n)| {
                    let mut e = memo
                        .entry(*n)
                        .or_insert_with(|| {
                            let v = &self.values[n.index()];
                            EvidenceValue {
                                name: String::new(),
                                shown: v.to_string(),
                                value: v.to_json(),
                                resources: self.references(*n),
                            }
                        })
                        .clone();
                    e.name = name.clone();
                    e
                })
                .collect(),
        };
        let mut card = Card::new(
            &self.fill(&spec.summary, false),
            spec.indicator,
            card::Source {
                label: spec.source.0.clone(),
                url: spec.source.1.clone(),
                icon: spec.source.2.clone(),
            },
        );
        card.uuid = uuid("");
        card.detail = spec.detail.as_ref().map(|d| self.fill(d, false));
        card.links = spec
            .links
            .iter()
            .map(|(label, url)| card::Link {
                label: label.clone(),
                url: url.clone(),
                kind: "absolute".into(),
            })
            .collect();
        card.suggestions = spec
            .suggestions
            .iter()
            .enumerate()
            .map(|(k, s)| card::Suggestion {
                label: s.label.clone(),
                uuid: uuid(&format!("/suggestion/{k}")),
                actions: s.actions.iter().map(|a| self.action(a)).collect(),
            })
            .collect();
        if !card.suggestions.is_empty() {
            card.selection_behavior = Some("any".into());
        }
        card.override_reasons = spec
            .override_reasons
            .iter()
            .map(|(code, display)| Coding {
                system: Some(format!("urn:cds-rules:{}:override-reason", spec.ruleset)),
                code: code.clone(),
                display: Some(display.clone()),
            })
            .collect();
        card.extension = Some(json!({ "cds-evidence": evidence }));
        let actions = spec.system_actions.iter().map(|a| self.action(a)).collect();
        (card, evidence, actions)
    }
}

/// Resources in first-seen order, each once.
#[derive(Default)]
struct Sources {
    list: Vec<Arc<Resource>>,
    seen: std::collections::HashSet<*const Resource>,
}

impl Sources {
    fn push(&mut self, r: &Arc<Resource>) {
        if self.seen.insert(Arc::as_ptr(r)) {
            self.list.push(Arc::clone(r));
        }
    }
}

/// The value of a constant; `None` for a quantity whose unit is not UCUM.
pub(crate) fn literal(l: &Literal) -> Option<Value<'static>> {
    Some(match l {
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Number(n) => Value::Number(*n),
        Literal::Text(t) => Value::Text(Arc::from(t.as_str())),
        Literal::Quantity(v, u) => Value::Quantity(Quantity::ucum(*v, u).ok()?),
    })
}

fn item_value(item: &Item<'_>) -> Value<'static> {
    let Some(sys) = item.to_system() else {
        return match item {
            Item::Node(n) => Value::Text(Arc::from(n.json.to_string())),
            _ => Value::Absent,
        };
    };
    match sys {
        Item::Boolean(b) => Value::Bool(b),
        Item::Integer(i) => Value::Number(Decimal::from(i)),
        Item::Decimal(d) => Value::Number(d),
        Item::String(s) => Value::Text(Arc::from(s.as_str())),
        Item::Quantity(q) => match Quantity::ucum(q.value, &q.unit) {
            Ok(q) => Value::Quantity(q),
            Err(_) => Value::Number(q.value),
        },
        Item::Date(d) => Value::Text(Arc::from(d.to_string())),
        Item::DateTime(d) => Value::Text(Arc::from(d.to_string())),
        Item::Time(t) => Value::Text(Arc::from(t.to_string())),
        Item::Type(t) => Value::Text(Arc::from(t.name.as_ref())),
        Item::Node(n) => Value::Text(Arc::from(n.json.to_string())),
    }
}

fn code_matches(graph: &Graph, filter: &CodeFilter, system: &str, code: &str) -> bool {
    match filter {
        CodeFilter::Code { system: s, code: c } => s == system && c == code,
        CodeFilter::ValueSet(url) => graph
            .valuesets
            .get(url)
            .is_some_and(|vs| vs.contains(system, code)),
    }
}

fn active_matches(
    graph: &Graph,
    record: &PatientRecord,
    kind: ActiveKind,
    filter: &CodeFilter,
) -> Vec<Arc<Resource>> {
    let mut out: Vec<Arc<Resource>> = Vec::new();
    let mut push = |r: &Arc<Resource>| {
        if !out.iter().any(|x| Arc::ptr_eq(x, r)) {
            out.push(Arc::clone(r));
        }
    };
    match (kind, filter) {
        (ActiveKind::Condition, CodeFilter::Code { system, code }) => {
            record
                .active_conditions(system, code)
                .for_each(|c| push(c.condition()));
        }
        (ActiveKind::Medication, CodeFilter::Code { system, code }) => {
            record
                .active_medications(system, code)
                .for_each(|m| push(m.request()));
        }
        (ActiveKind::OrderedMedication, CodeFilter::Code { system, code }) => {
            record
                .draft_medications(system, code)
                .for_each(|m| push(m.request()));
        }
        (ActiveKind::Condition, CodeFilter::ValueSet(_)) => {
            for (s, c, entries) in record.condition_index().iter() {
                if code_matches(graph, filter, s, c) {
                    entries
                        .iter()
                        .filter(|e| e.is_active())
                        .for_each(|e| push(e.condition()));
                }
            }
        }
        (ActiveKind::Medication | ActiveKind::OrderedMedication, CodeFilter::ValueSet(_)) => {
            let ordered = kind == ActiveKind::OrderedMedication;
            for (s, c, entries) in record.medication_index().iter() {
                if code_matches(graph, filter, s, c) {
                    entries
                        .iter()
                        .filter(|e| if ordered { e.is_draft() } else { e.is_active() })
                        .for_each(|e| push(e.request()));
                }
            }
        }
    }
    out
}

fn age<'r>(patient: &Resource, at: &DateTime) -> Value<'r> {
    let Some(birth) = patient
        .json()
        .get("birthDate")
        .and_then(Json::as_str)
        .and_then(|s| Date::parse(s).ok())
    else {
        return Value::Absent;
    };
    let today = at.date();
    let (Some(bm), Some(bd)) = (birth.month(), birth.day()) else {
        return Value::Absent;
    };
    let (Some(tm), Some(td)) = (today.month(), today.day()) else {
        return Value::Absent;
    };
    let mut years = today.year() - birth.year();
    if (tm, td) < (bm, bd) {
        years -= 1;
    }
    if years < 0 {
        return Value::Absent;
    }
    Value::Number(Decimal::from(years))
}

/// Compares two values: `Ok(None)` when either is absent, `Err` when they cannot be compared
/// (different kinds, units that do not convert). A plain number compared with a quantity is
/// compared with the quantity's number as recorded.
/// A value seen for comparison, without copying it.
enum View<'a> {
    Absent,
    Number(Decimal),
    Quantity(&'a Quantity),
    Text(&'a str),
    Bool(bool),
    Other,
}

fn view<'a>(v: &'a Value<'_>) -> View<'a> {
    match v {
        Value::Number(n) => View::Number(*n),
        Value::Quantity(q) => View::Quantity(q),
        Value::Text(t) => View::Text(t),
        Value::Bool(b) => View::Bool(*b),
        Value::Reading(r) => match &r.value {
            Recorded::Quantity(q) => View::Quantity(q),
            Recorded::Number(n) => View::Number(*n),
            Recorded::Text(t) => View::Text(t),
            Recorded::Bool(b) => View::Bool(*b),
            Recorded::Code(_) => View::Other,
        },
        other if other.is_absent() => View::Absent,
        _ => View::Other,
    }
}

/// Compares two values: `Ok(None)` when either is absent, `Err` when they cannot be compared
/// (different kinds, units that do not convert). A plain number compared with a quantity is
/// compared with the quantity's number as recorded.
pub(crate) fn compare(x: &Value<'_>, y: &Value<'_>) -> Result<Option<Ordering>, String> {
    Ok(Some(match (view(x), view(y)) {
        (View::Absent, _) | (_, View::Absent) => return Ok(None),
        (View::Number(a), View::Number(b)) => a.cmp(&b),
        (View::Quantity(a), View::Quantity(b)) => match a.compare(b) {
            Some(o) => o,
            None => {
                return Err(format!(
                    "'{}' and '{}' are not comparable units",
                    a.unit.code(),
                    b.unit.code()
                ))
            }
        },
        (View::Quantity(a), View::Number(b)) => a.value.cmp(&b),
        (View::Number(a), View::Quantity(b)) => a.cmp(&b.value),
        (View::Text(a), View::Text(b)) => a.cmp(b),
        (View::Bool(a), View::Bool(b)) => a.cmp(&b),
        _ => return Err("these two kinds of value cannot be compared".into()),
    }))
}

pub(crate) fn arith<'r>(op: Arith, x: &Value<'r>, y: &Value<'r>) -> Result<Value<'r>, String> {
    let (x, y) = (x.scalar_ref(), y.scalar_ref());
    let num = |a: Decimal, b: Decimal| -> Result<Decimal, String> {
        match op {
            Arith::Add => a.checked_add(b),
            Arith::Sub => a.checked_sub(b),
            Arith::Mul => a.checked_mul(b),
            Arith::Div if b.is_zero() => return Err("division by zero".into()),
            Arith::Div => a.checked_div(b),
        }
        .ok_or_else(|| "arithmetic overflow".to_string())
    };
    let bad = |_| "units that do not combine".to_string();
    Ok(match (&x, &y) {
        (Value::Absent, _) | (_, Value::Absent) => Value::Absent,
        (Value::Number(a), Value::Number(b)) => Value::Number(num(*a, *b)?),
        (Value::Quantity(a), Value::Quantity(b)) => {
            let q = match op {
                Arith::Add => a.add(b),
                Arith::Sub => a.sub(b),
                Arith::Mul => a.mul(b),
                Arith::Div if b.value.is_zero() => return Err("division by zero".into()),
                Arith::Div => a.div(b),
            }
            .map_err(bad)?;
            // A ratio of like quantities (mg/L over mg/dL) is a plain number.
            match (&q.unit, op) {
                (QuantityUnit::Ucum(u), Arith::Div) if u.is_dimensionless() => {
                    match q.value_in(&Unit::unity()) {
                        Ok(n) => Value::Number(n),
                        Err(_) => Value::Quantity(q),
                    }
                }
                _ => Value::Quantity(q),
            }
        }
        (Value::Quantity(a), Value::Number(b)) => match op {
            Arith::Mul | Arith::Div => {
                Value::Quantity(Quantity::new(num(a.value, *b)?, a.unit.clone()))
            }
            // A number added to a quantity is taken in the quantity's unit.
            _ => Value::Quantity(Quantity::new(num(a.value, *b)?, a.unit.clone())),
        },
        (Value::Number(a), Value::Quantity(b)) => match op {
            Arith::Mul => Value::Quantity(Quantity::new(num(*a, b.value)?, b.unit.clone())),
            Arith::Div => Value::Quantity(
                Quantity::unity(*a)
                    .div(b)
                    .map_err(|_| "division by zero or units that do not combine".to_string())?,
            ),
            _ => Value::Quantity(Quantity::new(num(*a, b.value)?, b.unit.clone())),
        },
        _ => return Err("arithmetic needs numbers or quantities".into()),
    })
}

/// The aggregate of readings that all have the same unit (or none): plain decimal
/// arithmetic, no conversions. `None` when units differ.
fn aggregate_same_unit<'r>(f: AggregateFn, rs: &[Reading<'r>]) -> Option<Value<'r>> {
    let first = rs.first()?;
    let unit = match &first.value {
        Recorded::Quantity(q) => Some(&q.unit),
        Recorded::Number(_) => None,
        _ => return None,
    };
    let mut nums = Vec::with_capacity(rs.len());
    for r in rs {
        match (&r.value, unit) {
            (Recorded::Quantity(q), Some(u)) if q.unit == *u => nums.push(q.value),
            (Recorded::Number(n), None) => nums.push(*n),
            _ => return None,
        }
    }
    let wrap = |n: Decimal| match unit {
        Some(u) => Value::Quantity(Quantity::new(n, u.clone())),
        None => Value::Number(n),
    };
    Some(match f {
        AggregateFn::Count => Value::Number(Decimal::from(rs.len())),
        AggregateFn::Min | AggregateFn::Max => {
            let mut best = 0;
            for (i, n) in nums.iter().enumerate() {
                let better = if f == AggregateFn::Min {
                    *n < nums[best]
                } else {
                    *n > nums[best]
                };
                if better {
                    best = i;
                }
            }
            Value::Reading(rs[best].clone())
        }
        AggregateFn::Sum | AggregateFn::Average => {
            let mut total = Decimal::ZERO;
            for n in &nums {
                total = total.checked_add(*n)?;
            }
            if f == AggregateFn::Average {
                total = total.checked_div(Decimal::from(nums.len()))?;
            }
            wrap(total)
        }
    })
}

fn aggregate<'r>(f: AggregateFn, x: &Value<'r>) -> Result<Value<'r>, String> {
    if let Value::Readings(rs) = x {
        if let Some(v) = aggregate_same_unit(f, rs) {
            return Ok(v);
        }
    }
    let items: Vec<Value<'r>> = match x {
        Value::Readings(rs) => rs.iter().cloned().map(Value::Reading).collect(),
        Value::List(l) => l.to_vec(),
        Value::Absent => Vec::new(),
        other => vec![other.clone()],
    };
    if f == AggregateFn::Count {
        return Ok(Value::Number(Decimal::from(items.len())));
    }
    let Some(first) = items.first().cloned() else {
        return Ok(Value::Absent);
    };
    match f {
        AggregateFn::Min | AggregateFn::Max => {
            let mut best = first;
            for v in &items[1..] {
                let o = compare(v, &best)?.unwrap_or(Ordering::Equal);
                if (f == AggregateFn::Min && o == Ordering::Less)
                    || (f == AggregateFn::Max && o == Ordering::Greater)
                {
                    best = v.clone();
                }
            }
            Ok(best)
        }
        _ => {
            let mut total = first.scalar_ref();
            for v in &items[1..] {
                total = arith(Arith::Add, &total, v)?;
            }
            if f == AggregateFn::Average {
                total = arith(
                    Arith::Div,
                    &total,
                    &Value::Number(Decimal::from(items.len())),
                )?;
            }
            Ok(total)
        }
    }
}

/// The two readings a change is computed from: (from, to).
fn change_witness<'a, 'r>(
    kind: ChangeKind,
    rs: &'a [Reading<'r>],
) -> Option<(&'a Reading<'r>, &'a Reading<'r>)> {
    let (last, before) = rs.split_last()?;
    if before.is_empty() {
        return None;
    }
    let pick = |want: Ordering| {
        let mut best = &before[0];
        for r in &before[1..] {
            let o = compare(&Value::Reading(r.clone()), &Value::Reading(best.clone()))
                .ok()
                .flatten();
            if o == Some(want) {
                best = r;
            }
        }
        best
    };
    Some(match kind {
        ChangeKind::Change => (&before[0], last),
        ChangeKind::Rise => (pick(Ordering::Less), last),
        // fall = highest before - latest, i.e. (latest - highest) negated: from latest to highest.
        ChangeKind::Fall => (last, pick(Ordering::Greater)),
    })
}
