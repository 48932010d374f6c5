//! How an integration that names a provider is served: by the plugin of that id, by
//! the first-party plugin its catalog entry names, or by the generic OAuth 2.0 plugin
//! reading the entry (with the integration's `config` laid over it).

use serde_json::Value;

use super::{Catalog, ConnectionParam, ParamValues, params};

/// The plugin that serves catalog entries from data.
pub const GENERIC_PLUGIN: &str = "oauth2";
/// The modes the host serves itself from credentials users bring (`crate::credentials`).
pub const CREDENTIAL_MODES: &[super::AuthMode] =
    &[super::AuthMode::ApiKey, super::AuthMode::Basic, super::AuthMode::Jwt];

/// What an integration is stored with.
#[derive(Debug, Clone, PartialEq)]
pub struct Served {
    /// The plugin, when it is not the provider id itself.
    pub plugin: Option<String>,
    pub config: Value,
    /// The entry's default scopes, for an integration that names none.
    pub default_scopes: Vec<String>,
}

/// How `provider` is served; `loaded` says whether a plugin of an id is loaded.
pub fn serve(
    catalog: &Catalog,
    provider: &str,
    loaded: impl Fn(&str) -> bool,
    overrides: &Value,
) -> Result<Served, String> {
    let plain = Served { plugin: None, config: overrides.clone(), default_scopes: Vec::new() };
    let Some(entry) = catalog.get(provider) else {
        // The generic credential providers: their `config` is the entry.
        if let Some(mode) = CREDENTIAL_MODES.iter().find(|mode| mode.as_str() == provider) {
            let mut config = overrides.clone();
            config["authMode"] = Value::from(mode.as_str());
            return Ok(Served { config, ..plain });
        }
        return Ok(plain);
    };
    let default_scopes = entry.default_scopes.clone().unwrap_or_default();
    if loaded(provider) {
        return Ok(Served { default_scopes, ..plain });
    }
    if let Some(plugin) = &entry.plugin {
        return Ok(Served { plugin: Some(plugin.clone()), default_scopes, ..plain });
    }
    if CREDENTIAL_MODES.contains(&entry.auth_mode) {
        return Ok(Served { plugin: None, config: entry.generic_config(overrides), default_scopes });
    }
    if !matches!(entry.auth_mode, super::AuthMode::Oauth2 | super::AuthMode::Oauth2ClientCredentials) {
        return Err(format!(
            "{provider} connects by {}, which integrations cannot serve yet (only OAuth 2.0 entries)",
            entry.auth_mode.as_str()
        ));
    }
    Ok(Served {
        plugin: Some(GENERIC_PLUGIN.to_owned()),
        config: entry.generic_config(overrides),
        default_scopes,
    })
}

/// Whether a configuration takes its tokens by the client-credentials grant: no
/// user consent at the provider, so a connect flow needs no redirect.
pub fn is_client_credentials(config: &Value) -> bool {
    config.get("authMode").and_then(Value::as_str) == Some(super::AuthMode::Oauth2ClientCredentials.as_str())
}

/// The connection params a configuration declares (the names its URLs may hold).
pub fn declared(config: &Value) -> Vec<String> {
    connection_params(config).into_iter().map(|p| p.name).collect()
}

/// The connection params a configuration declares, in full.
pub fn connection_params(config: &Value) -> Vec<ConnectionParam> {
    config
        .get("connectionParams")
        .and_then(|list| serde_json::from_value(list.clone()).ok())
        .unwrap_or_default()
}

/// The declared params, each with its stand-in value: what a configuration is
/// checked with before any connection gives real values.
pub fn stand_ins(config: &Value) -> ParamValues {
    declared(config).into_iter().map(|name| (name.clone(), params::stand_in(&name))).collect()
}

/// Puts the placeholders back where stand-ins were filled in.
pub fn unfill(text: &str, stand_ins: &ParamValues) -> String {
    stand_ins
        .iter()
        .fold(text.to_owned(), |text, (name, stand_in)| text.replace(stand_in, &format!("{{{name}}}")))
}

/// The hosts a configuration allows (`allowedHosts`), if it names any.
pub fn allowed_hosts(config: &Value) -> Option<Vec<String>> {
    let list = config.get("allowedHosts")?.as_array()?;
    Some(list.iter().filter_map(|h| h.as_str().map(str::to_ascii_lowercase)).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The entries whose params come from the token answer take the host's label
    /// out of the URL the provider answers, and nothing else.
    #[test]
    fn token_answer_urls_give_their_host_label() {
        let catalog = Catalog::embedded();
        let param = |id: &str| catalog.get(id).unwrap().connection_params[0].clone();
        let (salesforce, pipedrive) = (param("salesforce"), param("pipedrive"));
        assert_eq!(params::accept(&salesforce, "https://acme.my.salesforce.com").unwrap(), "acme.my");
        assert_eq!(params::accept(&salesforce, "https://na123.salesforce.com/").unwrap(), "na123");
        assert_eq!(params::accept(&pipedrive, "https://acme.pipedrive.com").unwrap(), "acme");
        for bad in [
            "https://evil.example/.salesforce.com",
            "https://a@evil.salesforce.com",
            "http://x.salesforce.com",
        ] {
            assert!(params::accept(&salesforce, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_entry_is_served_by_its_plugin_the_generic_one_or_refused() {
        let catalog = Catalog::embedded();
        let loaded = |id: &str| ["github", "google", "oauth2"].contains(&id);
        let overrides = json!({"apiBaseUrl": "https://zendesk.internal.example/api"});
        let github = serve(&catalog, "github", loaded, &json!({})).unwrap();
        assert_eq!(github.plugin, None, "a loaded plugin of the same id serves its entry");
        let gmail = serve(&catalog, "gmail", loaded, &json!({})).unwrap();
        assert_eq!(gmail.plugin.as_deref(), Some("google"));
        let zendesk = serve(&catalog, "zendesk", loaded, &overrides).unwrap();
        assert_eq!(zendesk.plugin.as_deref(), Some(GENERIC_PLUGIN));
        assert_eq!(zendesk.config["apiBaseUrl"], "https://zendesk.internal.example/api", "config overrides");
        assert_eq!(zendesk.config["tokenUrl"], "https://{subdomain}.zendesk.com/oauth/tokens");
        assert!(zendesk.config.get("docsUrl").is_none(), "descriptive fields stay in the catalog");
        assert_eq!(declared(&zendesk.config), ["subdomain"]);
        let paypal = serve(&catalog, "paypal-client-credentials", loaded, &json!({})).unwrap();
        assert_eq!(paypal.plugin.as_deref(), Some(GENERIC_PLUGIN));
        assert!(is_client_credentials(&paypal.config) && !is_client_credentials(&zendesk.config));
        let openai = serve(&catalog, "openai", loaded, &json!({})).unwrap();
        assert_eq!((openai.plugin, openai.config["authMode"].as_str()), (None, Some("api_key")));
        let generic = serve(&catalog, "basic", loaded, &json!({"apiBaseUrl": "https://x.example"})).unwrap();
        assert_eq!(
            generic.config["authMode"], "basic",
            "a generic credential provider's config is its entry"
        );
        let key = serve(&catalog, "google-service-account", loaded, &json!({})).unwrap();
        assert_eq!(
            (key.plugin, key.config["authMode"].as_str()),
            (None, Some("jwt")),
            "the host serves keys"
        );
        let salesforce = serve(&catalog, "salesforce", loaded, &json!({})).unwrap();
        assert_eq!(salesforce.plugin.as_deref(), Some(GENERIC_PLUGIN), "params from the grant are served");
        let unknown = serve(&catalog, "my-own-plugin", loaded, &json!({"x": 1})).unwrap();
        assert_eq!((unknown.plugin, unknown.config), (None, json!({"x": 1})));
    }
}
