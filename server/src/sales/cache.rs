//! The sale cache: sale definitions read through two levels, so that the opening
//! second — thousands of requests for one sale on every instance, caches cold —
//! costs Postgres one query.
//!
//! First this instance's memory (moka, which runs one loader per key at a time:
//! single flight within the instance), then a copy in Redis shared by all
//! instances, filled by the one instance that wins a `SET NX PX` lock and released
//! with a compare-and-delete script (`lua/unlock.lua`). "No such sale" is cached
//! the same way, so a flood of made-up ids does not reach Postgres either.
//!
//! While Postgres (or Redis) is away, the last copy of each sale this instance
//! read is served instead, so the sale page, the status and the ticket keep
//! working (the buy itself needs no SQL); one background load at a time probes
//! for the end of the outage.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::redis_connection::RedisConnection;
use app::api::Sale;
use moka::future::Cache;
use redis::Script;

use super::records::SaleRecords;
use crate::keys::RedisKeys;
use crate::store::StoreError;

/// How long an instance trusts its copy of a sale (or of its absence). Short:
/// an admin's edit shows everywhere within this time.
const CACHE_TTL: Duration = Duration::from_secs(2);

/// How long one instance may hold the lock for loading a sale, and how long the
/// others wait for its copy before querying themselves: long enough for a query
/// on a busy host, short enough that a loader that died holds nobody up for long.
const LOAD_LOCK_TTL: Duration = Duration::from_millis(3_000);

/// How long the last known copy of a sale is kept for an outage.
const LAST_KNOWN_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a request waits for a load before it is served the last known
/// copy: a Postgres that has just gone away is not refused at once (the pool
/// retries connecting for up to its 3 s acquire timeout), and a shopper at the
/// opening second must not wait for that.
const LOAD_PATIENCE: Duration = Duration::from_millis(1_000);

/// Sale definitions, cached in memory and in Redis.
#[derive(Clone)]
pub(crate) struct SaleCache {
    records: SaleRecords,
    redis: RedisConnection,
    keys: RedisKeys,
    local: Cache<i64, Option<Sale>>,
    /// The highest sale id, kept [`CACHE_TTL`] / 2 and read by one request at a
    /// time: a flood of made-up ids above it is refused without a sale query
    /// (read after the shared copy, never before it).
    highest: Cache<(), i64>,
    /// The last copy of each sale read successfully, served during an outage.
    last_known: Cache<i64, Option<Sale>>,
    /// Set when a load failed for an outage, cleared by the next that succeeds.
    outage: Arc<AtomicBool>,
    /// Whether a background load is probing for the end of the outage.
    probing: Arc<AtomicBool>,
    unlock: Arc<Script>,
}

impl SaleCache {
    pub fn new(records: SaleRecords, redis: RedisConnection, keys: RedisKeys) -> Self {
        Self {
            records,
            redis,
            keys,
            local: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            last_known: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(LAST_KNOWN_TTL)
                .build(),
            highest: Cache::builder()
                .max_capacity(1)
                .time_to_live(CACHE_TTL / 2)
                .build(),
            outage: Arc::new(AtomicBool::new(false)),
            probing: Arc::new(AtomicBool::new(false)),
            unlock: Arc::new(Script::new(include_str!("../../lua/unlock.lua"))),
        }
    }

    /// A sale from the caches, loading it on a miss; `None` if there is no such
    /// id. During an outage, the last known copy.
    pub async fn get(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        if let Some(fresh) = self.local.get(&id).await {
            return Ok(fresh);
        }
        if self.outage.load(Ordering::Relaxed) {
            if let Some(stale) = self.last_known.get(&id).await {
                self.probe_in_background(id);
                return Ok(stale);
            }
        }
        let loaded = match tokio::time::timeout(
            LOAD_PATIENCE,
            self.local.try_get_with(id, self.load_and_remember(id)),
        )
        .await
        {
            Ok(loaded) => loaded,
            // Too slow to wait for: as an outage (the load is given up here;
            // the next request, or the probe, tries again).
            Err(_) => Err(Arc::new(StoreError::Database(sqlx::Error::PoolTimedOut))),
        };
        match loaded {
            Ok(sale) => {
                self.outage.store(false, Ordering::Relaxed);
                Ok(sale)
            }
            Err(error) if error.is_outage() => {
                self.outage.store(true, Ordering::Relaxed);
                let stale = match self.last_known.get(&id).await {
                    Some(stale) => Some(stale),
                    None => self.known_copy(id).await,
                };
                match stale {
                    Some(stale) => {
                        tracing::warn!(
                            sale_id = id,
                            error = %crate::store::error_chain(error.as_ref()),
                            "serving the last known copy of a sale"
                        );
                        Ok(stale)
                    }
                    None => Err(error.into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The copy of a sale kept in Redis for outages (written at every load and
    /// change), for an instance that never read the sale itself: one started
    /// while Postgres is down.
    async fn known_copy(&self, id: i64) -> Option<Option<Sale>> {
        let mut redis = self.redis.clone();
        let json: Option<String> = redis::cmd("GET")
            .arg(self.keys.sale_known(id))
            .query_async(&mut redis)
            .await
            .ok()?;
        let sale: Sale = serde_json::from_str(&json?).ok()?;
        self.last_known.insert(id, Some(sale.clone())).await;
        Some(Some(sale))
    }

    /// Loads a sale and keeps the copy for outages.
    async fn load_and_remember(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        let sale = self.load_shared(id).await?;
        self.last_known.insert(id, sale.clone()).await;
        Ok(sale)
    }

    /// One load at a time, off the request, to learn whether the outage is over.
    fn probe_in_background(&self, id: i64) {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            let loaded = cache
                .local
                .try_get_with(id, cache.load_and_remember(id))
                .await;
            if loaded.is_ok() {
                cache.outage.store(false, Ordering::Relaxed);
            }
            cache.probing.store(false, Ordering::Release);
        });
    }

    /// After a sale was created or changed: forgets the cached copies, this
    /// instance's and the shared one (other instances' age out within the TTL),
    /// and keeps the new one for outages.
    pub async fn changed(&self, sale: &Sale) {
        let id = sale.id;
        self.local.invalidate(&id).await;
        self.highest.invalidate(&()).await;
        self.last_known.insert(id, Some(sale.clone())).await;
        let mut redis = self.redis.clone();
        let written: Result<(), StoreError> = async {
            let [cache, known] = self.keys.sale_copies_pipeline(id);
            let mut write = redis::pipe();
            write.cmd("DEL").arg(cache).ignore();
            set_for(
                &mut write,
                known,
                &serde_json::to_string(sale)?,
                LAST_KNOWN_TTL,
            );
            write.query_async::<()>(&mut redis).await?;
            Ok(())
        }
        .await;
        if let Err(error) = written {
            tracing::warn!(
                sale_id = id,
                error = %crate::store::error_chain(&error),
                "cannot drop the shared copy of a sale"
            );
        }
    }

    /// The shared (Redis) level: a hit, or the lock and one query, or the result
    /// of whoever holds the lock.
    async fn load_shared(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        if let Some(shared) = self.shared_copy(id).await? {
            return Ok(shared);
        }
        // After the shared copy, so that an outage starting finds it first.
        let highest = self
            .highest
            .try_get_with((), self.records.highest_id())
            .await?;
        if id > highest {
            // Not written to Redis: a sale just made through another instance
            // is found once this instance's copies age out.
            return Ok(None);
        }
        // One loader for the fleet: whoever takes the lock queries, the others
        // wait while it is held. A lock given up without a copy (the loader's
        // query failed) is taken by the next waiter; one never given up (its
        // holder died) expires after LOAD_LOCK_TTL, and so does the wait.
        let deadline = tokio::time::Instant::now() + LOAD_LOCK_TTL;
        loop {
            if let Some(token) = self.try_lock(id).await? {
                return self.load_locked(id, &token).await;
            }
            loop {
                if tokio::time::Instant::now() >= deadline {
                    // The loader is too slow: ask Postgres ourselves.
                    return self.records.find(id).await;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                let (copy, held) = self.copy_and_lock(id).await?;
                if let Some(shared) = copy {
                    return Ok(shared);
                }
                if !held {
                    break;
                }
            }
        }
    }

    /// The loader's lock on sale `id`: its token if this call took it.
    async fn try_lock(&self, id: i64) -> Result<Option<String>, StoreError> {
        let mut token = [0u8; 16];
        getrandom::fill(&mut token)?;
        let token = hex::encode(token);
        let mut redis = self.redis.clone();
        let locked: Option<String> = redis::cmd("SET")
            .arg(self.keys.sale_load_lock(id))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LOAD_LOCK_TTL.as_millis() as u64)
            .query_async(&mut redis)
            .await?;
        Ok(locked.map(|_| token))
    }

    /// Under the lock: the shared copy looked for again (another instance may
    /// have loaded it and let go of the lock between this one's first look and
    /// its taking the lock), else one query and the copies written for every
    /// instance; the lock given up either way (also when the query failed, so
    /// a waiter takes over).
    async fn load_locked(&self, id: i64, token: &str) -> Result<Option<Sale>, StoreError> {
        let (loaded, queried) = match self.shared_copy(id).await {
            Ok(Some(shared)) => (Ok(shared), false),
            Ok(None) => (self.records.find(id).await, true),
            Err(error) => (Err(error), false),
        };
        let mut redis = self.redis.clone();
        if let (Ok(sale), true) = (&loaded, queried) {
            let json = serde_json::to_string(sale)?;
            let [cache, known] = self.keys.sale_copies_pipeline(id);
            let mut write = redis::pipe();
            set_for(&mut write, cache, &json, CACHE_TTL);
            if sale.is_some() {
                set_for(&mut write, known, &json, LAST_KNOWN_TTL);
            }
            write.query_async::<()>(&mut redis).await?;
        }
        let [lock] = self.keys.unlock_script(id);
        let _released: i64 = self
            .unlock
            .key(&lock)
            .arg(token)
            .invoke_async(&mut redis)
            .await?;
        loaded
    }

    /// The shared copy (as [`Self::shared_copy`]) and whether a loader holds
    /// the lock, in one round trip (both keys carry the sale's hash tag).
    async fn copy_and_lock(&self, id: i64) -> Result<(Option<Option<Sale>>, bool), StoreError> {
        let mut redis = self.redis.clone();
        let (json, lock): (Option<String>, Option<String>) = redis::cmd("MGET")
            .arg(self.keys.sale_cache(id))
            .arg(self.keys.sale_load_lock(id))
            .query_async(&mut redis)
            .await?;
        let copy = json.and_then(|json| serde_json::from_str(&json).ok());
        Ok((copy, lock.is_some()))
    }

    /// The copy in Redis: `Some(None)` is a cached "no such sale".
    async fn shared_copy(&self, id: i64) -> Result<Option<Option<Sale>>, StoreError> {
        let mut redis = self.redis.clone();
        let json: Option<String> = redis::cmd("GET")
            .arg(self.keys.sale_cache(id))
            .query_async(&mut redis)
            .await?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }
}

/// Adds to `pipe` a write of `value` at `key` that expires after `ttl`.
fn set_for(pipe: &mut redis::Pipeline, key: String, value: &str, ttl: Duration) {
    pipe.cmd("SET")
        .arg(key)
        .arg(value)
        .arg("PX")
        .arg(ttl.as_millis() as u64)
        .ignore();
}
