//! A shopper's entry, signed, kept in a cookie of the sale (`fs_line_<id>`,
//! path `/api/sales/<id>/`): a poll carrying it is answered from the entry and
//! the board in memory, with no Redis call of its own. The cookie is only a
//! copy: without it (another device, cookies cleared) the entry is read from
//! the account's shard once and the cookie written again.

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::board::Entry;
use crate::secret::Secret;

/// Bytes of the signature kept (128 bits).
const TAG_BYTES: usize = 16;

/// The cookie's name for a sale.
pub(crate) fn cookie_name(sale_id: i64) -> String {
    format!("fs_line_{sale_id}")
}

fn payload(sale_id: i64, entry: &Entry) -> String {
    format!(
        "{sale_id}.{}.{}.{}.{}.{}",
        entry.user_id,
        entry.joined_ms,
        if entry.before_start { 'p' } else { 'a' },
        entry.n,
        entry.drawn.unwrap_or(0)
    )
}

/// Signs entries and derives each sale's draw secret from the server's
/// secret, so every instance can do both and nothing needs storing.
#[derive(Clone)]
pub struct LineSigner {
    key: Secret<Vec<u8>>,
}

impl LineSigner {
    pub fn new(key: Secret<Vec<u8>>) -> Self {
        Self { key }
    }

    fn mac(&self, purpose: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose())
            .expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac
    }

    /// The secret the sale's draw mixes in: fixed from the sale's creation,
    /// published (with its commitment checked) only after the start.
    pub(crate) fn draw_secret(&self, sale_id: i64) -> [u8; 32] {
        self.mac(&format!("draw:{sale_id}"))
            .finalize()
            .into_bytes()
            .into()
    }

    /// The token of `entry` in `sale_id`.
    pub(crate) fn issue(&self, sale_id: i64, entry: &Entry) -> String {
        let payload = payload(sale_id, entry);
        let mac = self.mac(&format!("line-entry:{payload}"));
        let tag = mac.finalize().into_bytes();
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]))
    }

    /// The entry a token carries, if it is ours, for this sale and this user.
    pub(crate) fn verify(&self, token: &str, sale_id: i64, user_id: i64) -> Option<Entry> {
        let (payload, tag) = token.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&format!("line-entry:{payload}"))
            .verify_truncated_left(&tag)
            .ok()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        read(payload, sale_id, user_id)
    }
}

fn read(payload: &str, sale_id: i64, user_id: i64) -> Option<Entry> {
    let parts: Vec<&str> = payload.split('.').collect();
    let [sale, user, joined_ms, kind, n, drawn] = parts.as_slice() else {
        return None;
    };
    if sale.parse::<i64>().ok()? != sale_id || user.parse::<i64>().ok()? != user_id {
        return None;
    }
    let mut entry = Entry::parse(user_id, &format!("{joined_ms}:{kind}:{n}"))?;
    let drawn: u64 = drawn.parse().ok()?;
    entry.drawn = (entry.before_start && drawn > 0).then_some(drawn);
    Some(entry)
}

/// The token the request carries for `sale_id`, if any.
pub(crate) fn from_headers(headers: &HeaderMap, sale_id: i64) -> Option<String> {
    crate::accounts::sessions::cookie(headers, &cookie_name(sale_id))
}

/// `Set-Cookie` for an entry's token, kept until `max_age_secs` from now.
pub(crate) fn set_cookie(sale_id: i64, token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={token}; Path=/api/sales/{sale_id}/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(sale_id),
        max_age_secs.max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(key: &str) -> LineSigner {
        LineSigner::new(Secret::new(key.as_bytes().to_vec()))
    }

    #[test]
    fn a_token_carries_its_entry_for_its_sale_and_user_only() {
        let signer = signer("k");
        let entry = Entry {
            user_id: 42,
            joined_ms: 1_000,
            before_start: true,
            n: 3,
            drawn: Some(17),
        };
        let token = signer.issue(7, &entry);
        assert_eq!(signer.verify(&token, 7, 42), Some(entry));
        assert_eq!(signer.verify(&token, 8, 42), None);
        assert_eq!(signer.verify(&token, 7, 43), None);
        assert_eq!(self::signer("other").verify(&token, 7, 42), None);
        let moved = token.replacen(".17.", ".1.", 1);
        assert_eq!(signer.verify(&moved, 7, 42), None);
        for garbage in [
            "",
            ".",
            "7.42",
            "7.42.1000.p.3.17.",
            "7.42.1000.p.3.17.AAAA",
        ] {
            assert_eq!(signer.verify(garbage, 7, 42), None, "{garbage}");
        }
        let undrawn = Entry {
            drawn: None,
            ..entry
        };
        assert_eq!(
            signer.verify(&signer.issue(7, &undrawn), 7, 42),
            Some(undrawn)
        );
    }

    #[test]
    fn each_sale_has_its_own_draw_secret() {
        let signer = signer("k");
        assert_ne!(signer.draw_secret(1), signer.draw_secret(2));
        assert_eq!(signer.draw_secret(1), self::signer("k").draw_secret(1));
    }
}
