//! CAPTCHA challenges. The answer is kept in Redis under a random id with a TTL
//! and taken with `GETDEL`, so every challenge is single use: a replayed answer
//! finds nothing. `image` shows a picture (rendered on the blocking pool, see
//! [`super::captcha_image`]); `pow` is checked with one hash; `none` needs no
//! challenge.

use crate::redis_connection::RedisConnection;
use app::api::{CaptchaChallenge, CaptchaKind};

use super::captcha_image;
use crate::keys::RedisKeys;
use crate::store::StoreError;

/// How long a challenge may be answered.
pub const CHALLENGE_TTL_MS: i64 = 120_000;

/// Issues and checks challenges.
#[derive(Clone)]
pub struct Captchas {
    redis: RedisConnection,
    keys: RedisKeys,
    /// Leading zero bits a `pow` answer needs (~2^bits hashes to solve).
    pow_difficulty_bits: u32,
}

/// The outcome of checking an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
}

fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)?;
    Ok(hex::encode(buffer))
}

impl Captchas {
    pub fn new(redis: RedisConnection, keys: RedisKeys, pow_difficulty_bits: u32) -> Self {
        Self {
            redis,
            keys,
            pow_difficulty_bits,
        }
    }

    /// A new challenge of `kind` for `user_id` in `sale_id`.
    pub async fn issue(
        &self,
        kind: CaptchaKind,
        sale_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<CaptchaChallenge, StoreError> {
        let expires_at_ms = now_ms + CHALLENGE_TTL_MS;
        if kind == CaptchaKind::None {
            return Ok(CaptchaChallenge {
                captcha_id: String::new(),
                kind,
                image: None,
                salt: None,
                difficulty_bits: None,
                algorithm: None,
                expires_at_ms,
            });
        }
        let captcha_id = random_hex(16)?;
        let mut redis = self.redis.clone();
        if kind == CaptchaKind::Image {
            let answer = captcha_image::answer()?;
            let mut seed = [0u8; 8];
            getrandom::fill(&mut seed)?;
            let picture = {
                let answer = answer.clone();
                tokio::task::spawn_blocking(move || {
                    captcha_image::render(&answer, u64::from_le_bytes(seed))
                })
                .await?
            };
            let () = redis::cmd("SET")
                .arg(self.keys.captcha(&captcha_id))
                .arg(format!("image:{sale_id}:{user_id}:{answer}"))
                .arg("PX")
                .arg(CHALLENGE_TTL_MS)
                .query_async(&mut redis)
                .await?;
            use base64::Engine;
            let image = format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(picture)
            );
            return Ok(CaptchaChallenge {
                captcha_id,
                kind,
                image: Some(image),
                salt: None,
                difficulty_bits: None,
                algorithm: None,
                expires_at_ms,
            });
        }
        let salt = random_hex(16)?;
        let bits = self.pow_difficulty_bits;
        let () = redis::cmd("SET")
            .arg(self.keys.captcha(&captcha_id))
            .arg(format!("pow:{sale_id}:{user_id}:{bits}:{salt}"))
            .arg("PX")
            .arg(CHALLENGE_TTL_MS)
            .query_async(&mut redis)
            .await?;
        Ok(CaptchaChallenge {
            captcha_id,
            kind,
            image: None,
            salt: Some(salt),
            difficulty_bits: Some(bits),
            algorithm: Some("sha256".into()),
            expires_at_ms,
        })
    }

    /// Checks (and uses up) the answer to a challenge of a sale asking for `kind`.
    pub async fn check(
        &self,
        kind: CaptchaKind,
        sale_id: i64,
        user_id: i64,
        captcha_id: &str,
        answer: &str,
    ) -> Result<Verdict, StoreError> {
        if kind == CaptchaKind::None {
            return Ok(Verdict::Passed);
        }
        if captcha_id.is_empty()
            || captcha_id.len() > 64
            || !captcha_id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Ok(Verdict::Failed);
        }
        let mut redis = self.redis.clone();
        let stored: Option<String> = redis::cmd("GETDEL")
            .arg(self.keys.captcha(captcha_id))
            .query_async(&mut redis)
            .await?;
        let Some(stored) = stored else {
            return Ok(Verdict::Failed);
        };
        let parts: Vec<&str> = stored.splitn(5, ':').collect();
        let owner_ok =
            |sale: &str, user: &str| sale == sale_id.to_string() && user == user_id.to_string();
        let passed = match parts[..] {
            ["pow", sale, user, bits, salt] => {
                owner_ok(sale, user)
                    && bits
                        .parse()
                        .is_ok_and(|bits| app::pow::verify(salt, bits, answer))
            }
            ["image", sale, user, expected] => {
                owner_ok(sale, user) && captcha_image::matches(expected, answer)
            }
            _ => false,
        };
        Ok(if passed {
            Verdict::Passed
        } else {
            Verdict::Failed
        })
    }
}
