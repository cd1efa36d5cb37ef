//! Buy attempts by outcome, counted for the whole fleet. Each instance adds up
//! its attempts in memory and adds them to the sale's `outcomes` hash in Redis
//! every [`FLUSH_EVERY`], so the buy path gains no round trip and every
//! instance's dashboard shows the same totals. (`/metrics` stays per instance:
//! Prometheus sums the instances itself.) An instance that crashes loses at
//! most its last unflushed half second of counts; the books never depend on them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::redis_connection::RedisConnection;

use crate::keys::RedisKeys;
use crate::shutdown::Shutdown;
use crate::store::{error_chain, StoreError};

/// How often an instance adds its counts to Redis'.
pub(crate) const FLUSH_EVERY: Duration = Duration::from_millis(500);

type Pending = HashMap<(i64, &'static str), i64>;

/// This instance's attempts not yet in Redis, and the way to Redis' totals.
#[derive(Clone)]
pub(crate) struct OutcomeTally {
    redis: RedisConnection,
    keys: RedisKeys,
    pending: Arc<Mutex<Pending>>,
    /// Held while a flush moves counts from `pending` to Redis, so a reader never
    /// sees them in neither place.
    flushing: Arc<tokio::sync::Mutex<()>>,
}

impl OutcomeTally {
    pub fn new(redis: RedisConnection, keys: RedisKeys) -> Self {
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

    /// Adds this instance's counts to Redis' (one pipeline per sale, since each
    /// sale's hash lives in its own cluster slot); counts whose pipeline failed
    /// stay here for the next flush.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let _flushing = self.flushing.lock().await;
        let batch = std::mem::take(&mut *self.lock_pending());
        let mut by_sale: BTreeMap<i64, Vec<(&'static str, i64)>> = BTreeMap::new();
        for ((sale_id, outcome), count) in batch {
            by_sale.entry(sale_id).or_default().push((outcome, count));
        }
        let flushes = by_sale.into_iter().map(|(sale_id, counts)| async move {
            let [outcomes] = self.keys.tally_pipeline(sale_id);
            let mut pipe = redis::pipe();
            for (outcome, count) in &counts {
                pipe.cmd("HINCRBY")
                    .arg(&outcomes)
                    .arg(*outcome)
                    .arg(*count)
                    .ignore();
            }
            let mut redis = self.redis.clone();
            let flushed = pipe.query_async::<()>(&mut redis).await;
            (sale_id, counts, flushed)
        });
        let mut failure = None;
        for (sale_id, counts, flushed) in futures_util::future::join_all(flushes).await {
            if let Err(error) = flushed {
                let mut pending = self.lock_pending();
                for (outcome, count) in counts {
                    *pending.entry((sale_id, outcome)).or_default() += count;
                }
                failure = Some(error);
            }
        }
        failure.map_or(Ok(()), |error| Err(error.into()))
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
