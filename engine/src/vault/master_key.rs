//! The master key that wraps the vault's keyring. It comes from the environment
//! (`SECURIX_MASTER_KEY`, base64 of 32 bytes) or a key file; it is never stored in
//! the store itself.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::VaultError;

pub const MASTER_KEY_BYTES: usize = 32;

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; MASTER_KEY_BYTES]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut key = [0u8; MASTER_KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey(key)
    }

    pub fn from_bytes(bytes: [u8; MASTER_KEY_BYTES]) -> Self {
        MasterKey(bytes)
    }

    /// Parses base64 (standard, padded or not) of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, VaultError> {
        let trimmed = text.trim().trim_end_matches('=');
        let mut decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .map_err(|_| VaultError::BadMasterKey("it is not valid base64".into()))?;
        let result = <[u8; MASTER_KEY_BYTES]>::try_from(decoded.as_slice()).map(MasterKey).map_err(|_| {
            VaultError::BadMasterKey(format!("it decodes to {} bytes, not {MASTER_KEY_BYTES}", decoded.len()))
        });
        decoded.zeroize();
        result
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub(crate) fn bytes(&self) -> &[u8; MASTER_KEY_BYTES] {
        &self.0
    }

    /// Reads the key file at `path`, or creates it (mode 0600) with a fresh key.
    /// Returns the key and whether it was created now.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), VaultError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_base64(&text)?, false)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                write_private(path, key.to_base64().as_bytes())
                    .map_err(|e| VaultError::KeyFile(format!("cannot create {}: {e}", path.display())))?;
                Ok((key, true))
            }
            Err(error) => Err(VaultError::KeyFile(format!("cannot read {}: {error}", path.display()))),
        }
    }
}

/// Creates `path` readable and writable by its owner only; refuses to overwrite.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_bad_lengths() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(key.bytes(), again.bytes());
        assert!(matches!(MasterKey::from_base64("c2hvcnQ="), Err(VaultError::BadMasterKey(_))));
        assert!(matches!(MasterKey::from_base64("not base64!"), Err(VaultError::BadMasterKey(_))));
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (first, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.bytes(), second.bytes());
    }
}
