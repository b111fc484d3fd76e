//! The header and the cards: CDS Hooks, summary length, `{name}` in card texts, URLs,
//! action resources and references; and rhai scores, compiled.

use super::diagnostic::CheckKind;
use super::{codes, suggest, Checker};
use crate::ast::{Action, ActionKind, Item, Rule, Template, TemplatePart};
use std::collections::HashMap;

/// The hooks a ruleset may answer: those of CDS Hooks 2.0, then this engine's custom hooks.
///
/// `device-observation` is a custom hook: observations streamed from a registered wearable or
/// home monitor (a glucose meter, a watch, a vitals patch) arrive as they are taken, and the
/// rulesets that answer it are evaluated over the patient's record with those readings in it.
pub(crate) const HOOKS: &[&str] = &[
    "patient-view",
    "order-select",
    "order-sign",
    "appointment-book",
    "encounter-start",
    "encounter-discharge",
    "order-dispatch",
    "device-observation",
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
                None => format!("the known hooks are {}", HOOKS.join(", ")),
            };
            self.sink
                .error(
                    CheckKind::UnknownHook,
                    hook.span,
                    format!(
                        "`{name}` is not a CDS Hooks 2.0 hook nor a custom hook of this engine"
                    ),
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

    /// Compiles each rhai score (its errors are reported as [`CheckKind::Script`]) and
    /// records the names it reads as uses.
    pub(crate) fn check_scores(&mut self) {
        let rs = self.rs;
        let mut known: Vec<&str> = self.names.keys().copied().collect();
        known.sort_unstable();
        known.extend(BUILTIN_NAMES);
        for (i, item) in rs.items.iter().enumerate() {
            let Item::Score(s) = item else { continue };
            match crate::script::compile(s, &known) {
                Ok(script) => {
                    let inputs: Vec<String> = script
                        .inputs()
                        .iter()
                        .filter(|n| self.names.contains_key(n.as_str()))
                        .cloned()
                        .collect();
                    for n in &inputs {
                        self.used.insert(n.clone());
                    }
                    if self.names.get(s.name.name.as_str()) == Some(&i) {
                        self.score_inputs.insert(i, inputs);
                    }
                }
                Err(e) => {
                    // Its inputs are unknown: do not also call the names it mentions unused.
                    for n in self.names.keys() {
                        let text = &s.script.value;
                        if text.contains(n) || text.contains(&crate::script::rhai_name(n)) {
                            self.used.insert(n.to_string());
                        }
                    }
                    self.sink
                        .error(
                            CheckKind::Script,
                            e.span,
                            format!("score `{}`: {}", e.score, e.message),
                            e.label,
                        )
                        .help(e.help);
                }
            }
        }
    }
}

/// Names a score may read besides the ruleset's definitions and scores.
const BUILTIN_NAMES: [&str; 1] = ["age"];

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("{id}"));
        assert!(valid_id("abc-1.2"));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
        assert!(!valid_id("{}"));
    }
}
