//! The draw that orders a queue sale's pre-start entrants (docs/DESIGN.md
//! "Waiting room"). Pure, so the server, the tests and anyone checking a draw
//! compute the same places:
//!
//! - the **entries** are the user ids of everyone who joined before the start,
//!   written in ascending order, one decimal id per line, each line ending in
//!   `\n`; their SHA-256 is the **entries digest**;
//! - the **seed** is SHA-256(secret ‖ entries digest), both as raw bytes; the
//!   secret's SHA-256 (the **commitment**) was published before anyone joined;
//! - each entrant's **key** is SHA-256(seed ‖ decimal user id);
//! - **places** go by key, smallest first (1 is the first place).
//!
//! Nobody knows the seed before entries close: the secret is not published and
//! the digest depends on every entrant.

use sha2::{Digest, Sha256};

/// The rule in words, as `GET /api/sales/{id}/draw` states it.
pub const METHOD: &str = "sha256-v1: entries = pre-start user ids in ascending order, one \
decimal id per line ending in \\n; entries_digest = SHA-256(entries); seed = \
SHA-256(secret bytes || entries_digest bytes); key(id) = SHA-256(seed || decimal id); \
place = 1 + the number of entrants with a smaller key; commitment = SHA-256(secret)";

/// The published list of entrants: `ids` sorted ascending, one per line.
pub fn entries_text(ids: &[i64]) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    let mut text = String::with_capacity(sorted.len() * 8);
    for id in sorted {
        text.push_str(&id.to_string());
        text.push('\n');
    }
    text
}

/// SHA-256 of some bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The seed of a draw from the committed secret and the entries digest.
pub fn seed(secret: &[u8], entries_digest: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(secret);
    hasher.update(entries_digest);
    hasher.finalize().into()
}

/// An entrant's key: places go by key, smallest first.
pub fn key(seed: &[u8; 32], user_id: i64) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(seed);
    hasher.update(user_id.to_string().as_bytes());
    hasher.finalize().into()
}

/// The entrants in drawn order: `result[0]` has place 1.
pub fn order(seed: &[u8; 32], ids: &[i64]) -> Vec<i64> {
    let mut keyed: Vec<([u8; 32], i64)> = ids.iter().map(|&id| (key(seed, id), id)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, id)| id).collect()
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entries_are_sorted_decimal_lines() {
        assert_eq!(entries_text(&[30, 4, 100]), "4\n30\n100\n");
        assert_eq!(entries_text(&[]), "");
    }

    #[test]
    fn a_place_follows_from_the_published_values_alone() {
        let secret = [7u8; 32];
        let ids = [5, 1, 9, 2];
        let digest = sha256(entries_text(&ids).as_bytes());
        let seed = seed(&secret, &digest);
        let drawn = order(&seed, &ids);
        // Each entrant's place is one plus the number of smaller keys.
        for (index, id) in drawn.iter().enumerate() {
            let mine = key(&seed, *id);
            let smaller = ids
                .iter()
                .filter(|&&other| key(&seed, other) < mine)
                .count();
            assert_eq!(smaller, index);
        }
        let mut sorted = drawn.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![1, 2, 5, 9]);
    }

    #[test]
    fn one_more_entrant_or_another_secret_reshuffles() {
        let ids: Vec<i64> = (1..=50).collect();
        let digest = sha256(entries_text(&ids).as_bytes());
        let first = order(&seed(&[1; 32], &digest), &ids);
        assert_ne!(first, order(&seed(&[2; 32], &digest), &ids));
        let more: Vec<i64> = (1..=51).collect();
        let digest_more = sha256(entries_text(&more).as_bytes());
        let second = order(&seed(&[1; 32], &digest_more), &more);
        let without_51: Vec<i64> = second.into_iter().filter(|&id| id != 51).collect();
        assert_ne!(first, without_51);
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0, 15, 16, 255]), "000f10ff");
    }
}
