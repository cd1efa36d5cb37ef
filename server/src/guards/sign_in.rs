//! Who may try to register or log in right now, decided before any password is
//! hashed (argon2 is the most expensive thing a request can ask of us).
//!
//! - **Registering** is charged to the client's address bucket (an IPv6 /64
//!   counts as one address: [`address_bucket`]): accounts cost a script time.
//! - **Logging in** is charged to the address's bucket too, then each username
//!   gets a few free attempts before a doubling back-off (1 s, 2 s, 4 s … up to
//!   15 minutes, `lua/sign_in.lua`), reset by a successful log-in; and each
//!   address a few more failures across all names before the same back-off,
//!   so guessing one password or spraying one over many names slows down
//!   geometrically. Refusals are 429 `rate_limited` with `Retry-After`.
//!
//! The records live in Redis, so every instance counts together.

use std::net::IpAddr;
use std::sync::Arc;

use redis::Script;

use super::rate_limit::{address_bucket, retry_after_secs, Rate, RateLimiter};
use super::registration_work::RegistrationWork;
use crate::keys::RedisKeys;
use crate::redis_connection::RedisConnection;
use crate::store::StoreError;

/// The limits on registering and logging in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignInLimits {
    /// New accounts from one address.
    pub register_per_address: Rate,
    /// Log-in requests from one address, whatever their outcome.
    pub login_per_address: Rate,
    /// Attempts at one username before the back-off starts.
    pub free_attempts_per_username: u32,
    /// Failures from one address (over every name) before the back-off starts.
    pub free_failures_per_address: u32,
    /// The longest back-off.
    pub longest_wait: std::time::Duration,
    /// Accounts made in a minute, fleet-wide, below which registering asks no
    /// proof of work (`guards::registration_work`).
    pub quiet_registrations_per_minute: u64,
}

impl Default for SignInLimits {
    fn default() -> Self {
        Self {
            // Five at once (a family behind one router), then one a minute.
            register_per_address: Rate {
                per_second: 1.0 / 60.0,
                burst: 5,
            },
            login_per_address: Rate {
                per_second: 1.0,
                burst: 30,
            },
            free_attempts_per_username: 5,
            free_failures_per_address: 20,
            longest_wait: std::time::Duration::from_secs(15 * 60),
            quiet_registrations_per_minute: 30,
        }
    }
}

/// How long a record of attempts outlives its last count.
const RECORD_LIFETIME_MS: u64 = 60 * 60 * 1000;

/// Checks registrations and log-ins against [`SignInLimits`].
#[derive(Clone)]
pub(crate) struct SignInGuard {
    redis: RedisConnection,
    keys: RedisKeys,
    limits: SignInLimits,
    buckets: RateLimiter,
    back_off: Arc<Script>,
    work: RegistrationWork,
}

/// What a check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Go,
    /// Refused: whole seconds to wait.
    Wait(u64),
}

impl SignInGuard {
    pub fn new(
        redis: RedisConnection,
        keys: RedisKeys,
        limits: SignInLimits,
        buckets: RateLimiter,
        work: RegistrationWork,
    ) -> Self {
        Self {
            redis,
            keys,
            limits,
            buckets,
            back_off: Arc::new(Script::new(include_str!("../../lua/sign_in.lua"))),
            work,
        }
    }

    /// The proof of work registering asks for while registration is busy.
    pub fn work(&self) -> &RegistrationWork {
        &self.work
    }

    /// Whether `ip` may create an account now (and counts it if so).
    pub async fn may_register(&self, ip: IpAddr) -> Result<Verdict, StoreError> {
        let bucket = self.keys.sign_in(&format!("reg:{}", address_bucket(ip)));
        self.charge(&bucket, self.limits.register_per_address).await
    }

    /// Whether `ip` may try `username` now (and counts the attempt if so): the
    /// address's request rate, the address's failures, then the name's attempts.
    pub async fn may_log_in(&self, username: &str, ip: IpAddr) -> Result<Verdict, StoreError> {
        let address = address_bucket(ip);
        let rate = self.keys.sign_in(&format!("login:{address}"));
        if let Verdict::Wait(secs) = self.charge(&rate, self.limits.login_per_address).await? {
            return Ok(Verdict::Wait(secs));
        }
        let failures = self.address_failures(&address);
        let verdict = self
            .back_off(&failures, "check", self.limits.free_failures_per_address)
            .await?;
        if verdict != Verdict::Go {
            return Ok(verdict);
        }
        let attempts = self.username_attempts(username);
        self.back_off(&attempts, "attempt", self.limits.free_attempts_per_username)
            .await
    }

    /// A wrong password (or an unknown name) from `ip`.
    pub async fn failed(&self, ip: IpAddr) -> Result<(), StoreError> {
        let failures = self.address_failures(&address_bucket(ip));
        self.back_off(&failures, "fail", self.limits.free_failures_per_address)
            .await
            .map(|_| ())
    }

    /// `username` logged in: its attempts start again from zero.
    pub async fn succeeded(&self, username: &str) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let _: i64 = redis::cmd("DEL")
            .arg(self.username_attempts(username))
            .query_async(&mut redis)
            .await?;
        Ok(())
    }

    fn address_failures(&self, address: &str) -> String {
        self.keys.sign_in(&format!("fail:{address}"))
    }

    /// Names are compared as typed, less surrounding spaces and case, so
    /// `Alice ` and `alice` share their attempts.
    fn username_attempts(&self, username: &str) -> String {
        self.keys
            .sign_in(&format!("user:{}", username.trim().to_lowercase()))
    }

    async fn charge(&self, bucket: &str, rate: Rate) -> Result<Verdict, StoreError> {
        Ok(match self.buckets.charge_one(bucket, rate).await? {
            None => Verdict::Go,
            Some(secs) => Verdict::Wait(secs),
        })
    }

    async fn back_off(&self, record: &str, mode: &str, free: u32) -> Result<Verdict, StoreError> {
        let mut redis = self.redis.clone();
        let wait_ms: u64 = self
            .back_off
            .key(record)
            .arg(mode)
            .arg(free)
            .arg(self.limits.longest_wait.as_millis() as u64)
            .arg(RECORD_LIFETIME_MS)
            .invoke_async(&mut redis)
            .await?;
        Ok(if wait_ms == 0 {
            Verdict::Go
        } else {
            Verdict::Wait(retry_after_secs(wait_ms * 1000))
        })
    }
}
