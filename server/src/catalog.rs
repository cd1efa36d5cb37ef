//! Sales: their definition lives in Postgres, the stock left in Redis under the
//! sale's hash-tagged key. This module reads and creates them and implements the
//! `app::ssr::SaleCatalog` port that the pages use during SSR.

use app::api::{CaptchaKind, Sale, SaleListing, SaleStatus};
use app::sale_state::sale_state;
use app::ssr::{PortError, SaleCatalog};
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::keys::RedisKeys;
use crate::now_ms;

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

/// Access to sales for the API routes and the pages.
#[derive(Clone)]
pub struct Catalog {
    db: PgPool,
    redis: ConnectionManager,
    keys: RedisKeys,
}

impl Catalog {
    pub fn new(db: PgPool, redis: ConnectionManager, keys: RedisKeys) -> Self {
        Self { db, redis, keys }
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

    /// One sale, `None` if there is no such id.
    pub async fn sale(&self, id: i64) -> Result<Option<Sale>, StoreError> {
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
        let Some(sale) = self.sale(id).await? else {
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
        if sales.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = sales.iter().map(|sale| self.keys.stock(sale.id)).collect();
        let mut redis = self.redis.clone();
        let counters: Vec<Option<i64>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut redis)
            .await?;
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
        let mut redis = self.redis.clone();
        // A fresh id: whatever an older key said belongs to a database that is gone.
        let () = redis::cmd("SET")
            .arg(self.keys.stock(sale.id))
            .arg(sale.stock)
            .query_async(&mut redis)
            .await?;
        Ok(sale)
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
        Catalog::sale(self, id)
            .await
            .map_err(|error| PortError(error.to_string()))
    }
}
