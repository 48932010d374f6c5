//! Certificates for the mesh's mutual TLS: a cluster CA and, per node, a certificate
//! for 127.0.0.1 that serves and authenticates as a client, written as PEM files.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};

/// A CA whose certificates a cluster trusts.
pub struct MeshCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: tempfile::TempDir,
}

/// One node's files, as `SECURIX_CLUSTER_TLS_*` takes them.
pub struct NodeCert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl NodeCert {
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("SECURIX_CLUSTER_TLS_CERT", &self.cert),
            ("SECURIX_CLUSTER_TLS_KEY", &self.key),
            ("SECURIX_CLUSTER_TLS_CA", &self.ca),
        ]
        .into_iter()
        .map(|(name, path)| (name.to_owned(), path.display().to_string()))
        .collect()
    }
}

impl MeshCa {
    pub fn new(name: &str) -> MeshCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).unwrap();
        MeshCa { issuer, dir }
    }

    /// A certificate for `node` at 127.0.0.1, signed by this CA.
    pub fn node(&self, node: &str) -> NodeCert {
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, node);
        params.extended_key_usages =
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let write = |name: String, text: String| -> PathBuf {
            let path = self.dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        NodeCert {
            cert: write(format!("{node}.pem"), cert.pem()),
            key: write(format!("{node}.key"), key.serialize_pem()),
            ca: self.ca_path(),
        }
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}
