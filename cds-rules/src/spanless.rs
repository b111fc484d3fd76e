//! Comparing syntax trees regardless of positions: [`Ruleset::without_spans`].

use crate::ast::*;

impl Ruleset {
    /// A copy of the tree with every span set to `0..0`, so that two parses of differently
    /// laid-out text can be compared with `==`.
    pub fn without_spans(&self) -> Ruleset {
        let mut r = self.clone();
        clear_ruleset(&mut r);
        r
    }
}

const Z: Span = Span { start: 0, end: 0 };

fn clear_ruleset(r: &mut Ruleset) {
    let h = &mut r.header;
    h.span = Z;
    h.name.span = Z;
    h.version.span = Z;
    if let Some(d) = &mut h.description {
        d.span = Z;
    }
    h.answers.iter_mut().for_each(|a| a.span = Z);
    h.comments.iter_mut().for_each(|c| c.span = Z);
    r.trailing_comments.iter_mut().for_each(|c| c.span = Z);
    for item in &mut r.items {
        match item {
            Item::Define(d) => {
                d.span = Z;
                d.name.span = Z;
                d.comments.iter_mut().for_each(|c| c.span = Z);
                clear_expr(&mut d.value);
            }
            Item::Score(s) => {
                s.span = Z;
                s.name.span = Z;
                s.script.span = Z;
                s.comments.iter_mut().for_each(|c| c.span = Z);
            }
            Item::Rule(rule) => {
                rule.span = Z;
                rule.id.span = Z;
                rule.comments.iter_mut().for_each(|c| c.span = Z);
                clear_expr(&mut rule.when);
                clear_card(&mut rule.card);
            }
        }
    }
}

fn clear_template(t: &mut Template) {
    t.span = Z;
    for p in &mut t.parts {
        if let TemplatePart::Name(n) = p {
            n.span = Z;
        }
    }
}

fn clear_action(a: &mut Action) {
    a.span = Z;
    a.body.span = Z;
}

fn clear_card(c: &mut Card) {
    c.indicator_span = Z;
    clear_template(&mut c.summary);
    if let Some(d) = &mut c.detail {
        clear_template(d);
    }
    if let Some(s) = &mut c.source {
        s.span = Z;
        s.label.span = Z;
        if let Some(u) = &mut s.url {
            u.span = Z;
        }
        if let Some(i) = &mut s.icon {
            i.span = Z;
        }
    }
    for l in &mut c.links {
        l.span = Z;
        l.label.span = Z;
        l.url.span = Z;
    }
    for s in &mut c.suggestions {
        s.span = Z;
        s.label.span = Z;
        s.actions.iter_mut().for_each(clear_action);
    }
    for o in &mut c.override_reasons {
        o.span = Z;
        o.code.span = Z;
        o.display.span = Z;
    }
    c.system_actions.iter_mut().for_each(clear_action);
}

fn clear_code(c: &mut CodeSpec) {
    c.span = Z;
}

fn clear_window(w: &mut Option<Window>) {
    if let Some(w) = w {
        w.span = Z;
    }
}

fn clear_expr(e: &mut Expr) {
    e.span = Z;
    match &mut e.kind {
        ExprKind::Number(_)
        | ExprKind::Quantity { .. }
        | ExprKind::Text(_)
        | ExprKind::Bool(_)
        | ExprKind::Name(_)
        | ExprKind::Age => {}
        ExprKind::Query(q) => {
            clear_code(&mut q.code);
            clear_window(&mut q.window);
        }
        ExprKind::Aggregate { of, .. } => clear_expr(of),
        ExprKind::Change { of, window, .. } => {
            clear_expr(of);
            clear_window(window);
        }
        ExprKind::Active { code, .. } => clear_code(code),
        ExprKind::FhirPath(t) => t.span = Z,
        ExprKind::Not(x) | ExprKind::Neg(x) => clear_expr(x),
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Compare { lhs, rhs, .. } => {
            clear_expr(lhs);
            clear_expr(rhs);
        }
        ExprKind::Presence { of, .. }
        | ExprKind::Convert { of, .. }
        | ExprKind::Round { of, .. } => clear_expr(of),
        ExprKind::HasCode { of, code } => {
            clear_expr(of);
            clear_code(code);
        }
        ExprKind::Between { of, low, high } => {
            clear_expr(of);
            clear_expr(low);
            clear_expr(high);
        }
        ExprKind::Case { arms, otherwise } => {
            for a in arms {
                a.span = Z;
                clear_expr(&mut a.when);
                clear_expr(&mut a.then);
            }
            if let Some(o) = otherwise {
                clear_expr(o);
            }
        }
        ExprKind::Bands {
            of,
            rows,
            otherwise,
        } => {
            clear_expr(of);
            for r in rows {
                r.span = Z;
                clear_expr(&mut r.value);
                match &mut r.range {
                    BandRange::Compare { bound, .. } | BandRange::Exact(bound) => clear_expr(bound),
                    BandRange::Span { low, high } => {
                        clear_expr(low);
                        clear_expr(high);
                    }
                }
            }
            if let Some(o) = otherwise {
                clear_expr(o);
            }
        }
    }
}
