//! The sale cache: sale definitions read through two levels, so that the opening
//! second — thousands of requests for one sale on every instance, caches cold —
//! costs Postgres one query.
//!
//! First this instance's memory (moka, which runs one loader per key at a time:
//! single flight within the instance), then a copy in Redis shared by all
//! instances, filled by the one instance that wins a `SET NX PX` lock and released
//! with a compare-and-delete script (`lua/unlock.lua`). "No such sale" is cached
//! the same way, so a flood of made-up ids does not reach Postgres either.

use std::sync::Arc;
use std::time::Duration;

use app::api::Sale;
use moka::future::Cache;
use redis::aio::ConnectionManager;
use redis::Script;

use super::records::SaleRecords;
use crate::keys::RedisKeys;
use crate::store::StoreError;

/// How long an instance trusts its copy of a sale (or of its absence). Short:
/// an admin's edit shows everywhere within this time.
const CACHE_TTL: Duration = Duration::from_secs(2);

/// How long a loader waits for another instance's load before querying itself.
const PEER_LOAD_WAIT: Duration = Duration::from_millis(1_000);

/// Sale definitions, cached in memory and in Redis.
#[derive(Clone)]
pub struct SaleCache {
    records: SaleRecords,
    redis: ConnectionManager,
    keys: RedisKeys,
    local: Cache<i64, Option<Sale>>,
    unlock: Arc<Script>,
}

impl SaleCache {
    pub fn new(records: SaleRecords, redis: ConnectionManager, keys: RedisKeys) -> Self {
        Self {
            records,
            redis,
            keys,
            local: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            unlock: Arc::new(Script::new(include_str!("../../lua/unlock.lua"))),
        }
    }

    /// A sale from the caches, loading it on a miss; `None` if there is no such id.
    pub async fn get(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        Ok(self.local.try_get_with(id, self.load_shared(id)).await?)
    }

    /// Forgets the cached copies of a sale (after an edit): this instance's and
    /// the shared one; other instances' copies age out within the TTL.
    pub async fn forget(&self, id: i64) {
        self.local.invalidate(&id).await;
        let mut redis = self.redis.clone();
        let deleted: Result<i64, _> = redis::cmd("DEL")
            .arg(self.keys.sale_cache(id))
            .query_async(&mut redis)
            .await;
        if let Err(error) = deleted {
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
        let mut token = [0u8; 16];
        getrandom::fill(&mut token)?;
        let token = hex::encode(token);
        let lock = self.keys.sale_load_lock(id);
        let mut redis = self.redis.clone();
        let locked: Option<String> = redis::cmd("SET")
            .arg(&lock)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(PEER_LOAD_WAIT.as_millis() as u64)
            .query_async(&mut redis)
            .await?;
        if locked.is_some() {
            let loaded = self.records.find(id).await;
            if let Ok(sale) = &loaded {
                let () = redis::cmd("SET")
                    .arg(self.keys.sale_cache(id))
                    .arg(serde_json::to_string(sale)?)
                    .arg("PX")
                    .arg(CACHE_TTL.as_millis() as u64)
                    .query_async(&mut redis)
                    .await?;
            }
            let _released: i64 = self
                .unlock
                .key(&lock)
                .arg(&token)
                .invoke_async(&mut redis)
                .await?;
            return loaded;
        }
        let deadline = tokio::time::Instant::now() + PEER_LOAD_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if let Some(shared) = self.shared_copy(id).await? {
                return Ok(shared);
            }
        }
        // The other loader is too slow or died: ask Postgres ourselves.
        self.records.find(id).await
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
