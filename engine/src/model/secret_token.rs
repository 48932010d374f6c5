//! The shape of the bearer secrets SecuriX mints (API keys `sxk_…`, agent tokens
//! `sxa_…`): a prefix, 32 random base32 characters and a 6-character checksum, so
//! secret scanners recognise a leaked one and a typo fails before any lookup. Only
//! a secret's SHA-256 is ever stored.

use sha2::{Digest, Sha256};

use crate::util::secret::SecretString;

const BODY_LEN: usize = 32;
const CHECK_LEN: usize = 6;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    digest.iter().take(CHECK_LEN).map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect()
}

/// A new secret with `prefix`; the caller shows it once and stores its hash.
pub fn mint(prefix: &str) -> SecretString {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..BODY_LEN).map(|_| char::from(ALPHABET[rng.gen_range(0..32)])).collect();
    SecretString::new(format!("{prefix}{body}{}", checksum(&body)))
}

/// Whether `presented` has the shape and checksum of a secret with `prefix`.
pub fn is_well_formed(prefix: &str, presented: &str) -> bool {
    let Some(rest) = presented.strip_prefix(prefix) else { return false };
    if rest.len() != BODY_LEN + CHECK_LEN || !rest.bytes().all(|b| ALPHABET.contains(&b)) {
        return false;
    }
    let (body, check) = rest.split_at(BODY_LEN);
    checksum(body) == check
}

/// Hex SHA-256 of a secret: what is stored and indexed.
pub fn hash_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The first characters of a secret, to recognise it in a list (`sxk_abcd`).
pub fn hint(prefix: &str, secret: &SecretString) -> String {
    secret.expose().chars().take(prefix.len() + 4).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_secret_is_well_formed_and_a_typo_is_not() {
        let secret = mint("sxa_");
        assert!(is_well_formed("sxa_", secret.expose()));
        assert!(!is_well_formed("sxk_", secret.expose()), "another kind's prefix");
        let mut typo = secret.expose().to_owned();
        let last = typo.pop().unwrap();
        typo.push(if last == 'a' { 'b' } else { 'a' });
        assert!(!is_well_formed("sxa_", &typo));
    }
}
