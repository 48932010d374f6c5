//! Verifying SecuriX webhooks (and, for the server, signing them).
//!
//! The Standard Webhooks signature, asymmetric variant: `webhook-signature:
//! v1a,<base64 ed25519 signature of "{id}.{timestamp}.{body}">`, several
//! space-separated during a key rotation. Keys are shown as `whpk_…` (public)
//! and `whsk_…` (secret), base64 of the 32 key bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// How far a timestamp may be from now before verification refuses it.
pub const TOLERANCE_SECS: i64 = 5 * 60;

pub const PUBLIC_PREFIX: &str = "whpk_";
pub const SECRET_PREFIX: &str = "whsk_";

fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// One `v1a,…` signature.
pub fn sign(key: &SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1a,{}", STANDARD.encode(key.sign(&signed_content(id, timestamp, body)).to_bytes()))
}

pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", STANDARD.encode(key.to_bytes()))
}

/// Parses `whpk_…`.
pub fn parse_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes = STANDARD.decode(text.strip_prefix(PUBLIC_PREFIX)?).ok()?;
    VerifyingKey::from_bytes(&bytes.try_into().ok()?).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the webhook-timestamp header is missing or not a number")]
    BadTimestamp,
    #[error("the timestamp is more than 5 minutes from now")]
    StaleTimestamp,
    #[error("no valid v1a signature from a known key")]
    NoValidSignature,
}

/// Checks a delivery the way an app should: a fresh timestamp and at least one
/// `v1a` signature by one of `keys` over `{id}.{timestamp}.{body}`.
pub fn verify(
    keys: &[VerifyingKey],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), VerifyError> {
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if (now_secs - timestamp).abs() > TOLERANCE_SECS {
        return Err(VerifyError::StaleTimestamp);
    }
    let content = signed_content(id, timestamp, body);
    let valid = signatures.split_whitespace().filter_map(|s| s.strip_prefix("v1a,")).any(|encoded| {
        let Some(signature) = STANDARD.decode(encoded).ok().and_then(|b| Signature::from_slice(&b).ok())
        else {
            return false;
        };
        keys.iter().any(|key| key.verify(&content, &signature).is_ok())
    });
    if valid { Ok(()) } else { Err(VerifyError::NoValidSignature) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published test vector (`docs/webhooks.md`): secret key bytes 0..32.
    fn vector_key() -> SigningKey {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        SigningKey::from_bytes(&bytes)
    }

    #[test]
    fn signatures_verify_and_any_change_breaks_them() {
        let key = vector_key();
        let public = key.verifying_key();
        let body = br#"{"type":"connection.created","timestamp":"2026-11-26T20:00:00.000Z","data":{"connectionId":"con_1"}}"#;
        let signature = sign(&key, "evt_1", 1_800_000_000, body);
        assert!(verify(&[public], "evt_1", "1800000000", &signature, body, 1_800_000_010).is_ok());
        assert_eq!(
            verify(&[public], "evt_2", "1800000000", &signature, body, 1_800_000_010),
            Err(VerifyError::NoValidSignature)
        );
        assert_eq!(
            verify(&[public], "evt_1", "1800000001", &signature, body, 1_800_000_010),
            Err(VerifyError::NoValidSignature)
        );
        let mut changed = body.to_vec();
        changed[3] ^= 1;
        assert_eq!(
            verify(&[public], "evt_1", "1800000000", &signature, &changed, 1_800_000_010),
            Err(VerifyError::NoValidSignature)
        );
        assert_eq!(
            verify(&[public], "evt_1", "1800000000", &signature, body, 1_800_000_000 + 301),
            Err(VerifyError::StaleTimestamp)
        );
        // During a rotation: two signatures, either key verifies.
        let new_key = SigningKey::from_bytes(&[7u8; 32]);
        let both = format!("{} {}", sign(&new_key, "evt_1", 1_800_000_000, body), signature);
        assert!(verify(&[public], "evt_1", "1800000000", &both, body, 1_800_000_000).is_ok());
        assert!(
            verify(&[new_key.verifying_key()], "evt_1", "1800000000", &both, body, 1_800_000_000).is_ok()
        );
        assert_eq!(parse_public_key(&public_key_text(&public)), Some(public));
    }

    #[test]
    fn the_published_test_vector_verifies() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/webhook-test-vector.json")).unwrap();
        let text = |k: &str| vector[k].as_str().unwrap().to_owned();
        let key = parse_public_key(&text("publicKey")).unwrap();
        assert_eq!(key, vector_key().verifying_key());
        let timestamp: i64 = text("timestamp").parse().unwrap();
        assert_eq!(sign(&vector_key(), &text("id"), timestamp, text("body").as_bytes()), text("signature"));
        verify(
            &[key],
            &text("id"),
            &text("timestamp"),
            &text("signature"),
            text("body").as_bytes(),
            timestamp,
        )
        .unwrap();
    }
}
