//! The provider catalog: every provider SecuriX knows as data (`catalog/*.toml` at
//! the top of the repository, embedded at build time), searched by the API and read
//! by the generic provider when an integration names an entry.

pub mod contract;
pub mod entry;
pub mod params;
pub mod serving;

use std::collections::HashMap;
use std::sync::Arc;

pub use entry::{AuthMode, ConnectionParam, Entry, ParamSource};
pub use params::{ParamError, ParamValues};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));
}

/// A catalog file that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedEntry {
    pub file: String,
    pub reason: String,
}

/// What `GET /v1/catalog` asks for.
#[derive(Debug, Clone, Default)]
pub struct CatalogQuery {
    /// Words that must each appear in the id, the name or a category.
    pub q: Option<String>,
    pub auth_mode: Option<AuthMode>,
    pub category: Option<String>,
    pub limit: usize,
    /// The last id of the previous page.
    pub cursor: Option<String>,
}

/// One page of entries, in id order.
#[derive(Debug, Clone)]
pub struct CatalogPage {
    pub entries: Vec<Arc<Entry>>,
    pub next_cursor: Option<String>,
}

pub const MAX_PAGE: usize = 500;

/// The entries, sorted by id. Cheap to share.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Arc<Vec<Arc<Entry>>>,
    by_id: Arc<HashMap<String, Arc<Entry>>>,
    refused: Arc<Vec<RefusedEntry>>,
}

impl Catalog {
    /// The catalog built into this binary.
    pub fn embedded() -> Catalog {
        Catalog::from_files(embedded::FILES.iter().copied())
    }

    /// Entries from `(file name, TOML text)` pairs; a file that does not parse or
    /// breaks the contract is refused (and logged), the others are kept.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Catalog {
        let mut entries = Vec::new();
        let mut refused = Vec::new();
        for (file, text) in files {
            let problems = match toml::from_str::<Entry>(text) {
                Ok(entry) => {
                    let problems = contract::problems(file, &entry);
                    if problems.is_empty() {
                        entries.push(Arc::new(entry));
                        continue;
                    }
                    problems.join("; ")
                }
                Err(error) => error.to_string(),
            };
            tracing::warn!(file, reason = %problems, "catalog entry refused");
            refused.push(RefusedEntry { file: file.to_owned(), reason: problems });
        }
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        entries.dedup_by(|a, b| a.id == b.id);
        let by_id = entries.iter().map(|e| (e.id.clone(), e.clone())).collect();
        Catalog { entries: Arc::new(entries), by_id: Arc::new(by_id), refused: Arc::new(refused) }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.by_id.get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn refused(&self) -> &[RefusedEntry] {
        &self.refused
    }

    /// A page of the entries that match, after `cursor`, in id order.
    pub fn search(&self, query: &CatalogQuery) -> CatalogPage {
        let words: Vec<String> =
            query.q.as_deref().unwrap_or_default().split_whitespace().map(str::to_lowercase).collect();
        let matches = |entry: &Entry| {
            let text = format!("{} {} {}", entry.id, entry.name, entry.categories.join(" ")).to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
                && query.auth_mode.is_none_or(|mode| entry.auth_mode == mode)
                && query.category.as_ref().is_none_or(|c| entry.categories.contains(c))
        };
        let start = match &query.cursor {
            Some(after) => self.entries.partition_point(|e| e.id.as_str() <= after.as_str()),
            None => 0,
        };
        let limit = query.limit.clamp(1, MAX_PAGE);
        let mut found = self.entries[start..].iter().filter(|e| matches(e));
        let entries: Vec<Arc<Entry>> = found.by_ref().take(limit).cloned().collect();
        let next_cursor = match found.next() {
            Some(_) => entries.last().map(|e| e.id.clone()),
            None => None,
        };
        CatalogPage { entries, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_entry_keeps_the_contract() {
        let catalog = Catalog::embedded();
        assert_eq!(catalog.refused(), &[], "entries refused");
        assert_eq!(catalog.len(), embedded::FILES.len());
    }

    const ZENDESK: &str = r#"
        id = "zendesk"
        name = "Zendesk"
        authMode = "oauth2"
        categories = ["support"]
        docsUrl = "https://developer.zendesk.com/x"
        website = "https://www.zendesk.com"
        authorizationUrl = "https://{subdomain}.zendesk.com/oauth/authorizations/new"
        tokenUrl = "https://{subdomain}.zendesk.com/oauth/tokens"
        apiBaseUrl = "https://{subdomain}.zendesk.com/api/v2"
        allowedHosts = ["*.zendesk.com"]
        connectionParams = [{ name = "subdomain", label = "Subdomain" }]
    "#;

    #[test]
    fn an_entry_off_its_hosts_or_with_an_undeclared_param_is_refused() {
        let off_host = ZENDESK.replace("{subdomain}.zendesk.com/api", "api.evil.com/api");
        let undeclared = ZENDESK.replace("/api/v2", "/api/{version}");
        let plain_http =
            ZENDESK.replace("https://{subdomain}.zendesk.com/oauth/tokens", "http://x.zendesk.com/t");
        let late_param = ZENDESK
            .replace("label = \"Subdomain\" }", "label = \"Subdomain\", from = \"token\", field = \"sub\" }");
        let unknown_field = format!("{ZENDESK}\nsecretsFile = \"/etc/passwd\"");
        let catalog = Catalog::from_files([
            ("zendesk.toml", ZENDESK),
            ("a.toml", off_host.as_str()),
            ("b.toml", undeclared.as_str()),
            ("c.toml", plain_http.as_str()),
            ("d.toml", late_param.as_str()),
            ("e.toml", unknown_field.as_str()),
        ]);
        assert_eq!(catalog.len(), 1);
        assert_eq!(catalog.refused().len(), 5);
        let reasons: Vec<&str> = catalog.refused().iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].contains("api.evil.com"), "{reasons:?}");
        assert!(reasons[1].contains("{version}"), "{reasons:?}");
        assert!(reasons[2].contains("https"), "{reasons:?}");
        assert!(reasons[3].contains("after the grant"), "{reasons:?}");
        assert!(reasons[4].contains("secretsFile"), "{reasons:?}");
    }

    #[test]
    fn search_filters_and_pages_in_id_order() {
        let catalog = Catalog::embedded();
        let mut seen = Vec::new();
        let mut query = CatalogQuery { limit: 2, ..Default::default() };
        loop {
            let page = catalog.search(&query);
            seen.extend(page.entries.iter().map(|e| e.id.clone()));
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        let all: Vec<String> = catalog.entries.iter().map(|e| e.id.clone()).collect();
        assert_eq!(seen, all);
        let keys = catalog.search(&CatalogQuery {
            auth_mode: Some(AuthMode::ApiKey),
            limit: 500,
            ..Default::default()
        });
        assert!(!keys.entries.is_empty() && keys.entries.iter().all(|e| e.auth_mode == AuthMode::ApiKey));
        let github =
            catalog.search(&CatalogQuery { q: Some("GIT hub".into()), limit: 10, ..Default::default() });
        assert!(github.entries.iter().any(|e| e.id == "github"));
        let support = catalog.search(&CatalogQuery {
            category: Some("support".into()),
            limit: 500,
            ..Default::default()
        });
        assert!(support.entries.iter().all(|e| e.categories.iter().any(|c| c == "support")));
    }
}
