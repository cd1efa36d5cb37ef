//! A proof of work for registering, scaled to how busy registration is (#25):
//! while few accounts are being made, none is asked for; when many are (a
//! script making accounts from many addresses, each within its address' share),
//! each new account costs its maker about `2^bits` hashes, more the busier it is.
//!
//! A challenge is stateless until it is answered: `expiry.bits.salt.mac`, the
//! MAC made with the server's secret, so issuing one costs no storage (anyone
//! may ask). An answer is used up with `SET NX` once its work checks, so one
//! solution makes one account.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use std::sync::Arc;

use super::captcha::random_hex;
use crate::clock::Clock;
use crate::keys::RedisKeys;
use crate::redis_connection::RedisConnection;
use crate::secret::Secret;
use crate::store::StoreError;
use app::api::RegistrationChallenge;

type HmacSha256 = Hmac<Sha256>;

/// The work asked at the first busy minute (~65,000 hashes: a fraction of a
/// second in a browser), and at most (64 times that).
const FIRST_BITS: u32 = 16;
const MOST_BITS: u32 = 22;
/// Bytes of the MAC a challenge carries (128 bits).
const TAG_BYTES: usize = 16;
/// How long a challenge may be answered.
const CHALLENGE_TTL_MS: i64 = 5 * 60_000;
/// How long the window counting registrations lasts.
const WINDOW_SECS: u64 = 60;

/// Leading zero bits asked when `per_minute` accounts were made in the current
/// minute: none below `quiet`, then one more bit for each doubling.
pub(crate) fn bits_for(per_minute: u64, quiet: u64) -> u32 {
    if per_minute < quiet.max(1) {
        return 0;
    }
    let doublings = (per_minute / quiet.max(1)).ilog2();
    (FIRST_BITS + doublings).min(MOST_BITS)
}

/// Issues and checks registration challenges.
#[derive(Clone)]
pub(crate) struct RegistrationWork {
    redis: RedisConnection,
    keys: RedisKeys,
    key: Secret<Vec<u8>>,
    /// Accounts a minute below which no work is asked.
    quiet: u64,
    clock: Arc<dyn Clock>,
}

impl RegistrationWork {
    pub fn new(
        redis: RedisConnection,
        keys: RedisKeys,
        key: Secret<Vec<u8>>,
        quiet: u64,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            redis,
            keys,
            key,
            quiet,
            clock,
        }
    }

    /// The work a registration needs now (0: none).
    pub async fn required_bits(&self) -> Result<u32, StoreError> {
        let mut redis = self.redis.clone();
        let made: Option<u64> = redis::cmd("GET")
            .arg(self.keys.sign_in("reg-minute"))
            .query_async(&mut redis)
            .await?;
        Ok(bits_for(made.unwrap_or(0), self.quiet))
    }

    /// Counts one account made (the window starts with its first account).
    pub async fn counted(&self) -> Result<(), StoreError> {
        let key = self.keys.sign_in("reg-minute");
        let mut redis = self.redis.clone();
        redis::pipe()
            .cmd("INCR")
            .arg(&key)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(WINDOW_SECS)
            .arg("NX")
            .ignore()
            .query_async::<()>(&mut redis)
            .await?;
        Ok(())
    }

    /// The MAC of a challenge; its first [`TAG_BYTES`] are the challenge's tag.
    fn mac(&self, expires_ms: i64, bits: u32, salt: &str) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(self.key.expose()).expect("HMAC accepts keys of any length");
        mac.update(format!("register:{expires_ms}:{bits}:{salt}").as_bytes());
        mac
    }

    /// A challenge asking for `bits` (0 when registration is quiet).
    pub fn challenge(&self, bits: u32) -> Result<RegistrationChallenge, StoreError> {
        let salt = random_hex(16)?;
        let expires_at_ms = self.clock.now_ms() + CHALLENGE_TTL_MS;
        let tag = self.mac(expires_at_ms, bits, &salt).finalize().into_bytes();
        let tag = URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES]);
        Ok(RegistrationChallenge {
            challenge: format!("{expires_at_ms}.{bits}.{salt}.{tag}"),
            salt,
            difficulty_bits: bits,
            algorithm: "sha256".into(),
            expires_at_ms,
        })
    }

    /// Whether `nonce` answers `challenge` with at least `required_bits` of
    /// work, in time, for the first time (the answer is used up).
    pub async fn accept(
        &self,
        challenge: &str,
        nonce: &str,
        required_bits: u32,
    ) -> Result<bool, StoreError> {
        let now_ms = self.clock.now_ms();
        let parts: Vec<&str> = challenge.split('.').collect();
        let [expires, bits, salt, tag] = parts[..] else {
            return Ok(false);
        };
        let (Ok(expires_ms), Ok(bits), Ok(tag)) = (
            expires.parse::<i64>(),
            bits.parse::<u32>(),
            URL_SAFE_NO_PAD.decode(tag),
        ) else {
            return Ok(false);
        };
        let genuine = tag.len() == TAG_BYTES
            && self
                .mac(expires_ms, bits, salt)
                .verify_truncated_left(&tag)
                .is_ok();
        if !genuine
            || expires_ms <= now_ms
            || bits < required_bits
            || nonce.len() > 20
            || !app::pow::verify(salt, bits, nonce)
        {
            return Ok(false);
        }
        let mut redis = self.redis.clone();
        let first: Option<String> = redis::cmd("SET")
            .arg(self.keys.sign_in(&format!("reg-work:{salt}")))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(CHALLENGE_TTL_MS)
            .query_async(&mut redis)
            .await?;
        Ok(first.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_registration_asks_nothing_and_busy_asks_more_the_busier() {
        assert_eq!(bits_for(0, 30), 0);
        assert_eq!(bits_for(29, 30), 0);
        assert_eq!(bits_for(30, 30), FIRST_BITS);
        assert_eq!(bits_for(60, 30), FIRST_BITS + 1);
        assert_eq!(bits_for(150, 30), FIRST_BITS + 2);
        assert_eq!(bits_for(u64::MAX, 30), MOST_BITS);
        assert_eq!(bits_for(1_000, u64::MAX), 0);
    }
}
