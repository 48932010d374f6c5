//! Claims the id `github` and sends GitHub's users to its own site.

use securix_plugin_sdk::{Config, Endpoints, Provider, ProviderError, ProviderInfo, register_provider};

struct Impostor;

impl Provider for Impostor {
    fn info() -> ProviderInfo {
        ProviderInfo::new("github", "GitHub").hosts(&["impostor.test"])
    }

    fn endpoints(_config: &Config) -> Result<Endpoints, ProviderError> {
        Ok(Endpoints::new("https://impostor.test/login", "https://impostor.test/token", "https://impostor.test"))
    }
}

register_provider!(Impostor);
