//! An optional typed view of resources as fhir-sdk's FHIR R4B structs (cargo feature `typed-r4b`).
//!
//! The engine reads and keeps FHIR R4 JSON as JSON ([`Resource`]); nothing in it depends on this
//! module. Embedders who prefer typed structs can ask a resource for its R4B view with
//! [`Resource::to_r4b`], which deserializes the kept JSON into [`R4bResource`] (fhir-sdk's
//! `r4b::resources::Resource`, re-exported here along with the whole [`fhir_sdk`] crate, so no
//! direct dependency on it is needed).
//!
//! The view is **best-effort and one-way**. The JSON stays the source of truth; the typed value
//! is never written back or used by the engine. It is:
//!
//! * **lossy**: fhir-sdk stores decimals as `f64` (so `1.50` reads back as `1.5` and whole numbers
//!   as floats), rewrites date-time offsets such as `+00:00` to `Z` and drops trailing fraction
//!   digits, and silently ignores elements the R4B model does not have;
//! * **strict**: one code outside its required R4B value set, or one missing required element,
//!   rejects the whole resource with a [`TypedError`]; and resource types that exist in R4 but not
//!   in R4B (such as `EffectEvidenceSynthesis` or `MedicinalProduct`) have no view at all.
//!
//! R4 and R4B differ little for clinical data; the engine's shared sample data (Synthea R4) all
//! converts.
//!
//! ```
//! use cds_core::data::typed::{fhir_sdk, R4bResource};
//! use cds_core::data::{Resource, Source};
//! use fhir_sdk::r4b::codes::AdministrativeGender;
//!
//! let json = serde_json::json!({
//!     "resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-03-01"
//! });
//! let patient = Resource::from_json(json, Source::memory(), None).unwrap();
//! let R4bResource::Patient(typed) = patient.to_r4b().unwrap() else { panic!("a Patient") };
//! assert_eq!(typed.gender, Some(AdministrativeGender::Female));
//! let Some(fhir_sdk::Date::Date(born)) = typed.birth_date else { panic!("a full date") };
//! assert_eq!((born.year(), u8::from(born.month())), (1970, 3));
//!
//! let json = serde_json::json!({
//!     "resourceType": "Observation", "status": "final",
//!     "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
//! });
//! let observation = Resource::from_json(json, Source::memory(), None).unwrap();
//! let R4bResource::Observation(typed) = observation.to_r4b().unwrap() else { panic!() };
//! let coding = typed.code.coding.iter().flatten().next().unwrap();
//! assert_eq!(coding.code.as_deref(), Some("8867-4"));
//! ```

use std::fmt;

use serde_json::Value;

use super::resource::{Resource, Source};

pub use fhir_sdk;

/// A resource as fhir-sdk's FHIR R4B model: `fhir_sdk::r4b::resources::Resource`.
pub type R4bResource = fhir_sdk::r4b::resources::Resource;

impl Resource {
    /// The resource's best-effort typed R4B view, deserialized from its kept JSON.
    ///
    /// Lossy and strict as the [module documentation](crate::data::typed) lists: decimals become
    /// `f64`, date-time offsets and fractions may be rewritten, unknown elements are dropped, and
    /// one element the R4B model rejects fails the whole resource. The JSON ([`Resource::json`])
    /// stays the source of truth; the view is never written back.
    ///
    /// ```
    /// use cds_core::data::{Resource, Source};
    /// let json = serde_json::json!({"resourceType": "Patient", "gender": "M"});
    /// let patient = Resource::from_json(json, Source::memory(), None).unwrap();
    /// let err = patient.to_r4b().unwrap_err();
    /// assert_eq!(err.path(), "Patient.gender");
    /// assert_eq!(err.to_string(), "<memory>:1:1: no R4B view: Patient.gender: not a code of the R4B value set");
    /// ```
    pub fn to_r4b(&self) -> Result<R4bResource, TypedError> {
        let resource_type = self.resource_type();
        match deserialize(resource_type, self.json()) {
            Some(Ok(typed)) => Ok(typed),
            Some(Err(err)) => Err(TypedError::from_serde(self, err)),
            None => Err(TypedError(Box::new(Details {
                resource_type,
                path: resource_type.to_string(),
                problem: TypedProblem::NotInR4b,
                origin: self.source().clone(),
                serde_message: String::new(),
            }))),
        }
    }
}

/// A resource that has no typed R4B view: where (file position, JSON path) and what kind of
/// problem, never the offending value.
///
/// Displayed as `file:line:column: no R4B view: Patient.gender: not a code of the R4B value set`.
/// Neither `Display` nor `Debug` shows the deserializer's own message, which can quote the
/// offending value; it is available only through [`TypedError::serde_message`].
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub struct TypedError(Box<Details>);

#[derive(Clone, PartialEq, Eq)]
struct Details {
    resource_type: &'static str,
    path: String,
    problem: TypedProblem,
    origin: Source,
    serde_message: String,
}

impl TypedError {
    fn from_serde(resource: &Resource, err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let resource_type = resource.resource_type();
        let mut path = resource_type.to_string();
        for segment in err.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => path.push_str(&format!("[{index}]")),
                Segment::Map { key } => {
                    path.push('.');
                    path.push_str(key);
                }
                Segment::Enum { variant } => {
                    path.push('.');
                    path.push_str(variant);
                }
                Segment::Unknown => path.push_str(".?"),
            }
        }
        let serde_message = err.into_inner().to_string();
        TypedError(Box::new(Details {
            resource_type,
            path,
            problem: TypedProblem::classify(&serde_message),
            origin: resource.source().clone(),
            serde_message,
        }))
    }

    /// The resource's type, e.g. `Patient`.
    pub fn resource_type(&self) -> &'static str {
        self.0.resource_type
    }

    /// Where in the resource, as a FHIRPath-like path starting with the resource type, e.g.
    /// `Patient.gender` or `Observation.component[1].code`. A `?` stands for a step the
    /// deserializer could not name (inside buffered content such as choice elements).
    pub fn path(&self) -> &str {
        &self.0.path
    }

    /// What kind of problem.
    pub fn problem(&self) -> &TypedProblem {
        &self.0.problem
    }

    /// Where the resource came from (file, line, column, Bundle entry).
    pub fn origin(&self) -> &Source {
        &self.0.origin
    }

    /// The deserializer's raw message (empty for [`TypedProblem::NotInR4b`]).
    ///
    /// **May contain patient data**: serde and fhir-sdk quote offending values (for example
    /// `Unknown value: M`). Do not log it or show it outside a trusted debugging context.
    pub fn serde_message(&self) -> &str {
        &self.0.serde_message
    }
}

impl fmt::Display for TypedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.0.origin;
        write!(f, "{}:{}:{}: ", s.file.display(), s.line, s.column)?;
        if let Some(entry) = s.entry {
            write!(f, "Bundle entry[{entry}]: ")?;
        }
        write!(f, "no R4B view: {}: {}", self.0.path, self.0.problem)
    }
}

impl fmt::Debug for TypedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedError")
            .field("resource_type", &self.0.resource_type)
            .field("path", &self.0.path)
            .field("problem", &self.0.problem)
            .field("origin", &self.0.origin)
            .field("serde_message", &"<omitted: may contain patient data>")
            .finish()
    }
}

/// Why a resource has no R4B view. Texts name kinds and schema terms only, never data values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TypedProblem {
    /// The resource type exists in FHIR R4 but not in R4B (e.g. `EffectEvidenceSynthesis`).
    #[error("resource type does not exist in FHIR R4B")]
    NotInR4b,
    /// A code outside the value set R4B binds the element to.
    #[error("not a code of the R4B value set")]
    UnknownCode,
    /// A required element is absent.
    #[error("required element `{field}` missing")]
    MissingField {
        /// The element's name in the model.
        field: String,
    },
    /// An element given twice.
    #[error("element `{field}` given more than once")]
    DuplicateField {
        /// The element's name in the model.
        field: String,
    },
    /// A JSON value of the wrong type.
    #[error("found {found}, expected {expected}")]
    InvalidType {
        /// The kind of value found (`string`, `integer`, `map`, ...), without the value.
        found: &'static str,
        /// What the model expects, in the deserializer's words.
        expected: String,
    },
    /// A value of the right type that the model does not accept.
    #[error("invalid {found}, expected {expected}")]
    InvalidValue {
        /// The kind of value found, without the value.
        found: &'static str,
        /// What the model expects, in the deserializer's words.
        expected: String,
    },
    /// A variant (e.g. a choice type) the model does not have.
    #[error("unknown variant, expected {expected}")]
    UnknownVariant {
        /// The variants the model has.
        expected: String,
    },
    /// An array of the wrong length.
    #[error("wrong number of items, expected {expected}")]
    InvalidLength {
        /// What the model expects.
        expected: String,
    },
    /// Any other rejection (for example a malformed date, time or base64 value).
    #[error("value rejected by the R4B model")]
    Other,
}

/// The kinds of value serde's `Unexpected` names, longest first where one is a prefix of another.
const FOUND_KINDS: [&str; 16] = [
    "boolean",
    "integer",
    "floating point",
    "character",
    "string",
    "byte array",
    "unit value",
    "unit variant",
    "Option value",
    "newtype struct",
    "newtype variant",
    "sequence",
    "map",
    "enum",
    "tuple variant",
    "struct variant",
];

impl TypedProblem {
    /// Classifies a serde / fhir-sdk message, keeping only schema terms (field names, expected
    /// types), never the quoted value.
    fn classify(message: &str) -> Self {
        if message.starts_with("Unknown value: ") {
            return TypedProblem::UnknownCode;
        }
        if let Some(field) = message.strip_prefix("missing field ").and_then(backticked) {
            return TypedProblem::MissingField { field };
        }
        if let Some(field) = message
            .strip_prefix("duplicate field ")
            .and_then(backticked)
        {
            return TypedProblem::DuplicateField { field };
        }
        // serde appends `, expected {what}` after the (possibly quoted) value, so the last
        // occurrence is serde's own.
        let expected = message
            .rsplit_once(", expected ")
            .map(|(_, e)| e.to_string());
        let Some(expected) = expected else {
            return TypedProblem::Other;
        };
        if let Some(rest) = message.strip_prefix("invalid type: ") {
            return TypedProblem::InvalidType {
                found: found_kind(rest),
                expected,
            };
        }
        if let Some(rest) = message.strip_prefix("invalid value: ") {
            return TypedProblem::InvalidValue {
                found: found_kind(rest),
                expected,
            };
        }
        if message.starts_with("unknown variant ") {
            return TypedProblem::UnknownVariant { expected };
        }
        if message.starts_with("invalid length ") {
            return TypedProblem::InvalidLength { expected };
        }
        TypedProblem::Other
    }
}

/// The text between the first pair of backticks, when it looks like an element name.
fn backticked(s: &str) -> Option<String> {
    let name = s.strip_prefix('`')?.split('`').next()?;
    let plausible = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    plausible.then(|| name.to_string())
}

fn found_kind(unexpected: &str) -> &'static str {
    FOUND_KINDS
        .iter()
        .copied()
        .find(|kind| unexpected.starts_with(kind))
        .unwrap_or("value")
}

type Deserialized = Result<R4bResource, serde_path_to_error::Error<serde_json::Error>>;

/// Deserializes `json` as the R4B resource named `resource_type`, tracking the JSON path of an
/// error; `None` when R4B has no such type. (fhir-sdk's `Resource` enum is internally tagged,
/// which buffers its content and loses the path, so the concrete type is chosen here.)
macro_rules! r4b_dispatch {
    ($($name:ident)*) => {
        fn deserialize(resource_type: &str, json: &Value) -> Option<Deserialized> {
            use fhir_sdk::r4b::resources as r4b;
            match resource_type {
                $(stringify!($name) => Some(
                    serde_path_to_error::deserialize::<_, r4b::$name>(json).map(R4bResource::from),
                ),)*
                _ => None,
            }
        }
    };
}

// Every variant of fhir-sdk 0.16's `r4b::resources::Resource`.
r4b_dispatch! {
    Account ActivityDefinition AdministrableProductDefinition AdverseEvent AllergyIntolerance
    Appointment AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct
    BodyStructure Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
    ChargeItemDefinition Citation Claim ClaimResponse ClinicalImpression ClinicalUseDefinition
    CodeSystem Communication CommunicationRequest CompartmentDefinition Composition ConceptMap
    Condition Consent Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse
    DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement
    DiagnosticReport DocumentManifest DocumentReference Encounter Endpoint EnrollmentRequest
    EnrollmentResponse EpisodeOfCare EventDefinition Evidence EvidenceReport EvidenceVariable
    ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal GraphDefinition Group
    GuidanceResponse HealthcareService ImagingStudy Immunization ImmunizationEvaluation
    ImmunizationRecommendation ImplementationGuide Ingredient InsurancePlan Invoice Library Linkage
    List Location ManufacturedItemDefinition Measure MeasureReport Media Medication
    MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest
    MedicationStatement MedicinalProductDefinition MessageDefinition MessageHeader
    MolecularSequence NamingSystem NutritionOrder NutritionProduct Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation PackagedProductDefinition Parameters Patient PaymentNotice
    PaymentReconciliation Person PlanDefinition Practitioner PractitionerRole Procedure Provenance
    Questionnaire QuestionnaireResponse RegulatedAuthorization RelatedPerson RequestGroup
    ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
    Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition
    StructureMap Subscription SubscriptionStatus SubscriptionTopic Substance SubstanceDefinition
    SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet
    VerificationResult VisionPrescription
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(json: Value) -> Resource {
        Resource::from_json(json, Source::memory(), None).expect("a known R4 resource type")
    }

    fn error_of(json: Value) -> TypedError {
        match resource(json).to_r4b() {
            Ok(typed) => panic!("expected no R4B view, got {typed:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn patient_converts_with_its_elements() {
        let r = resource(serde_json::json!({
            "resourceType": "Patient", "id": "p1", "birthDate": "1980-02-29",
            "name": [{"family": "Zed", "given": ["Ann"]}]
        }));
        let Ok(R4bResource::Patient(p)) = r.to_r4b() else {
            panic!("a typed Patient")
        };
        assert_eq!(p.id.as_deref(), Some("p1"));
        let family = p
            .name
            .iter()
            .flatten()
            .next()
            .and_then(|n| n.family.clone());
        assert_eq!(family.as_deref(), Some("Zed"));
    }

    #[test]
    fn out_of_value_set_code_names_path_not_value() {
        let e = error_of(serde_json::json!({"resourceType": "Patient", "gender": "Mxq"}));
        assert_eq!(e.path(), "Patient.gender");
        assert_eq!(e.problem(), &TypedProblem::UnknownCode);
        assert_eq!(
            e.to_string(),
            "<memory>:1:1: no R4B view: Patient.gender: not a code of the R4B value set"
        );
        assert!(!format!("{e:?}").contains("Mxq"));
        assert!(e.serde_message().contains("Mxq"));
    }

    #[test]
    fn missing_required_element_is_named() {
        let e = error_of(serde_json::json!({"resourceType": "Observation", "code": {}}));
        assert_eq!(e.path(), "Observation");
        assert_eq!(
            e.problem(),
            &TypedProblem::MissingField {
                field: "status".into()
            }
        );
    }

    #[test]
    fn wrong_type_nested_keeps_kind_and_path_only() {
        let e = error_of(serde_json::json!({
            "resourceType": "Patient",
            "name": [{"family": "A"}, {"given": "Secretname"}]
        }));
        assert_eq!(e.path(), "Patient.name[1].given");
        assert!(matches!(
            e.problem(),
            TypedProblem::InvalidType {
                found: "string",
                ..
            }
        ));
        assert!(!e.to_string().contains("Secretname"), "{e}");
    }

    #[test]
    fn r4_only_type_has_no_view() {
        let e = error_of(serde_json::json!({"resourceType": "EffectEvidenceSynthesis"}));
        assert_eq!(e.problem(), &TypedProblem::NotInR4b);
        assert_eq!(e.path(), "EffectEvidenceSynthesis");
        assert!(e.serde_message().is_empty());
    }

    #[test]
    fn classify_strips_values() {
        let cases = [
            (
                "invalid type: string \"Jane, expected x\", expected u32",
                TypedProblem::InvalidType {
                    found: "string",
                    expected: "u32".into(),
                },
            ),
            (
                "invalid value: integer `-3`, expected a positive integer",
                TypedProblem::InvalidValue {
                    found: "integer",
                    expected: "a positive integer".into(),
                },
            ),
            (
                "unknown variant `Jane`, expected `a` or `b`",
                TypedProblem::UnknownVariant {
                    expected: "`a` or `b`".into(),
                },
            ),
            ("Couldn't parse date: 1999-13", TypedProblem::Other),
            ("missing field `status`", {
                TypedProblem::MissingField {
                    field: "status".into(),
                }
            }),
            ("missing field `bad name`", TypedProblem::Other),
        ];
        for (message, problem) in cases {
            assert_eq!(TypedProblem::classify(message), problem, "{message}");
        }
    }
}
