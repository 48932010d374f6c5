//! One catalog entry: a provider as data, in the schema of `catalog/schema.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a provider's users prove who they are (API.md "Providers and credentials").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    Oauth2,
    Oauth2ClientCredentials,
    Oauth1,
    ApiKey,
    Basic,
    Jwt,
    McpOauth2,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Oauth2 => "oauth2",
            AuthMode::Oauth2ClientCredentials => "oauth2_client_credentials",
            AuthMode::Oauth1 => "oauth1",
            AuthMode::ApiKey => "api_key",
            AuthMode::Basic => "basic",
            AuthMode::Jwt => "jwt",
            AuthMode::McpOauth2 => "mcp_oauth2",
        }
    }
}

/// A connection param: a value per connection that URLs name as `{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionParam {
    pub name: String,
    pub label: String,
    /// An anchored regular expression; with a capture group, the value is the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    #[serde(default)]
    pub from: ParamSource,
    /// For `token` and `call`: the dotted path to the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `call`: what to GET with the new access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Where a connection param's value comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    /// The app (`POST /v1/sessions`) or, failing that, the user on the connect page.
    #[default]
    User,
    /// A field of the token answer (Salesforce's `instance_url`).
    Token,
    /// A field of a GET made with the new token (Atlassian's cloud id).
    Call,
}

/// A field the user types for a credential mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialField {
    pub name: String,
    pub label: String,
    pub secret: bool,
    /// May be left empty (a service account's user to impersonate).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Text of several lines (a PEM key): the connect page keeps its line breaks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub multiline: bool,
}

impl CredentialField {
    pub fn new(name: &str, label: &str, secret: bool) -> Self {
        CredentialField {
            name: name.into(),
            label: label.into(),
            secret,
            optional: false,
            pattern: None,
            multiline: false,
        }
    }
}

/// Where a secret goes on an API call: a header or a query parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    #[serde(rename = "in")]
    pub location: PlacementIn,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementIn {
    Header,
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How the provider says "slow down", which the proxy honours for idempotent calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statuses: Option<Vec<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_format: Option<RetryAfterFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryAfterFormat {
    Seconds,
    EpochSeconds,
    HttpDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verify {
    pub method: String,
    pub path: String,
    /// How often a stored credential is checked again with this call (a key the
    /// provider revoked becomes `reauth_required`); never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Jwt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
}

/// A provider as the catalog describes it. Field names are API.md's `Provider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub auth_mode: AuthMode,
    pub categories: Vec<String>,
    pub docs_url: String,
    pub website: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// A first-party plugin that serves this entry instead of the generic provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_url: Option<String>,
    pub api_base_url: String,
    pub allowed_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_separator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_params: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_params: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_headers: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connection_params: Vec<ConnectionParam>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_help_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Jwt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Fields that describe the provider to people; the generic provider needs none of them.
const DESCRIPTIVE: &[&str] =
    &["id", "name", "categories", "docsUrl", "website", "logoUrl", "plugin", "notes", "credentialsHelpUrl"];

impl Entry {
    /// The logo: `logoUrl`, or the provider's favicon.
    pub fn logo(&self) -> String {
        self.logo_url.clone().unwrap_or_else(|| format!("{}/favicon.ico", self.website.trim_end_matches('/')))
    }

    /// Every URL of the entry and where it sits, for the contract checks.
    pub fn urls(&self) -> Vec<(String, &str)> {
        let named = [
            ("authorizationUrl", self.authorization_url.as_deref()),
            ("tokenUrl", self.token_url.as_deref()),
            ("revocationUrl", self.revocation_url.as_deref()),
            ("apiBaseUrl", Some(self.api_base_url.as_str())),
            ("identity.url", self.identity.as_ref().map(|i| i.url.as_str())),
        ];
        let mut urls: Vec<(String, &str)> =
            named.into_iter().filter_map(|(field, url)| Some((field.to_owned(), url?))).collect();
        for param in &self.connection_params {
            if let Some(url) = &param.url {
                urls.push((format!("connectionParams.{}.url", param.name), url));
            }
        }
        urls
    }

    /// The generic provider's configuration for this entry, with an integration's
    /// `config` laid over it field by field (a self-hosted GitLab's URLs).
    pub fn generic_config(&self, overrides: &serde_json::Value) -> serde_json::Value {
        let mut config = serde_json::to_value(self).unwrap_or_default();
        if let serde_json::Value::Object(map) = &mut config {
            for field in DESCRIPTIVE {
                map.remove(*field);
            }
            if let serde_json::Value::Object(over) = overrides {
                for (key, value) in over {
                    map.insert(key.clone(), value.clone());
                }
            }
        }
        config
    }
}
