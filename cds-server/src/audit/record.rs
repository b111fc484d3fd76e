//! What one CDS call leaves behind: [`CallRecord`] (as the server hands it over, with raw
//! identifiers), the stored row (identifiers replaced by keyed hashes, strings cleaned) and the
//! FHIR R4 `AuditEvent` built from that row.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::hash::Hasher;

/// The longest string kept in a stored field (longer ones are cut at a character boundary).
pub(crate) const MAX_FIELD_CHARS: usize = 1024;

/// Which kind of call a [`CallRecord`] describes; stored and shown as [`CallKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallKind {
    /// `POST /cds-services/{id}`: a hook call answered with cards.
    #[default]
    ServiceCall,
    /// `POST /cds-services/{id}/feedback`.
    Feedback,
    /// An administrative route (reload, metrics, audit reads).
    Admin,
    /// Device onboarding or readings.
    DeviceReadings,
    /// The FHIR door (`/fhir/...`, e.g. `$cds-evaluate`).
    FhirOperation,
}

impl CallKind {
    /// The slug stored in the `kind` column and used as the AuditEvent subtype code.
    ///
    /// ```
    /// use cds_server::audit::CallKind;
    /// assert_eq!(CallKind::ServiceCall.as_str(), "service-call");
    /// assert_eq!(CallKind::FhirOperation.as_str(), "fhir-operation");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::ServiceCall => "service-call",
            CallKind::Feedback => "feedback",
            CallKind::Admin => "admin",
            CallKind::DeviceReadings => "device-readings",
            CallKind::FhirOperation => "fhir-operation",
        }
    }

    fn display(self) -> &'static str {
        match self {
            CallKind::ServiceCall => "CDS service call",
            CallKind::Feedback => "CDS feedback",
            CallKind::Admin => "administration",
            CallKind::DeviceReadings => "device readings",
            CallKind::FhirOperation => "FHIR operation",
        }
    }
}

impl fmt::Display for CallKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One call as the server saw it. `patient_id` and `user_id` are **raw**: [`super::Audit`]
/// replaces them with keyed hashes before anything is queued or stored, and this type's `Debug`
/// never shows them.
///
/// ```
/// use cds_server::audit::{CallKind, CallRecord};
/// let mut r = CallRecord::new(CallKind::ServiceCall, "bp-check");
/// r.status = 200;
/// r.cards_by_rule.insert("hypertension/high-bp".into(), 1);
/// r.patient_id = Some("Patient/123".into());
/// assert!(!format!("{r:?}").contains("123"));
/// ```
#[derive(Clone, PartialEq)]
pub struct CallRecord {
    /// When the call was answered.
    pub time: DateTime<Utc>,
    /// What kind of call.
    pub kind: CallKind,
    /// The tenant; `""` when authentication is off.
    pub tenant: String,
    /// The client's `iss`; `""` when authentication is off.
    pub client: String,
    /// The service id, or the route for calls that are not service calls.
    pub service: String,
    /// The hook (`patient-view`, …), when the call had one.
    pub hook: Option<String>,
    /// The call's `hookInstance`.
    pub hook_instance: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// Cards returned per rule: `"ruleset/rule"` → count.
    pub cards_by_rule: BTreeMap<String, u32>,
    /// Time spent answering, in milliseconds.
    pub duration_ms: f64,
    /// The request id (as in the `x-request-id` header answered).
    pub request_id: String,
    /// The patient's id, RAW; hashed before it is stored.
    pub patient_id: Option<String>,
    /// `context.userId`, RAW; hashed before it is stored.
    pub user_id: Option<String>,
}

impl CallRecord {
    /// A record of `kind` for `service`, now, with everything else empty (status 0).
    pub fn new(kind: CallKind, service: impl Into<String>) -> CallRecord {
        CallRecord {
            time: Utc::now(),
            kind,
            tenant: String::new(),
            client: String::new(),
            service: service.into(),
            hook: None,
            hook_instance: None,
            status: 0,
            cards_by_rule: BTreeMap::new(),
            duration_ms: 0.0,
            request_id: String::new(),
            patient_id: None,
            user_id: None,
        }
    }
}

impl fmt::Debug for CallRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("CallRecord")
            .field("time", &self.time)
            .field("kind", &self.kind)
            .field("tenant", &self.tenant)
            .field("client", &self.client)
            .field("service", &self.service)
            .field("hook", &self.hook)
            .field("hook_instance", &self.hook_instance)
            .field("status", &self.status)
            .field("cards_by_rule", &self.cards_by_rule)
            .field("duration_ms", &self.duration_ms)
            .field("request_id", &self.request_id)
            .field("patient_id", &redacted(&self.patient_id))
            .field("user_id", &redacted(&self.user_id))
            .finish()
    }
}

/// What a feedback count is kept per: one row per distinct key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FeedbackKey {
    /// The tenant; `""` when authentication is off.
    pub tenant: String,
    /// The service id.
    pub service: String,
    /// The card's ruleset (`unknown` when the card is not known).
    pub ruleset: String,
    /// The card's rule.
    pub rule: String,
    /// `accepted` or `overridden`.
    pub outcome: String,
    /// The override reason's code, `""` when none.
    pub reason: String,
}

impl FeedbackKey {
    /// The key with every field cleaned as stored (no NUL, at most [`MAX_FIELD_CHARS`]).
    pub(crate) fn cleaned(self) -> FeedbackKey {
        FeedbackKey {
            tenant: clean(&self.tenant),
            service: clean(&self.service),
            ruleset: clean(&self.ruleset),
            rule: clean(&self.rule),
            outcome: clean(&self.outcome),
            reason: clean(&self.reason),
        }
    }
}

/// A stored feedback count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedbackCount {
    /// What is counted.
    #[serde(flatten)]
    pub key: FeedbackKey,
    /// How many feedback items had this key.
    pub count: u64,
}

/// A string as stored: NUL (refused by PostgreSQL) replaced, cut to [`MAX_FIELD_CHARS`].
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .take(MAX_FIELD_CHARS)
        .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
        .collect()
}

/// The AuditEvent `outcome` code for an HTTP status: `0` below 400, `4` for 4xx, `8` for 5xx
/// and anything else.
pub(crate) fn outcome_code(status: u16) -> &'static str {
    match status {
        0..=399 => "0",
        400..=499 => "4",
        _ => "8",
    }
}

/// One stored `cds_audit_event` row: identifiers hashed, strings cleaned, the event built.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventRow {
    pub recorded: String,
    pub tenant: String,
    pub client: String,
    pub kind: &'static str,
    pub service: String,
    pub hook: Option<String>,
    pub hook_instance: Option<String>,
    pub status: u16,
    pub outcome: &'static str,
    pub duration_ms: f64,
    pub patient_hash: Option<String>,
    pub user_hash: Option<String>,
    pub request_id: String,
    pub cards: Value,
    pub event: Value,
}

impl EventRow {
    /// Hashes the record's identifiers (the raw ones are dropped here) and builds the row.
    pub(crate) fn new(r: CallRecord, hasher: &Hasher) -> EventRow {
        let hash = |id: Option<String>| id.filter(|s| !s.is_empty()).map(|s| hasher.hash(&s));
        let opt = |s: Option<String>| s.filter(|s| !s.is_empty()).map(|s| clean(&s));
        let duration_ms = if r.duration_ms.is_finite() && r.duration_ms >= 0.0 {
            r.duration_ms
        } else {
            0.0
        };
        let cards: Map<String, Value> = r
            .cards_by_rule
            .iter()
            .map(|(k, n)| (clean(k), Value::from(*n)))
            .collect();
        let mut row = EventRow {
            recorded: r.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            tenant: clean(&r.tenant),
            client: clean(&r.client),
            kind: r.kind.as_str(),
            service: clean(&r.service),
            hook: opt(r.hook),
            hook_instance: opt(r.hook_instance),
            status: r.status,
            outcome: outcome_code(r.status),
            duration_ms,
            patient_hash: hash(r.patient_id),
            user_hash: hash(r.user_id),
            request_id: clean(&r.request_id),
            cards: Value::Object(cards),
            event: Value::Null,
        };
        row.event = audit_event(&row, r.kind);
        row
    }
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({"system": system, "code": code, "display": display})
}

const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";

/// The FHIR R4 AuditEvent of a row (without `id`, which the store assigns).
fn audit_event(row: &EventRow, kind: CallKind) -> Value {
    let client_who = if row.client.is_empty() {
        json!({"display": "unauthenticated client"})
    } else {
        json!({"identifier": {"system": "urn:cds:client", "value": row.client}})
    };
    let mut agent = vec![json!({"who": client_who, "requestor": true})];
    if let Some(h) = &row.user_hash {
        agent.push(json!({
            "who": {"identifier": {"system": "urn:cds:hashed-user", "value": h}},
            "requestor": false
        }));
    }

    let mut source = Map::new();
    if !row.tenant.is_empty() {
        source.insert("site".into(), Value::from(row.tenant.as_str()));
    }
    source.insert("observer".into(), json!({"display": "cds-server"}));
    source.insert(
        "type".into(),
        json!([coding(
            "http://terminology.hl7.org/CodeSystem/security-source-type",
            "4",
            "Application Server"
        )]),
    );

    let mut entity = Vec::new();
    if let Some(h) = &row.patient_hash {
        entity.push(json!({
            "what": {"type": "Patient", "identifier": {"system": "urn:cds:hashed-patient", "value": h}},
            "type": coding(ENTITY_TYPE, "1", "Person"),
            "role": coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient")
        }));
    }
    if let Some(hi) = &row.hook_instance {
        entity.push(json!({
            "what": {"identifier": {"system": "urn:cds:hook-instance", "value": hi}},
            "type": coding(ENTITY_TYPE, "2", "System Object"),
            "name": "hookInstance"
        }));
    }
    let detail = |t: &str, v: String| json!({"type": t, "valueString": v});
    let mut details = Vec::new();
    if !row.service.is_empty() {
        details.push(detail("service", row.service.clone()));
    }
    if let Some(h) = &row.hook {
        details.push(detail("hook", h.clone()));
    }
    details.push(detail("durationMs", format!("{:.3}", row.duration_ms)));
    if !row.request_id.is_empty() {
        details.push(detail("requestId", row.request_id.clone()));
    }
    if let Value::Object(cards) = &row.cards {
        for (rule, n) in cards {
            details.push(detail(&format!("cards:{rule}"), n.to_string()));
        }
    }
    let mut call = Map::new();
    if !row.request_id.is_empty() {
        call.insert(
            "what".into(),
            json!({"identifier": {"system": "urn:cds:request-id", "value": row.request_id}}),
        );
    }
    call.insert("type".into(), coding(ENTITY_TYPE, "2", "System Object"));
    if !row.service.is_empty() {
        call.insert("name".into(), Value::from(row.service.as_str()));
    }
    call.insert("detail".into(), Value::Array(details));
    entity.push(Value::Object(call));

    json!({
        "resourceType": "AuditEvent",
        "type": coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "rest",
            "RESTful Operation"
        ),
        "subtype": [coding("urn:cds:audit", kind.as_str(), kind.display())],
        "action": "E",
        "recorded": row.recorded,
        "outcome": row.outcome,
        "outcomeDesc": row.status.to_string(),
        "agent": agent,
        "source": source,
        "entity": entity
    })
}

/// The event as read back: `id` (the store's row id) placed after `resourceType`.
pub(crate) fn with_id(event: Value, id: i64) -> Value {
    match event {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len() + 1);
            if let Some(rt) = map.get("resourceType") {
                out.insert("resourceType".into(), rt.clone());
            }
            out.insert("id".into(), Value::from(id.to_string()));
            for (k, v) in map {
                if k != "resourceType" && k != "id" {
                    out.insert(k, v);
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> CallRecord {
        let mut r = CallRecord::new(CallKind::ServiceCall, "bp-check");
        r.time = Utc
            .with_ymd_and_hms(2024, 5, 1, 12, 30, 15)
            .single()
            .expect("a valid time");
        r.tenant = "clinic-a".into();
        r.client = "https://ehr.example/issuer".into();
        r.hook = Some("patient-view".into());
        r.hook_instance = Some("d1577c69-dfbe-44ad-ba6d-3e05e953b2ea".into());
        r.status = 200;
        r.cards_by_rule.insert("hypertension/high-bp".into(), 2);
        r.cards_by_rule
            .insert("hypertension/no-recent-bp".into(), 1);
        r.duration_ms = 12.5;
        r.request_id = "req-0001".into();
        r.patient_id = Some("Patient/raw-patient-42".into());
        r.user_id = Some("Practitioner/raw-user-7".into());
        r
    }

    #[test]
    fn one_event_snapshot() {
        let hasher = Hasher::new(&[7u8; 32]).expect("hasher");
        let row = EventRow::new(sample(), &hasher);
        insta::assert_json_snapshot!("audit_event_service_call", row.event);
    }

    #[test]
    fn rows_hold_hashes_never_raw_ids() {
        let hasher = Hasher::new(&[7u8; 32]).expect("hasher");
        let row = EventRow::new(sample(), &hasher);
        let text = format!("{row:?}");
        assert!(!text.contains("raw-patient-42") && !text.contains("raw-user-7"));
        assert_eq!(
            row.patient_hash.as_deref(),
            Some(hasher.hash("Patient/raw-patient-42").as_str())
        );
        assert_eq!(
            row.user_hash.as_deref(),
            Some(hasher.hash("Practitioner/raw-user-7").as_str())
        );
        assert_eq!(row.recorded, "2024-05-01T12:30:15.000Z");
        assert_eq!(
            row.cards,
            json!({"hypertension/high-bp": 2, "hypertension/no-recent-bp": 1})
        );
    }

    #[test]
    fn outcome_codes_follow_the_status_class() {
        assert_eq!(outcome_code(200), "0");
        assert_eq!(outcome_code(204), "0");
        assert_eq!(outcome_code(304), "0");
        assert_eq!(outcome_code(401), "4");
        assert_eq!(outcome_code(429), "4");
        assert_eq!(outcome_code(500), "8");
        assert_eq!(outcome_code(503), "8");
    }

    #[test]
    fn without_auth_ids_or_hook_the_event_is_still_valid_shape() {
        let hasher = Hasher::new(&[1u8; 32]).expect("hasher");
        let mut r = CallRecord::new(CallKind::Admin, "/reload");
        r.status = 503;
        r.duration_ms = f64::NAN;
        r.patient_id = Some(String::new());
        let row = EventRow::new(r, &hasher);
        assert_eq!(row.patient_hash, None);
        assert_eq!(row.duration_ms, 0.0);
        let e = &row.event;
        assert_eq!(e["outcome"], "8");
        assert_eq!(e["outcomeDesc"], "503");
        assert_eq!(e["subtype"][0]["code"], "admin");
        assert_eq!(e["agent"][0]["who"]["display"], "unauthenticated client");
        assert_eq!(e["agent"].as_array().map(Vec::len), Some(1));
        assert!(e["source"].get("site").is_none());
        assert_eq!(e["entity"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn strings_are_cleaned() {
        let long = "x".repeat(MAX_FIELD_CHARS + 10);
        assert_eq!(clean(&long).chars().count(), MAX_FIELD_CHARS);
        assert_eq!(clean("a\0b"), "a\u{FFFD}b");
    }

    #[test]
    fn with_id_puts_the_id_second() {
        let e = with_id(json!({"resourceType": "AuditEvent", "action": "E"}), 9);
        let keys: Vec<&String> = e
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["resourceType", "id", "action"]);
        assert_eq!(e["id"], "9");
    }
}
