//! The proof-of-work CAPTCHA: find a nonce so that `sha256(salt || nonce)` starts
//! with `difficulty_bits` zero bits, the nonce written in decimal. The WASM client
//! searches; the server checks one hash. Both use this module, so they agree.

use sha2::{Digest, Sha256};

/// Leading zero bits of `sha256(salt || nonce)`.
pub fn leading_zero_bits(salt: &str, nonce: u64) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(nonce.to_string().as_bytes());
    let digest = hasher.finalize();
    let mut bits = 0;
    for byte in digest {
        if byte == 0 {
            bits += 8;
        } else {
            bits += byte.leading_zeros();
            break;
        }
    }
    bits
}

/// Whether `answer` (a decimal nonce) solves the challenge.
pub fn verify(salt: &str, difficulty_bits: u32, answer: &str) -> bool {
    answer
        .trim()
        .parse::<u64>()
        .is_ok_and(|nonce| leading_zero_bits(salt, nonce) >= difficulty_bits)
}

/// Searches nonces `start..start + budget`; `Some(nonce)` when one solves it. The
/// client calls this in slices so the page stays responsive between them.
pub fn search(salt: &str, difficulty_bits: u32, start: u64, budget: u64) -> Option<u64> {
    (start..start.saturating_add(budget))
        .find(|nonce| leading_zero_bits(salt, *nonce) >= difficulty_bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_found_nonce_verifies_and_a_wrong_one_does_not() {
        let salt = "5f2c9a";
        let nonce = search(salt, 10, 0, 1 << 20).expect("10 bits are found quickly");
        assert!(leading_zero_bits(salt, nonce) >= 10);
        assert!(verify(salt, 10, &nonce.to_string()));
        assert!(!verify(salt, 10, "not a number"));
        assert!(!verify(salt, 10, ""));
    }

    #[test]
    fn zero_difficulty_accepts_any_number() {
        assert!(verify("s", 0, "0"));
    }

    #[test]
    fn matches_sha256_of_salt_then_decimal_nonce() {
        // Vectors computed independently: sha256("1") = 6b86…, sha256("abc1322") = 0003…
        assert_eq!(leading_zero_bits("", 1), 1);
        assert_eq!(leading_zero_bits("abc", 1322), 14);
        assert_eq!(search("abc", 12, 0, 1_323), Some(1322));
    }
}
