//! Identifiers: random ids that SecuriX mints (typed prefix + 128 random bits in
//! lowercase base32) and validation of the ids apps choose (entity ids, agent ids,
//! integration keys).

use rand::RngCore;

use super::RecordError;

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A fresh id such as `ses_…` (26 base32 characters after the prefix). The bits
/// come from the thread's CSPRNG (ChaCha, seeded and reseeded from the OS): as
/// unpredictable as the OS's, without a system call per id — every proxied call
/// mints one for its audit record.
pub fn mint(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let mut out = String::with_capacity(prefix.len() + 1 + 26);
    out.push_str(prefix);
    out.push('_');
    let mut bits: u32 = 0;
    let mut acc: u32 = 0;
    for byte in bytes {
        acc = (acc << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// An id minted by `mint` with this prefix.
pub fn check_minted(prefix: &str, id: &str, what: &'static str) -> Result<(), RecordError> {
    let ok = id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|body| body.len() == 26 && body.bytes().all(|b| BASE32.contains(&b)));
    if ok { Ok(()) } else { Err(RecordError::Invalid { what, why: format!("expected a {prefix}_… id") }) }
}

/// An id an app chooses: 1–128 characters of `A–Z a–z 0–9 _ - . : @`.
pub fn check_app_id(id: &str, what: &'static str) -> Result<(), RecordError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@');
    if id.is_empty() || id.len() > 128 {
        return Err(RecordError::Invalid { what, why: "must be 1 to 128 characters".into() });
    }
    if id == "." || id == ".." {
        return Err(RecordError::Invalid {
            what,
            why: "may not be . or .. (a path would read it as a step)".into(),
        });
    }
    if !id.chars().all(allowed) {
        return Err(RecordError::Invalid {
            what,
            why: "may contain only letters, digits and _ - . : @".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_unique_and_valid() {
        let a = mint("ses");
        let b = mint("ses");
        assert_ne!(a, b);
        assert!(check_minted("ses", &a, "session id").is_ok());
        assert!(check_minted("con", &a, "connection id").is_err());
        assert!(check_minted("ses", "ses_../../etc", "session id").is_err());
    }

    #[test]
    fn app_ids_are_validated() {
        assert!(check_app_id("user_123", "entity id").is_ok());
        assert!(check_app_id("a@b.c:d-e", "entity id").is_ok());
        for bad in ["", ".", "..", "a b", "a/b", "é", "x\r\ny", &"x".repeat(129)] {
            assert!(check_app_id(bad, "entity id").is_err(), "{bad:?}");
        }
    }
}
