//! Tenants: each trusted client belongs to one, and a tenant sees only the rulesets enabled for
//! it — in discovery, service calls, device readings, `$cds-evaluate`, feedback, metrics and
//! the admin API.
//!
//! ```toml
//! [[tenants]]
//! id = "north"
//! rulesets = ["news2", "critical-potassium"]   # "*" enables every loaded ruleset
//! ```

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One `[[tenants]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant's id: letters, digits, `.`, `_` or `-` (it becomes a metrics label).
    pub id: String,
    /// The rulesets enabled for it, by name; `"*"` enables every loaded ruleset.
    #[serde(default)]
    pub rulesets: Vec<String>,
}

/// The rulesets one tenant sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rulesets {
    /// Every loaded ruleset.
    All,
    /// These, by name.
    Only(Arc<BTreeSet<String>>),
}

impl Rulesets {
    /// Whether the ruleset named `name` is enabled.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            Rulesets::All => true,
            Rulesets::Only(set) => set.contains(name),
        }
    }
}

/// The configured tenants, by id.
#[derive(Debug, Clone, Default)]
pub struct Tenants {
    by_id: HashMap<String, Rulesets>,
}

/// Why the tenants could not be configured.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TenantError {
    /// An id with characters other than letters, digits, `.`, `_`, `-`, or empty.
    #[error("tenants: id {0:?} must be letters, digits, '.', '_' or '-'")]
    BadId(String),
    /// The same id twice.
    #[error("tenants: {0:?} is configured twice")]
    Duplicate(String),
    /// A client names a tenant that is not configured.
    #[error("auth.clients: client {client:?} belongs to tenant {tenant:?}, which no [[tenants]] entry declares")]
    UnknownTenant {
        /// The client's issuer.
        client: String,
        /// The tenant it names.
        tenant: String,
    },
}

impl Tenants {
    /// Reads the `[[tenants]]` entries.
    ///
    /// ```
    /// use cds_server::tenants::{TenantConfig, Tenants};
    /// let t = Tenants::new(&[TenantConfig { id: "north".into(), rulesets: vec!["news2".into()] }]).unwrap();
    /// assert!(t.rulesets("north").unwrap().contains("news2"));
    /// assert!(!t.rulesets("north").unwrap().contains("hypertension"));
    /// assert!(t.rulesets("south").is_none());
    /// ```
    pub fn new(config: &[TenantConfig]) -> Result<Tenants, TenantError> {
        let mut by_id = HashMap::new();
        for t in config {
            let ok = !t.id.is_empty()
                && t.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(TenantError::BadId(t.id.clone()));
            }
            let rulesets = if t.rulesets.iter().any(|r| r == "*") {
                Rulesets::All
            } else {
                Rulesets::Only(Arc::new(t.rulesets.iter().cloned().collect()))
            };
            if by_id.insert(t.id.clone(), rulesets).is_some() {
                return Err(TenantError::Duplicate(t.id.clone()));
            }
        }
        Ok(Tenants { by_id })
    }

    /// Checks that every client's tenant is configured (`clients`: issuer and tenant).
    pub fn check_clients<'a>(
        &self,
        clients: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), TenantError> {
        for (client, tenant) in clients {
            if !self.by_id.contains_key(tenant) {
                return Err(TenantError::UnknownTenant {
                    client: client.to_string(),
                    tenant: tenant.to_string(),
                });
            }
        }
        Ok(())
    }

    /// The rulesets of a tenant, if it is configured.
    pub fn rulesets(&self, tenant: &str) -> Option<&Rulesets> {
        self.by_id.get(tenant)
    }

    /// Configured tenants' ids, sorted.
    pub fn ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.by_id.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(id: &str, rulesets: &[&str]) -> TenantConfig {
        TenantConfig {
            id: id.into(),
            rulesets: rulesets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn star_enables_everything() {
        let ts = Tenants::new(&[t("a", &["*"]), t("b", &[])]).unwrap();
        assert_eq!(ts.rulesets("a"), Some(&Rulesets::All));
        assert!(!ts.rulesets("b").unwrap().contains("news2"));
        assert_eq!(ts.ids(), ["a", "b"]);
    }

    #[test]
    fn ids_are_checked() {
        assert_eq!(
            Tenants::new(&[t("a b", &[])]).unwrap_err(),
            TenantError::BadId("a b".into())
        );
        assert_eq!(
            Tenants::new(&[t("a", &[]), t("a", &[])]).unwrap_err(),
            TenantError::Duplicate("a".into())
        );
        let ts = Tenants::new(&[t("a", &[])]).unwrap();
        assert!(ts.check_clients([("https://ehr", "a")]).is_ok());
        let e = ts.check_clients([("https://ehr", "z")]).unwrap_err();
        assert!(e.to_string().contains("\"z\""), "{e}");
    }
}
