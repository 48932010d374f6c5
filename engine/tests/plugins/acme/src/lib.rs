//! Acme: a standard OAuth 2.0 server, so the SDK's defaults do everything.

use securix_plugin_sdk::{ClientAuth, Config, Endpoints, Provider, ProviderError, ProviderInfo, register_provider};

struct Acme;

impl Provider for Acme {
    fn info() -> ProviderInfo {
        ProviderInfo::new("acme", "Acme")
            .hosts(&["auth.acme.test", "api.acme.test"])
            .client_auth_endpoints(&["https://auth.acme.test/token"])
            .default_scopes(&["profile"])
    }

    fn endpoints(_config: &Config) -> Result<Endpoints, ProviderError> {
        Ok(Endpoints::new("https://auth.acme.test/authorize", "https://auth.acme.test/token", "https://api.acme.test")
            .userinfo("https://api.acme.test/me"))
    }

    fn client_auth(_config: &Config) -> ClientAuth {
        ClientAuth::ClientSecretBasic
    }
}

register_provider!(Acme);
