//! The onboarding summary: for each code a device will send, whether the loaded rules read it.
//!
//! A code is *used* when some ruleset answering `device-observation` reads Observations with
//! it — by code, or through a value set that contains it (what the services' data needs say,
//! so exactly what the compiled rules read). Rulesets that read the code only for other hooks
//! (e.g. `patient-view`) are listed apart, as `alsoReadBy`: those readings do not reach them
//! through this server's device window. Rules that read Observations without a code filter
//! (by FHIRPath) are not counted: which codes they look at cannot be told in advance.

use cds_core::graph::{CodeFilter, DataNeed};
use cds_rules::engine::Engine;
use serde_json::{json, Value};

use super::registry::{MetricCode, RegisteredDevice};
use crate::services::Service;

/// The hook device readings answer.
pub const HOOK: &str = "device-observation";

/// The summary of a registered device against the loaded rules:
/// `{"device", "patient", "codes": [{"system", "code", "display"?, "used", "rulesets",
/// "alsoReadBy"?}], "unused"}`.
pub fn summary(device: &RegisteredDevice, services: &[Service], engine: &Engine) -> Value {
    let mut unused = 0;
    let codes: Vec<Value> = device
        .codes
        .iter()
        .map(|c| {
            let mut rulesets: Vec<&str> = Vec::new();
            let mut others: Vec<&str> = Vec::new();
            for s in services {
                if !reads(&s.needs, c, engine) {
                    continue;
                }
                let list = if s.hook == HOOK {
                    &mut rulesets
                } else {
                    &mut others
                };
                if !list.contains(&s.ruleset.as_str()) {
                    list.push(&s.ruleset);
                }
            }
            others.retain(|r| !rulesets.contains(r));
            if rulesets.is_empty() {
                unused += 1;
            }
            let mut v = json!({"system": c.system, "code": c.code});
            if let Some(d) = &c.display {
                v["display"] = json!(d);
            }
            v["used"] = json!(!rulesets.is_empty());
            v["rulesets"] = json!(rulesets);
            if !others.is_empty() {
                v["alsoReadBy"] = json!(others);
            }
            v
        })
        .collect();
    json!({
        "device": format!("Device/{}", device.id),
        "patient": format!("Patient/{}", device.patient_id),
        "codes": codes,
        "unused": unused,
    })
}

/// Whether data needs read Observations with this code.
fn reads(needs: &[DataNeed], code: &MetricCode, engine: &Engine) -> bool {
    needs
        .iter()
        .filter(|n| n.resource_type == "Observation")
        .flat_map(|n| &n.codes)
        .any(|f| match f {
            CodeFilter::Code { system, code: c } => *system == code.system && *c == code.code,
            CodeFilter::ValueSet(url) => engine
                .graph()
                .valuesets()
                .get(url)
                .is_some_and(|vs| vs.contains(&code.system, &code.code)),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::services;

    const RULES: &str =
        "ruleset pulse version 1.0.0\n  \"Pulse\"\n  answers device-observation\n\n\
        define pulse = latest observation loinc 8867-4 within 1 hour\n\n\
        rule fast\n  when pulse > 120 '/min'\n  then warning \"Fast\"\n";

    fn code(c: &str) -> MetricCode {
        MetricCode {
            system: "http://loinc.org".into(),
            code: c.into(),
            display: None,
        }
    }

    #[test]
    fn codes_read_by_device_rules_are_used_and_others_are_counted() {
        let engine = Engine::from_source("pulse.rules", RULES).unwrap();
        let s = services(&engine);
        let device = RegisteredDevice {
            id: "w".into(),
            patient_id: "p1".into(),
            codes: vec![
                MetricCode {
                    display: Some("Heart rate".into()),
                    ..code("8867-4")
                },
                code("59408-5"),
            ],
        };
        insta::assert_json_snapshot!(summary(&device, &s, &engine), @r###"
        {
          "device": "Device/w",
          "patient": "Patient/p1",
          "codes": [
            {
              "system": "http://loinc.org",
              "code": "8867-4",
              "display": "Heart rate",
              "used": true,
              "rulesets": [
                "pulse"
              ]
            },
            {
              "system": "http://loinc.org",
              "code": "59408-5",
              "used": false,
              "rulesets": []
            }
          ],
          "unused": 1
        }
        "###);
    }

    #[test]
    fn rules_of_other_hooks_are_listed_apart() {
        let text = RULES.replace("answers device-observation", "answers patient-view");
        let engine = Engine::from_source("pulse.rules", &text).unwrap();
        let device = RegisteredDevice {
            id: "w".into(),
            patient_id: "p1".into(),
            codes: vec![code("8867-4")],
        };
        let v = summary(&device, &services(&engine), &engine);
        assert_eq!(v["codes"][0]["used"], json!(false));
        assert_eq!(v["codes"][0]["alsoReadBy"], json!(["pulse"]));
        assert_eq!(v["unused"], json!(1));
    }
}
