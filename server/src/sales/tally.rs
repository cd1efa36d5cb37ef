//! Buy attempts by outcome, counted for the whole fleet. Each instance adds up
//! its attempts in memory and adds them to the sale's `outcomes` hash in Redis
//! every [`FLUSH_EVERY`], so the buy path gains no round trip and every
//! instance's dashboard shows the same totals. (`/metrics` stays per instance:
//! Prometheus sums the instances itself.) An instance that crashes loses at
//! most its last unflushed half second of counts; the books never depend on them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::keys::RedisKeys;
use crate::shutdown::Shutdown;
use crate::store::{error_chain, StoreError};

/// How often an instance adds its counts to Redis'.
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

type Pending = HashMap<(i64, &'static str), i64>;

/// This instance's attempts not yet in Redis, and the way to Redis' totals.
#[derive(Clone)]
pub struct OutcomeTally {
    redis: ConnectionManager,
    keys: RedisKeys,
    pending: Arc<Mutex<Pending>>,
    /// Held while a flush moves counts from `pending` to Redis, so a reader never
    /// sees them in neither place.
    flushing: Arc<tokio::sync::Mutex<()>>,
}

impl OutcomeTally {
    pub fn new(redis: ConnectionManager, keys: RedisKeys) -> Self {
        Self {
            redis,
            keys,
            pending: Arc::default(),
            flushing: Arc::default(),
        }
    }

    /// Counts one attempt on `sale_id` that ended in `outcome` (in memory only).
    pub fn count(&self, sale_id: i64, outcome: &'static str) {
        *self.lock_pending().entry((sale_id, outcome)).or_default() += 1;
    }

    /// Adds this instance's counts to Redis' (one pipeline for all sales); on
    /// failure they stay here for the next flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _flushing = self.flushing.lock().await;
        let batch = std::mem::take(&mut *self.lock_pending());
        if batch.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for ((sale_id, outcome), count) in &batch {
            pipe.cmd("HINCRBY")
                .arg(self.keys.outcomes(*sale_id))
                .arg(*outcome)
                .arg(*count)
                .ignore();
        }
        let mut redis = self.redis.clone();
        if let Err(error) = pipe.query_async::<()>(&mut redis).await {
            let mut pending = self.lock_pending();
            for (key, count) in batch {
                *pending.entry(key).or_default() += count;
            }
            return Err(error.into());
        }
        Ok(())
    }

    /// Every instance's attempts on `sale_id` by outcome: Redis' totals and what
    /// this instance has not flushed yet.
    pub async fn counts(&self, sale_id: i64) -> Result<BTreeMap<String, i64>, StoreError> {
        let _flushing = self.flushing.lock().await;
        let mut redis = self.redis.clone();
        let mut counts: BTreeMap<String, i64> = redis::cmd("HGETALL")
            .arg(self.keys.outcomes(sale_id))
            .query_async(&mut redis)
            .await?;
        for ((sale, outcome), count) in self.lock_pending().iter() {
            if *sale == sale_id {
                *counts.entry((*outcome).to_owned()).or_default() += count;
            }
        }
        Ok(counts)
    }

    /// Flushes every [`FLUSH_EVERY`] until `shutdown`, and once more then.
    pub async fn run(self, mut shutdown: Shutdown) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(FLUSH_EVERY) => {}
                () = shutdown.requested() => break,
            }
            if let Err(error) = self.flush().await {
                tracing::warn!(error = %error_chain(&error), "cannot add the attempt counts to Redis");
            }
        }
        if let Err(error) = self.flush().await {
            tracing::warn!(error = %error_chain(&error), "attempt counts lost at shutdown");
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
