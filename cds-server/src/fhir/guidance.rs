//! Cards as FHIR R4: one GuidanceResponse per ruleset, its cards as the actions of a contained
//! RequestGroup, each card's rule and evidence as a contained DetectedIssue.
//!
//! | card | RequestGroup.action | DetectedIssue |
//! | --- | --- | --- |
//! | `uuid` | `id` | `identifier` (`urn:uuid:…`) |
//! | `summary` | `title` | `detail` |
//! | `detail` | `description` | |
//! | `indicator` info / warning / critical | `priority` routine / urgent / stat | `severity` low / moderate / high |
//! | `source` | `documentation` (citation) | `reference` (its url) |
//! | `links` | `documentation` (documentation) | |
//! | `suggestions` | nested `action`s (below) | |
//! | `selectionBehavior` | `selectionBehavior` (same codes) | |
//! | rule id | | `code` (`urn:cds:ruleset:{ruleset}` / rule id, text = rule id) |
//! | evidence resources | | `implicated`; per value, `evidence` (code text = name, `detail`) |
//! | evidence | | extension [`EVIDENCE_EXTENSION`] (below) |
//!
//! Each card's action points at its DetectedIssue through `resource`. A suggestion is a nested
//! action (`id` = the suggestion's uuid, `title` = its label, `selectionBehavior`
//! `all-or-none`: a suggestion's actions are taken together) whose own nested actions are the
//! suggestion's actions: `type` create / update / remove (CDS Hooks `delete`), `description`,
//! and `resource` — a contained copy of the resource to create or update (id `proposal-…`;
//! an update's target `Type/id` in the extension [`UPDATE_TARGET_EXTENSION`]), or the
//! reference to delete.
//!
//! The evidence extension is structured (complex): `ruleset`, `version`, `rule` (valueString),
//! `at` (valueDateTime), then one `value` per definition the rule used, each with `name` and
//! `shown` (valueString), `json` (valueString: the value as JSON text, exactly as in the card's
//! `cds-evidence`) and one `resource` (valueReference) per resource it came from. Nothing of the
//! card's `cds-evidence` is lost, and FHIR tools can read every part but the value's JSON.
//!
//! Not carried: the source's icon, override reasons (the FHIR door takes no feedback), and the
//! link type (the engine writes only `absolute` links).

use cds_core::card::{Card, Evidence, Indicator, Suggestion};
use cds_core::graph::FiredCard;
use serde_json::{json, Map, Value};

/// The URL of the evidence extension on DetectedIssue.
pub const EVIDENCE_EXTENSION: &str = "https://cds.invalid/fhir/StructureDefinition/cds-evidence";

/// The URL of the extension naming the resource an `update` suggestion replaces.
pub const UPDATE_TARGET_EXTENSION: &str =
    "https://cds.invalid/fhir/StructureDefinition/cds-update-target";

/// The system of `GuidanceResponse.requestIdentifier`: the call's `X-Request-ID`.
pub const REQUEST_ID_SYSTEM: &str = "urn:cds:x-request-id";

/// The id of the contained RequestGroup.
pub const REQUEST_GROUP_ID: &str = "guidance";

/// What a GuidanceResponse is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// `Patient/{id}`.
    pub patient: &'a str,
    /// The evaluation time, a FHIR dateTime.
    pub at: &'a str,
    /// The request id (`X-Request-ID`).
    pub request_id: &'a str,
}

/// What one ruleset's evaluation gave.
#[derive(Debug, Clone)]
pub struct RulesetResult<'a> {
    /// The ruleset's name.
    pub name: &'a str,
    /// Its version.
    pub version: &'a str,
    /// The cards its rules raised.
    pub cards: Vec<&'a FiredCard>,
    /// Problems met computing its values (no patient values in them).
    pub issues: Vec<String>,
    /// The rules whose condition could not be decided: data they read is missing.
    pub undecided: Vec<String>,
    /// DataRequirements of what its rules read and the record lacks.
    pub missing: Vec<Value>,
}

/// The GuidanceResponse status of a result: `success` when cards were raised; else
/// `failure` when values could not be computed; else `data-required` when some rule could
/// not be decided for want of data; else `success` (every rule decided: none applies).
pub fn status(r: &RulesetResult) -> &'static str {
    if !r.cards.is_empty() {
        "success"
    } else if !r.issues.is_empty() {
        "failure"
    } else if !r.undecided.is_empty() {
        "data-required"
    } else {
        "success"
    }
}

/// The module of a ruleset: `urn:cds:ruleset:{name}|{version}`.
pub fn module(name: &str, version: &str) -> String {
    format!("urn:cds:ruleset:{name}|{version}")
}

/// The GuidanceResponse of one ruleset.
pub fn guidance_response(r: &RulesetResult, s: Subject) -> Value {
    let status = status(r);
    let mut contained = Vec::new();
    let mut out = Map::new();
    out.insert("resourceType".into(), json!("GuidanceResponse"));
    out.insert(
        "requestIdentifier".into(),
        json!({"system": REQUEST_ID_SYSTEM, "value": s.request_id}),
    );
    out.insert("moduleCanonical".into(), json!(module(r.name, r.version)));
    out.insert("status".into(), json!(status));
    out.insert("subject".into(), json!({"reference": s.patient}));
    out.insert("occurrenceDateTime".into(), json!(s.at));
    if !r.cards.is_empty() {
        let mut rest = Vec::new();
        let actions: Vec<Value> = r
            .cards
            .iter()
            .enumerate()
            .map(|(i, c)| card_action(i + 1, c, s, &mut rest))
            .collect();
        contained.push(json!({
            "resourceType": "RequestGroup",
            "id": REQUEST_GROUP_ID,
            "status": "draft",
            "intent": "proposal",
            "subject": {"reference": s.patient},
            "authoredOn": s.at,
            "action": actions,
        }));
        contained.extend(rest);
        out.insert(
            "result".into(),
            json!({"reference": format!("#{REQUEST_GROUP_ID}")}),
        );
    }
    if !r.issues.is_empty() || !r.undecided.is_empty() {
        let issues: Vec<Value> = r
            .issues
            .iter()
            .map(|m| json!({"severity": "warning", "code": "processing", "diagnostics": m}))
            .chain(r.undecided.iter().map(|rule| {
                json!({"severity": "information", "code": "incomplete",
                       "diagnostics": format!("rule {rule} could not be decided: data it reads is missing")})
            }))
            .collect();
        contained.push(json!({
            "resourceType": "OperationOutcome",
            "id": "evaluation",
            "issue": issues,
        }));
        out.insert(
            "evaluationMessage".into(),
            json!([{"reference": "#evaluation"}]),
        );
    }
    if status == "data-required" && !r.missing.is_empty() {
        out.insert("dataRequirement".into(), json!(r.missing));
    }
    if !contained.is_empty() {
        // `contained` first, as FHIR JSON usually has it.
        let mut front = Map::new();
        front.insert("resourceType".into(), out.remove("resourceType").unwrap());
        front.insert("contained".into(), Value::Array(contained));
        front.extend(out);
        out = front;
    }
    Value::Object(out)
}

/// The id of the `n`-th card's DetectedIssue (from 1).
pub fn issue_id(n: usize) -> String {
    format!("issue-{n}")
}

/// The RequestGroup action of the `n`-th card (from 1); its DetectedIssue and the resources
/// its suggestions propose go to `contained`.
pub fn card_action(n: usize, fired: &FiredCard, s: Subject, contained: &mut Vec<Value>) -> Value {
    let card = &fired.card;
    let issue = issue_id(n);
    contained.push(detected_issue(&issue, fired, s));
    let mut a = Map::new();
    a.insert("id".into(), json!(card.uuid));
    a.insert("title".into(), json!(card.summary));
    if let Some(d) = &card.detail {
        a.insert("description".into(), json!(d));
    }
    a.insert("priority".into(), json!(priority(card.indicator)));
    let docs = documentation(card);
    if !docs.is_empty() {
        a.insert("documentation".into(), Value::Array(docs));
    }
    if let Some(b) = &card.selection_behavior {
        a.insert("selectionBehavior".into(), json!(b));
    }
    a.insert("resource".into(), json!({"reference": format!("#{issue}")}));
    if !card.suggestions.is_empty() {
        let nested: Vec<Value> = card
            .suggestions
            .iter()
            .enumerate()
            .map(|(i, sg)| suggestion_action(n, i + 1, sg, contained))
            .collect();
        a.insert("action".into(), Value::Array(nested));
    }
    Value::Object(a)
}

/// CDS Hooks indicator → RequestGroup priority.
pub fn priority(i: Indicator) -> &'static str {
    match i {
        Indicator::Info => "routine",
        Indicator::Warning => "urgent",
        Indicator::Critical => "stat",
    }
}

/// CDS Hooks indicator → DetectedIssue severity.
pub fn severity(i: Indicator) -> &'static str {
    match i {
        Indicator::Info => "low",
        Indicator::Warning => "moderate",
        Indicator::Critical => "high",
    }
}

fn documentation(card: &Card) -> Vec<Value> {
    let mut out = Vec::new();
    let mut source = json!({"type": "citation", "display": card.source.label});
    if let Some(u) = &card.source.url {
        source["url"] = json!(u);
    }
    out.push(source);
    for l in &card.links {
        out.push(json!({"type": "documentation", "display": l.label, "url": l.url}));
    }
    out
}

fn suggestion_action(card: usize, n: usize, sg: &Suggestion, contained: &mut Vec<Value>) -> Value {
    let actions: Vec<Value> = sg
        .actions
        .iter()
        .enumerate()
        .map(|(i, act)| {
            let kind = match act.kind.as_str() {
                "delete" => "remove",
                other => other,
            };
            let mut a = json!({
                "description": act.description,
                "type": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/action-type",
                    "code": kind,
                }]},
            });
            if let Some(r) = &act.resource {
                let id = format!("proposal-{card}-{n}-{}", i + 1);
                contained.push(proposal(r, &id, kind == "update"));
                a["resource"] = json!({"reference": format!("#{id}")});
            } else if let Some(target) = &act.resource_id {
                a["resource"] = json!({"reference": target});
            }
            a
        })
        .collect();
    json!({
        "id": sg.uuid,
        "title": sg.label,
        "selectionBehavior": "all-or-none",
        "action": actions,
    })
}

/// A resource a suggestion proposes, made fit to be contained: a local id (an update's
/// target kept in an extension), no version metadata.
fn proposal(resource: &Value, id: &str, update: bool) -> Value {
    let mut r = match resource {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let target = match (update, r.get("resourceType"), r.get("id")) {
        (true, Some(Value::String(t)), Some(Value::String(old))) => Some(format!("{t}/{old}")),
        _ => None,
    };
    let mut out = Map::new();
    out.insert(
        "resourceType".into(),
        r.remove("resourceType").unwrap_or(Value::Null),
    );
    out.insert("id".into(), json!(id));
    r.remove("id");
    if let Some(Value::Object(meta)) = r.get_mut("meta") {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        if meta.is_empty() {
            r.remove("meta");
        }
    }
    if let Some(t) = target {
        let ext = json!({"url": UPDATE_TARGET_EXTENSION, "valueReference": {"reference": t}});
        match r.get_mut("extension") {
            Some(Value::Array(list)) => list.push(ext),
            _ => {
                r.insert("extension".into(), json!([ext]));
            }
        }
    }
    out.extend(r);
    Value::Object(out)
}

/// The DetectedIssue of a card: the rule as its code, the evidence's resources as
/// `implicated` and `evidence`, the full evidence in an extension.
pub fn detected_issue(id: &str, fired: &FiredCard, s: Subject) -> Value {
    let card = &fired.card;
    let ev = &fired.evidence;
    let mut implicated: Vec<&str> = Vec::new();
    for v in &ev.values {
        for r in &v.resources {
            if !implicated.contains(&r.as_str()) {
                implicated.push(r);
            }
        }
    }
    let evidence: Vec<Value> = ev
        .values
        .iter()
        .filter(|v| !v.resources.is_empty())
        .map(|v| {
            json!({
                "code": [{"text": v.name}],
                "detail": v.resources.iter().map(|r| json!({"reference": r})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("resourceType".into(), json!("DetectedIssue"));
    out.insert("id".into(), json!(id));
    out.insert("extension".into(), json!([evidence_extension(ev)]));
    out.insert(
        "identifier".into(),
        json!([{"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{}", card.uuid)}]),
    );
    out.insert("status".into(), json!("final"));
    out.insert(
        "code".into(),
        json!({
            "coding": [{"system": format!("urn:cds:ruleset:{}", fired.ruleset), "code": fired.rule}],
            "text": fired.rule,
        }),
    );
    out.insert("severity".into(), json!(severity(card.indicator)));
    out.insert("patient".into(), json!({"reference": s.patient}));
    out.insert("identifiedDateTime".into(), json!(s.at));
    if !implicated.is_empty() {
        out.insert(
            "implicated".into(),
            implicated
                .iter()
                .map(|r| json!({"reference": r}))
                .collect::<Vec<_>>()
                .into(),
        );
    }
    if !evidence.is_empty() {
        out.insert("evidence".into(), Value::Array(evidence));
    }
    out.insert("detail".into(), json!(card.summary));
    if let Some(u) = &card.source.url {
        out.insert("reference".into(), json!(u));
    }
    Value::Object(out)
}

/// The evidence as a complex extension (see the module documentation).
pub fn evidence_extension(ev: &Evidence) -> Value {
    let mut parts = vec![
        json!({"url": "ruleset", "valueString": ev.ruleset}),
        json!({"url": "version", "valueString": ev.version}),
        json!({"url": "rule", "valueString": ev.rule}),
        json!({"url": "at", "valueDateTime": ev.at}),
    ];
    for v in &ev.values {
        let mut value = vec![
            json!({"url": "name", "valueString": v.name}),
            json!({"url": "shown", "valueString": v.shown}),
            json!({"url": "json", "valueString": v.value.to_string()}),
        ];
        value.extend(
            v.resources
                .iter()
                .map(|r| json!({"url": "resource", "valueReference": {"reference": r}})),
        );
        parts.push(json!({"url": "value", "extension": value}));
    }
    json!({"url": EVIDENCE_EXTENSION, "extension": parts})
}

/// The answer: a Bundle of type collection, one entry per GuidanceResponse with its
/// `fullUrl`.
pub fn bundle(entries: Vec<(String, Value)>) -> Value {
    let entry: Vec<Value> = entries
        .into_iter()
        .map(|(url, r)| json!({"fullUrl": url, "resource": r}))
        .collect();
    json!({"resourceType": "Bundle", "type": "collection", "entry": entry})
}

#[cfg(test)]
mod tests;
