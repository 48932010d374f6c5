//! Device codes: 8 characters from an alphabet without vowels (no words, no
//! look-alikes), drawn from the OS CSPRNG, shown `XXXX-XXXX`, typed any way.

use rand::Rng;

pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
pub const LENGTH: usize = 8;

/// A fresh code, normalized (no dash).
pub fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..LENGTH).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

/// `BCDFGHJK` → `BCDF-GHJK`.
pub fn display(code: &str) -> String {
    match code.get(..4).zip(code.get(4..)) {
        Some((head, tail)) => format!("{head}-{tail}"),
        None => code.to_owned(),
    }
}

/// What a user typed → the stored form: case, spaces and dashes ignored. `None`
/// when it cannot be a code at all (so it never reaches the store).
pub fn normalize(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String =
        typed.chars().filter(|c| !matches!(c, ' ' | '-' | '\t')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_alphabet_and_normalize() {
        let code = generate();
        assert_eq!(normalize(&code), Some(code.clone()));
        assert_eq!(normalize(&display(&code).to_lowercase()), Some(code.clone()));
        assert_eq!(normalize(" bcdf - ghjk "), Some("BCDFGHJK".into()));
        assert_eq!(normalize("BCDF-GHJA"), None, "vowels are not in the alphabet");
        assert_eq!(normalize("BCDFGHJ"), None);
        assert_ne!(generate(), generate());
    }
}
