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
/// Each wrong answer of an account in a sale doubles its next proofs of work,
/// up to this many doublings (64 times the hashes).
pub(crate) const MOST_EXTRA_BITS_FOR_FAILURES: u32 = 6;
/// Refused answers after which an account is given proofs of work instead of
/// puzzles in that sale: a blind guess passes a puzzle a few times in a hundred,
/// so guessing on is made to cost work.
pub(crate) const PUZZLE_FAILURES_ALLOWED: u32 = 3;
/// The soonest a puzzle's answer may come after the puzzle was issued: a person
/// has to see it before dragging (and a drag that claims to have taken longer
/// must have had that time).
pub(crate) const SOONEST_PUZZLE_ANSWER_MS: i64 = 1_000;
/// How long an account's challenge and failure counts of a sale are kept after
/// the last one.
const COUNTS_TTL_MS: i64 = 24 * 3600 * 1000;

/// What an account has done with a sale's challenges so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// Challenges issued to it.
    pub issued: u32,
    /// Answers refused (wrong, missed, scripted, too soon).
    pub failures: u32,
}

impl Standing {
    /// Extra leading zero bits its next proof of work needs.
    fn extra_bits(self) -> u32 {
        self.failures.min(MOST_EXTRA_BITS_FOR_FAILURES)
    }
}

/// Issues and checks challenges.
#[derive(Clone)]
pub(crate) struct Captchas {
    redis: RedisConnection,
    keys: RedisKeys,
    /// Leading zero bits a `pow` answer needs (~2^bits hashes to solve).
    pow_difficulty_bits: u32,
    /// Challenges one account may be given in one sale.
    per_account: u32,
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
    /// A puzzle answered sooner after it was issued than a person can, or than
    /// the drag it describes took.
    TooSoon,
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
            Verdict::TooSoon => {
                "The answer came sooner than a hand can move the piece. Try a new puzzle, \
                 or let your device solve a check instead."
            }
        }
    }
}

/// Adds to `pipe` one more at the counter `key`, kept [`COUNTS_TTL_MS`] after
/// its last count.
fn count(pipe: &mut redis::Pipeline, key: &str) {
    pipe.cmd("INCR")
        .arg(key)
        .ignore()
        .cmd("PEXPIRE")
        .arg(key)
        .arg(COUNTS_TTL_MS)
        .ignore();
}

pub(crate) fn random_hex(bytes: usize) -> Result<String, StoreError> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer)?;
    Ok(hex::encode(buffer))
}

impl Captchas {
    pub fn new(
        redis: RedisConnection,
        keys: RedisKeys,
        pow_difficulty_bits: u32,
        per_account: u32,
    ) -> Self {
        Self {
            redis,
            keys,
            pow_difficulty_bits,
            per_account,
        }
    }

    /// Challenges one account may be given in one sale.
    pub fn per_account(&self) -> u32 {
        self.per_account
    }

    /// How many challenges of `sale_id` `user_id` was given and how many of
    /// its answers were refused (one round trip, read before any is issued).
    pub async fn standing(&self, sale_id: i64, user_id: i64) -> Result<Standing, StoreError> {
        let mut redis = self.redis.clone();
        let (issued, failures): (Option<u32>, Option<u32>) = redis::cmd("MGET")
            .arg(self.keys.challenges_issued(sale_id, user_id))
            .arg(self.keys.challenges_failed(sale_id, user_id))
            .query_async(&mut redis)
            .await?;
        Ok(Standing {
            issued: issued.unwrap_or(0),
            failures: failures.unwrap_or(0),
        })
    }

    /// A new challenge of `kind` for `user_id` in `sale_id`, whose proof of
    /// work (if any) is harder for each of the account's refused answers.
    pub async fn issue(
        &self,
        kind: CaptchaKind,
        sale_id: i64,
        user_id: i64,
        standing: Standing,
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
            CaptchaKind::Image if standing.failures >= PUZZLE_FAILURES_ALLOWED => {
                let bits =
                    self.pow_difficulty_bits + ALTERNATIVE_EXTRA_BITS + standing.extra_bits();
                self.issue_pow(bits, sale_id, user_id, now_ms).await
            }
            CaptchaKind::Image => self.issue_puzzle(sale_id, user_id, now_ms).await,
            CaptchaKind::Pow => {
                let bits = self.pow_difficulty_bits + standing.extra_bits();
                self.issue_pow(bits, sale_id, user_id, now_ms).await
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
        standing: Standing,
        now_ms: i64,
    ) -> Result<CaptchaChallenge, StoreError> {
        match kind {
            CaptchaKind::None => self.issue(kind, sale_id, user_id, standing, now_ms).await,
            CaptchaKind::Image | CaptchaKind::Pow => {
                let bits =
                    self.pow_difficulty_bits + ALTERNATIVE_EXTRA_BITS + standing.extra_bits();
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
            (sale_id, user_id),
            format!("slide:{sale_id}:{user_id}:{now_ms}:{}", puzzle.gap_x),
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
            (sale_id, user_id),
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

    /// Keeps what the answer to `captcha_id` must be until the challenge
    /// expires, and counts it to the account. Sent at once, but not in one
    /// pipeline: the answer's key has no tag and the count has the sale's, so
    /// on a cluster they are in different slots (a pipeline must keep to one).
    async fn remember(
        &self,
        captcha_id: &str,
        (sale_id, user_id): (i64, i64),
        expected: String,
    ) -> Result<(), StoreError> {
        let (mut answers, mut counts) = (self.redis.clone(), self.redis.clone());
        let mut answer = redis::cmd("SET");
        answer
            .arg(self.keys.captcha(captcha_id))
            .arg(expected)
            .arg("PX")
            .arg(CHALLENGE_TTL_MS);
        let mut counted = redis::pipe();
        count(&mut counted, &self.keys.challenges_issued(sale_id, user_id));
        futures_util::try_join!(
            answer.query_async::<()>(&mut answers),
            counted.query_async::<()>(&mut counts),
        )?;
        Ok(())
    }

    /// Counts a refused answer to the account: its next proofs of work are harder.
    async fn count_failure(&self, sale_id: i64, user_id: i64) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let mut write = redis::pipe();
        count(&mut write, &self.keys.challenges_failed(sale_id, user_id));
        write.query_async::<()>(&mut redis).await?;
        Ok(())
    }

    /// Checks (and uses up) the answer to a challenge of a sale asking for
    /// `kind`, given at `now_ms`; a refused answer is counted to the account.
    pub async fn check(
        &self,
        kind: CaptchaKind,
        (sale_id, user_id): (i64, i64),
        captcha_id: &str,
        answer: &str,
        now_ms: i64,
    ) -> Result<Verdict, StoreError> {
        if kind == CaptchaKind::None {
            return Ok(Verdict::Passed);
        }
        let verdict = self
            .judge((sale_id, user_id), captcha_id, answer, now_ms)
            .await?;
        if verdict != Verdict::Passed {
            self.count_failure(sale_id, user_id).await?;
        }
        Ok(verdict)
    }

    async fn judge(
        &self,
        (sale_id, user_id): (i64, i64),
        captcha_id: &str,
        answer: &str,
        now_ms: i64,
    ) -> Result<Verdict, StoreError> {
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
        // A puzzle answered before the drag it describes could have ended, or
        // before a person could have seen it, is a script's.
        let in_time = |issued_ms: &str, path: &DragPath| {
            issued_ms.parse::<i64>().is_ok_and(|issued_ms| {
                let waited = now_ms - issued_ms;
                waited >= SOONEST_PUZZLE_ANSWER_MS && waited >= i64::from(path.duration_ms())
            })
        };
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
            ["slide", sale, user, issued_ms, gap_x] if owner_ok(sale, user) => {
                let judged = gap_x.parse().ok().and_then(|gap_x| {
                    DragPath::parse(answer)
                        .map(|path| (path.judge(gap_x), in_time(issued_ms, &path)))
                });
                match judged {
                    Some((Judgement::Passed, true)) => Verdict::Passed,
                    Some((Judgement::Passed, false)) => Verdict::TooSoon,
                    Some((Judgement::Missed, _)) => Verdict::Missed,
                    Some((Judgement::Scripted, _)) => Verdict::Scripted,
                    Some((Judgement::Malformed, _)) | None => Verdict::Failed,
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
