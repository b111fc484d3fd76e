//! Building a graph: nodes are added bottom-up; a node with the same operation and inputs as
//! an existing one is that node (hash-consing), so identical sub-expressions of all rules of
//! all rulesets are computed once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};
use smallvec::SmallVec;

use super::op::Op;
use crate::card::Indicator;
use crate::fhirpath::ValueSetRegistry;

/// A node of the graph.
pub type NodeId = NodeIndex<u32>;

/// A node: its operation and its inputs in order.
#[derive(Debug, Clone)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Its inputs, in the order the operation reads them.
    pub inputs: SmallVec<[NodeId; 4]>,
}

/// Text with values shown in it: a card summary, detail or action body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Template {
    /// Literal pieces and values, in order.
    pub parts: Vec<TemplatePart>,
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// The value of a node, as shown in card texts.
    Value(NodeId),
    /// The id of the first resource a node's value came from (for delete actions:
    /// `delete "Observation/{potassium}"`).
    Reference(NodeId),
}

impl Template {
    /// A template of literal text only.
    pub fn text(s: &str) -> Template {
        Template {
            parts: vec![TemplatePart::Text(s.to_string())],
        }
    }

    fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.parts.iter().filter_map(|p| match p {
            TemplatePart::Value(n) | TemplatePart::Reference(n) => Some(*n),
            TemplatePart::Text(_) => None,
        })
    }
}

/// The kind of a card action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Create a resource.
    Create,
    /// Update a resource.
    Update,
    /// Delete a resource.
    Delete,
}

impl ActionKind {
    /// The CDS Hooks word.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Delete => "delete",
        }
    }
}

/// An action to render: for create/update the body is a JSON resource template (values
/// inserted as JSON string content), for delete a `Type/id` reference.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    /// What it does.
    pub kind: ActionKind,
    /// Its description.
    pub description: String,
    /// The resource template or reference.
    pub body: Template,
}

/// A suggestion to render.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestionSpec {
    /// Its label.
    pub label: String,
    /// Its actions.
    pub actions: Vec<ActionSpec>,
}

/// Everything needed to raise a rule's card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardSpec {
    /// The ruleset's name.
    pub ruleset: String,
    /// The ruleset's version.
    pub version: String,
    /// The rule id.
    pub rule: String,
    /// The hooks the ruleset answers (empty: every hook).
    pub hooks: Vec<String>,
    /// The rule's condition.
    pub condition: NodeId,
    /// The card's indicator.
    pub indicator: Indicator,
    /// The summary.
    pub summary: Template,
    /// The detail.
    pub detail: Option<Template>,
    /// Source label, URL and icon.
    pub source: (String, Option<String>, Option<String>),
    /// Links: label, URL.
    pub links: Vec<(String, String)>,
    /// Suggestions.
    pub suggestions: Vec<SuggestionSpec>,
    /// Override reasons: code, display.
    pub override_reasons: Vec<(String, String)>,
    /// System actions (returned beside the cards).
    pub system_actions: Vec<ActionSpec>,
    /// The named values the rule uses, for its evidence.
    pub evidence: Vec<(String, NodeId)>,
}

impl CardSpec {
    fn nodes(&self) -> Vec<NodeId> {
        let mut v = vec![self.condition];
        v.extend(self.summary.nodes());
        if let Some(d) = &self.detail {
            v.extend(d.nodes());
        }
        for s in &self.suggestions {
            for a in &s.actions {
                v.extend(a.body.nodes());
            }
        }
        for a in &self.system_actions {
            v.extend(a.body.nodes());
        }
        v.extend(self.evidence.iter().map(|(_, n)| *n));
        v
    }
}

/// Adds nodes, sharing identical ones.
#[derive(Default)]
pub struct GraphBuilder {
    graph: DiGraph<Node, (), u32>,
    dedup: HashMap<(Op, SmallVec<[NodeId; 4]>), NodeId>,
    cards: Vec<CardSpec>,
    requested: usize,
    valuesets: Arc<ValueSetRegistry>,
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> GraphBuilder {
        GraphBuilder::default()
    }

    /// Value sets that `in valueset` filters resolve against.
    pub fn with_valuesets(mut self, valuesets: Arc<ValueSetRegistry>) -> GraphBuilder {
        self.valuesets = valuesets;
        self
    }

    /// The node computing `op` from `inputs`: an existing one when the same node was added
    /// before (commutative operations match whatever their input order).
    pub fn node(&mut self, op: Op, inputs: &[NodeId]) -> NodeId {
        self.requested += 1;
        let mut inputs: SmallVec<[NodeId; 4]> = inputs.iter().copied().collect();
        if op.is_commutative() {
            inputs.sort();
        }
        let key = (op, inputs);
        if let Some(&id) = self.dedup.get(&key) {
            return id;
        }
        let (op, inputs) = key.clone();
        let id = self.graph.add_node(Node {
            op,
            inputs: inputs.clone(),
        });
        for i in &inputs {
            self.graph.add_edge(*i, id, ());
        }
        self.dedup.insert(key, id);
        id
    }

    /// How many cards were added (the index the next card gets).
    pub fn card_count(&self) -> usize {
        self.cards.len()
    }

    /// Adds a rule's card; its node depends on every node the card reads.
    pub fn card(&mut self, spec: CardSpec) -> NodeId {
        let index = self.cards.len();
        let inputs: SmallVec<[NodeId; 4]> = spec.nodes().into_iter().collect();
        let id = self.graph.add_node(Node {
            op: Op::Card(index),
            inputs: inputs.clone(),
        });
        for i in BTreeSet::from_iter(inputs) {
            self.graph.add_edge(i, id, ());
        }
        self.cards.push(spec);
        self.requested += 1;
        id
    }

    /// The graph, with its evaluation order and a plan per hook.
    pub fn finish(self) -> Graph {
        let order: Vec<NodeId> = petgraph::algo::toposort(&self.graph, None)
            // Nodes are only ever added after their inputs: the insertion order is also a
            // topological order, and there can be no cycle.
            .unwrap_or_else(|_| self.graph.node_indices().collect());
        let mut position = vec![0u32; self.graph.node_count()];
        for (i, n) in order.iter().enumerate() {
            position[n.index()] = i as u32;
        }
        let mut graph = Graph {
            graph: self.graph,
            order,
            cards: self.cards,
            plans: HashMap::new(),
            all: Arc::new(Plan::default()),
            requested: self.requested,
            valuesets: self.valuesets,
            consts: Vec::new(),
        };
        graph.consts = graph
            .graph
            .node_weights()
            .map(|n| match &n.op {
                Op::Const(l) => super::eval::literal(l),
                _ => None,
            })
            .collect();
        let card_nodes: Vec<NodeId> = graph
            .graph
            .node_indices()
            .filter(|n| matches!(graph.graph[*n].op, Op::Card(_)))
            .collect();
        // Without a hook, every node is evaluated: tools (explain, tests, replay) can read
        // any definition, used by a rule or not.
        graph.all = Arc::new(Plan {
            nodes: graph.order.clone(),
            cards: card_nodes.clone(),
        });
        let mut hooks: BTreeSet<&str> = BTreeSet::new();
        for c in &graph.cards {
            hooks.extend(c.hooks.iter().map(String::as_str));
        }
        let hooks: Vec<String> = hooks.into_iter().map(str::to_string).collect();
        for hook in hooks {
            let cards: Vec<NodeId> = card_nodes
                .iter()
                .copied()
                .filter(|n| match graph.graph[*n].op {
                    Op::Card(i) => {
                        let h = &graph.cards[i].hooks;
                        h.is_empty() || h.contains(&hook)
                    }
                    _ => false,
                })
                .collect();
            let plan = graph.plan_for(&cards, &position);
            graph.plans.insert(hook, Arc::new(plan));
        }
        graph
    }
}

/// The nodes to evaluate for a set of cards, in evaluation order.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// Nodes in topological order (the cards' nodes last among their inputs).
    pub nodes: Vec<NodeId>,
    /// The card nodes of the plan.
    pub cards: Vec<NodeId>,
}

/// A compiled evaluation graph (a DAG): data queries, derived values, predicates and cards.
/// Immutable and shareable across threads.
pub struct Graph {
    pub(crate) graph: DiGraph<Node, (), u32>,
    pub(crate) order: Vec<NodeId>,
    pub(crate) cards: Vec<CardSpec>,
    pub(crate) plans: HashMap<String, Arc<Plan>>,
    pub(crate) all: Arc<Plan>,
    pub(crate) requested: usize,
    pub(crate) valuesets: Arc<ValueSetRegistry>,
    /// The value of each constant node, computed once (UCUM units parsed when building).
    pub(crate) consts: Vec<Option<super::value::Value<'static>>>,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("nodes", &self.graph.node_count())
            .field("cards", &self.cards.len())
            .finish()
    }
}

/// Node counts of a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphStats {
    /// Nodes in the graph (shared nodes counted once).
    pub nodes: usize,
    /// Nodes the compiler asked for, each request counted: the size if identical
    /// expressions written separately (in other rules or rulesets) were not merged, while a
    /// definition used by several rules still counts once.
    pub requested: usize,
    /// The size with no sharing at all: every rule's condition and card values expanded as
    /// trees (each use of a definition counted again).
    pub unshared: u64,
    /// Data query nodes.
    pub queries: usize,
    /// Card nodes (one per rule).
    pub cards: usize,
    /// Edges.
    pub edges: usize,
}

impl Graph {
    fn plan_for(&self, cards: &[NodeId], position: &[u32]) -> Plan {
        let mut seen = vec![false; self.graph.node_count()];
        let rev = Reversed(&self.graph);
        for c in cards {
            let mut dfs = Dfs::new(rev, *c);
            while let Some(n) = dfs.next(rev) {
                seen[n.index()] = true;
            }
        }
        let mut nodes: Vec<NodeId> = self
            .graph
            .node_indices()
            .filter(|n| seen[n.index()])
            .collect();
        nodes.sort_by_key(|n| position[n.index()]);
        Plan {
            nodes,
            cards: cards.to_vec(),
        }
    }

    /// The node.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.graph[id]
    }

    /// The underlying petgraph graph (edges go from an input to the node that reads it).
    pub fn petgraph(&self) -> &DiGraph<Node, (), u32> {
        &self.graph
    }

    /// The cards' specs, indexed by [`Op::Card`].
    pub fn cards(&self) -> &[CardSpec] {
        &self.cards
    }

    /// The value sets the graph resolves `in valueset` against.
    pub fn valuesets(&self) -> &ValueSetRegistry {
        &self.valuesets
    }

    /// The plan for a hook: the nodes its rules need. `None`: every node and every rule. A hook no ruleset answers has an empty plan.
    pub fn plan(&self, hook: Option<&str>) -> Arc<Plan> {
        match hook {
            None => Arc::clone(&self.all),
            Some(h) => self.plans.get(h).cloned().unwrap_or_else(|| {
                // Rulesets that name no hooks answer every hook.
                let cards: Vec<NodeId> = self
                    .all
                    .cards
                    .iter()
                    .copied()
                    .filter(|n| match self.graph[*n].op {
                        Op::Card(i) => self.cards[i].hooks.is_empty(),
                        _ => false,
                    })
                    .collect();
                if cards.len() == self.all.cards.len() {
                    return Arc::clone(&self.all);
                }
                let mut position = vec![0u32; self.graph.node_count()];
                for (i, n) in self.order.iter().enumerate() {
                    position[n.index()] = i as u32;
                }
                Arc::new(self.plan_for(&cards, &position))
            }),
        }
    }

    /// The plan for the rules of one ruleset answering `hook` (all its rules for `None`): what a
    /// CDS Hooks service of that ruleset evaluates.
    pub fn plan_of_ruleset(&self, hook: Option<&str>, ruleset: &str) -> Arc<Plan> {
        let cards: Vec<NodeId> = self
            .plan(hook)
            .cards
            .iter()
            .copied()
            .filter(|n| match self.graph[*n].op {
                Op::Card(i) => self.cards[i].ruleset == ruleset,
                _ => false,
            })
            .collect();
        let mut position = vec![0u32; self.graph.node_count()];
        for (i, n) in self.order.iter().enumerate() {
            position[n.index()] = i as u32;
        }
        Arc::new(self.plan_for(&cards, &position))
    }

    /// Node counts, with and without sharing.
    pub fn stats(&self) -> GraphStats {
        GraphStats {
            nodes: self.graph.node_count(),
            requested: self.requested,
            unshared: {
                let mut size = vec![0u64; self.graph.node_count()];
                let mut total = 0u64;
                for n in &self.order {
                    let node = &self.graph[*n];
                    let s = node
                        .inputs
                        .iter()
                        .fold(1u64, |acc, i| acc.saturating_add(size[i.index()]));
                    size[n.index()] = s;
                    if matches!(node.op, Op::Card(_)) {
                        total = total.saturating_add(s);
                    }
                }
                total
            },
            queries: self
                .graph
                .node_weights()
                .filter(|n| n.op.kind() == "query")
                .count(),
            cards: self.cards.len(),
            edges: self.graph.edge_count(),
        }
    }
}
