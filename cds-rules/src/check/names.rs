//! Names: one namespace for definitions, scores and rule ids; unknown names, duplicates,
//! cycles between definitions and unused definitions.

use super::diagnostic::CheckKind;
use super::{suggest, Checker, Type};
use crate::ast::{Expr, ExprKind, Item, Span};
use std::collections::{HashMap, VecDeque};

impl<'a> Checker<'a> {
    /// Records the first definition of each name and reports duplicates.
    pub(crate) fn collect_names(&mut self) {
        let rs = self.rs;
        for (i, item) in rs.items.iter().enumerate() {
            let (ident, what) = match item {
                Item::Define(d) => (&d.name, "definition"),
                Item::Score(s) => (&s.name, "score"),
                Item::Rule(r) => (&r.id, "rule"),
            };
            let name = ident.name.as_str();
            let first_name = self.names.get(name).copied();
            let first_rule = self.rule_ids.get(name).copied();
            if what == "rule" {
                if let Some(j) = first_rule {
                    let first = item_ident_span(&rs.items[j]);
                    self.sink
                        .error(
                            CheckKind::DuplicateRule,
                            ident.span,
                            format!("two rules are called `{name}`"),
                            "second rule with this id",
                        )
                        .related(first, "first rule with this id")
                        .help(
                            "rule ids identify the card a rule raises: give each rule its own id",
                        );
                    continue;
                }
                self.rule_ids.insert(name, i);
                if let Some(j) = first_name {
                    self.duplicate_across(ident.span, name, j, "rule");
                }
            } else {
                if let Some(j) = first_name {
                    let first = item_ident_span(&rs.items[j]);
                    let first_what = item_kind(&rs.items[j]);
                    self.sink
                        .error(
                            CheckKind::DuplicateName,
                            ident.span,
                            format!("`{name}` is defined twice"),
                            format!("second {what} named `{name}`"),
                        )
                        .related(first, format!("first {first_what} named `{name}`"))
                        .help(format!(
                            "definitions and scores share one namespace: rename one of them, \
                             or remove the {what} that is not meant"
                        ));
                    continue;
                }
                self.names.insert(name, i);
                if let Some(j) = first_rule {
                    self.duplicate_across(ident.span, name, j, what);
                }
            }
        }
    }

    /// A definition/score and a rule with the same name (either order).
    fn duplicate_across(&mut self, second: Span, name: &str, first: usize, what: &str) {
        let rs = self.rs;
        let first_span = item_ident_span(&rs.items[first]);
        let first_what = item_kind(&rs.items[first]);
        self.sink
            .error(
                CheckKind::DuplicateName,
                second,
                format!("`{name}` names both a {first_what} and a {what}"),
                format!("{what} named like a {first_what}"),
            )
            .related(first_span, format!("the {first_what}"))
            .help(
                "definitions, scores and rules share one namespace, so that `{name}` in a card \
                 is never ambiguous: rename one of them",
            );
    }

    /// Marks a name as used and returns its type; reports an unknown name.
    pub(crate) fn resolve(&mut self, name: &str, span: Span) -> Type {
        if let Some(&i) = self.names.get(name) {
            self.used.insert(name.to_string());
            return self.item_types[i].clone().unwrap_or(Type::Any);
        }
        self.unknown_name(name, span);
        Type::Any
    }

    fn unknown_name(&mut self, name: &str, span: Span) {
        if self.rule_ids.contains_key(name) {
            self.sink
                .error(
                    CheckKind::UnknownName,
                    span,
                    format!("`{name}` is a rule, not a definition"),
                    "a rule id",
                )
                .help(format!(
                    "rules cannot be used as values: define the condition once \
                     (`define {name}-met = ...`) and use it in both places"
                ));
            return;
        }
        let candidates: Vec<&str> = self.names.keys().copied().collect();
        let mut sorted = candidates.clone();
        sorted.sort_unstable();
        let help = match suggest::closest(name, sorted.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!(
                "define it before use (`define {name} = ...`), or check the spelling{}",
                if sorted.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; defined here: {}",
                        sorted
                            .iter()
                            .take(6)
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ) + if sorted.len() > 6 { ", ..." } else { "" }
                }
            ),
        };
        self.sink
            .error(
                CheckKind::UnknownName,
                span,
                format!("unknown name `{name}`"),
                "not defined",
            )
            .help(help);
    }

    /// The names each definition or score depends on (index of item → indices of the items
    /// it reads).
    fn dependencies(&self) -> HashMap<usize, Vec<usize>> {
        let mut deps = HashMap::new();
        for (&name, &i) in &self.names {
            let _ = name;
            let mut out = Vec::new();
            match &self.rs.items[i] {
                Item::Define(d) => {
                    let mut found = Vec::new();
                    names_in(&d.value, &mut found);
                    for (n, _) in found {
                        if let Some(&j) = self.names.get(n) {
                            out.push(j);
                        }
                    }
                }
                Item::Score(_) => {
                    for n in self.score_inputs.get(&i).into_iter().flatten() {
                        if let Some(&j) = self.names.get(n.as_str()) {
                            out.push(j);
                        }
                    }
                }
                Item::Rule(_) => {}
            }
            out.sort_unstable();
            out.dedup();
            deps.insert(i, out);
        }
        deps
    }

    /// Definitions and scores in an order where each comes after what it reads; reports
    /// cycles (whose members are left out of the order).
    pub(crate) fn definition_order(&mut self) -> Vec<usize> {
        let deps = self.dependencies();
        let mut nodes: Vec<usize> = deps.keys().copied().collect();
        nodes.sort_unstable();
        let mut indegree: HashMap<usize, usize> = nodes.iter().map(|&n| (n, 0)).collect();
        let mut users: HashMap<usize, Vec<usize>> = HashMap::new();
        for (&n, ds) in &deps {
            for &d in ds {
                *indegree.entry(n).or_default() += 1;
                users.entry(d).or_default().push(n);
            }
        }
        let mut ready: VecDeque<usize> = nodes
            .iter()
            .copied()
            .filter(|n| indegree.get(n) == Some(&0))
            .collect();
        let mut order = Vec::new();
        while let Some(n) = ready.pop_front() {
            order.push(n);
            let mut next: Vec<usize> = users.get(&n).cloned().unwrap_or_default();
            next.sort_unstable();
            for u in next {
                if let Some(k) = indegree.get_mut(&u) {
                    *k -= 1;
                    if *k == 0 {
                        ready.push_back(u);
                    }
                }
            }
        }
        if order.len() < nodes.len() {
            let left: Vec<usize> = nodes
                .iter()
                .copied()
                .filter(|n| indegree.get(n).is_some_and(|&k| k > 0))
                .collect();
            self.report_cycles(&left, &deps);
        }
        order
    }

    fn report_cycles(&mut self, left: &[usize], deps: &HashMap<usize, Vec<usize>>) {
        let mut reported = vec![false; self.rs.items.len()];
        for &start in left {
            if reported[start] {
                continue;
            }
            let Some(cycle) = find_cycle(start, deps) else {
                continue;
            };
            for &n in &cycle {
                reported[n] = true;
            }
            let names: Vec<&str> = cycle
                .iter()
                .map(|&n| item_name(&self.rs.items[n]))
                .collect();
            let mut path = names.join(" → ");
            path.push_str(" → ");
            path.push_str(names[0]);
            let span = item_ident_span(&self.rs.items[start]);
            let (message, help) = if cycle.len() == 1 {
                (
                    format!("`{}` is defined in terms of itself", names[0]),
                    "a definition cannot use its own value: use the data it is computed from"
                        .to_string(),
                )
            } else {
                (
                    format!("definitions depend on each other in a cycle: {path}"),
                    format!(
                        "a definition cannot depend on itself, directly or through others: \
                         break the cycle by computing one of {} from the data directly",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            };
            let mut d = self
                .sink
                .error(CheckKind::Cycle, span, message, "part of a cycle")
                .help(help);
            for &n in cycle.iter().skip(1) {
                let s = item_ident_span(&self.rs.items[n]);
                d = d.related(s, "in the cycle");
            }
        }
    }

    /// Warns about definitions and scores nothing uses.
    pub(crate) fn report_unused(&mut self) {
        let mut unused: Vec<(usize, &str)> = self
            .names
            .iter()
            .filter(|(n, _)| !self.used.contains(**n))
            .map(|(n, &i)| (i, *n))
            .collect();
        unused.sort_unstable();
        for (i, name) in unused {
            let what = item_kind(&self.rs.items[i]);
            let span = item_ident_span(&self.rs.items[i]);
            self.sink
                .warning(
                    CheckKind::Unused,
                    span,
                    format!("the {what} `{name}` is never used"),
                    "unused",
                )
                .help(format!(
                    "use it in a rule (`when {name} ...` or `{{{name}}}` in a card), \
                     or remove it"
                ));
        }
    }
}

/// A shortest cycle through `start`, if there is one (breadth-first).
fn find_cycle(start: usize, deps: &HashMap<usize, Vec<usize>>) -> Option<Vec<usize>> {
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for &d in deps.get(&n).into_iter().flatten() {
            if d == start {
                let mut path = vec![n];
                let mut at = n;
                while at != start {
                    at = *prev.get(&at)?;
                    path.push(at);
                }
                path.reverse();
                return Some(path);
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(d) {
                e.insert(n);
                queue.push_back(d);
            }
        }
    }
    None
}

/// Every `Name` in an expression, with its span (iterative: any depth).
pub(crate) fn names_in<'e>(e: &'e Expr, out: &mut Vec<(&'e str, Span)>) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        if out.len() > 100_000 {
            return;
        }
        if let ExprKind::Name(n) = &e.kind {
            out.push((n, e.span));
        }
        stack.extend(children(e));
    }
}

/// The direct sub-expressions of an expression (band bounds included).
pub(crate) fn children(e: &Expr) -> Vec<&Expr> {
    use crate::ast::BandRange;
    match &e.kind {
        ExprKind::Number(_)
        | ExprKind::Quantity { .. }
        | ExprKind::Text(_)
        | ExprKind::Bool(_)
        | ExprKind::Name(_)
        | ExprKind::Query(_)
        | ExprKind::Age
        | ExprKind::Active { .. }
        | ExprKind::FhirPath(_) => Vec::new(),
        ExprKind::Aggregate { of, .. }
        | ExprKind::Change { of, .. }
        | ExprKind::Not(of)
        | ExprKind::Neg(of)
        | ExprKind::Presence { of, .. }
        | ExprKind::HasCode { of, .. }
        | ExprKind::Convert { of, .. }
        | ExprKind::Round { of, .. } => vec![of],
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Compare { lhs, rhs, .. } => {
            vec![lhs, rhs]
        }
        ExprKind::Between { of, low, high } => vec![of, low, high],
        ExprKind::Case { arms, otherwise } => arms
            .iter()
            .flat_map(|a| [&a.when, &a.then])
            .chain(otherwise.as_deref())
            .collect(),
        ExprKind::Bands {
            of,
            rows,
            otherwise,
        } => {
            let mut v: Vec<&Expr> = vec![of];
            for r in rows {
                match &r.range {
                    BandRange::Compare { bound, .. } => v.push(bound),
                    BandRange::Span { low, high } => {
                        v.push(low);
                        v.push(high);
                    }
                    BandRange::Exact(x) => v.push(x),
                }
                v.push(&r.value);
            }
            v.extend(otherwise.as_deref());
            v
        }
    }
}

pub(crate) fn item_ident_span(item: &Item) -> Span {
    match item {
        Item::Define(d) => d.name.span,
        Item::Score(s) => s.name.span,
        Item::Rule(r) => r.id.span,
    }
}

pub(crate) fn item_name(item: &Item) -> &str {
    match item {
        Item::Define(d) => &d.name.name,
        Item::Score(s) => &s.name.name,
        Item::Rule(r) => &r.id.name,
    }
}

fn item_kind(item: &Item) -> &'static str {
    match item {
        Item::Define(_) => "definition",
        Item::Score(_) => "score",
        Item::Rule(_) => "rule",
    }
}
