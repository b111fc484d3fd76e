//! Properties of evaluation over the shipped rulesets, on generated patients with random vital
//! signs and labs:
//!
//! - the cards (rules, summaries, evidence values, uuids) do not depend on the order of the
//!   input resources, nor on whether they come as a Bundle or a flat list;
//! - evaluating twice gives identical results;
//! - a card summary is never longer than 140 characters;
//! - absence is not zero: with the observations a rule reads removed, the rule never fires.

use std::path::PathBuf;
use std::sync::OnceLock;

use cds::{DateTime, Engine, FiredCard};
use proptest::prelude::*;
use serde_json::{json, Value};

const AT: &str = "2024-06-01T12:00:00Z";
const AT_EPOCH: i64 = 1_717_243_200;

/// (LOINC code, UCUM unit, low, high) of the generated readings.
const CODES: &[(&str, &str, f64, f64)] = &[
    ("8480-6", "mm[Hg]", 80.0, 200.0), // systolic
    ("8462-4", "mm[Hg]", 50.0, 130.0), // diastolic
    ("8867-4", "/min", 35.0, 150.0),   // pulse
    ("9279-1", "/min", 6.0, 32.0),     // respiratory rate
    ("59408-5", "%", 82.0, 100.0),     // SpO2
    ("8310-5", "Cel", 34.5, 40.5),     // temperature
    ("2823-3", "mmol/L", 2.4, 6.8),    // potassium
    ("2160-0", "mg/dL", 0.5, 5.0),     // creatinine
    ("4548-4", "%", 4.5, 12.0),        // HbA1c
    ("9269-2", "{score}", 3.0, 15.0),  // Glasgow coma score
];
const SYSTOLIC: usize = 0;
const DIASTOLIC: usize = 1;
const POTASSIUM: usize = 6;
const CREATININE: usize = 7;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rulesets"))
            .expect("shipped rulesets load")
    })
}

fn at() -> DateTime {
    DateTime::parse(AT).expect("time")
}

fn iso(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One generated reading: code index, minutes before `AT`, position in the value range (‰).
type Reading = (usize, i64, u32);

/// A patient: age in years, diabetes or not, readings. Readings have distinct times (a tie
/// between two readings of one code is not what these properties are about).
fn patient() -> impl Strategy<Value = Vec<Value>> {
    let reading = (0..CODES.len(), 0i64..(120 * 24 * 60), 0u32..=1000);
    (
        10i64..95,
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(reading, 0..60),
    )
        .prop_map(|(age, female, diabetes, readings)| resources(age, female, diabetes, &readings))
}

fn resources(age: i64, female: bool, diabetes: bool, readings: &[Reading]) -> Vec<Value> {
    let mut out = vec![json!({
        "resourceType": "Patient", "id": "p",
        "gender": if female { "female" } else { "male" },
        "birthDate": format!("{}-02-01", 2024 - age),
    })];
    if diabetes {
        out.push(json!({
            "resourceType": "Condition", "id": "dm",
            "subject": {"reference": "Patient/p"},
            "clinicalStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
            "onsetDateTime": "2015-01-01"
        }));
    }
    for (i, &(code, minutes, permille)) in readings.iter().enumerate() {
        let (loinc, unit, lo, hi) = CODES[code];
        let value = ((lo + (hi - lo) * f64::from(permille) / 1000.0) * 10.0).round() / 10.0;
        // Distinct times: the index breaks ties in seconds.
        let t = AT_EPOCH - minutes * 60 - i as i64 - 1;
        out.push(json!({
            "resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": "Patient/p"},
            "effectiveDateTime": iso(t),
            "valueQuantity": {"value": value, "unit": unit,
                "system": "http://unitsofmeasure.org", "code": unit}
        }));
    }
    out
}

fn bundle(resources: &[Value]) -> Value {
    json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": resources.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()
    })
}

fn cards(input: Value) -> Vec<FiredCard> {
    let record = cds::record_from_json(input).expect("a valid record");
    engine().evaluate(&record, &at(), None).cards().to_vec()
}

/// The resources without the observations of the given code indexes.
fn without(resources: &[Value], codes: &[usize]) -> Vec<Value> {
    resources
        .iter()
        .filter(|r| {
            let code = r["code"]["coding"][0]["code"].as_str();
            !codes.iter().any(|&c| code == Some(CODES[c].0)) || r["resourceType"] != "Observation"
        })
        .cloned()
        .collect()
}

fn fired(cards: &[FiredCard], ruleset: &str) -> Vec<String> {
    cards
        .iter()
        .filter(|c| c.ruleset == ruleset)
        .map(|c| c.rule.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn order_and_packaging_do_not_matter(
        (original, shuffled) in patient().prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle()))
    ) {
        let expected = cards(Value::Array(original.clone()));
        prop_assert_eq!(&cards(Value::Array(shuffled.clone())), &expected);
        prop_assert_eq!(&cards(bundle(&shuffled)), &expected);
        prop_assert_eq!(&cards(bundle(&original)), &expected);
    }

    #[test]
    fn evaluating_twice_is_identical(resources in patient()) {
        let record = cds::record_from_json(Value::Array(resources)).expect("a valid record");
        let at = at();
        let first = engine().evaluate(&record, &at, None);
        let second = engine().evaluate(&record, &at, None);
        prop_assert_eq!(first.cards(), second.cards());
        prop_assert_eq!(first.system_actions(), second.system_actions());
        prop_assert_eq!(first.issues().len(), second.issues().len());
    }

    #[test]
    fn summaries_fit_cds_hooks(resources in patient()) {
        for card in cards(Value::Array(resources)) {
            prop_assert!(
                card.card.summary.chars().count() <= 140,
                "{} {}: {} characters", card.ruleset, card.rule, card.card.summary.chars().count()
            );
        }
    }

    #[test]
    fn absence_is_not_zero(resources in patient()) {
        let no_bp = cards(Value::Array(without(&resources, &[SYSTOLIC, DIASTOLIC])));
        prop_assert_eq!(fired(&no_bp, "hypertension"), Vec::<String>::new());
        let no_k = cards(Value::Array(without(&resources, &[POTASSIUM])));
        prop_assert_eq!(fired(&no_k, "potassium"), Vec::<String>::new());
        let no_creatinine = cards(Value::Array(without(&resources, &[CREATININE])));
        prop_assert_eq!(fired(&no_creatinine, "aki"), Vec::<String>::new());
    }
}

/// The generator does make the rules fire (the properties above are not vacuous).
#[test]
fn generated_patients_raise_cards() {
    let mut rng = 7u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut rules = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let readings: Vec<Reading> = (0..40)
            .map(|_| {
                (
                    (next() % CODES.len() as u64) as usize,
                    (next() % (3 * 24 * 60)) as i64,
                    (next() % 1001) as u32,
                )
            })
            .collect();
        for c in cards(Value::Array(resources(60, true, true, &readings))) {
            rules.insert(format!("{}/{}", c.ruleset, c.rule));
        }
    }
    for expected in [
        "hypertension/hypertensive-crisis",
        "potassium/critical-hyperkalaemia",
        "aki/aki-stage-1",
    ] {
        assert!(
            rules.contains(expected),
            "{expected} never fired: {rules:?}"
        );
    }
}
