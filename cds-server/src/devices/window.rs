//! The in-memory window of device readings: per patient, at most `max_readings_per_patient`
//! Observations ordered by time (the oldest dropped first), deduplicated, for at most
//! `max_patients` patients, each forgotten `ttl_seconds` after its last reading. Nothing is
//! written to disk: a restart forgets every window.

use std::sync::Arc;
use std::time::Duration;

use moka::ops::compute::{CompResult, Op};
use serde_json::Value;

/// One reading kept in a window.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The Observation's `id`; readings without one are deduplicated by their whole content.
    pub id: Option<String>,
    /// Its time (the earliest instant of effective\[x\], else `issued`), UTC epoch milliseconds.
    pub time_ms: i64,
    /// The registered device it came through.
    pub device: String,
    /// The Observation.
    pub json: Arc<Value>,
}

/// The readings of one patient, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Window {
    readings: Vec<Reading>,
}

/// What adding readings to a window did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    /// Readings new to the window.
    pub new: usize,
    /// Readings that replaced one with the same `id` (an amended reading).
    pub replaced: usize,
    /// Readings ignored because the window already held the very same one.
    pub duplicates: usize,
    /// Readings dropped, oldest first, to keep the window within its bound (may include
    /// some just sent, when they are older than everything kept).
    pub dropped: usize,
}

impl Window {
    /// The readings, oldest first.
    pub fn readings(&self) -> &[Reading] {
        &self.readings
    }

    /// How many readings it holds.
    pub fn len(&self) -> usize {
        self.readings.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.readings.is_empty()
    }

    /// Adds one reading: one with the `id` of a reading already held replaces it; one without
    /// an `id` equal to one held is ignored. Then the oldest are dropped beyond `max`.
    pub fn add(&mut self, reading: Reading, max: usize, added: &mut Added) {
        match &reading.id {
            Some(id) => {
                if let Some(i) = self
                    .readings
                    .iter()
                    .position(|r| r.id.as_deref() == Some(id))
                {
                    self.readings.remove(i);
                    added.replaced += 1;
                } else {
                    added.new += 1;
                }
            }
            None => {
                if self
                    .readings
                    .iter()
                    .any(|r| r.id.is_none() && r.json == reading.json)
                {
                    added.duplicates += 1;
                    return;
                }
                added.new += 1;
            }
        }
        // After every reading of the same time: among equal times, arrival order.
        let at = self
            .readings
            .partition_point(|r| r.time_ms <= reading.time_ms);
        self.readings.insert(at, reading);
        if self.readings.len() > max {
            let over = self.readings.len() - max;
            self.readings.drain(..over);
            added.dropped += over;
        }
    }

    /// Removes the readings that came through `device`; returns how many.
    pub fn forget_device(&mut self, device: &str) -> usize {
        let before = self.readings.len();
        self.readings.retain(|r| r.device != device);
        before - self.readings.len()
    }
}

/// The windows of all patients, keyed by patient id.
pub struct Windows {
    cache: moka::sync::Cache<String, Arc<Window>>,
    max_readings: usize,
}

impl std::fmt::Debug for Windows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Windows")
            .field("patients", &self.cache.entry_count())
            .field("max_readings", &self.max_readings)
            .finish()
    }
}

impl Windows {
    /// Windows for at most `max_patients` patients (least recently used dropped beyond), each
    /// of at most `max_readings` readings, forgotten `ttl` after their last use.
    pub fn new(max_patients: u64, max_readings: usize, ttl: Duration) -> Windows {
        Windows {
            cache: moka::sync::Cache::builder()
                .max_capacity(max_patients)
                .time_to_idle(ttl)
                .build(),
            max_readings: max_readings.max(1),
        }
    }

    /// Adds readings to a patient's window, atomically with respect to other calls for the
    /// same patient, and returns the window as it now is.
    pub fn add(&self, patient: &str, readings: Vec<Reading>) -> (Arc<Window>, Added) {
        let mut added = Added::default();
        let max = self.max_readings;
        let result = self
            .cache
            .entry(patient.to_string())
            .and_compute_with(|entry| {
                let mut window = entry
                    .map(|e| Window::clone(&e.into_value()))
                    .unwrap_or_default();
                for r in readings {
                    window.add(r, max, &mut added);
                }
                Op::Put(Arc::new(window))
            });
        let window = match result {
            CompResult::Inserted(e) | CompResult::ReplacedWith(e) | CompResult::Unchanged(e) => {
                e.into_value()
            }
            CompResult::Removed(_) | CompResult::StillNone(_) => Arc::new(Window::default()),
        };
        (window, added)
    }

    /// A patient's window, if it has one (using it keeps it alive).
    pub fn get(&self, patient: &str) -> Option<Arc<Window>> {
        self.cache.get(patient)
    }

    /// Forgets the readings of a patient that came through `device`, and the window when
    /// nothing else is left in it. Returns how many readings were forgotten.
    pub fn forget_device(&self, patient: &str, device: &str) -> usize {
        let mut forgotten = 0;
        self.cache
            .entry(patient.to_string())
            .and_compute_with(|entry| {
                let Some(entry) = entry else {
                    return Op::Nop;
                };
                let mut window = Window::clone(&entry.into_value());
                forgotten = window.forget_device(device);
                if window.is_empty() {
                    Op::Remove
                } else if forgotten == 0 {
                    Op::Nop
                } else {
                    Op::Put(Arc::new(window))
                }
            });
        forgotten
    }

    /// The number of patients with a window (expired and evicted windows are counted out
    /// first).
    pub fn patients(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reading(id: Option<&str>, minute: i64, value: i64) -> Reading {
        let mut json = json!({"resourceType": "Observation", "status": "final",
            "valueQuantity": {"value": value}});
        if let Some(id) = id {
            json["id"] = json!(id);
        }
        Reading {
            id: id.map(str::to_string),
            time_ms: minute * 60_000,
            device: "watch".into(),
            json: Arc::new(json),
        }
    }

    fn values(w: &Window) -> Vec<i64> {
        w.readings()
            .iter()
            .map(|r| r.json["valueQuantity"]["value"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn readings_are_kept_in_time_order_whatever_the_arrival_order() {
        let mut w = Window::default();
        let mut added = Added::default();
        for (id, minute) in [("c", 3), ("a", 1), ("b", 2)] {
            w.add(reading(Some(id), minute, minute), 10, &mut added);
        }
        assert_eq!(values(&w), [1, 2, 3]);
        assert_eq!(added.new, 3);
    }

    #[test]
    fn the_oldest_are_dropped_beyond_the_bound_even_one_just_sent() {
        let mut w = Window::default();
        let mut added = Added::default();
        for m in 1..=5 {
            w.add(reading(Some(&format!("o{m}")), m, m), 3, &mut added);
        }
        assert_eq!(values(&w), [3, 4, 5]);
        assert_eq!(added.dropped, 2);
        // Older than everything kept: it goes at once.
        w.add(reading(Some("late"), 0, 0), 3, &mut added);
        assert_eq!(values(&w), [3, 4, 5]);
        assert_eq!(added.dropped, 3);
    }

    #[test]
    fn the_same_id_replaces_and_the_same_content_is_ignored() {
        let mut w = Window::default();
        let mut added = Added::default();
        w.add(reading(Some("o1"), 1, 100), 10, &mut added);
        w.add(reading(Some("o1"), 2, 120), 10, &mut added);
        assert_eq!(values(&w), [120]);
        w.add(reading(None, 3, 90), 10, &mut added);
        w.add(reading(None, 3, 90), 10, &mut added);
        w.add(reading(None, 3, 91), 10, &mut added);
        assert_eq!(values(&w), [120, 90, 91]);
        assert_eq!(
            added,
            Added {
                new: 3,
                replaced: 1,
                duplicates: 1,
                dropped: 0
            }
        );
    }

    #[test]
    fn windows_are_per_patient_and_bounded_in_readings() {
        let ws = Windows::new(10, 2, Duration::from_secs(3600));
        ws.add(
            "p1",
            vec![reading(Some("a"), 1, 1), reading(Some("b"), 2, 2)],
        );
        let (w, added) = ws.add("p1", vec![reading(Some("c"), 3, 3)]);
        assert_eq!(values(&w), [2, 3]);
        assert_eq!(added.dropped, 1);
        ws.add("p2", vec![reading(Some("a"), 1, 7)]);
        assert_eq!(values(&ws.get("p2").unwrap()), [7]);
        assert_eq!(ws.patients(), 2);
    }

    #[test]
    fn forgetting_a_device_keeps_other_devices_readings() {
        let ws = Windows::new(10, 10, Duration::from_secs(3600));
        let mut cgm = reading(Some("g"), 2, 60);
        cgm.device = "cgm".into();
        ws.add("p1", vec![reading(Some("a"), 1, 1), cgm]);
        assert_eq!(ws.forget_device("p1", "watch"), 1);
        assert_eq!(values(&ws.get("p1").unwrap()), [60]);
        assert_eq!(ws.forget_device("p1", "cgm"), 1);
        assert!(ws.get("p1").is_none());
        assert_eq!(ws.forget_device("nobody", "cgm"), 0);
    }

    #[test]
    fn the_number_of_patients_is_bounded() {
        let ws = Windows::new(3, 10, Duration::from_secs(3600));
        for p in 0..20 {
            ws.add(&format!("p{p}"), vec![reading(Some("a"), 1, 1)]);
        }
        assert!(ws.patients() <= 3, "{}", ws.patients());
    }

    #[test]
    fn an_idle_window_expires() {
        let ws = Windows::new(10, 10, Duration::from_millis(50));
        ws.add("p1", vec![reading(Some("a"), 1, 1)]);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        // Polling by count: a `get` would use the window and keep it alive.
        while ws.patients() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the window never expired"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(ws.get("p1").is_none());
    }
}
