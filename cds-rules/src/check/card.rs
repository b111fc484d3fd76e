//! The header and the cards: CDS Hooks, summary length, `{name}` in card texts, URLs,
//! action resources and references; and the names rhai scores read.

use super::diagnostic::CheckKind;
use super::{codes, suggest, Checker};
use crate::ast::{Action, ActionKind, Item, Rule, Template, TemplatePart};
use std::collections::HashMap;

/// The hooks of CDS Hooks 2.0.
pub(crate) const HOOKS: &[&str] = &[
    "patient-view",
    "order-select",
    "order-sign",
    "appointment-book",
    "encounter-start",
    "encounter-discharge",
    "order-dispatch",
];

/// The longest summary CDS Hooks allows, in characters.
pub(crate) const SUMMARY_LIMIT: usize = 140;

impl Checker<'_> {
    /// The `answers` hooks.
    pub(crate) fn check_header(&mut self) {
        let rs = self.rs;
        let mut seen: HashMap<&str, crate::ast::Span> = HashMap::new();
        for hook in &rs.header.answers {
            let name = hook.name.as_str();
            if let Some(&first) = seen.get(name) {
                self.sink
                    .warning(
                        CheckKind::DuplicateHook,
                        hook.span,
                        format!("the hook `{name}` is listed twice"),
                        "listed again",
                    )
                    .related(first, "first listed here")
                    .help("list each hook once");
                continue;
            }
            seen.insert(name, hook.span);
            if HOOKS.contains(&name) {
                continue;
            }
            let help = match suggest::closest(name, HOOKS.iter().copied()) {
                Some(h) => format!("did you mean `{h}`?"),
                None => format!("the CDS Hooks 2.0 hooks are {}", HOOKS.join(", ")),
            };
            self.sink
                .error(
                    CheckKind::UnknownHook,
                    hook.span,
                    format!("`{name}` is not a CDS Hooks 2.0 hook"),
                    "unknown hook",
                )
                .help(help);
        }
    }

    /// A rule's card.
    pub(crate) fn check_card(&mut self, rule: &Rule) {
        let card = &rule.card;
        self.template(&card.summary);
        let literal: usize = card
            .summary
            .parts
            .iter()
            .map(|p| match p {
                TemplatePart::Text(t) => t.chars().count(),
                TemplatePart::Name(_) => 0,
            })
            .sum();
        if literal > SUMMARY_LIMIT {
            self.sink
                .error(
                    CheckKind::SummaryTooLong,
                    card.summary.span,
                    format!(
                        "the summary has {literal} characters of text; CDS Hooks allows at most \
                         {SUMMARY_LIMIT}"
                    ),
                    "too long",
                )
                .help("keep the summary short and move the explanation into `detail \"...\"`");
        }
        if let Some(d) = &card.detail {
            self.template(d);
        }
        if let Some(src) = &card.source {
            if let Some(url) = &src.url {
                codes::check_url(url, "a source link", &mut self.sink);
            }
            if let Some(icon) = &src.icon {
                codes::check_url(icon, "a source icon", &mut self.sink);
            }
        }
        for link in &card.links {
            codes::check_url(&link.url, "a link", &mut self.sink);
        }
        for s in &card.suggestions {
            for a in &s.actions {
                self.action(a);
            }
        }
        for a in &card.system_actions {
            self.action(a);
        }
    }

    /// `{name}` in a card text must name a definition or score.
    fn template(&mut self, t: &Template) {
        for part in &t.parts {
            if let TemplatePart::Name(id) = part {
                self.resolve(&id.name, id.span);
            }
        }
    }

    fn action(&mut self, a: &Action) {
        match a.kind {
            ActionKind::Create | ActionKind::Update => {
                let json: Option<serde_json::Value> = serde_json::from_str(&a.body.value).ok();
                let rt = json
                    .as_ref()
                    .and_then(|j| j.get("resourceType"))
                    .and_then(|r| r.as_str());
                match rt {
                    None => {
                        let what = if json.as_ref().is_some_and(|j| j.is_object()) {
                            "the resource has no `resourceType`"
                        } else {
                            "the action's template is not a JSON object"
                        };
                        self.sink
                            .error(
                                CheckKind::MissingResourceType,
                                a.body.span,
                                format!(
                                    "{what}: a {} action needs a FHIR resource",
                                    a.kind.as_str()
                                ),
                                "no resourceType",
                            )
                            .help(
                                "write the resource as a JSON object with its type: \
                                 `{ \"resourceType\": \"ServiceRequest\", ... }`",
                            );
                    }
                    Some(rt) => self.resource_type(rt, a),
                }
            }
            ActionKind::Delete => {
                let body = a.body.value.as_str();
                let shaped = body.split_once('/').filter(|(t, id)| {
                    !t.is_empty() && t.chars().all(|c| c.is_ascii_alphabetic()) && valid_id(id)
                });
                match shaped {
                    Some((t, _)) => self.resource_type(t, a),
                    None => {
                        self.sink
                            .error(
                                CheckKind::BadReference,
                                a.body.span,
                                "a delete action names the resource as `Type/id`",
                                "not `Type/id`",
                            )
                            .help(
                                "write the resource type and id: `delete \"MedicationRequest/{id}\"`",
                            );
                    }
                }
            }
        }
    }

    fn resource_type(&mut self, rt: &str, a: &Action) {
        if cds_core::model::is_resource_type(rt) {
            return;
        }
        let help = match suggest::closest(rt, cds_core::model::resource_types()) {
            Some(good) => format!("did you mean `{good}`?"),
            None => "use a FHIR R4 resource type such as `ServiceRequest`, `MedicationRequest`, \
                     `Task` or `CommunicationRequest`"
                .to_string(),
        };
        self.sink
            .error(
                CheckKind::UnknownResourceType,
                a.body.span,
                format!("`{rt}` is not a FHIR resource type"),
                "unknown resource type",
            )
            .help(help);
    }

    /// The names each rhai score reads (rhai names use `_` where rule names use `-`).
    pub(crate) fn check_scores(&mut self) {
        let rs = self.rs;
        let by_rhai_name: HashMap<String, &str> = self
            .names
            .keys()
            .map(|n| (n.replace('-', "_"), *n))
            .collect();
        for (i, item) in rs.items.iter().enumerate() {
            let Item::Score(s) = item else { continue };
            if self.names.get(s.name.name.as_str()) != Some(&i) {
                continue;
            }
            let mut inputs: Vec<String> = identifiers(&s.script.value)
                .filter_map(|w| by_rhai_name.get(w).map(|n| n.to_string()))
                .filter(|n| *n != s.name.name)
                .collect();
            inputs.sort_unstable();
            inputs.dedup();
            for n in &inputs {
                self.used.insert(n.clone());
            }
            self.score_inputs.insert(i, inputs);
        }
    }
}

/// A FHIR id (`[A-Za-z0-9\-\.]{1,64}`) or a `{placeholder}`.
fn valid_id(id: &str) -> bool {
    if let Some(inner) = id.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        return !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    }
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// The identifier-like words of a script (outside string literals, roughly).
fn identifiers(script: &str) -> impl Iterator<Item = &str> {
    script
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_words() {
        assert!(valid_id("{id}"));
        assert!(valid_id("abc-1.2"));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
        assert!(!valid_id("{}"));
        let words: Vec<&str> = identifiers("let s = rr_points + 2; s").collect();
        assert_eq!(words, ["let", "s", "rr_points", "s"]);
    }
}
