//! Fetching what the client did not prefetch from its `fhirServer` (FHIR REST search), with the
//! `fhirAuthorization` bearer token, a timeout, a size limit and a page limit. Search pages
//! are followed only on the same server, so the token never travels elsewhere.

use std::time::Duration;

use serde_json::Value;

use crate::config;

/// Why data could not be fetched (no patient data in the message).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// The `fhirServer` is not an http(s) URL on the allow-list.
    #[error("fhirServer is not a server this service may call (http or https, on the configured allow-list)")]
    NotAllowed,
    /// No answer in time.
    #[error("the FHIR server did not answer within {0} ms")]
    Timeout(u64),
    /// An HTTP error status.
    #[error("the FHIR server answered HTTP {0}")]
    Status(u16),
    /// The answer is over the size limit.
    #[error("the FHIR server's answer is over the limit of {0} bytes")]
    TooLarge(usize),
    /// The answer is not a FHIR resource.
    #[error("the FHIR server's answer is not FHIR JSON")]
    Malformed,
    /// The server could not be reached.
    #[error("the FHIR server could not be reached")]
    Unreachable,
    /// More pages than allowed.
    #[error("the search has more than {0} pages")]
    TooManyPages(usize),
}

/// A FHIR REST client for missing prefetch.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    cfg: config::Fetch,
}

impl Fetcher {
    /// A client with the configured limits.
    pub fn new(cfg: config::Fetch) -> Fetcher {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Fetcher { client, cfg }
    }

    /// Whether the service may call `base`.
    pub fn allowed(&self, base: &str) -> bool {
        let scheme_ok = base.starts_with("http://") || base.starts_with("https://");
        scheme_ok
            && (self.cfg.allowed_servers.is_empty()
                || self
                    .cfg
                    .allowed_servers
                    .iter()
                    .any(|p| base.starts_with(p.as_str())))
    }

    /// Reads `query` (a relative FHIR URL such as `Observation?patient=p1&code=...` or
    /// `Patient/p1`) from `base`. Search results come back as the list of the pages' Bundles.
    pub async fn read(
        &self,
        base: &str,
        query: &str,
        token: Option<&str>,
    ) -> Result<Vec<Value>, FetchError> {
        if !self.allowed(base) {
            return Err(FetchError::NotAllowed);
        }
        let base = base.trim_end_matches('/');
        let mut url = format!("{base}/{}", query.trim_start_matches('/'));
        let mut pages = Vec::new();
        let mut budget = self.cfg.max_bytes;
        loop {
            if pages.len() == self.cfg.max_pages {
                return Err(FetchError::TooManyPages(self.cfg.max_pages));
            }
            let page = self.get(&url, token, &mut budget).await?;
            let next = next_link(&page)
                .filter(|n| n.starts_with(base))
                .map(str::to_string);
            pages.push(page);
            match next {
                Some(n) => url = n,
                None => return Ok(pages),
            }
        }
    }

    async fn get(
        &self,
        url: &str,
        token: Option<&str>,
        budget: &mut usize,
    ) -> Result<Value, FetchError> {
        let mut req = self
            .client
            .get(url)
            .header("Accept", "application/fhir+json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let timeout = self.cfg.timeout_ms;
        let map = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout(timeout)
            } else {
                FetchError::Unreachable
            }
        };
        let mut resp = req.send().await.map_err(map)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        if resp.content_length().is_some_and(|n| n as usize > *budget) {
            return Err(FetchError::TooLarge(self.cfg.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map)? {
            if chunk.len() > *budget {
                return Err(FetchError::TooLarge(self.cfg.max_bytes));
            }
            *budget -= chunk.len();
            body.extend_from_slice(&chunk);
        }
        let v: Value = serde_json::from_slice(&body).map_err(|_| FetchError::Malformed)?;
        if v.get("resourceType").and_then(Value::as_str).is_none() {
            return Err(FetchError::Malformed);
        }
        Ok(v)
    }
}

fn next_link(bundle: &Value) -> Option<&str> {
    bundle
        .get("link")?
        .as_array()?
        .iter()
        .find(|l| l.get("relation").and_then(Value::as_str) == Some("next"))?
        .get("url")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_servers_on_the_allow_list() {
        let mut cfg = config::Fetch::default();
        let f = Fetcher::new(cfg.clone());
        assert!(f.allowed("https://ehr.example/fhir"));
        assert!(!f.allowed("file:///etc/passwd"));
        cfg.allowed_servers = vec!["https://ehr.example/".into()];
        let f = Fetcher::new(cfg);
        assert!(f.allowed("https://ehr.example/fhir"));
        assert!(!f.allowed("https://other.example/fhir"));
    }

    #[test]
    fn next_links_are_found() {
        let b = serde_json::json!({"link": [{"relation": "self", "url": "a"}, {"relation": "next", "url": "b"}]});
        assert_eq!(next_link(&b), Some("b"));
    }
}
