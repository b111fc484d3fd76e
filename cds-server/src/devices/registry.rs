//! Registered devices: what the server keeps of an onboarded Device (its id, its patient and
//! the codes it will send), in memory, bounded by `max_devices` and forgotten `ttl_seconds`
//! after last use.

use std::sync::Arc;
use std::time::Duration;

use moka::ops::compute::{CompResult, Op};
use serde_json::Value;

use crate::outcome::ApiError;

/// A code a device will send: one `coding` of a contained DeviceMetric's `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricCode {
    /// The code system (normally `http://loinc.org`).
    pub system: String,
    /// The code.
    pub code: String,
    /// Its display, as the device gave it.
    pub display: Option<String>,
}

/// What the server keeps of a registered Device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredDevice {
    /// Its id: `Device.id`, or one derived from its first identifier.
    pub id: String,
    /// Its patient's id (from `Device.patient`).
    pub patient_id: String,
    /// The codes it will send, in the order of its DeviceMetrics, each once.
    pub codes: Vec<MetricCode>,
}

/// The namespace of ids derived from identifiers (uuid v5 of `system|value`).
const IDENTIFIER_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6f1c_2a4e_8d3b_5c70_9e21_4b8a_0d6f_3e15);

impl RegisteredDevice {
    /// Reads a Device that passed [`crate::validate::Schemas::device`]. Without `id`, the id
    /// is a uuid v5 of its first identifier's `system|value`, so that registering the same
    /// device again gives the same id.
    pub fn from_device(device: &Value) -> Result<RegisteredDevice, ApiError> {
        let id = match device.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                let first = device
                    .get("identifier")
                    .and_then(|i| i.get(0))
                    .ok_or_else(|| {
                        ApiError::invalid_at("", "must have at least one of: identifier, id")
                    })?;
                let system = first.get("system").and_then(Value::as_str).unwrap_or("");
                let value = first.get("value").and_then(Value::as_str).unwrap_or("");
                uuid::Uuid::new_v5(
                    &IDENTIFIER_NAMESPACE,
                    format!("{system}|{value}").as_bytes(),
                )
                .to_string()
            }
        };
        let patient_id = device
            .get("patient")
            .and_then(|p| p.get("reference"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("Patient/"))
            .filter(|p| !p.is_empty() && !p.contains('/'))
            .ok_or_else(|| ApiError::invalid_at("patient.reference", "must be Patient/{id}"))?
            .to_string();
        let mut codes: Vec<MetricCode> = Vec::new();
        let metrics = device.get("contained").and_then(Value::as_array);
        for metric in metrics.into_iter().flatten() {
            let codings = metric
                .get("type")
                .and_then(|t| t.get("coding"))
                .and_then(Value::as_array);
            for coding in codings.into_iter().flatten() {
                let (Some(system), Some(code)) = (
                    coding.get("system").and_then(Value::as_str),
                    coding.get("code").and_then(Value::as_str),
                ) else {
                    continue;
                };
                if codes.iter().any(|c| c.system == system && c.code == code) {
                    continue;
                }
                codes.push(MetricCode {
                    system: system.to_string(),
                    code: code.to_string(),
                    display: coding
                        .get("display")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                });
            }
        }
        Ok(RegisteredDevice {
            id,
            patient_id,
            codes,
        })
    }
}

/// The registered devices, by id.
pub struct Registry {
    cache: moka::sync::Cache<String, Arc<RegisteredDevice>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("devices", &self.cache.entry_count())
            .finish()
    }
}

impl Registry {
    /// At most `max_devices` devices (least recently used dropped beyond), each forgotten
    /// `ttl` after its last use.
    pub fn new(max_devices: u64, ttl: Duration) -> Registry {
        Registry {
            cache: moka::sync::Cache::builder()
                .max_capacity(max_devices)
                .time_to_idle(ttl)
                .build(),
        }
    }

    /// Registers a device under its id; returns the one it replaces, if any.
    pub fn register(&self, device: RegisteredDevice) -> Option<Arc<RegisteredDevice>> {
        self.register_as(device.id.clone(), device)
    }

    /// Registers a device under `key` (its id scoped to a tenant); returns the one it replaces.
    pub fn register_as(
        &self,
        key: String,
        device: RegisteredDevice,
    ) -> Option<Arc<RegisteredDevice>> {
        let mut previous = None;
        self.cache.entry(key).and_compute_with(|entry| {
            previous = entry.map(|e| e.into_value());
            Op::Put(Arc::new(device))
        });
        previous
    }

    /// The device under this key (using it keeps it registered).
    pub fn get(&self, id: &str) -> Option<Arc<RegisteredDevice>> {
        self.cache.get(id)
    }

    /// Forgets the device under this key; returns it if it was registered.
    pub fn remove(&self, id: &str) -> Option<Arc<RegisteredDevice>> {
        match self
            .cache
            .entry(id.to_string())
            .and_compute_with(|entry| match entry {
                Some(_) => Op::Remove,
                None => Op::Nop,
            }) {
            CompResult::Removed(e) => Some(e.into_value()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn watch() -> Value {
        json!({"resourceType": "Device", "id": "watch-1", "patient": {"reference": "Patient/p1"},
            "type": {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "528388"}]},
            "contained": [
                {"resourceType": "DeviceMetric", "id": "hr", "category": "measurement",
                 "type": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]}},
                {"resourceType": "DeviceMetric", "id": "hr2", "category": "measurement",
                 "type": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}},
                {"resourceType": "DeviceMetric", "id": "spo2", "category": "measurement",
                 "type": {"coding": [{"system": "http://loinc.org", "code": "59408-5"}]}}]})
    }

    #[test]
    fn codes_are_read_from_the_metrics_once_each() {
        let d = RegisteredDevice::from_device(&watch()).unwrap();
        assert_eq!(d.id, "watch-1");
        assert_eq!(d.patient_id, "p1");
        let codes: Vec<_> = d.codes.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["8867-4", "59408-5"]);
        assert_eq!(d.codes[0].display.as_deref(), Some("Heart rate"));
    }

    #[test]
    fn without_an_id_the_identifier_gives_a_stable_one() {
        let mut d = watch();
        d.as_object_mut().unwrap().remove("id");
        d["identifier"] = json!([{"system": "https://example.org/serial", "value": "S-1"}]);
        let a = RegisteredDevice::from_device(&d).unwrap();
        let b = RegisteredDevice::from_device(&d).unwrap();
        assert_eq!(a.id, b.id);
        assert!(uuid::Uuid::parse_str(&a.id).is_ok());
        d["identifier"][0]["value"] = json!("S-2");
        assert_ne!(RegisteredDevice::from_device(&d).unwrap().id, a.id);
    }

    #[test]
    fn registering_again_replaces_and_removing_forgets() {
        let r = Registry::new(10, Duration::from_secs(3600));
        let d = RegisteredDevice::from_device(&watch()).unwrap();
        assert!(r.register(d.clone()).is_none());
        assert_eq!(r.register(d.clone()).as_deref(), Some(&d));
        assert_eq!(r.get("watch-1").as_deref(), Some(&d));
        assert!(r.remove("watch-1").is_some());
        assert!(r.get("watch-1").is_none());
        assert!(r.remove("watch-1").is_none());
    }
}
