//! Mutual TLS between nodes: each node presents its certificate and accepts only
//! peers whose certificate the cluster's CA signed. The cookie still has to match.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// `SECURIX_CLUSTER_TLS_*`: PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// This node's certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The CA that signs every node's certificate.
    pub ca: PathBuf,
}

pub struct MeshTls {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
}

impl MeshTls {
    pub fn load(files: &TlsFiles) -> anyhow::Result<MeshTls> {
        let chain = certificates(&files.cert)?;
        let key = PrivateKeyDer::from_pem_file(&files.key)
            .with_context(|| format!("cannot read a private key from {}", files.key.display()))?;
        let mut roots = RootCertStore::empty();
        for ca in certificates(&files.ca)? {
            roots
                .add(ca)
                .with_context(|| format!("{} holds an unusable CA certificate", files.ca.display()))?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .context("cannot verify peers with this CA")?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .context("the mesh certificate and key do not match")?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .context("the mesh certificate and key do not match")?;
        Ok(MeshTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// The name a peer at `address` (`host:port`) must have in its certificate.
    pub fn server_name(address: &str) -> Option<ServerName<'static>> {
        let (host, _) = address.rsplit_once(':')?;
        ServerName::try_from(host.trim_matches(['[', ']']).to_owned()).ok()
    }
}

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read certificates from {}", path.display()))?;
    anyhow::ensure!(!certificates.is_empty(), "{} holds no certificate", path.display());
    Ok(certificates)
}
