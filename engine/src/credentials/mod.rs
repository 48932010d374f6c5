//! Credentials a user brings instead of an OAuth grant: an API key (`api_key`) or a
//! user and password (`basic`), described by a catalog entry or by a generic
//! provider's `config` (`apiBaseUrl`, `credentials`, `apiKey`, `verify`).
//!
//! They are handled by the host, not by a plugin: there is no provider logic in them
//! to sandbox, and a secret that never enters a guest cannot leak from one. A
//! connection vaults them like a token set (`Credentials::sealed`), the proxy puts
//! them where the entry says (`inject`), and they are checked at the provider before
//! anything is stored (`verify`).

pub mod inject;
pub mod jwt;
pub mod verify;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::catalog::AuthMode;
use crate::catalog::entry::{CredentialField, Placement, Verify};
use crate::model::connection::TokenSet;
use crate::util::clock::Timestamp;
use crate::util::secret::SecretString;

/// The token type a connection's vaulted credentials carry.
const TOKEN_TYPE: &str = "credentials";
/// The longest value of one credential field.
pub const MAX_VALUE: usize = 8192;
/// The shortest re-check period a configuration may set: a provider is not polled.
const MIN_RECHECK_SECS: u32 = 60;

/// How an integration's credentials look and are used: read from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub mode: AuthMode,
    /// The fields the user types, in order.
    pub fields: Vec<CredentialField>,
    /// For `api_key`: where the key goes.
    pub placement: Option<Placement>,
    pub verify: Option<Verify>,
    /// Where the provider's users get their credentials.
    pub help_url: Option<String>,
    /// For `jwt`: how the assertion becomes a token, and its audience.
    pub grant: Option<jwt::Grant>,
    pub audience: Option<String>,
}

/// Why a configuration cannot serve credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("credentials: {0}")]
pub struct SpecError(pub String);

impl Spec {
    /// The spec of a configuration whose `authMode` is a credential mode; `None` for
    /// any other configuration.
    pub fn of(config: &Value) -> Option<Result<Spec, SpecError>> {
        let mode = match config.get("authMode").and_then(Value::as_str)? {
            "api_key" => AuthMode::ApiKey,
            "basic" => AuthMode::Basic,
            "jwt" => AuthMode::Jwt,
            _ => return None,
        };
        Some(Spec::read(mode, config))
    }

    fn read(mode: AuthMode, config: &Value) -> Result<Spec, SpecError> {
        let field = |name: &str| config.get(name).cloned().unwrap_or(Value::Null);
        let bad = |what: &str, e: serde_json::Error| SpecError(format!("{what}: {e}"));
        let mut fields: Vec<CredentialField> =
            serde_json::from_value(field("credentials")).or_else(|e| match field("credentials") {
                Value::Null => Ok(Vec::new()),
                _ => Err(bad("credentials", e)),
            })?;
        if fields.is_empty() {
            fields = match mode {
                AuthMode::Basic => vec![
                    CredentialField::new("username", "Username", false),
                    CredentialField::new("password", "Password", true),
                ],
                AuthMode::Jwt => vec![
                    CredentialField::new("issuer", "Issuer (the assertion's iss)", false),
                    CredentialField {
                        multiline: true,
                        ..CredentialField::new("privateKey", "Private key (PEM)", true)
                    },
                ],
                _ => vec![CredentialField::new("apiKey", "API key", true)],
            };
        }
        let placement: Option<Placement> = match field("apiKey") {
            Value::Null => None,
            value => Some(serde_json::from_value(value).map_err(|e| bad("apiKey", e))?),
        };
        let verify: Option<Verify> = match field("verify") {
            Value::Null => None,
            value => Some(serde_json::from_value(value).map_err(|e| bad("verify", e))?),
        };
        let spec = Spec {
            mode,
            fields,
            placement,
            verify,
            help_url: config.get("credentialsHelpUrl").and_then(Value::as_str).map(str::to_owned),
            grant: (mode == AuthMode::Jwt).then(|| jwt::Grant::of(config)),
            audience: config
                .get("jwt")
                .and_then(|j| j.get("audience"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), SpecError> {
        let names = |name: &str| self.fields.iter().any(|f| f.name == name);
        match self.mode {
            AuthMode::ApiKey if self.placement.is_none() => {
                return Err(SpecError("an api_key provider needs `apiKey` (where the key goes)".into()));
            }
            AuthMode::ApiKey if !self.fields.iter().any(|f| f.secret) => {
                return Err(SpecError("an api_key provider needs a secret credential field".into()));
            }
            AuthMode::Basic if !(names("username") && names("password")) => {
                return Err(SpecError("a basic provider's credentials are `username` and `password`".into()));
            }
            AuthMode::Jwt
                if !(self.fields.iter().any(|f| f.secret && !f.optional)
                    && self.fields.iter().any(|f| !f.secret && !f.optional)) =>
            {
                return Err(SpecError("a jwt provider needs an issuer field and a private key field".into()));
            }
            _ => {}
        }
        if let Some(verify) = &self.verify
            && !(matches!(verify.method.as_str(), "GET" | "HEAD" | "POST") && verify.path.starts_with('/'))
        {
            return Err(SpecError("`verify` needs GET, HEAD or POST and a path starting with /".into()));
        }
        Ok(())
    }

    /// When credentials stored `now` are first checked again, if the entry re-checks
    /// them (`verify.everySeconds`). A `jwt` key is proven at every new token instead.
    pub fn first_recheck(&self, now: Timestamp) -> Option<Timestamp> {
        let every = self.verify.as_ref()?.every_seconds?;
        (self.mode != AuthMode::Jwt).then(|| now.plus_secs(i64::from(every.max(MIN_RECHECK_SECS))))
    }

    /// The key an `api_key` provider sends: the field named `apiKey`, else the first secret.
    fn key_field(&self) -> Option<&CredentialField> {
        self.fields.iter().find(|f| f.name == "apiKey").or_else(|| self.fields.iter().find(|f| f.secret))
    }

    /// The values the user or the app typed, each field present and none extra.
    pub fn accept(&self, typed: &BTreeMap<String, SecretString>) -> Result<Credentials, CredentialError> {
        if let Some(extra) = typed.keys().find(|name| !self.fields.iter().any(|f| &f.name == *name)) {
            return Err(CredentialError::Unknown(extra.clone()));
        }
        let mut values = BTreeMap::new();
        for field in &self.fields {
            let value = typed.get(&field.name).map(|v| v.expose().trim()).unwrap_or_default();
            if value.is_empty() && field.optional {
                continue;
            }
            if value.is_empty() {
                return Err(CredentialError::Missing(field.name.clone()));
            }
            // Line breaks stay: a PEM key holds them.
            if value.len() > MAX_VALUE || value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r')) {
                return Err(CredentialError::Malformed(field.name.clone()));
            }
            values.insert(field.name.clone(), SecretString::new(value));
        }
        Ok(Credentials(values))
    }

    /// Which account the credentials are: the first field that is not secret (a
    /// username, an account SID), else `default` (one per entity and integration).
    pub fn account_id(&self, credentials: &Credentials) -> String {
        self.fields
            .iter()
            .find(|f| !f.secret)
            .and_then(|f| credentials.get(&f.name))
            .map_or_else(|| "default".to_owned(), |v| v.expose().chars().take(256).collect())
    }
}

/// What is wrong with typed credentials, by field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("credential `{0}` is missing")]
    Missing(String),
    #[error("credential `{0}` is too long or holds control characters")]
    Malformed(String),
    #[error("credential `{0}` is not one this provider takes")]
    Unknown(String),
}

/// A connection's credentials by field name; every value is secret (`Debug` shows none).
#[derive(Clone, Default)]
pub struct Credentials(BTreeMap<String, SecretString>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Credentials {
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.0.get(name)
    }

    /// As a connection vaults them: the fields as JSON in the access-token slot.
    pub fn sealed(&self) -> TokenSet {
        let plain: BTreeMap<&str, &str> = self.0.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        TokenSet {
            access_token: SecretString::new(serde_json::to_string(&plain).unwrap_or_default()),
            refresh_token: None,
            id_token: None,
            token_type: TOKEN_TYPE.into(),
            expires_at: None,
        }
    }

    /// The credentials a connection's vaulted access token holds.
    pub fn unsealed(access_token: &SecretString) -> Option<Credentials> {
        let plain: BTreeMap<String, String> = serde_json::from_str(access_token.expose()).ok()?;
        Some(Credentials(plain.into_iter().map(|(k, v)| (k, SecretString::new(v))).collect()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn typed(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
        pairs.iter().map(|(k, v)| (k.to_string(), SecretString::new(*v))).collect()
    }

    #[test]
    fn a_spec_comes_from_an_entry_or_a_generic_configuration() {
        let openai = crate::catalog::Catalog::embedded().get("openai").unwrap().generic_config(&json!({}));
        let spec = Spec::of(&openai).unwrap().unwrap();
        assert_eq!((spec.mode, spec.key_field().unwrap().name.as_str()), (AuthMode::ApiKey, "apiKey"));
        let basic =
            Spec::of(&json!({"authMode": "basic", "apiBaseUrl": "https://x.example"})).unwrap().unwrap();
        assert_eq!(
            basic.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["username", "password"]
        );
        assert!(Spec::of(&json!({"authMode": "oauth2"})).is_none());
        assert!(Spec::of(&json!({"authMode": "api_key"})).unwrap().is_err(), "no placement");
        let bad_verify = json!({"authMode": "basic", "verify": {"method": "DELETE", "path": "/me"}});
        assert!(Spec::of(&bad_verify).unwrap().is_err());
    }

    #[test]
    fn typed_values_are_complete_trimmed_and_never_shown() {
        let spec = Spec::of(&json!({"authMode": "basic"})).unwrap().unwrap();
        let values = spec.accept(&typed(&[("username", " ada "), ("password", "s3cret")])).unwrap();
        assert_eq!(values.get("username").unwrap().expose(), "ada");
        assert_eq!(spec.account_id(&values), "ada");
        assert!(!format!("{values:?}").contains("s3cret"));
        assert_eq!(
            spec.accept(&typed(&[("username", "ada")])).unwrap_err(),
            CredentialError::Missing("password".into())
        );
        let extra = typed(&[("username", "a"), ("password", "b"), ("token", "c")]);
        assert_eq!(spec.accept(&extra).unwrap_err(), CredentialError::Unknown("token".into()));
        let sealed = values.sealed();
        let back = Credentials::unsealed(&sealed.access_token).unwrap();
        assert_eq!(back.get("password").unwrap().expose(), "s3cret");
    }
}
