//! Secret values: redacted in `Debug` and `Display`, wiped from memory on drop, and
//! not serializable, so the only way to persist one is through the vault.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret string: a provider token, a client secret, an API key, an `sxc`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself. Call it only where the value leaves for its one
    /// legitimate destination (an HTTP header to the provider, the AEAD).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl std::fmt::Display for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secret bytes: decrypted plaintext, key material.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(value: Vec<u8>) -> Self {
        SecretBytes(value)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBytes(<redacted {} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let token = SecretString::new("ya29.very-secret");
        assert!(!format!("{token:?} {token}").contains("very-secret"));
        let bytes = SecretBytes::new(b"very-secret".to_vec());
        assert!(!format!("{bytes:?}").contains("very"));
        assert_eq!(token.expose(), "ya29.very-secret");
    }
}
