//! The one connector every outbound call goes through: hyper-util's TCP connector
//! with the outbound policy as its resolver, so a connection goes only to
//! addresses the policy allows, checked when it is made (DNS rebinding reaches
//! nothing internal); a host written as an address, which hyper-util does not
//! resolve, is checked here. TLS by hyper-rustls over Mozilla's roots, with
//! aws-lc-rs (the process's one crypto provider).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use super::error::BoxError;
use crate::policy::{OutboundPolicy, PolicyError};

/// The most a new TCP connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub type Connector = HttpsConnector<Guarded>;

/// A connector trusting Mozilla's roots, or `roots` alone (a test's own certificate).
pub fn connector(
    policy: OutboundPolicy,
    roots: Option<rustls::RootCertStore>,
) -> Result<Connector, rustls::Error> {
    let roots =
        roots.unwrap_or_else(|| rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() });
    let tls =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let mut tcp = HttpConnector::new_with_resolver(PolicyResolver(policy.clone()));
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let guarded = Guarded { tcp, policy };
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(guarded))
}

/// The outbound policy's `resolve` as hyper-util's resolver (the connector sets the port).
#[derive(Clone)]
pub struct PolicyResolver(OutboundPolicy);

impl Service<Name> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = PolicyError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, PolicyError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), PolicyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.0.clone();
        Box::pin(async move { Ok(policy.resolve(name.as_str(), 0).await?.into_iter()) })
    }
}

/// hyper-util's TCP connector, with hosts written as addresses checked first.
#[derive(Clone)]
pub struct Guarded {
    tcp: HttpConnector<PolicyResolver>,
    policy: OutboundPolicy,
}

impl Service<Uri> for Guarded {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let literal = uri
            .host()
            .and_then(|host| host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok());
        if let Some(ip) = literal
            && !self.policy.allows_address(ip)
        {
            return Box::pin(std::future::ready(Err(PolicyError::InternalAddress(ip.to_string()).into())));
        }
        let connecting = self.tcp.call(uri);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}
