//! The AEAD and the ciphertext envelope. XChaCha20-Poly1305: its 192-bit random
//! nonces never collide in practice, so no nonce counter has to be coordinated
//! across nodes.
//!
//! Envelope: `[format = 1][key version: u32 BE][nonce: 24 bytes][ciphertext + tag]`.

use chacha20poly1305::aead::{Aead, KeyInit, OsRng, Payload};
use chacha20poly1305::{AeadCore, XChaCha20Poly1305, XNonce};

use super::VaultError;
use crate::util::secret::SecretBytes;

const FORMAT_V1: u8 = 1;
const NONCE_BYTES: usize = 24;
const HEADER_BYTES: usize = 1 + 4 + NONCE_BYTES;

pub(crate) fn seal(
    key: &[u8; 32],
    key_version: u32,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = cipher
        .encrypt(&nonce, Payload { msg: plaintext, aad })
        .map_err(|_| VaultError::Crypto("encryption failed".into()))?;
    let mut out = Vec::with_capacity(HEADER_BYTES + sealed.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&key_version.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The key version an envelope was sealed with.
pub(crate) fn key_version(envelope: &[u8]) -> Result<u32, VaultError> {
    match envelope {
        [FORMAT_V1, a, b, c, d, ..] if envelope.len() > HEADER_BYTES => {
            Ok(u32::from_be_bytes([*a, *b, *c, *d]))
        }
        [FORMAT_V1, ..] => Err(VaultError::Crypto("ciphertext is truncated".into())),
        _ => Err(VaultError::Crypto("unknown ciphertext format".into())),
    }
}

pub(crate) fn open(key: &[u8; 32], aad: &[u8], envelope: &[u8]) -> Result<SecretBytes, VaultError> {
    key_version(envelope)?;
    let (header, sealed) = envelope.split_at(HEADER_BYTES);
    let nonce = XNonce::from_slice(&header[5..]);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher.decrypt(nonce, Payload { msg: sealed, aad }).map(SecretBytes::new).map_err(|_| {
        VaultError::Crypto("decryption failed: wrong key, wrong record or tampered ciphertext".into())
    })
}
