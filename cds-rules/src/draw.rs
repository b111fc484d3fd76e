//! The compiled evaluation graph as a picture (SVG), nodes shared between rules marked.
//!
//! The graph is hash-consed: an expression written in several rules (or rulesets) is one
//! node, computed once. [`draw`] lays out the part of the graph that some rules reach as a
//! layered picture — the rules (cards) on top, the data they read (observations, age, active
//! conditions and medications, FHIRPath) at the bottom, an arrow from each node to each value
//! it reads — and marks every node that two or more rules reach as *shared*, with a badge
//! saying how many. Two simplifications keep it legible:
//! * constants are not boxes of their own but part of the label of the node that reads them
//!   (`>= 140 'mm[Hg]'`; a band table's rows are in its hover text), unless a definition
//!   names them;
//! * a rule's node reads every definition the rule uses (for its evidence); only its arrows
//!   to values that nothing else below it reaches are drawn (a transitive reduction).
//!
//! The SVG is self-contained (no scripts, no external references, an embedded `<style>`) and
//! deterministic: the same rulesets give byte-identical output, whatever the node numbering of
//! the compiled graph. For a page that shows it, every node is a
//! `<g class="node KIND [define] [shared]">` with
//! * `KIND` one of `card`, `query`, `constant`, `predicate`, `derived` (see
//!   [`Op::kind`](cds_core::graph::Op::kind));
//! * `data-node`: the node's number in the picture; edges (`<path class="edge">`) carry
//!   `data-from` (the reading node) and `data-to` (the value it reads);
//! * `data-rules`: the rules that reach the node, space-separated — their ids when one ruleset
//!   is drawn, `ruleset/id` when several are;
//! * a `<title>` child with the full, untruncated label and the rules using the node.
//!
//! The layout is the classic layered (Sugiyama) one, per connected part of the graph:
//! longest-path layers (the rules then raised to the top layer), long edges split by dummy
//! points, sweeps of barycentre ordering each followed by swaps of neighbours, keeping the
//! order with the fewest crossings, then x positions pulled towards the neighbours' by
//! isotonic regression (the closest positions that keep the order and the spacing). The
//! parts are then set side by side, in rows when they would make the picture much wider
//! than high.

use std::collections::HashMap;
use std::fmt::Write as _;

use cds_core::graph::{
    ActiveKind, AggregateFn, Arith, BandTest, ChangeKind, Cmp, CodeFilter, Literal, NodeId, Op,
    Which,
};

use crate::engine::Engine;

/// A drawn graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    /// The picture: a self-contained SVG document.
    pub svg: String,
    /// The graph nodes drawn (rules included).
    pub nodes: usize,
    /// The edges drawn (a node reading the same input twice counts once).
    pub edges: usize,
    /// The nodes reached from two or more rules.
    pub shared: usize,
}

/// Draws the part of `engine`'s graph that the rules of the named rulesets reach (all
/// rulesets when `rulesets` is empty). Names that match no loaded ruleset are ignored; with
/// no rule to draw the picture says so.
///
/// ```
/// use cds_rules::engine::Engine;
///
/// let engine = Engine::from_source("bp.rules", r#"ruleset bp version 1.0.0
///   "Blood pressure"
///
/// define systolic = latest observation loinc 8480-6 within 90 days
///
/// rule high
///   when systolic >= 140 'mm[Hg]'
///   then warning "BP {systolic}"
///
/// rule high-and-old
///   when systolic >= 140 'mm[Hg]' and age >= 65
///   then warning "BP {systolic} at 65 or over"
/// "#)?;
/// let picture = cds_rules::draw::draw(&engine, &[]);
/// assert!(picture.svg.starts_with("<svg"));
/// // `systolic >= 140 'mm[Hg]'`, `systolic` and the nodes below it are used by both rules.
/// assert!(picture.shared >= 3);
/// assert!(picture.svg.contains(r#"data-rules="high high-and-old""#));
/// # Ok::<(), cds_rules::engine::EngineError>(())
/// ```
pub fn draw(engine: &Engine, rulesets: &[&str]) -> Picture {
    let model = Model::collect(engine, rulesets);
    if model.rules.is_empty() {
        return Picture {
            svg: empty_svg(),
            nodes: 0,
            edges: 0,
            shared: 0,
        };
    }
    let layout = Layout::compute(&model);
    let svg = render(&model, &layout);
    Picture {
        svg,
        nodes: model.nodes.len(),
        edges: model.edges,
        shared: model.nodes.iter().filter(|n| n.rules.len() >= 2).count(),
    }
}

// ---------------------------------------------------------------------------------------------
// The model: the nodes to draw, in a canonical order, with their labels.

/// One rule drawn.
struct Rule {
    /// How the rule is named in `data-rules`.
    key: String,
}

/// One graph node drawn.
struct DNode {
    /// Inputs, as indexes into the model's nodes, in reading order, without repeats.
    inputs: Vec<usize>,
    /// The rules (indexes) that reach the node, ascending.
    rules: Vec<usize>,
    /// `card`, `query`, `constant`, `predicate` or `derived`.
    kind: &'static str,
    /// Whether some drawn ruleset names the node (`define`, `score`).
    define: bool,
    /// The first line of the label (full text).
    head: String,
    /// The second line of the label (full text; may be empty).
    sub: String,
    /// The hover text.
    title: String,
}

struct Model {
    rules: Vec<Rule>,
    nodes: Vec<DNode>,
    edges: usize,
}

/// FNV-1a, 64 bits: a hash that is the same in every run (unlike std's `RandomState`).
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

impl Model {
    fn collect(engine: &Engine, names: &[&str]) -> Model {
        let graph = engine.graph();
        let selected: Vec<_> = engine
            .rulesets()
            .iter()
            .filter(|rs| names.is_empty() || names.contains(&rs.name.as_str()))
            .collect();
        let qualify = selected.len() > 1;

        let mut rules = Vec::new();
        let mut cards: Vec<NodeId> = Vec::new();
        let mut card_info: HashMap<NodeId, (String, String, &'static str)> = HashMap::new();
        for rs in &selected {
            for (id, card, spec) in rs.rules() {
                let indicator = graph
                    .cards()
                    .get(*spec)
                    .map_or("", |c| c.indicator.as_str());
                rules.push(Rule {
                    key: if qualify {
                        format!("{}/{id}", rs.name)
                    } else {
                        id.clone()
                    },
                });
                cards.push(*card);
                card_info.insert(*card, (rs.name.clone(), id.clone(), indicator));
            }
        }

        // The names of the definitions, per node.
        let mut defined: HashMap<NodeId, Vec<(String, String)>> = HashMap::new();
        for rs in &selected {
            for name in rs.definition_names() {
                if let Some(id) = rs.definition(name) {
                    defined
                        .entry(id)
                        .or_default()
                        .push((name.to_string(), rs.name.clone()));
                }
            }
        }
        // Constants are shown in the labels of the nodes that read them, unless named.
        let folded =
            |id: NodeId| matches!(graph.node(id).op, Op::Const(_)) && !defined.contains_key(&id);

        // A structural hash of every reachable node: the same in every run, unlike the node
        // numbers (the compiler may number nodes differently each time it runs).
        let mut hash: HashMap<NodeId, u64> = HashMap::new();
        let mut stack: Vec<(NodeId, bool)> = cards.iter().rev().map(|c| (*c, false)).collect();
        while let Some((id, expanded)) = stack.pop() {
            if hash.contains_key(&id) {
                continue;
            }
            let node = graph.node(id);
            if !expanded {
                stack.push((id, true));
                stack.extend(
                    node.inputs
                        .iter()
                        .filter(|i| !hash.contains_key(*i))
                        .map(|i| (*i, false)),
                );
                continue;
            }
            let mut children: Vec<u64> = node
                .inputs
                .iter()
                .map(|i| hash.get(i).copied().unwrap_or(0))
                .collect();
            if node.op.is_commutative() {
                children.sort_unstable();
            }
            let mut h = fnv(format!("{:?}", node.op).as_bytes(), FNV_START);
            if let Op::Script(sc) = &node.op {
                // Scripts print their name only; their text tells them apart.
                h = fnv(sc.0.key().as_bytes(), h);
            }
            for c in children {
                h = fnv(&c.to_le_bytes(), h);
            }
            hash.insert(id, h);
        }
        // The inputs drawn: no constants, no repeats; commutative ones in a canonical order.
        let drawn_inputs = |id: NodeId| -> Vec<NodeId> {
            let node = graph.node(id);
            let mut inputs: Vec<NodeId> = Vec::with_capacity(node.inputs.len());
            for i in &node.inputs {
                if !inputs.contains(i) && !folded(*i) {
                    inputs.push(*i);
                }
            }
            if node.op.is_commutative() {
                inputs.sort_by_key(|i| hash.get(i).copied().unwrap_or(0));
            }
            inputs
        };

        // The canonical order: depth first from the rules, in rule order.
        let mut index: HashMap<NodeId, usize> = HashMap::new();
        let mut order: Vec<NodeId> = Vec::new();
        let mut inputs_of: Vec<Vec<usize>> = Vec::new();
        let mut stack: Vec<NodeId> = cards.iter().rev().copied().collect();
        while let Some(id) = stack.pop() {
            if index.contains_key(&id) {
                continue;
            }
            index.insert(id, order.len());
            order.push(id);
            stack.extend(drawn_inputs(id).into_iter().rev());
        }
        for id in &order {
            inputs_of.push(drawn_inputs(*id).iter().map(|i| index[i]).collect());
        }

        // The rules reaching each node.
        let mut reached: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
        let mut stamp: Vec<usize> = vec![usize::MAX; order.len()];
        for (r, card) in cards.iter().enumerate() {
            let mut stack = vec![index[card]];
            while let Some(n) = stack.pop() {
                if stamp[n] == r {
                    continue;
                }
                stamp[n] = r;
                reached[n].push(r);
                stack.extend(inputs_of[n].iter().copied());
            }
        }

        // A card reads every definition its rule uses (for the evidence): its edge to a value
        // that its condition or another value already reaches is left out (transitive
        // reduction), which keeps one edge from a rule down to each part it reads.
        let mut below: Vec<usize> = vec![usize::MAX; order.len()];
        for card in &cards {
            let c = index[card];
            let mut stack: Vec<usize> = inputs_of[c]
                .iter()
                .flat_map(|i| inputs_of[*i].iter().copied())
                .collect();
            while let Some(n) = stack.pop() {
                if below[n] != c {
                    below[n] = c;
                    stack.extend(inputs_of[n].iter().copied());
                }
            }
            inputs_of[c].retain(|i| below[*i] != c);
        }

        let mut nodes = Vec::with_capacity(order.len());
        let mut edges = 0;
        for (n, id) in order.iter().enumerate() {
            let node = graph.node(*id);
            let op = &node.op;
            let inputs = std::mem::take(&mut inputs_of[n]);
            edges += inputs.len();
            let rules_here = std::mem::take(&mut reached[n]);
            let args: Vec<Option<String>> = node
                .inputs
                .iter()
                .map(|i| match &graph.node(*i).op {
                    Op::Const(l) if folded(*i) => Some(literal(l)),
                    _ => None,
                })
                .collect();
            let label = describe(op, &args);
            let mut names = defined.get(id).cloned().unwrap_or_default();
            names.sort();
            names.dedup();
            let what = match &label.detail {
                Some(d) => format!("{} {d}", label.main),
                None => label.main.clone(),
            };
            let (head, sub, mut title) = if let Some((ruleset, rule, indicator)) = card_info.get(id)
            {
                (
                    format!("rule {rule}"),
                    format!("{ruleset} · {indicator}"),
                    format!("rule {rule} of {ruleset} ({indicator})"),
                )
            } else if let Some((first, _)) = names.first() {
                let head = if names.len() > 1 {
                    format!("define {first} +{}", names.len() - 1)
                } else {
                    format!("define {first}")
                };
                let all: Vec<String> = names
                    .iter()
                    .map(|(name, rs)| format!("{name} ({rs})"))
                    .collect();
                let title = format!("define {}\n{what} · {}", all.join(", "), op.kind());
                (head, what, title)
            } else {
                let sub = label
                    .detail
                    .clone()
                    .unwrap_or_else(|| op.kind().to_string());
                (label.main, sub, format!("{what} · {}", op.kind()))
            };
            if let Some(more) = &label.more {
                let _ = write!(title, "\n{more}");
            }
            if !card_info.contains_key(id) {
                let used: Vec<&str> = rules_here.iter().map(|r| rules[*r].key.as_str()).collect();
                let _ = write!(
                    title,
                    "\nused by {} rule{}: {}",
                    used.len(),
                    if used.len() == 1 { "" } else { "s" },
                    used.join(", ")
                );
            }
            nodes.push(DNode {
                inputs,
                rules: rules_here,
                kind: op.kind(),
                define: !names.is_empty(),
                head,
                sub,
                title,
            });
        }
        Model {
            rules,
            nodes,
            edges,
        }
    }
}

/// A code system as the rule language writes it, or the last part of its URI.
fn system_name(system: &str) -> &str {
    match system {
        "http://loinc.org" => "loinc",
        "http://snomed.info/sct" => "snomed",
        "http://www.nlm.nih.gov/research/umls/rxnorm" => "rxnorm",
        "http://hl7.org/fhir/sid/icd-10-cm" => "icd-10-cm",
        "http://hl7.org/fhir/sid/icd-10" => "icd-10",
        other => last_part(other),
    }
}

/// The last non-empty part of a URI (after `/`, `:` or `#`).
fn last_part(uri: &str) -> &str {
    uri.trim_end_matches(['/', ':', '#'])
        .rsplit(['/', ':', '#'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(uri)
}

fn code_label(code: &CodeFilter) -> String {
    match code {
        CodeFilter::Code { system, code } => format!("{} {code}", system_name(system)),
        CodeFilter::ValueSet(url) => format!("valueset {}", last_part(url)),
    }
}

/// A constant as the rule language writes it.
fn literal(l: &Literal) -> String {
    match l {
        Literal::Bool(b) => b.to_string(),
        Literal::Number(n) => n.to_string(),
        Literal::Quantity(n, unit) => format!("{n} '{unit}'"),
        Literal::Text(t) => format!("\"{t}\""),
    }
}

/// What a node computes: a few words, a detail, and more for the hover text.
struct Label {
    main: String,
    detail: Option<String>,
    more: Option<String>,
}

/// The comparison that reads the same with its operands swapped.
fn flipped(c: Cmp) -> Cmp {
    match c {
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
        other => other,
    }
}

/// Describes a node; `args` holds, per input in order, the constant it is (when constants
/// are not drawn as nodes).
fn describe(op: &Op, args: &[Option<String>]) -> Label {
    let arg = |k: usize| args.get(k).cloned().flatten();
    let shown = |k: usize| arg(k).unwrap_or_else(|| "·".to_string());
    let plain = |t: &str| Label {
        main: t.to_string(),
        detail: None,
        more: None,
    };
    let mut label = match op {
        Op::Const(l) => plain(&literal(l)),
        Op::Observations { code, window } => Label {
            main: format!("observations {}", code_label(code)),
            detail: window.map(|w| format!("within {w}")),
            more: None,
        },
        Op::Pick(Which::Latest) => plain("latest"),
        Op::Pick(Which::Earliest) => plain("earliest"),
        Op::Age => plain("age"),
        Op::Active { kind, code } => Label {
            main: match kind {
                ActiveKind::Condition => "active condition",
                ActiveKind::Medication => "active medication",
                ActiveKind::OrderedMedication => "ordered medication",
            }
            .to_string(),
            detail: Some(code_label(code)),
            more: None,
        },
        Op::FhirPath(f) => Label {
            main: "fhirpath".to_string(),
            detail: Some(f.expr.source().to_string()),
            more: None,
        },
        Op::Script(sc) => Label {
            main: "script".to_string(),
            detail: Some(sc.0.name().to_string()),
            more: None,
        },
        Op::Not => plain("not"),
        Op::And => plain("and"),
        Op::Or => plain("or"),
        Op::Neg => plain("negate"),
        Op::Arith(a) => {
            let sign = match a {
                Arith::Add => "+",
                Arith::Sub => "-",
                Arith::Mul => "*",
                Arith::Div => "/",
            };
            plain(&match (arg(0), arg(1)) {
                (None, Some(r)) => format!("{sign} {r}"),
                (Some(l), None) if op.is_commutative() => format!("{sign} {l}"),
                (Some(l), None) => format!("{l} {sign} ·"),
                (Some(l), Some(r)) => format!("{l} {sign} {r}"),
                (None, None) => sign.to_string(),
            })
        }
        Op::Compare(c) => plain(&match (arg(0), arg(1)) {
            (None, Some(r)) => format!("{} {r}", c.as_str()),
            (Some(l), None) => format!("{} {l}", flipped(*c).as_str()),
            (Some(l), Some(r)) => format!("{l} {} {r}", c.as_str()),
            (None, None) => c.as_str().to_string(),
        }),
        Op::Present(true) => plain("is present"),
        Op::Present(false) => plain("is absent"),
        Op::HasCode(code) => plain(&format!("is {}", code_label(code))),
        Op::Convert(unit) => plain(&format!("in '{unit}'")),
        Op::Round(d) => plain(&format!(
            "rounded to {d} decimal{}",
            if *d == 1 { "" } else { "s" }
        )),
        Op::Between => plain(&if arg(1).is_some() || arg(2).is_some() {
            format!("between {} and {}", shown(1), shown(2))
        } else {
            "between".to_string()
        }),
        Op::Aggregate(f) => plain(match f {
            AggregateFn::Count => "count",
            AggregateFn::Min => "lowest",
            AggregateFn::Max => "highest",
            AggregateFn::Average => "average",
            AggregateFn::Sum => "sum",
        }),
        Op::Within(p) => plain(&format!("within {p}")),
        Op::Change(k) => plain(match k {
            ChangeKind::Change => "change",
            ChangeKind::Rise => "rise",
            ChangeKind::Fall => "fall",
        }),
        Op::Case { arms, otherwise } => {
            let mut parts: Vec<String> = (0..*arms)
                .map(|a| format!("when {} then {}", shown(2 * a), shown(2 * a + 1)))
                .collect();
            if *otherwise {
                parts.push(format!("otherwise {}", shown(2 * arms)));
            }
            Label {
                main: "case".to_string(),
                detail: Some(format!(
                    "{arms} arm{}{}",
                    if *arms == 1 { "" } else { "s" },
                    if *otherwise { " + otherwise" } else { "" }
                )),
                more: Some(parts.join("\n")),
            }
        }
        Op::Bands { rows, otherwise } => {
            let mut k = 1;
            let mut parts = Vec::new();
            for row in rows {
                let test = match row {
                    BandTest::Cmp(c) => format!("{} {}", c.as_str(), shown(k)),
                    BandTest::Span => format!("{} to {}", shown(k), shown(k + 1)),
                    BandTest::Exact => shown(k),
                };
                k += row.bounds();
                parts.push(format!("{test} → {}", shown(k)));
                k += 1;
            }
            if *otherwise {
                parts.push(format!("otherwise {}", shown(k)));
            }
            Label {
                main: "bands".to_string(),
                detail: Some(format!(
                    "{} row{}{}",
                    rows.len(),
                    if rows.len() == 1 { "" } else { "s" },
                    if *otherwise { " + otherwise" } else { "" }
                )),
                more: Some(parts.join("\n")),
            }
        }
        Op::Card(_) => plain("rule"),
    };
    // Constants read by other operations: named in the detail.
    let handled = matches!(
        op,
        Op::Arith(_)
            | Op::Compare(_)
            | Op::Between
            | Op::Case { .. }
            | Op::Bands { .. }
            | Op::Card(_)
    );
    let consts: Vec<&str> = args.iter().flatten().map(String::as_str).collect();
    if !handled && !consts.is_empty() {
        let with = format!("with {}", consts.join(", "));
        label.detail = Some(match label.detail {
            Some(d) => format!("{d}, {with}"),
            None => with,
        });
    }
    label
}

// ---------------------------------------------------------------------------------------------
// The layout.

/// Height of a node box.
const NODE_H: f64 = 36.0;
/// Vertical space between layers.
const LAYER_GAP: f64 = 64.0;
/// Horizontal space between boxes.
const NODE_GAP: f64 = 18.0;
/// Width reserved for an edge passing through a layer, and the space beside it.
const DUMMY_W: f64 = 6.0;
const DUMMY_GAP: f64 = 6.0;
/// Margin around the picture.
const MARGIN: f64 = 20.0;
/// Height of the legend above the rules.
const LEGEND_H: f64 = 52.0;
/// The visible length of the label lines, in characters.
const HEAD_CHARS: usize = 30;
const SUB_CHARS: usize = 34;
/// Estimated widths of a character of the two lines (sans-serif 12px semi-bold, 10px).
const HEAD_CHAR_W: f64 = 7.4;
const SUB_CHAR_W: f64 = 5.8;
/// Sweeps of barycentre ordering.
const ORDER_SWEEPS: usize = 24;
/// Rounds of swapping neighbours after each sweep (at most).
const TRANSPOSE_ROUNDS: usize = 8;
/// Rounds of x placement.
const PLACE_ROUNDS: usize = 12;
/// The aspect (width / height) the rows of components aim at.
const ASPECT: f64 = 1.6;
/// Space between components side by side, and between rows of components.
const COMPONENT_GAP: f64 = 48.0;
const ROW_GAP: f64 = 72.0;

/// A point of the layout: a node, or where an edge crosses a layer.
struct Slot {
    /// The node it draws, if any (`None`: an edge passing through).
    node: Option<usize>,
    /// Its layer in its component (0 = bottom).
    layer: usize,
    width: f64,
    /// Slots of the layer above connected to this one.
    up: Vec<usize>,
    /// Slots of the layer below connected to this one.
    down: Vec<usize>,
}

struct Layout {
    slots: Vec<Slot>,
    /// Centre x of each slot.
    x: Vec<f64>,
    /// Top y of each slot.
    y: Vec<f64>,
    /// Per model edge: the reading node, its input, and the slots from one to the other.
    chains: Vec<(usize, usize, Vec<usize>)>,
    /// Visible label lines per node.
    lines: Vec<(String, String)>,
    width: f64,
    height: f64,
}

/// The first `max` characters of a text on one line, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Longest-path layers: nodes without inputs at 0, each node one above its highest input.
fn longest_path_layers(model: &Model) -> Vec<usize> {
    let n = model.nodes.len();
    let mut layer = vec![usize::MAX; n];
    let mut stack: Vec<(usize, bool)> = (0..n).rev().map(|i| (i, false)).collect();
    while let Some((i, expanded)) = stack.pop() {
        if layer[i] != usize::MAX {
            continue;
        }
        let inputs = &model.nodes[i].inputs;
        if !expanded {
            stack.push((i, true));
            stack.extend(
                inputs
                    .iter()
                    .filter(|j| layer[**j] == usize::MAX)
                    .map(|j| (*j, false)),
            );
            continue;
        }
        layer[i] = inputs
            .iter()
            .map(|j| layer[*j].saturating_add(1))
            .max()
            .unwrap_or(0);
    }
    layer
}

/// The connected components of the drawn graph, each in node order, ordered by their first
/// node.
fn components(model: &Model) -> Vec<Vec<usize>> {
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let n = model.nodes.len();
    let mut parent: Vec<usize> = (0..n).collect();
    for (i, node) in model.nodes.iter().enumerate() {
        for &j in &node.inputs {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            if a != b {
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut which: HashMap<usize, usize> = HashMap::new();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let root = find(&mut parent, i);
        let k = *which.entry(root).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[k].push(i);
    }
    out
}

impl Layout {
    fn compute(model: &Model) -> Layout {
        let layer = longest_path_layers(model);
        let lines: Vec<(String, String)> = model
            .nodes
            .iter()
            .map(|d| (shorten(&d.head, HEAD_CHARS), shorten(&d.sub, SUB_CHARS)))
            .collect();
        let mut slots: Vec<Slot> = Vec::new();
        let mut x: Vec<f64> = Vec::new();
        let mut y: Vec<f64> = Vec::new();
        let mut chains = Vec::new();
        let mut slot_of = vec![0usize; model.nodes.len()];
        // Each component laid out on its own: (its slots, width, height).
        let mut boxes: Vec<(std::ops::Range<usize>, f64, f64)> = Vec::new();
        for comp in components(model) {
            let first = slots.len();
            // Every rule in the top layer of its component.
            let top = comp.iter().map(|i| layer[*i]).max().unwrap_or(0);
            for &i in &comp {
                let (head, sub) = &lines[i];
                let w = (head.chars().count() as f64 * HEAD_CHAR_W)
                    .max(sub.chars().count() as f64 * SUB_CHAR_W)
                    + 22.0;
                slot_of[i] = slots.len();
                slots.push(Slot {
                    node: Some(i),
                    layer: if model.nodes[i].kind == "card" {
                        top
                    } else {
                        layer[i]
                    },
                    width: w.max(44.0).round(),
                    up: Vec::new(),
                    down: Vec::new(),
                });
            }
            // Edges, split at every layer they cross.
            for &i in &comp {
                for &j in &model.nodes[i].inputs {
                    let (from, to) = (slot_of[i], slot_of[j]);
                    let mut chain = vec![from];
                    for l in (slots[to].layer + 1..slots[from].layer).rev() {
                        slots.push(Slot {
                            node: None,
                            layer: l,
                            width: DUMMY_W,
                            up: Vec::new(),
                            down: Vec::new(),
                        });
                        chain.push(slots.len() - 1);
                    }
                    chain.push(to);
                    for w in chain.windows(2) {
                        slots[w[0]].down.push(w[1]);
                        slots[w[1]].up.push(w[0]);
                    }
                    chains.push((i, j, chain));
                }
            }
            let mut layers: Vec<Vec<usize>> = vec![Vec::new(); top + 1];
            for (s, slot) in slots.iter().enumerate().skip(first) {
                layers[slot.layer].push(s);
            }
            let layers = order_layers(&slots, layers);
            x.resize(slots.len(), 0.0);
            y.resize(slots.len(), 0.0);
            place(&slots, &layers, &mut x);
            let range = first..slots.len();
            let left = range
                .clone()
                .map(|s| x[s] - slots[s].width / 2.0)
                .fold(f64::INFINITY, f64::min);
            let mut right: f64 = 0.0;
            for s in range.clone() {
                x[s] = (x[s] - left).round();
                right = right.max(x[s] + slots[s].width / 2.0);
                y[s] = (top - slots[s].layer) as f64 * (NODE_H + LAYER_GAP);
            }
            let height = top as f64 * (NODE_H + LAYER_GAP) + NODE_H;
            boxes.push((range, right, height));
        }

        // Components side by side, in rows about as wide as the picture is high (or as wide
        // as the widest component).
        let area: f64 = boxes.iter().map(|(_, w, h)| w * h).sum();
        let widest = boxes.iter().map(|(_, w, _)| *w).fold(0.0, f64::max);
        let target = widest.max((area * ASPECT).sqrt());
        let (mut at_x, mut at_y, mut row_h) = (MARGIN, MARGIN + LEGEND_H, 0.0_f64);
        let mut width: f64 = 0.0;
        for (range, w, h) in boxes {
            if at_x > MARGIN && at_x + w > MARGIN + target {
                at_x = MARGIN;
                at_y += row_h + ROW_GAP;
                row_h = 0.0;
            }
            for s in range {
                x[s] += at_x;
                y[s] += at_y;
            }
            width = width.max(at_x + w);
            at_x += w + COMPONENT_GAP;
            row_h = row_h.max(h);
        }
        Layout {
            slots,
            x,
            y,
            chains,
            lines,
            width: width + MARGIN,
            height: at_y + row_h + MARGIN,
        }
    }
}

/// Crossings between every two adjacent layers, for the positions `pos`.
fn crossings(slots: &[Slot], layers: &[Vec<usize>], pos: &[usize]) -> usize {
    let mut total = 0;
    for l in 1..layers.len() {
        let mut pairs: Vec<(usize, usize)> = layers[l]
            .iter()
            .flat_map(|&s| slots[s].down.iter().map(move |&d| (pos[s], pos[d])))
            .collect();
        pairs.sort_unstable();
        // Inversions of the lower ends, counted with a Fenwick tree.
        let size = layers[l - 1].len() + 1;
        let mut tree = vec![0usize; size + 1];
        for (seen, &(_, lower)) in pairs.iter().enumerate() {
            let mut at_most = 0;
            let mut k = lower + 1;
            while k > 0 {
                at_most += tree[k];
                k &= k - 1;
            }
            total += seen - at_most;
            let mut k = lower + 1;
            while k <= size {
                tree[k] += 1;
                k += k & k.wrapping_neg();
            }
        }
    }
    total
}

/// Crossings between the edges of `u` and those of `v` (u left of v) to their neighbours
/// `pick`ed on one side.
fn pair_crossings(
    slots: &[Slot],
    pos: &[usize],
    u: usize,
    v: usize,
    pick: fn(&Slot) -> &[usize],
) -> usize {
    let mut n = 0;
    for a in pick(&slots[u]) {
        for b in pick(&slots[v]) {
            if pos[*a] > pos[*b] {
                n += 1;
            }
        }
    }
    n
}

/// Swaps neighbours in a layer while that removes crossings (on both sides).
fn transpose(slots: &[Slot], layers: &mut [Vec<usize>], pos: &mut [usize]) {
    let up: fn(&Slot) -> &[usize] = |s| &s.up;
    let down: fn(&Slot) -> &[usize] = |s| &s.down;
    for _ in 0..TRANSPOSE_ROUNDS {
        let mut improved = false;
        for layer in layers.iter_mut() {
            for k in 1..layer.len() {
                let (u, v) = (layer[k - 1], layer[k]);
                let now =
                    pair_crossings(slots, pos, u, v, up) + pair_crossings(slots, pos, u, v, down);
                let swapped =
                    pair_crossings(slots, pos, v, u, up) + pair_crossings(slots, pos, v, u, down);
                if swapped < now {
                    layer.swap(k - 1, k);
                    pos[u] = k;
                    pos[v] = k - 1;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// Orders each layer to reduce crossings: sweeps of barycentre ordering, down then up, each
/// followed by swaps of neighbours, keeping the best order met.
fn order_layers(slots: &[Slot], mut layers: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
    let mut pos = vec![0usize; slots.len()];
    for layer in &layers {
        for (k, s) in layer.iter().enumerate() {
            pos[*s] = k;
        }
    }
    let mut best = layers.clone();
    let mut best_crossings = usize::MAX;
    let top = layers.len() - 1;
    for sweep in 0..ORDER_SWEEPS {
        let down = sweep % 2 == 0;
        let order: Vec<usize> = if down {
            (0..top).rev().collect()
        } else {
            (1..=top).collect()
        };
        for l in order {
            let mut keyed: Vec<(f64, usize)> = layers[l]
                .iter()
                .map(|&s| {
                    let nb = if down { &slots[s].up } else { &slots[s].down };
                    let key = if nb.is_empty() {
                        pos[s] as f64
                    } else {
                        nb.iter().map(|t| pos[*t] as f64).sum::<f64>() / nb.len() as f64
                    };
                    (key, s)
                })
                .collect();
            // Stable: ties keep their current order.
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            layers[l] = keyed.into_iter().map(|(_, s)| s).collect();
            for (k, s) in layers[l].iter().enumerate() {
                pos[*s] = k;
            }
        }
        transpose(slots, &mut layers, &mut pos);
        let c = crossings(slots, &layers, &pos);
        if c < best_crossings {
            best_crossings = c;
            best.clone_from(&layers);
        }
        if c == 0 {
            break;
        }
    }
    best
}

/// The positions nearest to `want` (least squares) that keep the order of `row` and at least
/// the spacing of its slots: isotonic regression (pool adjacent violators) on `want` minus the
/// minimal offsets.
fn fit_row(slots: &[Slot], row: &[usize], want: &[f64]) -> Vec<f64> {
    let mut offset = Vec::with_capacity(row.len());
    let mut acc = 0.0;
    for (k, s) in row.iter().enumerate() {
        if k > 0 {
            let prev = &slots[row[k - 1]];
            let this = &slots[*s];
            let gap = if prev.node.is_none() || this.node.is_none() {
                DUMMY_GAP
            } else {
                NODE_GAP
            };
            acc += (prev.width + this.width) / 2.0 + gap;
        }
        offset.push(acc);
    }
    // Blocks of (sum, count), means nondecreasing.
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for (k, w) in want.iter().enumerate() {
        blocks.push((w - offset[k], 1));
        while blocks.len() >= 2 {
            let (s2, c2) = blocks[blocks.len() - 1];
            let (s1, c1) = blocks[blocks.len() - 2];
            if s1 / c1 as f64 > s2 / c2 as f64 {
                blocks.pop();
                let last = blocks.len() - 1;
                blocks[last] = (s1 + s2, c1 + c2);
            } else {
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(row.len());
    for (sum, count) in blocks {
        let mean = sum / count as f64;
        for _ in 0..count {
            out.push(mean + offset[out.len()]);
        }
    }
    out
}

/// x positions: rows packed, then pulled towards their neighbours, layer by layer, down and
/// up in turn, and once more towards both.
fn place(slots: &[Slot], layers: &[Vec<usize>], x: &mut [f64]) {
    for row in layers {
        let fitted = fit_row(slots, row, &vec![0.0; row.len()]);
        for (s, v) in row.iter().zip(fitted) {
            x[*s] = v;
        }
    }
    let top = layers.len() - 1;
    let pull = |x: &mut [f64], l: usize, up: bool, down: bool| {
        let row = &layers[l];
        let want: Vec<f64> = row
            .iter()
            .map(|&s| {
                let slot = &slots[s];
                let mut sum = 0.0;
                let mut count = 0usize;
                for (use_it, nb) in [(up, &slot.up), (down, &slot.down)] {
                    if use_it {
                        sum += nb.iter().map(|t| x[*t]).sum::<f64>();
                        count += nb.len();
                    }
                }
                if count == 0 {
                    x[s]
                } else {
                    sum / count as f64
                }
            })
            .collect();
        for (s, v) in row.iter().zip(fit_row(slots, row, &want)) {
            x[*s] = v;
        }
    };
    for _ in 0..PLACE_ROUNDS {
        for l in (0..top).rev() {
            pull(x, l, true, false);
        }
        for l in 1..=top {
            pull(x, l, false, true);
        }
    }
    for l in (0..=top).rev() {
        pull(x, l, true, true);
    }
}

// ---------------------------------------------------------------------------------------------
// The SVG.

/// Text for XML content and attribute values: markup characters escaped, characters XML does
/// not allow replaced by U+FFFD.
fn esc(text: &str) -> String {
    let allowed: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect();
    cds_core::markup::escape(&allowed)
}

/// A coordinate, with at most one decimal.
fn num(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

const STYLE: &str = "
.cds-graph{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
.cds-graph .edge{fill:none;stroke:#97a0af;stroke-width:1.2}
.cds-graph .node rect,.cds-graph .swatch rect{fill:#fff;stroke:#8993a4;stroke-width:1.2}
.cds-graph .card rect{fill:#dce8fc;stroke:#2f64c0;stroke-width:1.6}
.cds-graph .define rect{fill:#e1f3e4;stroke:#2e7d4f}
.cds-graph .query rect,.cds-graph .constant rect{fill:#efeaf6;stroke:#7a64a8}
.cds-graph .shared rect{fill:#ffe2a8;stroke-width:2.4}
.cds-graph .shared.card rect{fill:#dce8fc}
.cds-graph .head{font-size:12px;font-weight:600;fill:#172033;text-anchor:middle}
.cds-graph .sub{font-size:10px;fill:#4d5566;text-anchor:middle}
.cds-graph .badge circle{fill:#c2410c}
.cds-graph .badge text{font-size:10px;font-weight:700;fill:#fff;text-anchor:middle}
.cds-graph .legend text{font-size:12px;fill:#172033}
.cds-graph .legend .note{font-size:11px;fill:#4d5566}
";

fn render(model: &Model, layout: &Layout) -> String {
    let legend_w = 900.0;
    let width = layout.width.max(legend_w).round();
    let height = layout.height.round();
    let mut svg = String::with_capacity(512 * model.nodes.len() + 256 * layout.chains.len());
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cds-graph\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">",
        w = num(width),
        h = num(height)
    );
    let _ = writeln!(svg, "<style>{STYLE}</style>");
    svg.push_str(
        "<defs><marker id=\"cds-graph-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0L10,5L0,10z\" fill=\"#7d8797\"/></marker></defs>\n",
    );
    let _ = writeln!(
        svg,
        "<rect width=\"100%\" height=\"100%\" fill=\"#fcfcfd\"/>"
    );
    legend(&mut svg, model);

    // Where each edge leaves its reading node (spread along the bottom, ordered by where it
    // goes) and reaches its input (spread along the top, ordered by where it comes from).
    let mut out_port: HashMap<(usize, usize), f64> = HashMap::new();
    let mut in_port: HashMap<(usize, usize), f64> = HashMap::new();
    let spread = |centre: f64, width: f64, k: usize, count: usize| -> f64 {
        if count <= 1 {
            return centre;
        }
        let span = (width - 16.0).clamp(0.0, (count - 1) as f64 * 12.0);
        centre - span / 2.0 + span * k as f64 / (count - 1) as f64
    };
    for (s, slot) in layout.slots.iter().enumerate() {
        if slot.node.is_none() {
            continue;
        }
        let mut downs: Vec<usize> = slot.down.clone();
        downs.sort_by(|a, b| layout.x[*a].total_cmp(&layout.x[*b]).then(a.cmp(b)));
        downs.dedup();
        for (k, d) in downs.iter().enumerate() {
            out_port.insert((s, *d), spread(layout.x[s], slot.width, k, downs.len()));
        }
        let mut ups: Vec<usize> = slot.up.clone();
        ups.sort_by(|a, b| layout.x[*a].total_cmp(&layout.x[*b]).then(a.cmp(b)));
        ups.dedup();
        for (k, u) in ups.iter().enumerate() {
            in_port.insert((*u, s), spread(layout.x[s], slot.width, k, ups.len()));
        }
    }

    svg.push_str("<g class=\"edges\">\n");
    for (from, to, chain) in &layout.chains {
        let mut d = String::new();
        let first = chain[0];
        let mut px = out_port
            .get(&(first, chain[1]))
            .copied()
            .unwrap_or(layout.x[first]);
        let mut py = layout.y[first] + NODE_H;
        let _ = write!(d, "M{},{}", num(px), num(py));
        for pair in chain.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let slot = &layout.slots[b];
            let bx = if slot.node.is_some() {
                in_port.get(&(a, b)).copied().unwrap_or(layout.x[b])
            } else {
                layout.x[b]
            };
            let by = layout.y[b];
            let mid = (by - py) / 2.0;
            let _ = write!(
                d,
                "C{},{} {},{} {},{}",
                num(px),
                num(py + mid),
                num(bx),
                num(by - mid),
                num(bx),
                num(by)
            );
            px = bx;
            py = by;
            if slot.node.is_none() {
                py = by + NODE_H;
                let _ = write!(d, "V{}", num(py));
            }
        }
        let _ = writeln!(
            svg,
            "<path class=\"edge\" data-from=\"{from}\" data-to=\"{to}\" d=\"{d}\" marker-end=\"url(#cds-graph-arrow)\"/>"
        );
    }
    svg.push_str("</g>\n<g class=\"nodes\">\n");

    for (s, slot) in layout.slots.iter().enumerate() {
        let Some(i) = slot.node else { continue };
        let node = &model.nodes[i];
        let shared = node.rules.len() >= 2;
        let mut class = format!("node {}", node.kind);
        if node.define {
            class.push_str(" define");
        }
        if shared {
            class.push_str(" shared");
        }
        let rules: Vec<&str> = node
            .rules
            .iter()
            .map(|r| model.rules[*r].key.as_str())
            .collect();
        let (head, sub) = &layout.lines[i];
        let left = layout.x[s] - slot.width / 2.0;
        let top = layout.y[s];
        let _ = writeln!(
            svg,
            "<g class=\"{class}\" data-node=\"{i}\" data-rules=\"{}\" transform=\"translate({},{})\">",
            esc(&rules.join(" ")),
            num(left),
            num(top)
        );
        let _ = writeln!(svg, "<title>{}</title>", esc(&node.title));
        let _ = writeln!(
            svg,
            "<rect width=\"{}\" height=\"{}\" rx=\"6\"/>",
            num(slot.width),
            num(NODE_H)
        );
        let cx = num(slot.width / 2.0);
        if sub.is_empty() {
            let _ = writeln!(
                svg,
                "<text class=\"head\" x=\"{cx}\" y=\"22\">{}</text>",
                esc(head)
            );
        } else {
            let _ = writeln!(
                svg,
                "<text class=\"head\" x=\"{cx}\" y=\"15\">{}</text>\n<text class=\"sub\" x=\"{cx}\" y=\"29\">{}</text>",
                esc(head),
                esc(sub)
            );
        }
        if shared {
            let _ = writeln!(
                svg,
                "<g class=\"badge\"><circle cx=\"{x}\" cy=\"-1\" r=\"9\"/><text x=\"{x}\" y=\"2.5\">{n}</text></g>",
                x = num(slot.width - 1.0),
                n = node.rules.len()
            );
        }
        svg.push_str("</g>\n");
    }
    svg.push_str("</g>\n</svg>\n");
    svg
}

/// The legend: what the colours mean, and the counts.
fn legend(svg: &mut String, model: &Model) {
    let shared = model.nodes.iter().filter(|n| n.rules.len() >= 2).count();
    svg.push_str("<g class=\"legend\">\n");
    let items: [(&str, &str, f64); 5] = [
        ("swatch card", "rule", 40.0),
        ("swatch define", "definition", 80.0),
        ("swatch query", "data (query, constant)", 150.0),
        ("swatch predicate", "step", 40.0),
        (
            "swatch shared",
            "shared: used by 2 or more rules (badge: how many)",
            330.0,
        ),
    ];
    let mut x = MARGIN;
    for (class, label, w) in items {
        let _ = writeln!(
            svg,
            "<g class=\"{class}\" transform=\"translate({},{})\"><rect width=\"22\" height=\"14\" rx=\"3\"/></g><text x=\"{}\" y=\"{}\">{label}</text>",
            num(x),
            num(MARGIN),
            num(x + 28.0),
            num(MARGIN + 11.5)
        );
        x += 28.0 + w;
    }
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        svg,
        "<text class=\"note\" x=\"{}\" y=\"{}\">{}, {}, {}, {} shared · arrows point from a node to the values it reads · constants appear in the labels that read them</text>",
        num(MARGIN),
        num(MARGIN + 32.0),
        plural(model.rules.len(), "rule"),
        plural(model.nodes.len(), "node"),
        plural(model.edges, "edge"),
        shared
    );
    svg.push_str("</g>\n");
}

fn empty_svg() -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"cds-graph\" width=\"320\" height=\"60\" viewBox=\"0 0 320 60\">\n<style>{STYLE}</style>\n<text x=\"20\" y=\"35\" font-size=\"14\">no rules to draw</text>\n</svg>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const BP: &str = r#"ruleset bp version 1.0.0
  "Blood pressure"

define systolic = latest observation loinc 8480-6 within 90 days

rule high
  when systolic >= 140 'mm[Hg]'
  then warning "BP {systolic}"

rule high-and-old
  when systolic >= 140 'mm[Hg]' and age >= 65
  then warning "BP {systolic} at 65 or over"
"#;

    /// A drawn node: its classes, its rules and its first label line (as escaped in the SVG).
    #[derive(Debug)]
    struct Drawn {
        class: String,
        rules: String,
        head: String,
    }

    fn attr(line: &str, name: &str) -> String {
        let key = format!("{name}=\"");
        let start = line.find(&key).expect("attribute") + key.len();
        line[start..].split('"').next().unwrap_or("").to_string()
    }

    fn drawn(svg: &str) -> Vec<Drawn> {
        let lines: Vec<&str> = svg.lines().collect();
        let mut out = Vec::new();
        for (k, line) in lines.iter().enumerate() {
            if !line.starts_with("<g class=\"node ") {
                continue;
            }
            let head = lines[k..]
                .iter()
                .find(|l| l.starts_with("<text class=\"head\""))
                .and_then(|l| l.split('>').nth(1))
                .and_then(|t| t.split('<').next())
                .unwrap_or("")
                .to_string();
            out.push(Drawn {
                class: attr(line, "class"),
                rules: attr(line, "data-rules"),
                head,
            });
        }
        out
    }

    fn engine(text: &str) -> Engine {
        Engine::from_source("test.rules", text).expect("the test ruleset loads")
    }

    #[test]
    fn a_comparison_two_rules_share_is_one_shared_node() {
        let picture = draw(&engine(BP), &[]);
        let nodes = drawn(&picture.svg);
        let ge140: Vec<&Drawn> = nodes
            .iter()
            .filter(|n| n.head == "&gt;= 140 &#39;mm[Hg]&#39;")
            .collect();
        assert_eq!(ge140.len(), 1, "{nodes:#?}");
        assert_eq!(ge140[0].class, "node predicate shared");
        assert_eq!(ge140[0].rules, "high high-and-old");
        // The comparison, the definition and its observations; the badge says 2.
        let shared: Vec<&str> = nodes
            .iter()
            .filter(|n| n.class.contains("shared"))
            .map(|n| n.head.as_str())
            .collect();
        assert_eq!(
            shared,
            [
                "&gt;= 140 &#39;mm[Hg]&#39;",
                "define systolic",
                "observations loinc 8480-6"
            ]
        );
        assert_eq!(picture.shared, 3);
        assert_eq!(picture.svg.matches("<g class=\"badge\">").count(), 3);
        assert!(picture.svg.contains(">2</text></g>"));
        // 2 rules, and, >= 140, >= 65, systolic, its observations, age.
        assert_eq!(picture.nodes, 8);
        assert_eq!(nodes.len(), 8);
        // Rule → condition (twice), and → both sides, >= → systolic, >= → age,
        // systolic → observations; the rules' evidence edges are implied by their conditions.
        assert_eq!(picture.edges, 7);
        assert_eq!(picture.svg.matches("<path class=\"edge\"").count(), 7);
    }

    #[test]
    fn a_node_one_rule_uses_is_not_shared() {
        let nodes = drawn(&draw(&engine(BP), &[]).svg);
        let ge65 = nodes
            .iter()
            .find(|n| n.head == "&gt;= 65")
            .expect("age >= 65 is drawn");
        assert_eq!(ge65.class, "node predicate");
        assert_eq!(ge65.rules, "high-and-old");
        let age = nodes.iter().find(|n| n.head == "age").expect("age");
        assert_eq!(age.class, "node query");
        let rule = nodes.iter().find(|n| n.head == "rule high").expect("rule");
        assert_eq!(rule.class, "node card");
        assert_eq!(rule.rules, "high");
    }

    #[test]
    fn labels_and_titles_are_escaped() {
        let src = r#"ruleset esc version 1.0.0
  "Escaping"

define systolic = latest observation loinc 8480-6 within 90 days
define label = case
  when systolic < 90 'mm[Hg]' then "<b>low & 'odd'</b>"
  otherwise "fine"
end

rule odd
  when label = "<b>low & 'odd'</b>"
  then warning "odd"
"#;
        let svg = draw(&engine(src), &[]).svg;
        let nodes = drawn(&svg);
        assert!(
            nodes.iter().any(|n| n.head == "&lt; 90 &#39;mm[Hg]&#39;"),
            "{nodes:#?}"
        );
        assert!(nodes.iter().any(|n| n
            .head
            .starts_with("= &quot;&lt;b&gt;low &amp; &#39;odd&#39;&lt;/b&gt;&quot;")));
        // The case's hover text lists its arms, constants written out.
        assert!(svg.contains("when · then &quot;&lt;b&gt;low &amp; &#39;odd&#39;&lt;/b&gt;&quot;"));
        assert!(!svg.contains("<b>"));
        assert!(!svg.contains("& "));
    }

    #[test]
    fn named_constants_are_drawn_and_others_are_in_labels() {
        let src = r#"ruleset consts version 1.0.0
  "Constants"

define limit = 140 'mm[Hg]'
define systolic = latest observation loinc 8480-6 within 90 days

rule above-limit
  when systolic > limit
  then warning "above"

rule well-above
  when systolic > 160 'mm[Hg]'
  then warning "well above"
"#;
        let picture = draw(&engine(src), &[]);
        let nodes = drawn(&picture.svg);
        let limit = nodes
            .iter()
            .find(|n| n.head == "define limit")
            .expect("the named constant is drawn");
        assert_eq!(limit.class, "node constant define");
        assert_eq!(limit.rules, "above-limit");
        assert!(nodes.iter().any(|n| n.head == "&gt;"));
        assert!(nodes.iter().any(|n| n.head == "&gt; 160 &#39;mm[Hg]&#39;"));
        assert!(!nodes.iter().any(|n| n.head.starts_with("160")));
        assert_eq!(picture.shared, 2);
    }

    #[test]
    fn escaping_replaces_what_xml_cannot_hold() {
        assert_eq!(esc("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
        assert_eq!(esc("x\u{1}y\u{FFFF}\tz"), "x\u{FFFD}y\u{FFFD}\tz");
    }

    #[test]
    fn long_labels_are_cut_and_kept_whole_in_the_title() {
        let src = r#"ruleset long version 1.0.0
  "Long"

define a-definition-whose-name-is-rather-longer-than-a-box = age >= 18

rule r
  when a-definition-whose-name-is-rather-longer-than-a-box
  then info "adult"
"#;
        let svg = draw(&engine(src), &[]).svg;
        assert!(
            svg.contains(">define a-definition-whose-nam…</text>"),
            "{svg}"
        );
        assert!(svg.contains(
            "<title>define a-definition-whose-name-is-rather-longer-than-a-box (long)\n&gt;= 18"
        ));
    }

    #[test]
    fn the_same_rules_draw_the_same_bytes() {
        // Each load compiles afresh, and may number the graph's nodes differently.
        let first = draw(&engine(BP), &[]);
        for _ in 0..5 {
            let again = draw(&engine(BP), &[]);
            assert_eq!(again, first);
        }
    }

    #[test]
    fn unknown_rulesets_draw_an_empty_picture() {
        let e = engine(BP);
        let none = draw(&e, &["nope"]);
        assert_eq!((none.nodes, none.edges, none.shared), (0, 0, 0));
        assert!(none.svg.contains("no rules to draw"));
        assert_eq!(draw(&e, &["bp"]), draw(&e, &[]));
    }

    #[test]
    fn the_svg_is_self_contained() {
        let svg = draw(&engine(BP), &[]).svg;
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(" viewBox=\"0 0 "));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("href"));
        assert!(!svg.contains("http://") || svg.matches("http://").count() == 1);
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn rows_fit_their_order_and_spacing() {
        let slot = |w: f64| Slot {
            node: Some(0),
            layer: 0,
            width: w,
            up: Vec::new(),
            down: Vec::new(),
        };
        let slots = vec![slot(20.0), slot(20.0), slot(20.0)];
        // Wanted in the wrong order: pulled together at their mean, spaced.
        let x = fit_row(&slots, &[0, 1, 2], &[100.0, 0.0, 50.0]);
        let gap = 20.0 + NODE_GAP;
        assert_eq!(x, vec![50.0 - gap, 50.0, 50.0 + gap]);
        // Far enough apart already: left where wanted.
        assert_eq!(
            fit_row(&slots, &[0, 1, 2], &[0.0, 100.0, 200.0]),
            vec![0.0, 100.0, 200.0]
        );
    }
}
