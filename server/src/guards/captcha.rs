//! CAPTCHA challenges. What the answer must be is kept in Redis under a random
//! id with a TTL and taken with `GETDEL`, so every challenge is single use: a
//! replayed answer finds nothing. `image` is a sliding puzzle (pictures rendered
//! on the blocking pool, see [`super::captcha_puzzle`]; the drag path judged by
//! [`app::slide`]), and a shopper who cannot drag may ask for a harder proof of
//! work instead; `pow` is checked with one hash; `none` needs no challenge.

use crate::redis_connection::RedisConnection;
use app::api::{CaptchaChallenge, CaptchaKind, SlidePuzzle};
use app::slide::{DragPath, Judgement};
use base64::Engine;

use super::captcha_puzzle;
use crate::keys::RedisKeys;
use crate::store::StoreError;

/// How long a challenge may be answered.
pub(crate) const CHALLENGE_TTL_MS: i64 = 120_000;
/// How much harder (leading zero bits) the proof of work offered instead of a
/// puzzle is than a `pow` sale's: four times the hashes.
pub(crate) const ALTERNATIVE_EXTRA_BITS: u32 = 2;

/// Issues and checks challenges.
#[derive(Clone)]
pub(crate) struct Captchas {
    redis: RedisConnection,
    keys: RedisKeys,
    /// Leading zero bits a `pow` answer needs (~2^bits hashes to solve).
    pow_difficulty_bits: u32,
}

/// The outcome of checking an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Passed,
    /// Wrong, expired, used already, or someone else's.
    Failed,
    /// A puzzle's piece let go away from the gap.
    Missed,
    /// A puzzle's piece put into the gap, but not the way a hand moves.
    Scripted,
}

impl Verdict {
    /// What to tell the shopper (shown on the page as it is).
    pub fn message(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "That answer was wrong or already used. Try a new challenge.",
            Verdict::Missed => "The piece was let go beside the gap. Try a new puzzle.",
            Verdict::Scripted => {
                "The piece jumped or moved at one steady speed. Try a new puzzle, \
                 or let your device solve a check instead."
            }
        }
    }
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
        match kind {
            CaptchaKind::None => Ok(CaptchaChallenge {
                captcha_id: String::new(),
                kind,
                image: None,
                puzzle: None,
                salt: None,
                difficulty_bits: None,
                algorithm: None,
                expires_at_ms: now_ms + CHALLENGE_TTL_MS,
            }),
            CaptchaKind::Image => self.issue_puzzle(sale_id, user_id, now_ms).await,
            CaptchaKind::Pow => {
                self.issue_pow(self.pow_difficulty_bits, sale_id, user_id, now_ms)
                    .await
            }
        }
    }

    /// The accessible alternative to a sale's puzzle, for a shopper who cannot
    /// drag or see it: a proof of work [`ALTERNATIVE_EXTRA_BITS`] harder than a
    /// `pow` sale's (a few seconds in the browser), so asking for it is no
    /// shortcut for a bot. Sales without a CAPTCHA still need none.
    pub async fn issue_alternative(
        &self,
        kind: CaptchaKind,
        sale_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<CaptchaChallenge, StoreError> {
        match kind {
            CaptchaKind::None => self.issue(kind, sale_id, user_id, now_ms).await,
            CaptchaKind::Image | CaptchaKind::Pow => {
                let bits = self.pow_difficulty_bits + ALTERNATIVE_EXTRA_BITS;
                self.issue_pow(bits, sale_id, user_id, now_ms).await
            }
        }
    }

    async fn issue_puzzle(
        &self,
        sale_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<CaptchaChallenge, StoreError> {
        let captcha_id = random_hex(16)?;
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed)?;
        let puzzle =
            tokio::task::spawn_blocking(move || captcha_puzzle::render(u64::from_le_bytes(seed)))
                .await?;
        self.remember(
            &captcha_id,
            format!("slide:{sale_id}:{user_id}:{}", puzzle.gap_x),
        )
        .await?;
        Ok(CaptchaChallenge {
            captcha_id,
            kind: CaptchaKind::Image,
            image: Some(png_data_url(&puzzle.picture)),
            puzzle: Some(SlidePuzzle {
                piece: png_data_url(&puzzle.piece),
                piece_top: puzzle.piece_top,
                piece_width: captcha_puzzle::PIECE_SIZE,
                piece_height: captcha_puzzle::PIECE_SIZE,
                width: captcha_puzzle::WIDTH,
                height: captcha_puzzle::HEIGHT,
            }),
            salt: None,
            difficulty_bits: None,
            algorithm: None,
            expires_at_ms: now_ms + CHALLENGE_TTL_MS,
        })
    }

    async fn issue_pow(
        &self,
        bits: u32,
        sale_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<CaptchaChallenge, StoreError> {
        let captcha_id = random_hex(16)?;
        let salt = random_hex(16)?;
        self.remember(
            &captcha_id,
            format!("pow:{sale_id}:{user_id}:{bits}:{salt}"),
        )
        .await?;
        Ok(CaptchaChallenge {
            captcha_id,
            kind: CaptchaKind::Pow,
            image: None,
            puzzle: None,
            salt: Some(salt),
            difficulty_bits: Some(bits),
            algorithm: Some("sha256".into()),
            expires_at_ms: now_ms + CHALLENGE_TTL_MS,
        })
    }

    /// Keeps what the answer to `captcha_id` must be until the challenge expires.
    async fn remember(&self, captcha_id: &str, expected: String) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let () = redis::cmd("SET")
            .arg(self.keys.captcha(captcha_id))
            .arg(expected)
            .arg("PX")
            .arg(CHALLENGE_TTL_MS)
            .query_async(&mut redis)
            .await?;
        Ok(())
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
        let verdict = match parts[..] {
            ["pow", sale, user, bits, salt]
                if owner_ok(sale, user)
                    && bits
                        .parse()
                        .is_ok_and(|bits| app::pow::verify(salt, bits, answer)) =>
            {
                Verdict::Passed
            }
            ["slide", sale, user, gap_x] if owner_ok(sale, user) => {
                let judged = gap_x
                    .parse()
                    .ok()
                    .and_then(|gap_x| DragPath::parse(answer).map(|path| path.judge(gap_x)));
                match judged {
                    Some(Judgement::Passed) => Verdict::Passed,
                    Some(Judgement::Missed) => Verdict::Missed,
                    Some(Judgement::Scripted) => Verdict::Scripted,
                    Some(Judgement::Malformed) | None => Verdict::Failed,
                }
            }
            _ => Verdict::Failed,
        };
        Ok(verdict)
    }
}

fn png_data_url(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}
