//! The error of the storage layer: what can go wrong when the stores of `sales`,
//! `orders` and `accounts` talk to Postgres and Redis, or prepare what they write.
//!
//! The variants keep outages apart from bad data, because they call for different
//! people: an outage (`Database`, `Redis`) is operations' and passes by itself;
//! `Corrupt` means stored data that this code cannot read, and a developer must
//! look. The HTTP layer answers all of them 503 `unavailable` and logs them once
//! (see `http::error`).

use std::sync::Arc;
use std::time::Duration;

use crate::redis_connection::RedisConnection;
use sqlx::PgPool;

/// Postgres or Redis did not do what was asked, or what they hold is unreadable.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgres failed")]
    Database(#[from] sqlx::Error),
    #[error("redis failed")]
    Redis(#[from] redis::RedisError),
    /// Stored data breaks an invariant the schema or a script should have kept.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A value could not be turned into JSON for storage.
    #[error("cannot encode a value for storage")]
    Encoding(#[from] serde_json::Error),
    /// The operating system gave no random bytes (tokens, ids, salts).
    #[error("no randomness from the operating system")]
    Randomness(#[from] getrandom::Error),
    /// A password could not be hashed.
    #[error("cannot hash a password: {0}")]
    Hashing(argon2::password_hash::Error),
    /// Work on the blocking pool (hashing, CAPTCHA pictures) panicked or was cancelled.
    #[error("a blocking task failed")]
    Task(#[from] tokio::task::JoinError),
    /// The same failure, shared by every request that waited on one cache load.
    #[error(transparent)]
    Shared(Arc<StoreError>),
}

impl StoreError {
    /// Whether this is a dependency being away (temporary), not bad data or a bug.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Database(_) | StoreError::Redis(_) => true,
            StoreError::Shared(inner) => inner.is_outage(),
            _ => false,
        }
    }
}

impl From<Arc<StoreError>> for StoreError {
    fn from(shared: Arc<StoreError>) -> Self {
        StoreError::Shared(shared)
    }
}

/// `error` and its sources, outermost first: `redis failed: connection refused`.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // A transparent wrapper repeats its inner message: say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether Postgres answers a trivial query within `timeout`.
pub(crate) async fn postgres_answers(db: &PgPool, timeout: Duration) -> bool {
    let ping = sqlx::query_scalar::<_, i32>("select 1").fetch_one(db);
    matches!(tokio::time::timeout(timeout, ping).await, Ok(Ok(1)))
}

/// Whether Redis answers `PING` within `timeout`.
pub(crate) async fn redis_answers(mut redis: RedisConnection, timeout: Duration) -> bool {
    let command = redis::cmd("PING");
    let ping = command.query_async::<String>(&mut redis);
    matches!(tokio::time::timeout(timeout, ping).await, Ok(Ok(pong)) if pong == "PONG")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_seen_through_the_cache_is_still_an_outage() {
        let outage = StoreError::Redis(redis::RedisError::from((
            redis::ErrorKind::Io,
            "connection refused",
        )));
        let shared = StoreError::from(Arc::new(outage));
        assert!(shared.is_outage());
        assert!(!StoreError::Corrupt("captcha `x`".into()).is_outage());
        let chain = error_chain(&shared);
        assert!(chain.starts_with("redis failed: "), "{chain}");
        assert!(chain.contains("connection refused"), "{chain}");
    }
}
