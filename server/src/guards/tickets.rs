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

/// What a ticket says, before its signature is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketParts<'a> {
    pub expires_ms: i64,
    /// The admission batch of a queue sale's ticket.
    pub batch: Option<i64>,
    /// The signature (base64url), also the name of the ticket's reserve key.
    pub tag: &'a str,
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

    fn mac(&self, sale_id: i64, user_id: i64, expires_ms: i64, batch: Option<i64>) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(self.key.expose()).expect("HMAC accepts keys of any length");
        match batch {
            None => mac.update(format!("ticket:{sale_id}:{user_id}:{expires_ms}").as_bytes()),
            Some(batch) => {
                mac.update(format!("ticket:{sale_id}:{user_id}:{expires_ms}:{batch}").as_bytes())
            }
        }
        mac
    }

    /// A ticket for `user_id` in `sale_id` that works until `expires_ms`.
    pub fn issue(&self, sale_id: i64, user_id: i64, expires_ms: i64) -> String {
        let tag = self
            .mac(sale_id, user_id, expires_ms, None)
            .finalize()
            .into_bytes();
        format!("{expires_ms}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// A ticket of a queue sale's admitted shopper, naming the admission
    /// `batch` it came from (the reserve counts who bought by batch):
    /// `<expires>~<batch>.<signature>`.
    pub fn issue_admitted(
        &self,
        sale_id: i64,
        user_id: i64,
        expires_ms: i64,
        batch: i64,
    ) -> String {
        let tag = self
            .mac(sale_id, user_id, expires_ms, Some(batch))
            .finalize()
            .into_bytes();
        format!("{expires_ms}~{batch}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// A ticket's expiry, admission batch and signature, if it has the form
    /// of one (not checked).
    pub fn parts(ticket: &str) -> Option<TicketParts<'_>> {
        let (head, tag) = ticket.split_once('.')?;
        let (expires, batch) = match head.split_once('~') {
            Some((expires, batch)) => (expires, Some(batch.parse().ok()?)),
            None => (head, None),
        };
        Some(TicketParts {
            expires_ms: expires.parse().ok()?,
            batch,
            tag,
        })
    }

    /// Checks a ticket for this user and sale at `now_ms`, in constant time.
    pub fn verify(
        &self,
        ticket: &str,
        sale_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<(), TicketError> {
        let TicketParts {
            expires_ms,
            batch,
            tag,
        } = Self::parts(ticket).ok_or(TicketError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TicketError::Invalid)?;
        self.mac(sale_id, user_id, expires_ms, batch)
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
    fn an_admitted_ticket_names_its_batch_and_cannot_move_it() {
        let signer = signer("k".repeat(32).as_str());
        let ticket = signer.issue_admitted(7, 42, 10_000, 5_000);
        assert_eq!(signer.verify(&ticket, 7, 42, 9_999), Ok(()));
        assert_eq!(TicketSigner::parts(&ticket).unwrap().batch, Some(5_000));
        let moved = ticket.replacen("~5000", "~6000", 1);
        assert_eq!(signer.verify(&moved, 7, 42, 0), Err(TicketError::Invalid));
        let dropped = ticket.replacen("~5000", "", 1);
        assert_eq!(signer.verify(&dropped, 7, 42, 0), Err(TicketError::Invalid));
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
