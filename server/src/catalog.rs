//! Sales: their definition lives in Postgres, the stock left in Redis under the
//! sale's hash-tagged key. This module reads and creates them and implements the
//! `app::ssr::SaleCatalog` port that the pages use during SSR.

use app::api::{CaptchaKind, Sale, SaleDraft, SaleListing, SalePatch, SaleStatus};
use app::sale_state::sale_state;
use app::ssr::{PortError, SaleCatalog};
use chrono::{DateTime, Utc};
use moka::future::Cache;
use redis::aio::ConnectionManager;
use redis::Script;
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::keys::RedisKeys;

use crate::now_ms;
use crate::stock::SaleStock;

/// How long this instance trusts its copy of a sale (or of its absence). Short:
/// an admin's edit shows everywhere within this time.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// Postgres or Redis did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("postgres: {0}")]
    Database(#[from] sqlx::Error),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A row breaks an invariant the schema should have kept.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

/// A sale to create. Values are trusted here; the admin API validates them first.
#[derive(Clone, Debug)]
pub struct NewSale {
    pub title: String,
    pub description: String,
    pub image_url: String,
    pub price_cents: i64,
    pub list_price_cents: i64,
    pub stock: i32,
    pub per_user_limit: i32,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub payment_window_secs: i32,
    pub captcha: CaptchaKind,
    pub min_account_age_days: i32,
}

impl NewSale {
    /// Checks an admin's draft: every rule a shopper or the reserve relies on.
    pub fn from_draft(draft: SaleDraft) -> Result<Self, String> {
        let title = draft.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 200 {
            return Err("title: 1 to 200 characters".into());
        }
        if draft.description.chars().count() > 10_000 {
            return Err("description: at most 10000 characters".into());
        }
        let image_url = draft.image_url.trim().to_owned();
        if !(image_url.is_empty()
            || image_url.starts_with("https://")
            || image_url.starts_with("http://")
            || image_url.starts_with('/'))
        {
            return Err("image_url: an http(s) URL or a path starting with /".into());
        }
        if draft.price_cents < 0 || draft.list_price_cents < 0 {
            return Err("prices cannot be negative".into());
        }
        if draft.stock <= 0 {
            return Err("stock: at least 1".into());
        }
        if draft.per_user_limit < 1 {
            return Err("per_user_limit: at least 1".into());
        }
        if draft.ends_at_ms <= draft.starts_at_ms {
            return Err("ends_at_ms must be after starts_at_ms".into());
        }
        if DateTime::from_timestamp_millis(draft.starts_at_ms).is_none()
            || DateTime::from_timestamp_millis(draft.ends_at_ms).is_none()
        {
            return Err("times are out of range".into());
        }
        if !(1..=7 * 24 * 3600).contains(&draft.payment_window_secs) {
            return Err("payment_window_secs: 1 second to 7 days".into());
        }
        if draft.min_account_age_days < 0 {
            return Err("min_account_age_days cannot be negative".into());
        }
        Ok(NewSale {
            title,
            description: draft.description,
            image_url,
            price_cents: draft.price_cents,
            list_price_cents: draft.list_price_cents,
            stock: draft.stock,
            per_user_limit: draft.per_user_limit,
            starts_at_ms: draft.starts_at_ms,
            ends_at_ms: draft.ends_at_ms,
            payment_window_secs: draft.payment_window_secs,
            captcha: draft.captcha,
            min_account_age_days: draft.min_account_age_days,
        })
    }
}

/// Editing a sale failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("no such sale")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error("stock, times and limit cannot change once the sale has started")]
    AlreadyStarted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A `sales` row as Postgres returns it.
struct SaleRow {
    id: i64,
    title: String,
    description: String,
    image_url: String,
    price_cents: i64,
    list_price_cents: i64,
    stock: i32,
    per_user_limit: i32,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    payment_window_secs: i32,
    captcha: String,
    min_account_age_days: i32,
    paused: bool,
}

impl TryFrom<SaleRow> for Sale {
    type Error = StoreError;

    fn try_from(row: SaleRow) -> Result<Self, Self::Error> {
        let captcha = CaptchaKind::parse(&row.captcha).ok_or_else(|| {
            StoreError::Corrupt(format!("sale {} has captcha `{}`", row.id, row.captcha))
        })?;
        Ok(Sale {
            id: row.id,
            title: row.title,
            description: row.description,
            image_url: row.image_url,
            price_cents: row.price_cents,
            list_price_cents: row.list_price_cents,
            stock: row.stock,
            per_user_limit: row.per_user_limit,
            starts_at_ms: row.starts_at.timestamp_millis(),
            ends_at_ms: row.ends_at.timestamp_millis(),
            payment_window_secs: row.payment_window_secs,
            captcha,
            min_account_age_days: row.min_account_age_days,
            paused: row.paused,
        })
    }
}

fn instant(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("{ms} ms is out of range")))
}

/// How long a loader waits for another instance's load before querying itself.
const PEER_LOAD_WAIT: Duration = Duration::from_millis(1_000);

/// Access to sales for the API routes and the pages.
///
/// Sale definitions are read through two caches, so that the opening second —
/// thousands of requests for one sale on every instance, caches cold — costs
/// Postgres one query: this instance's memory (moka, which runs one loader per
/// key at a time: single flight within the instance), then a copy in Redis shared
/// by all instances, filled by the one instance that wins a `SET NX PX` lock and
/// released with a compare-and-delete script. "No such sale" is cached the same
/// way, so a flood of made-up ids does not reach Postgres either.
#[derive(Clone)]
pub struct Catalog {
    db: PgPool,
    redis: ConnectionManager,
    keys: RedisKeys,
    stock: SaleStock,
    cache: Cache<i64, Option<Sale>>,
    unlock: Arc<Script>,
    /// Sale definitions read from Postgres, for tests and metrics.
    db_loads: Arc<AtomicU64>,
}

impl Catalog {
    pub fn new(db: PgPool, redis: ConnectionManager, stock: SaleStock) -> Self {
        Self {
            db,
            redis,
            keys: stock.keys().clone(),
            stock,
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(CACHE_TTL)
                .build(),
            unlock: Arc::new(Script::new(include_str!("../lua/unlock.lua"))),
            db_loads: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many times a sale definition was read from Postgres.
    pub fn db_loads(&self) -> u64 {
        self.db_loads.load(Ordering::Relaxed)
    }

    /// A sale from the caches, loading it on a miss.
    pub async fn cached_sale(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        self.cache
            .try_get_with(id, self.load_shared(id))
            .await
            .map_err(|error| StoreError::Corrupt(format!("loading sale {id}: {error}")))
    }

    /// The shared (Redis) level: a hit, or the lock and one query, or the result
    /// of whoever holds the lock.
    async fn load_shared(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        if let Some(shared) = self.shared_copy(id).await? {
            return Ok(shared);
        }
        let mut token = [0u8; 16];
        getrandom::fill(&mut token)
            .map_err(|error| StoreError::Corrupt(format!("no randomness: {error}")))?;
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
            let loaded = self.sale(id).await;
            if let Ok(sale) = &loaded {
                let json = serde_json::to_string(sale)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                let () = redis::cmd("SET")
                    .arg(self.keys.sale_cache(id))
                    .arg(json)
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
        self.sale(id).await
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

    /// Forgets the cached copies of a sale (after an edit): this instance's and
    /// the shared one; other instances' copies age out within the TTL.
    pub async fn forget(&self, id: i64) {
        self.cache.invalidate(&id).await;
        let mut redis = self.redis.clone();
        let deleted: Result<i64, _> = redis::cmd("DEL")
            .arg(self.keys.sale_cache(id))
            .query_async(&mut redis)
            .await;
        if let Err(error) = deleted {
            tracing::warn!(
                sale_id = id,
                "cannot drop the shared copy of a sale: {error}"
            );
        }
    }

    /// Scheduled, live and recently ended (last 7 days) sales, soonest first, each
    /// with its state and stock left (one Redis round trip for all of them).
    pub async fn listings(&self) -> Result<Vec<SaleListing>, StoreError> {
        let rows = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused
               from sales
               where ends_at > now() - interval '7 days'
               order by starts_at, id
               limit 200"#
        )
        .fetch_all(&self.db)
        .await?;
        let sales = rows
            .into_iter()
            .map(Sale::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let stock_left = self.stock_left_of(&sales).await?;
        let now = now_ms();
        Ok(sales
            .into_iter()
            .zip(stock_left)
            .map(|(sale, stock_left)| SaleListing {
                state: sale_state(&sale, now, stock_left),
                stock_left,
                sale,
            })
            .collect())
    }

    /// One sale straight from Postgres, `None` if there is no such id.
    pub async fn sale(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        self.db_loads.fetch_add(1, Ordering::Relaxed);
        let row = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused
               from sales where id = $1"#,
            id
        )
        .fetch_optional(&self.db)
        .await?;
        row.map(Sale::try_from).transpose()
    }

    /// The live status of a sale on this server's clock, `None` if there is no such id.
    pub async fn status(&self, id: i64) -> Result<Option<SaleStatus>, StoreError> {
        let Some(sale) = self.cached_sale(id).await? else {
            return Ok(None);
        };
        let stock_left = self.stock_left_of(std::slice::from_ref(&sale)).await?[0];
        let now = now_ms();
        Ok(Some(SaleStatus {
            state: sale_state(&sale, now, stock_left),
            server_time_ms: now,
            starts_at_ms: sale.starts_at_ms,
            ends_at_ms: sale.ends_at_ms,
            stock_left,
        }))
    }

    /// Stock left per sale, from Redis. A sale whose counter is missing has sold
    /// nothing yet (nothing can be sold without the counter), so its stock is whole.
    async fn stock_left_of(&self, sales: &[Sale]) -> Result<Vec<i64>, StoreError> {
        let ids: Vec<i64> = sales.iter().map(|sale| sale.id).collect();
        let counters = self.stock.stock_left_of(&ids).await?;
        Ok(sales
            .iter()
            .zip(counters)
            .map(|(sale, left)| left.unwrap_or(i64::from(sale.stock)))
            .collect())
    }

    /// Creates a sale and loads its stock into Redis before anyone can buy.
    pub async fn create(&self, new: &NewSale) -> Result<Sale, StoreError> {
        let row = sqlx::query_as!(
            SaleRow,
            r#"insert into sales (title, description, image_url, price_cents, list_price_cents, stock,
                                  per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                                  min_account_age_days)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               returning id, title, description, image_url, price_cents, list_price_cents, stock,
                         per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                         min_account_age_days, paused"#,
            new.title,
            new.description,
            new.image_url,
            new.price_cents,
            new.list_price_cents,
            new.stock,
            new.per_user_limit,
            instant(new.starts_at_ms)?,
            instant(new.ends_at_ms)?,
            new.payment_window_secs,
            new.captcha.as_str(),
            new.min_account_age_days,
        )
        .fetch_one(&self.db)
        .await?;
        let sale = Sale::try_from(row)?;
        // A fresh id: whatever an older key said belongs to a database that is gone.
        self.stock.load(&sale).await?;
        self.forget(sale.id).await;
        Ok(sale)
    }

    /// Every sale, newest first (the admin's list).
    pub async fn all(&self) -> Result<Vec<Sale>, StoreError> {
        let rows = sqlx::query_as!(
            SaleRow,
            r#"select id, title, description, image_url, price_cents, list_price_cents, stock,
                      per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                      min_account_age_days, paused
               from sales order by starts_at desc, id desc limit 500"#
        )
        .fetch_all(&self.db)
        .await?;
        rows.into_iter().map(Sale::try_from).collect()
    }

    /// Applies an admin's edit. Stock, times and the limit change only before the
    /// start (the reserve relies on them); the rest any time.
    pub async fn edit(&self, id: i64, patch: SalePatch, now_ms: i64) -> Result<Sale, EditError> {
        let current = self.sale(id).await?.ok_or(EditError::NotFound)?;
        let touches_rules = patch.stock.is_some()
            || patch.starts_at_ms.is_some()
            || patch.ends_at_ms.is_some()
            || patch.per_user_limit.is_some();
        let started = now_ms >= current.starts_at_ms;
        if touches_rules && started {
            return Err(EditError::AlreadyStarted);
        }
        let draft = SaleDraft {
            title: patch.title.unwrap_or(current.title),
            description: patch.description.unwrap_or(current.description),
            image_url: patch.image_url.unwrap_or(current.image_url),
            price_cents: patch.price_cents.unwrap_or(current.price_cents),
            list_price_cents: patch.list_price_cents.unwrap_or(current.list_price_cents),
            stock: patch.stock.unwrap_or(current.stock),
            per_user_limit: patch.per_user_limit.unwrap_or(current.per_user_limit),
            starts_at_ms: patch.starts_at_ms.unwrap_or(current.starts_at_ms),
            ends_at_ms: patch.ends_at_ms.unwrap_or(current.ends_at_ms),
            payment_window_secs: patch
                .payment_window_secs
                .unwrap_or(current.payment_window_secs),
            captcha: patch.captcha.unwrap_or(current.captcha),
            min_account_age_days: patch
                .min_account_age_days
                .unwrap_or(current.min_account_age_days),
        };
        let new = NewSale::from_draft(draft).map_err(EditError::Invalid)?;
        let row = sqlx::query_as!(
            SaleRow,
            r#"update sales set title = $2, description = $3, image_url = $4, price_cents = $5,
                      list_price_cents = $6, stock = $7, per_user_limit = $8, starts_at = $9, ends_at = $10,
                      payment_window_secs = $11, captcha = $12, min_account_age_days = $13
               where id = $1
               returning id, title, description, image_url, price_cents, list_price_cents, stock,
                         per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                         min_account_age_days, paused"#,
            id,
            new.title,
            new.description,
            new.image_url,
            new.price_cents,
            new.list_price_cents,
            new.stock,
            new.per_user_limit,
            instant(new.starts_at_ms)?,
            instant(new.ends_at_ms)?,
            new.payment_window_secs,
            new.captcha.as_str(),
            new.min_account_age_days,
        )
        .fetch_optional(&self.db)
        .await
        .map_err(StoreError::from)?
        .ok_or(EditError::NotFound)?;
        let sale = Sale::try_from(row)?;
        if started {
            self.stock.load_rules(&sale).await?;
        } else {
            // Nothing can have been sold yet: the whole (new) stock is on offer.
            self.stock.load(&sale).await?;
        }
        self.forget(id).await;
        Ok(sale)
    }

    /// Pauses or resumes a sale; the reserve script sees it at once.
    pub async fn set_paused(&self, id: i64, paused: bool) -> Result<Option<Sale>, StoreError> {
        let row = sqlx::query_as!(
            SaleRow,
            r#"update sales set paused = $2 where id = $1
               returning id, title, description, image_url, price_cents, list_price_cents, stock,
                         per_user_limit, starts_at, ends_at, payment_window_secs, captcha,
                         min_account_age_days, paused"#,
            id,
            paused
        )
        .fetch_optional(&self.db)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let sale = Sale::try_from(row)?;
        self.stock.load_rules(&sale).await?;
        self.forget(id).await;
        Ok(Some(sale))
    }

    /// Whether any sale is scheduled or live (not yet ended).
    pub async fn has_open_sale(&self) -> Result<bool, StoreError> {
        let open = sqlx::query_scalar!(
            r#"select exists(select 1 from sales where ends_at > now()) as "open!""#
        )
        .fetch_one(&self.db)
        .await?;
        Ok(open)
    }
}

#[async_trait::async_trait]
impl SaleCatalog for Catalog {
    async fn listings(&self) -> Result<Vec<SaleListing>, PortError> {
        Catalog::listings(self)
            .await
            .map_err(|error| PortError(error.to_string()))
    }

    async fn sale(&self, id: i64) -> Result<Option<Sale>, PortError> {
        self.cached_sale(id)
            .await
            .map_err(|error| PortError(error.to_string()))
    }
}
