//! The catalog: sales as the routes and pages see them. The definition lives in
//! Postgres ([`SaleRecords`], read through the [`SaleCache`]); the stock left and
//! the rules the reserve checks live in Redis ([`SaleStock`]). Creating, editing
//! and pausing write Postgres, then load Redis, then forget the cached copies.
//! This is also the `app::ssr::SaleCatalog` port the pages use during SSR.

use std::sync::Arc;

use crate::redis_connection::RedisConnection;
use app::api::{Sale, SaleListing, SalePatch, SaleStatus, LIVE_REFRESH_MS};
use app::sale_state::{sale_state, sort_for_shoppers};
use app::ssr::{PortError, SaleCatalog};
use sqlx::PgPool;

use super::cache::SaleCache;
use super::new_sale::{changes_rules, edited, NewSale};
use super::rebuild::SaleRebuild;
use super::records::SaleRecords;
use super::stock::{Loaded, SaleStock};
use crate::clock::Clock;
use crate::shutdown::Shutdown;
use crate::store::StoreError;

/// How often the open sales are compared with Redis for an edit a crash cut
/// short (each pass locks their rows against edits and runs one script per sale).
const SETTLE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

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

/// Access to sales for the API routes and the pages.
#[derive(Clone)]
pub struct Catalog {
    records: SaleRecords,
    cache: SaleCache,
    stock: SaleStock,
    rebuild: SaleRebuild,
    clock: Arc<dyn Clock>,
    /// Each sale's stock left as this instance last read it from Redis, kept
    /// [`STOCK_COPY_TTL`]: a crowd polling the status costs Redis one read per
    /// instance and interval, not one per request.
    stock_copy: moka::future::Cache<i64, (i64, Option<i64>)>,
    /// The sales the home page lists, kept [`RECENT_TTL`] and loaded by one
    /// request at a time: a flood of listings costs Postgres one query a second
    /// per instance, not one per request.
    recent: moka::future::Cache<(), Arc<Vec<Sale>>>,
}

/// How stale the list of recent sales may be on an instance that did not make
/// the change (the one that did forgets its copy at once).
const RECENT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// How stale the stock left in a status may be. The buy decides from Redis
/// itself; the status only shows the shopper how things stand.
pub(crate) const STOCK_COPY_TTL: std::time::Duration = std::time::Duration::from_millis(200);

impl Catalog {
    pub fn new(
        db: PgPool,
        redis: RedisConnection,
        stock: SaleStock,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let records = SaleRecords::new(db.clone());
        Self {
            cache: SaleCache::new(records.clone(), redis, stock.keys().clone()),
            rebuild: SaleRebuild::new(db, stock.clone()),
            records,
            stock,
            clock,
            stock_copy: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(STOCK_COPY_TTL)
                .build(),
            recent: moka::future::Cache::builder()
                .max_capacity(1)
                .time_to_live(RECENT_TTL)
                .build(),
        }
    }

    /// The clock sale states are judged by (the same one the buy guard uses).
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// How many times a sale definition was read from Postgres.
    pub fn db_loads(&self) -> u64 {
        self.records.finds()
    }

    /// A sale from the caches, loading it on a miss.
    pub async fn cached_sale(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        self.cache.get(id).await
    }

    /// One sale straight from Postgres, `None` if there is no such id.
    pub async fn sale(&self, id: i64) -> Result<Option<Sale>, StoreError> {
        self.records.find(id).await
    }

    /// Every sale, newest first (the admin's list).
    pub async fn all(&self) -> Result<Vec<Sale>, StoreError> {
        self.records.all().await
    }

    /// Scheduled, live and recently ended sales in the order shoppers read
    /// them ([`sort_for_shoppers`]), each with its state and stock left (one
    /// Redis round trip for all of them).
    pub async fn listings(&self) -> Result<Vec<SaleListing>, StoreError> {
        let now = self.clock.now_ms();
        let sales = self
            .recent
            .try_get_with((), async { self.records.recent(now).await.map(Arc::new) })
            .await?;
        let stock_left = self.stock_left_of(&sales).await?;
        let mut listings: Vec<SaleListing> = sales
            .iter()
            .zip(stock_left)
            .map(|(sale, stock_left)| SaleListing {
                state: sale_state(sale, now, stock_left),
                stock_left,
                sale: sale.clone(),
            })
            .collect();
        sort_for_shoppers(&mut listings);
        Ok(listings)
    }

    /// After `sale` was created or changed: this instance's copies of it go.
    async fn forget(&self, sale: &Sale) {
        self.cache.changed(sale).await;
        self.recent.invalidate(&()).await;
        self.stock_changed(sale.id).await;
    }

    /// A unit of `sale_id` was taken or given back through this instance: its
    /// next status reads Redis (other instances' copies age out).
    pub async fn stock_changed(&self, sale_id: i64) {
        self.stock_copy.invalidate(&sale_id).await;
    }

    /// The live status of a sale on this server's clock, `None` if there is no
    /// such id; its stock left is at most [`STOCK_COPY_TTL`] old.
    pub async fn status(&self, id: i64) -> Result<Option<SaleStatus>, StoreError> {
        let Some(sale) = self.cached_sale(id).await? else {
            return Ok(None);
        };
        // The stock left and, once nothing is, when the last unit went.
        let (stock_left, sold_out_at_ms) = self
            .stock_copy
            .try_get_with(id, async {
                let left = self.stock_left_of(std::slice::from_ref(&sale)).await?[0];
                let sold_out_at = if left <= 0 {
                    self.stock.sold_out_at(id).await?
                } else {
                    None
                };
                Ok::<_, StoreError>((left, sold_out_at))
            })
            .await?;
        let now = self.clock.now_ms();
        Ok(Some(SaleStatus {
            state: sale_state(&sale, now, stock_left),
            server_time_ms: now,
            starts_at_ms: sale.starts_at_ms,
            ends_at_ms: sale.ends_at_ms,
            stock_left,
            live_refresh_ms: LIVE_REFRESH_MS,
            sold_out_at_ms,
        }))
    }

    /// Rebuilds `sale` in Redis from Postgres if Redis lost it (see
    /// [`SaleRebuild`]); `true` if this call rebuilt it.
    pub async fn rebuild(&self, sale: &Sale) -> Result<bool, StoreError> {
        self.rebuild.rebuild(sale).await
    }

    /// Stock left per sale, from Redis. A sale's counter is written when it is
    /// created, so a missing one means Redis lost it: it is rebuilt from
    /// Postgres and read again. Should that fail too (Postgres away), the sale
    /// shows its whole stock rather than no answer.
    async fn stock_left_of(&self, sales: &[Sale]) -> Result<Vec<i64>, StoreError> {
        let ids: Vec<i64> = sales.iter().map(|sale| sale.id).collect();
        let mut counters = self.stock.stock_left_of(&ids).await?;
        for (sale, left) in sales.iter().zip(counters.iter_mut()) {
            if left.is_some() {
                continue;
            }
            match self.rebuild.rebuild(sale).await {
                Ok(_) => *left = self.stock.stock_left(sale.id).await?,
                Err(error) => tracing::warn!(
                    sale_id = sale.id,
                    error = %crate::store::error_chain(&error),
                    "Redis has lost this sale and it cannot be rebuilt now"
                ),
            }
        }
        Ok(sales
            .iter()
            .zip(counters)
            .map(|(sale, left)| left.unwrap_or(i64::from(sale.stock)))
            .collect())
    }

    /// Creates a sale and loads its stock into Redis before anyone can buy.
    pub async fn create(&self, new: &NewSale) -> Result<Sale, StoreError> {
        let sale = self.records.insert(new).await?;
        // A fresh id: whatever an older key said belongs to a database that is gone.
        self.stock.load(&sale).await?;
        self.forget(&sale).await;
        Ok(sale)
    }

    /// Applies an admin's edit. Stock, times and the limit change only before the
    /// start (the reserve relies on them), judged by Redis on its own clock and
    /// by whether anyone has reserved; the rest any time. The sale's row stays
    /// locked until Redis has agreed, so two edits take turns and a refused one
    /// leaves Postgres as it was.
    pub async fn edit(&self, id: i64, patch: SalePatch) -> Result<Sale, EditError> {
        let mut tx = self.records.begin().await?;
        let current = SaleRecords::find_for_update(&mut tx, id)
            .await?
            .ok_or(EditError::NotFound)?;
        let rules = changes_rules(&patch);
        let new = NewSale::parse(edited(current.clone(), patch), current.currency)
            .map_err(EditError::Invalid)?;
        let sale = SaleRecords::update(&mut tx, id, &new)
            .await?
            .ok_or(EditError::NotFound)?;
        if rules {
            let mut loaded = self.stock.load_unstarted(&sale).await?;
            if loaded == Loaded::Missing {
                self.rebuild.rebuild(&current).await?;
                loaded = self.stock.load_unstarted(&sale).await?;
            }
            if loaded != Loaded::Loaded {
                // Dropping the transaction leaves Postgres as it was.
                return Err(EditError::AlreadyStarted);
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        if !rules {
            self.stock.load_rules(&sale).await?;
        }
        self.forget(&sale).await;
        Ok(sale)
    }

    /// Puts right what a crash between an edit's (or a pause's) two writes left
    /// behind: for every open sale no edit holds at the moment, Redis is made
    /// to agree with Postgres (stock and rules before the start, the pause
    /// after it). Returns how many sales needed it.
    pub async fn settle_interrupted_edits(&self) -> Result<u64, StoreError> {
        let mut tx = self.records.begin().await?;
        let open = SaleRecords::open_for_update(&mut tx, self.clock.now_ms()).await?;
        let mut settled = 0;
        for sale in &open {
            if self.stock.heal(sale).await? == Some(true) {
                tracing::warn!(
                    sale_id = sale.id,
                    "Redis disagreed with Postgres after an interrupted edit; Postgres' values restored"
                );
                settled += 1;
            }
        }
        tx.commit().await?;
        Ok(settled)
    }

    /// Runs [`Catalog::settle_interrupted_edits`] every [`SETTLE_EVERY`] until
    /// `shutdown`.
    pub async fn run_upkeep(self, mut shutdown: Shutdown) {
        let mut ticker = tokio::time::interval(SETTLE_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => match self.settle_interrupted_edits().await {
                    Ok(_) => {}
                    // An outage is reported by everything else already.
                    Err(error) if error.is_outage() => {}
                    Err(error) => tracing::warn!(
                        error = %crate::store::error_chain(&error),
                        "cannot compare the open sales with Redis"
                    ),
                },
                () = shutdown.requested() => break,
            }
        }
    }

    /// Queue sales whose line needs a leader at `now_ms` (see
    /// [`SaleRecords::lines_open`]).
    pub async fn lines_open(&self, now_ms: i64) -> Result<Vec<i64>, StoreError> {
        self.records.lines_open(now_ms).await
    }

    /// Units of a sale's paid orders.
    pub async fn paid_units(&self, sale_id: i64) -> Result<i64, StoreError> {
        self.records.paid_units(sale_id).await
    }

    /// Pauses or resumes a sale; the reserve script sees it at once.
    pub async fn set_paused(&self, id: i64, paused: bool) -> Result<Option<Sale>, StoreError> {
        let Some(sale) = self.records.set_paused(id, paused).await? else {
            return Ok(None);
        };
        self.stock.load_rules(&sale).await?;
        self.forget(&sale).await;
        Ok(Some(sale))
    }

    /// Whether any sale is scheduled or live (not yet ended).
    pub async fn has_open_sale(&self) -> Result<bool, StoreError> {
        self.records.has_open_sale(self.clock.now_ms()).await
    }
}

#[async_trait::async_trait]
impl SaleCatalog for Catalog {
    async fn listings(&self) -> Result<Vec<SaleListing>, PortError> {
        Catalog::listings(self)
            .await
            .map_err(|error| PortError(crate::store::error_chain(&error)))
    }

    async fn sale(&self, id: i64) -> Result<Option<Sale>, PortError> {
        self.cached_sale(id)
            .await
            .map_err(|error| PortError(crate::store::error_chain(&error)))
    }
}
