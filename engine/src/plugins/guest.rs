//! A plugin's component, whichever WIT version it was built against, called in
//! the host's current version's records (older versions are converted in
//! `compat_v0_1.rs`).

use wasmtime::Store;

use super::bindings::current::securix::provider::types as wit;
use super::bindings::{v0_1_0, v0_2_0};
use super::host_state::HostState;

/// A plugin, ready to instantiate.
pub(crate) enum GuestPre {
    V0_1(v0_1_0::ProviderPluginPre<HostState>),
    V0_2(v0_2_0::ProviderPluginPre<HostState>),
}

/// A plugin instantiated in one call's store.
pub(crate) enum Guest {
    V0_1(v0_1_0::ProviderPlugin),
    V0_2(v0_2_0::ProviderPlugin),
}

type Answer<T> = wasmtime::Result<Result<T, wit::ProviderError>>;

/// Calls `$method` on either version: the current one as is, 0.1.0 with its
/// request converted down and its answer converted up.
macro_rules! call {
    ($guest:expr, $store:expr, $method:ident $(, $request:expr)?) => {
        match $guest {
            Guest::V0_2(plugin) => plugin.securix_provider_provider().$method($store $(, $request)?).await,
            Guest::V0_1(plugin) => plugin
                .securix_provider_provider()
                .$method($store $(, &($request).clone().into())?)
                .await
                .map(|answer| answer.map(Into::into).map_err(Into::into)),
        }
    };
}

impl GuestPre {
    pub async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            GuestPre::V0_1(pre) => Guest::V0_1(pre.instantiate_async(store).await?),
            GuestPre::V0_2(pre) => Guest::V0_2(pre.instantiate_async(store).await?),
        })
    }
}

impl Guest {
    pub async fn info(&self, store: &mut Store<HostState>) -> wasmtime::Result<wit::ProviderInfo> {
        match self {
            Guest::V0_2(plugin) => plugin.securix_provider_provider().call_info(store).await,
            Guest::V0_1(plugin) => plugin.securix_provider_provider().call_info(store).await.map(Into::into),
        }
    }

    pub async fn validate_config(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> Answer<wit::ConfigInfo> {
        match self {
            Guest::V0_2(plugin) => {
                plugin.securix_provider_provider().call_validate_config(store, config).await
            }
            Guest::V0_1(plugin) => plugin
                .securix_provider_provider()
                .call_validate_config(store, config)
                .await
                .map(|answer| answer.map(Into::into).map_err(Into::into)),
        }
    }

    pub async fn authorize_url(
        &self,
        store: &mut Store<HostState>,
        request: &wit::AuthorizeRequest,
    ) -> Answer<String> {
        call!(self, store, call_authorize_url, request)
    }

    pub async fn exchange_code(
        &self,
        store: &mut Store<HostState>,
        request: &wit::CodeExchange,
    ) -> Answer<wit::TokenSet> {
        call!(self, store, call_exchange_code, request)
    }

    pub async fn refresh(
        &self,
        store: &mut Store<HostState>,
        request: &wit::RefreshRequest,
    ) -> Answer<wit::TokenSet> {
        call!(self, store, call_refresh, request)
    }

    pub async fn identity(
        &self,
        store: &mut Store<HostState>,
        request: &wit::TokenRequest,
    ) -> Answer<wit::AccountIdentity> {
        call!(self, store, call_identity, request)
    }

    pub async fn proxy_target(
        &self,
        store: &mut Store<HostState>,
        request: &wit::TokenRequest,
    ) -> Answer<wit::ApiTarget> {
        call!(self, store, call_proxy_target, request)
    }

    pub async fn revoke(&self, store: &mut Store<HostState>, request: &wit::RevokeRequest) -> Answer<()> {
        call!(self, store, call_revoke, request)
    }
}
