//! Tickets: the dynamic part of the buy URL. After the sale starts, a solved
//! CAPTCHA is exchanged for `HMAC(secret, sale, user, expiry)`; the buy route
//! recomputes it in memory (no Redis, no SQL). Without the secret no ticket can be
//! made, and before the start none is handed out, so the buy URL cannot be known
//! in advance.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// How long a ticket works.
pub(crate) const TICKET_TTL_MS: i64 = 60_000;

/// Makes and checks tickets with the server's secret.
#[derive(Clone)]
pub struct TicketSigner {
    key: Secret<Vec<u8>>,
}

/// Why a ticket was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("the ticket is malformed or was not made for this buyer and sale")]
    Invalid,
    #[error("the ticket has expired")]
    Expired,
}

impl TicketSigner {
    pub fn new(key: Secret<Vec<u8>>) -> Self {
        Self { key }
    }

    fn mac(&self, sale_id: i64, user_id: i64, expires_ms: i64) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(self.key.expose()).expect("HMAC accepts keys of any length");
        mac.update(format!("ticket:{sale_id}:{user_id}:{expires_ms}").as_bytes());
        mac
    }

    /// A ticket for `user_id` in `sale_id` that works until `expires_ms`.
    pub fn issue(&self, sale_id: i64, user_id: i64, expires_ms: i64) -> String {
        let tag = self
            .mac(sale_id, user_id, expires_ms)
            .finalize()
            .into_bytes();
        format!("{expires_ms}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// A ticket's expiry and signature, if it has the form of one (not checked).
    pub fn parts(ticket: &str) -> Option<(i64, &str)> {
        let (expires, tag) = ticket.split_once('.')?;
        Some((expires.parse().ok()?, tag))
    }

    /// Checks a ticket for this user and sale at `now_ms`, in constant time.
    pub fn verify(
        &self,
        ticket: &str,
        sale_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<(), TicketError> {
        let (expires_ms, tag) = Self::parts(ticket).ok_or(TicketError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TicketError::Invalid)?;
        self.mac(sale_id, user_id, expires_ms)
            .verify_slice(&tag)
            .map_err(|_| TicketError::Invalid)?;
        if now_ms >= expires_ms {
            return Err(TicketError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(key: &str) -> TicketSigner {
        TicketSigner::new(Secret::new(key.as_bytes().to_vec()))
    }

    #[test]
    fn a_ticket_works_for_its_user_and_sale_until_it_expires() {
        let signer = signer("k".repeat(32).as_str());
        let ticket = signer.issue(7, 42, 10_000);
        assert_eq!(signer.verify(&ticket, 7, 42, 9_999), Ok(()));
        assert_eq!(
            signer.verify(&ticket, 7, 42, 10_000),
            Err(TicketError::Expired)
        );
        assert_eq!(signer.verify(&ticket, 7, 43, 0), Err(TicketError::Invalid));
        assert_eq!(signer.verify(&ticket, 8, 42, 0), Err(TicketError::Invalid));
    }

    #[test]
    fn tampering_or_another_key_is_refused() {
        let signer_a = signer("a".repeat(32).as_str());
        let ticket = signer_a.issue(7, 42, 10_000);
        let extended = ticket.replacen("10000", "99999", 1);
        assert_eq!(
            signer_a.verify(&extended, 7, 42, 0),
            Err(TicketError::Invalid)
        );
        assert_eq!(
            signer("b".repeat(32).as_str()).verify(&ticket, 7, 42, 0),
            Err(TicketError::Invalid)
        );
        for garbage in ["", ".", "abc", "1.%%%", "1.AAAA"] {
            assert_eq!(
                signer_a.verify(garbage, 7, 42, 0),
                Err(TicketError::Invalid),
                "{garbage}"
            );
        }
    }
}
