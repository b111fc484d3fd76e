//! The indexed entries of a record: observations (and their components), conditions, and
//! medication requests.

use std::sync::Arc;

use serde_json::Value;

use super::times::FactTime;
use crate::data::value::ObservationValue;
use crate::data::Resource;

/// One observation, or one component of one, indexed under one of its codes.
#[derive(Debug, Clone)]
pub struct ObservationEntry {
    pub(crate) observation: Arc<Resource>,
    pub(crate) component: Option<usize>,
    pub(crate) time: Option<FactTime>,
    pub(crate) decoded: Decoded,
}

/// An entry's value as rules read it, decoded once when the record is built.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// Not a usable reading: entered in error, cancelled, a data-absent reason, a comparator
    /// (`<5` is not 5), or no value of a type rules read.
    Unusable,
    /// A quantity with a UCUM unit.
    Quantity(crate::ucum::Quantity),
    /// A number without a usable unit.
    Number(rust_decimal::Decimal),
    /// A `valueCodeableConcept` / `valueCoding`.
    Code,
    /// A `valueString`.
    Text,
    /// A `valueBoolean`.
    Bool(bool),
}

impl ObservationEntry {
    pub(crate) fn new(
        observation: Arc<Resource>,
        component: Option<usize>,
        time: Option<FactTime>,
    ) -> Self {
        let mut e = ObservationEntry {
            observation,
            component,
            time,
            decoded: Decoded::Unusable,
        };
        e.decoded = e.decode();
        e
    }

    fn decode(&self) -> Decoded {
        use crate::data::value::UCUM_SYSTEM;
        if matches!(self.status(), Some("entered-in-error" | "cancelled")) || self.data_absent() {
            return Decoded::Unusable;
        }
        match self.value() {
            Some(ObservationValue::Quantity(q)) => {
                let Some(n) = q.value else {
                    return Decoded::Unusable;
                };
                if q.comparator.is_some() {
                    return Decoded::Unusable;
                }
                let code = match (q.system, q.code) {
                    (Some(UCUM_SYSTEM), Some(c)) => Some(c),
                    (None, Some(c)) => Some(c),
                    _ => q.unit,
                };
                match code.and_then(|c| crate::ucum::Quantity::ucum(n, c).ok()) {
                    Some(q) => Decoded::Quantity(q),
                    None => Decoded::Number(n),
                }
            }
            Some(ObservationValue::Integer(i)) => Decoded::Number(i.into()),
            Some(ObservationValue::Boolean(b)) => Decoded::Bool(b),
            Some(ObservationValue::String(_)) => Decoded::Text,
            Some(ObservationValue::CodeableConcept(_)) => Decoded::Code,
            _ => Decoded::Unusable,
        }
    }

    /// The value as rules read it (decoded when the record was built).
    pub fn decoded(&self) -> &Decoded {
        &self.decoded
    }

    /// The Observation resource.
    pub fn observation(&self) -> &Arc<Resource> {
        &self.observation
    }

    /// The index of the component this entry is, or `None` for the observation itself.
    pub fn component_index(&self) -> Option<usize> {
        self.component
    }

    /// The JSON the value comes from: the component, or the observation itself.
    pub fn element(&self) -> &Value {
        let json = self.observation.json();
        match self.component {
            Some(i) => json
                .get("component")
                .and_then(|c| c.get(i))
                .unwrap_or(&Value::Null),
            None => json,
        }
    }

    /// The observation's time (effective\[x\] start, else `issued`); `None` when it has none —
    /// such entries sort first and are never in a time window.
    pub fn time(&self) -> Option<FactTime> {
        self.time
    }

    /// The value (of the component, for a component entry).
    pub fn value(&self) -> Option<ObservationValue<'_>> {
        ObservationValue::of(self.element())
    }

    /// True when a `dataAbsentReason` is given (on the component, for a component entry).
    pub fn data_absent(&self) -> bool {
        self.element().get("dataAbsentReason").is_some()
    }

    /// The observation's `status`.
    pub fn status(&self) -> Option<&str> {
        self.observation
            .json()
            .get("status")
            .and_then(Value::as_str)
    }
}

/// The clinical status of a Condition (R4 `condition-clinical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClinicalStatus {
    /// `active`.
    Active,
    /// `recurrence`.
    Recurrence,
    /// `relapse`.
    Relapse,
    /// `inactive`.
    Inactive,
    /// `remission`.
    Remission,
    /// `resolved`.
    Resolved,
}

impl ClinicalStatus {
    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "active" => ClinicalStatus::Active,
            "recurrence" => ClinicalStatus::Recurrence,
            "relapse" => ClinicalStatus::Relapse,
            "inactive" => ClinicalStatus::Inactive,
            "remission" => ClinicalStatus::Remission,
            "resolved" => ClinicalStatus::Resolved,
            _ => return None,
        })
    }

    /// True for `active`, `recurrence` and `relapse`.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            ClinicalStatus::Active | ClinicalStatus::Recurrence | ClinicalStatus::Relapse
        )
    }
}

/// The verification status of a Condition (R4 `condition-ver-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VerificationStatus {
    /// `unconfirmed`.
    Unconfirmed,
    /// `provisional`.
    Provisional,
    /// `differential`.
    Differential,
    /// `confirmed`.
    Confirmed,
    /// `refuted`.
    Refuted,
    /// `entered-in-error`.
    EnteredInError,
}

impl VerificationStatus {
    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "unconfirmed" => VerificationStatus::Unconfirmed,
            "provisional" => VerificationStatus::Provisional,
            "differential" => VerificationStatus::Differential,
            "confirmed" => VerificationStatus::Confirmed,
            "refuted" => VerificationStatus::Refuted,
            "entered-in-error" => VerificationStatus::EnteredInError,
            _ => return None,
        })
    }
}

const CLINICAL_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const VERIFICATION_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

/// The first code of a CodeableConcept's codings in `system` (or without a system) that `parse`
/// accepts.
fn status_code<T>(
    concept: Option<&Value>,
    system: &str,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    concept?
        .get("coding")?
        .as_array()?
        .iter()
        .filter(|c| c.get("system").and_then(Value::as_str).unwrap_or(system) == system)
        .find_map(|c| c.get("code").and_then(Value::as_str).and_then(parse))
}

/// One Condition, indexed under one of its codes.
#[derive(Debug, Clone)]
pub struct ConditionEntry {
    pub(crate) condition: Arc<Resource>,
    pub(crate) clinical: Option<ClinicalStatus>,
    pub(crate) verification: Option<VerificationStatus>,
    pub(crate) time: Option<FactTime>,
}

impl ConditionEntry {
    pub(crate) fn new(condition: Arc<Resource>, time: Option<FactTime>) -> Self {
        let json = condition.json();
        let clinical = status_code(
            json.get("clinicalStatus"),
            CLINICAL_SYSTEM,
            ClinicalStatus::from_code,
        );
        let verification = status_code(
            json.get("verificationStatus"),
            VERIFICATION_SYSTEM,
            VerificationStatus::from_code,
        );
        ConditionEntry {
            condition,
            clinical,
            verification,
            time,
        }
    }

    /// The Condition resource.
    pub fn condition(&self) -> &Arc<Resource> {
        &self.condition
    }

    /// Its clinical status, when given with a known code.
    pub fn clinical_status(&self) -> Option<ClinicalStatus> {
        self.clinical
    }

    /// Its verification status, when given with a known code.
    pub fn verification_status(&self) -> Option<VerificationStatus> {
        self.verification
    }

    /// Its onset (or, failing that, recorded date).
    pub fn time(&self) -> Option<FactTime> {
        self.time
    }

    /// Active: clinical status active, recurrence or relapse, and not refuted or entered in
    /// error. A condition without a (known) clinical status is not active.
    pub fn is_active(&self) -> bool {
        self.clinical.is_some_and(ClinicalStatus::is_active)
            && !matches!(
                self.verification,
                Some(VerificationStatus::Refuted | VerificationStatus::EnteredInError)
            )
    }
}

/// One MedicationRequest, indexed under one code of its medication.
#[derive(Debug, Clone)]
pub struct MedicationEntry {
    pub(crate) request: Arc<Resource>,
    pub(crate) medication: Option<Arc<Resource>>,
    pub(crate) time: Option<FactTime>,
}

impl MedicationEntry {
    /// The MedicationRequest resource.
    pub fn request(&self) -> &Arc<Resource> {
        &self.request
    }

    /// The Medication resource its `medicationReference` resolved to, if it has one.
    pub fn medication(&self) -> Option<&Arc<Resource>> {
        self.medication.as_ref()
    }

    /// Its `status`.
    pub fn status(&self) -> Option<&str> {
        self.request.json().get("status").and_then(Value::as_str)
    }

    /// Its `authoredOn`.
    pub fn time(&self) -> Option<FactTime> {
        self.time
    }

    /// Active: `status` is `active`. In R4 `on-hold` means the order is suspended (not to be
    /// taken now), and `draft`/`unknown` are not orders in force, so only `active` counts.
    pub fn is_active(&self) -> bool {
        self.status() == Some("active")
    }

    /// Being ordered: `status` is `draft` — an order not yet signed, such as the
    /// `draftOrders` of the CDS Hooks `order-select` and `order-sign` hooks.
    pub fn is_draft(&self) -> bool {
        self.status() == Some("draft")
    }
}
